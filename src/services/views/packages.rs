//! Read models of access packages and their policies: for the admin portal, the package
//! list, a package's page, its create/edit form's options and the policy editor; for
//! the requester portal, the packages the caller may browse and a package's page with
//! the policies they may request under.

use sqlx::PgPool;
use uuid::Uuid;

use super::catalogs::all_resources;
use super::missing;
use super::names::{Names, Wanted};
use crate::db::assignments::AssignmentRow;
use crate::db::catalogs::Catalog;
use crate::db::groups::Relation;
use crate::db::packages::{AccessPackage, Policy};
use crate::db::portal::ListedPackage;
use crate::db::{self, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{CatalogId, GroupId, PackageId, PolicyId, RequestId};
use crate::domain::policy::{ApproverKind, PolicySettings, ReviewerKind};
use crate::services::catalogs::{self, ResourceView};
use crate::services::packages::{self, PackageView};
use crate::services::{Caller, ServiceResult, requests};

/// Packages the caller administers (those of catalogs where they hold a role; all for
/// tenant admins), optionally of one catalog and matching `search`; with `archived`,
/// the archived ones (of every catalog) instead.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn package_list(
    pool: &PgPool,
    caller: &Caller,
    catalog: Option<CatalogId>,
    search: Option<&str>,
    archived: bool,
    page: PageRequest,
) -> ServiceResult<(Page<PackageView>, Names)> {
    let mut list = if archived {
        packages::list_archived(pool, caller, search, page).await?
    } else {
        packages::list(pool, caller, catalog, search, page).await?
    };
    list.items.retain(|p| {
        caller
            .roles
            .allows(Action::ReadCatalog(p.package.catalog_id))
    });
    let catalogs = catalogs::list(pool, caller, PageRequest::first(PageRequest::MAX)).await?;
    let mut names = Names::default();
    for c in catalogs.items {
        names.add_catalog(c.id.0, c.display_name);
    }
    Ok((list, names))
}

/// What the package create/edit form offers: the catalog's resource roles and the
/// other packages that could be marked incompatible.
#[derive(Debug)]
pub struct PackageFormOptions {
    pub catalog: Catalog,
    pub resources: Vec<ResourceView>,
    pub other_packages: Vec<PackageView>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn package_form_options(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    incompatible_groups: &[GroupId],
) -> ServiceResult<PackageFormOptions> {
    let c = catalogs::get(pool, caller, catalog).await?;
    caller.require(Action::ManagePackages(catalog))?;
    let resources = all_resources(pool, caller, catalog).await?;
    let other_packages = packages::list(pool, caller, None, None, PageRequest::first(200))
        .await?
        .items;
    let mut wanted = Wanted::default();
    for g in incompatible_groups {
        wanted.group(g.0);
    }
    let mut conn = pool.acquire().await?;
    let mut names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    names.add_role_labels(&resources);
    Ok(PackageFormOptions {
        catalog: c,
        resources,
        other_packages,
        names,
    })
}

/// A package with its catalog, policies and every name its page shows.
#[derive(Debug)]
pub struct PackagePage {
    pub package: PackageView,
    pub catalog: Catalog,
    pub policies: Vec<Policy>,
    pub names: Names,
    pub can_manage: bool,
    pub can_assign: bool,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn package_page(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
) -> ServiceResult<PackagePage> {
    let package = packages::get(pool, caller, id).await?;
    let catalog_id = package.package.catalog_id;
    if !caller.roles.allows(Action::ReadCatalog(catalog_id)) {
        // Requesters see packages in the portal; the admin pages are for the catalog's roles.
        return Err(DomainError::forbidden(
            "You may not administer this access package (you hold no role in its catalog).",
        )
        .into());
    }
    let catalog = catalogs::get(pool, caller, catalog_id).await?;
    let resources = all_resources(pool, caller, catalog_id).await?;
    let policies = packages::list_policies(pool, caller, id, PageRequest::first(100))
        .await?
        .items;
    let mut wanted = Wanted::default();
    for p in &package.incompatible_package_ids {
        wanted.package(p.0);
    }
    for g in &package.incompatible_group_ids {
        wanted.group(g.0);
    }
    for p in &policies {
        wanted.principals_of(&p.settings.0);
    }
    let mut conn = pool.acquire().await?;
    let mut names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    names.add_role_labels(&resources);
    // An archived package is read-only: nobody manages or assigns it any more.
    let live = package.package.archived_at.is_none();
    Ok(PackagePage {
        can_manage: live && caller.roles.allows(Action::ManagePackages(catalog_id)),
        can_assign: live && caller.roles.allows(Action::ManageAssignments(catalog_id)),
        package,
        catalog,
        policies,
        names,
    })
}

/// A policy for its editor, with the package it belongs to and the names it mentions.
#[derive(Debug)]
pub struct PolicyEditor {
    pub package: PackageView,
    pub policy: Option<Policy>,
    pub names: Names,
    /// The custom extensions of the package's catalog: (id, name, whether it waits).
    pub extensions: Vec<(crate::domain::ids::ExtensionId, String, bool)>,
}

/// The editor of policy `policy` of `package` (or of a new one when `None`); `names`
/// also resolves the principals of a draft being edited.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn policy_editor(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    policy: Option<PolicyId>,
    draft: Option<&PolicySettings>,
) -> ServiceResult<PolicyEditor> {
    let view = packages::get(pool, caller, package).await?;
    caller.require(Action::ManagePackages(view.package.catalog_id))?;
    let policy = match policy {
        Some(id) => {
            let p = packages::get_policy(pool, caller, id).await?;
            if p.package_id != package {
                return Err(DomainError::NotFound("policy").into());
            }
            Some(p)
        }
        None => None,
    };
    let mut wanted = Wanted::default();
    if let Some(p) = &policy {
        wanted.principals_of(&p.settings.0);
    }
    if let Some(d) = draft {
        wanted.principals_of(d);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    let extensions = crate::db::extensions::list(
        &mut conn,
        caller.tenant_id(),
        view.package.catalog_id,
        PageRequest::first(PageRequest::MAX),
    )
    .await?
    .items
    .into_iter()
    .map(|e| {
        let waits = e.behavior == crate::domain::extension::ExtensionBehavior::WaitForCallback;
        (e.id, e.display_name, waits)
    })
    .collect();
    Ok(PolicyEditor {
        package: view,
        policy,
        names,
        extensions,
    })
}

/// Names of the approvers, reviewers and requestors in a policy (for summaries).
pub fn describe_approver(names: &Names, kind: ApproverKind, id: Option<Uuid>) -> String {
    match (kind, id) {
        (ApproverKind::Manager, _) => "Manager of the requestor".into(),
        (ApproverKind::SecondLevelManager, _) => "Second-level manager".into(),
        (ApproverKind::ResourceOwners, _) => "Owners of the package's groups".into(),
        (ApproverKind::User, Some(id)) => names.user(id),
        (ApproverKind::Group, Some(id)) => format!("Members of {}", names.group(id)),
        (_, None) => "(not chosen)".into(),
    }
}

pub fn describe_reviewer(names: &Names, kind: ReviewerKind, id: Option<Uuid>) -> String {
    match (kind, id) {
        (ReviewerKind::Myself, _) => "The holders themselves (self-review)".into(),
        (ReviewerKind::Manager, _) => "Manager of each holder".into(),
        (ReviewerKind::User, Some(id)) => names.user(id),
        (ReviewerKind::Group, Some(id)) => format!("Members of {}", names.group(id)),
        (_, None) => "(not chosen)".into(),
    }
}

// ---------------------------------------------------------------------------------
// Requester portal

/// The packages the caller may request (their policies' requestor scope admits them)
/// or holds, a page at a time (hidden ones only by link).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn packages(
    pool: &PgPool,
    caller: &Caller,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<ListedPackage>> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let groups =
        db::groups::groups_of_user(&mut conn, Relation::Member, tenant, caller.user_id()).await?;
    Ok(db::portal::requestable(
        &mut conn,
        tenant,
        caller.user_id(),
        caller.user.is_guest(),
        &groups,
        search,
        page,
    )
    .await?)
}

/// One approval stage of a policy, in words.
#[derive(Clone, Debug)]
pub struct StageSummary {
    pub approvers: String,
    pub timeout_days: i64,
    pub require_justification: bool,
}

/// A policy the caller may request under, with what it asks.
#[derive(Clone, Debug)]
pub struct PolicyOption {
    pub policy: Policy,
    pub stages: Vec<StageSummary>,
}

/// A package as the portal shows it.
pub struct PackageDetail {
    pub package: AccessPackage,
    pub catalog: Catalog,
    /// (resource, role) pairs the package grants.
    pub grants: Vec<(String, String)>,
    /// Policies whose requestors include the caller and that take requests.
    pub policies: Vec<PolicyOption>,
    pub active: Option<AssignmentRow>,
    pub open_request: Option<RequestId>,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn package(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
) -> ServiceResult<PackageDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let package = db::packages::get(&mut conn, tenant, id)
        .await?
        .filter(|p| p.archived_at.is_none())
        .ok_or_else(|| missing("access package"))?;
    let catalog = db::catalogs::get(&mut conn, tenant, package.catalog_id)
        .await?
        .ok_or_else(|| missing("access package"))?;
    if caller.user.is_guest() && !catalog.externally_visible {
        return Err(missing("access package"));
    }
    let role_ids: Vec<_> = db::packages::roles_of(&mut conn, tenant, &[id])
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let roles = db::catalogs::get_roles(&mut conn, tenant, &role_ids).await?;
    let mut resource_ids: Vec<_> = roles.iter().map(|r| r.resource_id).collect();
    resource_ids.dedup();
    let resources = db::catalogs::get_resources(&mut conn, tenant, &resource_ids).await?;
    let groups =
        db::groups::groups_of_user(&mut conn, Relation::Member, tenant, caller.user_id()).await?;
    let policies: Vec<Policy> = db::packages::policies_of(&mut conn, tenant, id)
        .await?
        .into_iter()
        .filter(|p| {
            let s = &p.settings.0;
            s.requests_enabled
                && requests::in_scope(s, &caller.user, &groups, catalog.externally_visible)
        })
        .collect();
    let mut wanted = Wanted::default();
    for g in resources.iter().filter_map(|r| r.group_id) {
        wanted.group(g.0);
    }
    for p in &policies {
        for s in &p.settings.0.approval.stages {
            for a in &s.approvers {
                match (a.kind, a.id) {
                    (ApproverKind::User, Some(u)) => wanted.user(u),
                    (ApproverKind::Group, Some(g)) => wanted.group(g),
                    _ => {}
                }
            }
        }
    }
    let names = wanted.resolve(&mut conn, tenant).await?;
    let grants = roles
        .iter()
        .map(|role| {
            let resource = resources.iter().find(|r| r.id == role.resource_id);
            let label = resource.map_or_else(String::new, |r| match r.group_id {
                Some(g) => names.group(g.0),
                None => r.display_name.clone(),
            });
            (label, role.display_name.clone())
        })
        .collect();
    let policies = policies
        .into_iter()
        .map(|policy| {
            let stages = policy
                .settings
                .0
                .approval
                .stages
                .iter()
                .map(|s| StageSummary {
                    approvers: s
                        .approvers
                        .iter()
                        .map(|a| match a.kind {
                            ApproverKind::Manager => "your manager".to_string(),
                            ApproverKind::SecondLevelManager => "your manager's manager".into(),
                            ApproverKind::User => a.id.map_or_else(String::new, |u| names.user(u)),
                            ApproverKind::Group => a.id.map_or_else(String::new, |g| {
                                format!("a member of {}", names.group(g))
                            }),
                            ApproverKind::ResourceOwners => "the owners of the resources".into(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    timeout_days: s.timeout_days,
                    require_justification: s.require_justification,
                })
                .collect();
            PolicyOption { policy, stages }
        })
        .collect();
    let active = db::assignments::active_for(&mut conn, tenant, id, caller.user_id()).await?;
    let open_request =
        db::portal::open_add_request(&mut conn, tenant, id, caller.user_id()).await?;
    Ok(PackageDetail {
        package,
        catalog,
        grants,
        policies,
        active,
        open_request,
    })
}
