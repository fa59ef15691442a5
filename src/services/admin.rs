//! Read models of the admin portal's pages, and the few form-shaped writes that name
//! people by email. Each function is one use case for one page: it calls the same
//! use cases as the API (which check the caller's roles) and resolves the display
//! names the page shows in batches (one query per kind of name), so no handler
//! touches the database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::assignments::{self, AssignmentView};
use super::catalogs::{self, ResourceView};
use super::groups::{self, GroupFields, GroupView};
use super::packages::{self, PackageView};
use super::requests::{self, RequestInput, RequestView};
use super::roles::{self, NewRoleAssignment, Principal};
use super::users::{self, UserFields};
use super::{Caller, ServiceError, ServiceResult};
use crate::db::audit::AuditEvent;
use crate::db::catalogs::Catalog;
use crate::db::groups::MemberRow;
use crate::db::packages::Policy;
use crate::db::roles::RoleAssignment;
use crate::db::users::User;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::authz::{Action, Role};
use crate::domain::ids::{
    AssignmentId, CatalogId, GroupId, PackageId, PolicyId, RequestId, ResourceRoleId, TenantId,
    UserId,
};
use crate::domain::policy::{ApproverKind, PolicySettings, PrincipalKind, ReviewerKind};
use crate::domain::request::RequestType;
use crate::domain::{DomainError, FieldErrors};

/// Display names of the people, groups, packages and resource roles a page mentions.
#[derive(Clone, Debug, Default)]
pub struct Names {
    users: HashMap<Uuid, (String, String)>,
    groups: HashMap<Uuid, String>,
    packages: HashMap<Uuid, String>,
    roles: HashMap<Uuid, String>,
    policies: HashMap<Uuid, String>,
    catalogs: HashMap<Uuid, String>,
}

impl Names {
    pub fn user(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .map_or_else(|| format!("unknown user {id}"), |(n, _)| n.clone())
    }

    pub fn user_email(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .map(|(_, e)| e.clone())
            .unwrap_or_default()
    }

    pub fn group(&self, id: Uuid) -> String {
        self.groups
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("unknown group {id}"))
    }

    pub fn package(&self, id: Uuid) -> String {
        self.packages
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("access package {id}"))
    }

    pub fn role(&self, id: Uuid) -> String {
        self.roles
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("resource role {id}"))
    }

    pub fn policy(&self, id: Uuid) -> String {
        self.policies
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("policy {id}"))
    }

    pub fn catalog(&self, id: Uuid) -> String {
        self.catalogs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("catalog {id}"))
    }

    pub fn add_catalog(&mut self, id: Uuid, label: String) {
        self.catalogs.insert(id, label);
    }

    pub fn add_role(&mut self, id: Uuid, label: String) {
        self.roles.insert(id, label);
    }

    pub fn add_policy(&mut self, id: Uuid, label: String) {
        self.policies.insert(id, label);
    }
}

/// Collects ids to resolve, then resolves them with one query per kind.
#[derive(Default)]
struct Wanted {
    users: Vec<UserId>,
    groups: Vec<GroupId>,
    packages: Vec<PackageId>,
}

impl Wanted {
    fn user(&mut self, id: Uuid) {
        let id = UserId(id);
        if !self.users.contains(&id) {
            self.users.push(id);
        }
    }

    fn group(&mut self, id: Uuid) {
        let id = GroupId(id);
        if !self.groups.contains(&id) {
            self.groups.push(id);
        }
    }

    fn package(&mut self, id: Uuid) {
        let id = PackageId(id);
        if !self.packages.contains(&id) {
            self.packages.push(id);
        }
    }

    /// Every user and group a policy names.
    fn policy(&mut self, s: &PolicySettings) {
        for (_, kind, id) in s.referenced_principals() {
            match kind {
                PrincipalKind::User => self.user(id),
                PrincipalKind::Group => self.group(id),
            }
        }
    }

    async fn resolve(self, conn: &mut Conn, tenant: TenantId) -> ServiceResult<Names> {
        let mut names = Names::default();
        if !self.users.is_empty() {
            for u in db::users::get_many(conn, tenant, &self.users).await? {
                names.users.insert(u.id.0, (u.display_name, u.email));
            }
        }
        if !self.groups.is_empty() {
            for g in db::groups::get_many(conn, tenant, &self.groups).await? {
                names.groups.insert(g.id.0, g.display_name);
            }
        }
        if !self.packages.is_empty() {
            for p in db::packages::get_many(conn, tenant, &self.packages).await? {
                names.packages.insert(p.id.0, p.display_name);
            }
        }
        Ok(names)
    }
}

/// "Resource — Role" labels of the roles of `resources`.
fn role_labels(names: &mut Names, resources: &[ResourceView]) {
    for r in resources {
        for role in &r.roles {
            names.add_role(
                role.id.0,
                format!("{} — {}", r.resource.display_name, role.display_name),
            );
        }
    }
}

async fn all_resources(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
) -> ServiceResult<Vec<ResourceView>> {
    Ok(
        catalogs::list_resources(pool, caller, catalog, PageRequest::first(PageRequest::MAX))
            .await?
            .items,
    )
}

// ---------------------------------------------------------------------------------
// Catalogs

/// A catalog with everything its page shows.
#[derive(Debug)]
pub struct CatalogPage {
    pub catalog: Catalog,
    pub resources: Vec<ResourceView>,
    pub packages: Vec<PackageView>,
    /// Role holders of this catalog, when the caller may see them.
    pub role_holders: Option<Vec<RoleAssignment>>,
    pub names: Names,
    pub can_edit: bool,
    pub can_grant: bool,
    pub can_manage_packages: bool,
}

pub async fn catalog_page(
    pool: &PgPool,
    caller: &Caller,
    id: CatalogId,
) -> ServiceResult<CatalogPage> {
    let catalog = catalogs::get(pool, caller, id).await?;
    let resources = all_resources(pool, caller, id).await?;
    let packages = packages::list(pool, caller, Some(id), None, PageRequest::first(200))
        .await?
        .items;
    let role_holders = if caller.roles.allows(Action::ReadRoles(Some(id))) {
        let all = roles::list(pool, caller, PageRequest::first(PageRequest::MAX)).await?;
        Some(
            all.items
                .into_iter()
                .filter(|r| r.catalog_id == Some(id))
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let mut wanted = Wanted::default();
    for r in role_holders.iter().flatten() {
        if let Some(u) = r.user_id {
            wanted.user(u.0);
        }
        if let Some(g) = r.group_id {
            wanted.group(g.0);
        }
    }
    let mut conn = pool.acquire().await?;
    let mut names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    role_labels(&mut names, &resources);
    Ok(CatalogPage {
        can_edit: caller.roles.allows(Action::EditCatalog(id)),
        can_grant: caller
            .roles
            .allows(Action::GrantRole(Role::CatalogReader, Some(id))),
        can_manage_packages: caller.roles.allows(Action::ManagePackages(id)),
        catalog,
        resources,
        packages,
        role_holders,
        names,
    })
}

/// Who a role is granted to, as typed in a form: a user's email or a group's exact name.
#[derive(Clone, Debug)]
pub struct GrantInput {
    pub role: Option<String>,
    pub principal: String,
}

/// Grants a catalog role to the user with that email (or the group with that exact
/// name).
pub async fn grant_catalog_role(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    input: GrantInput,
    now: DateTime<Utc>,
) -> ServiceResult<RoleAssignment> {
    let role = input
        .role
        .as_deref()
        .and_then(Role::parse)
        .filter(|r| r.is_catalog_scoped())
        .ok_or_else(|| DomainError::field("role", "choose one of the catalog roles"))?;
    let principal = resolve_principal(pool, caller, &input.principal, "principal").await?;
    roles::create(
        pool,
        caller,
        NewRoleAssignment {
            role,
            principal,
            catalog_id: Some(catalog),
        },
        now,
    )
    .await
    .map_err(|e| rename_field(e, "principal.id", "principal"))
}

/// Moves a field error from one field name to another (the form names fields
/// differently from the API).
fn rename_field(e: ServiceError, from: &str, to: &str) -> ServiceError {
    match e {
        ServiceError::Domain(DomainError::Validation(errors)) => {
            let mut renamed = FieldErrors::new();
            for (k, v) in errors.0 {
                renamed.add(if k == from { to.to_string() } else { k }, v);
            }
            DomainError::Validation(renamed).into()
        }
        other => other,
    }
}

/// A user by email, or a group by exact (case-insensitive) display name.
async fn resolve_principal(
    pool: &PgPool,
    caller: &Caller,
    raw: &str,
    field: &str,
) -> ServiceResult<Principal> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            DomainError::field(field, "enter a user's email address or a group's name").into(),
        );
    }
    let mut conn = pool.acquire().await?;
    let tenant = caller.tenant_id();
    if raw.contains('@') {
        return match db::users::by_email(&mut conn, tenant, raw).await? {
            Some(u) => Ok(Principal::User(u.id)),
            None => Err(DomainError::field(
                field,
                format!("there is no user with the email address {raw}"),
            )
            .into()),
        };
    }
    let found = db::groups::list(&mut conn, tenant, Some(raw), PageRequest::first(50)).await?;
    let exact: Vec<_> = found
        .items
        .into_iter()
        .filter(|g| g.display_name.eq_ignore_ascii_case(raw))
        .collect();
    match exact.as_slice() {
        [g] => Ok(Principal::Group(g.id)),
        [] => Err(DomainError::field(field, format!("there is no user or group called '{raw}' (enter a user's email address or a group's exact name)")).into()),
        _ => Err(DomainError::field(field, format!("several groups are called '{raw}'; rename one of them first")).into()),
    }
}

async fn user_by_email(
    conn: &mut Conn,
    tenant: TenantId,
    raw: &str,
    field: &str,
) -> ServiceResult<User> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(DomainError::field(field, "enter the person's email address").into());
    }
    db::users::by_email(conn, tenant, raw)
        .await?
        .ok_or_else(|| {
            DomainError::field(
                field,
                format!("there is no user with the email address {raw}"),
            )
            .into()
        })
}

// ---------------------------------------------------------------------------------
// Access packages

/// What the package create/edit form offers: the catalog's resource roles and the
/// other packages that could be marked incompatible.
#[derive(Debug)]
pub struct PackageFormOptions {
    pub catalog: Catalog,
    pub resources: Vec<ResourceView>,
    pub other_packages: Vec<PackageView>,
    pub names: Names,
}

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
    role_labels(&mut names, &resources);
    Ok(PackageFormOptions {
        catalog: c,
        resources,
        other_packages,
        names,
    })
}

/// The catalogs where the caller may create packages.
pub async fn package_catalogs(pool: &PgPool, caller: &Caller) -> ServiceResult<Vec<Catalog>> {
    Ok(
        catalogs::list(pool, caller, PageRequest::first(PageRequest::MAX))
            .await?
            .items
            .into_iter()
            .filter(|c| caller.roles.allows(Action::ManagePackages(c.id)))
            .collect(),
    )
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
        wanted.policy(&p.settings.0);
    }
    let mut conn = pool.acquire().await?;
    let mut names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    role_labels(&mut names, &resources);
    Ok(PackagePage {
        can_manage: caller.roles.allows(Action::ManagePackages(catalog_id)),
        can_assign: caller.roles.allows(Action::ManageAssignments(catalog_id)),
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
}

/// The editor of policy `policy` of `package` (or of a new one when `None`); `names`
/// also resolves the principals of a draft being edited.
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
        wanted.policy(&p.settings.0);
    }
    if let Some(d) = draft {
        wanted.policy(d);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(PolicyEditor {
        package: view,
        policy,
        names,
    })
}

/// One search result of the user/group picker.
#[derive(Clone, Debug)]
pub struct PrincipalHit {
    pub kind: PrincipalKind,
    pub id: Uuid,
    pub name: String,
    pub detail: String,
}

/// Users and groups matching `term` (display name or email; the newest when blank),
/// for pickers.
pub async fn search_principals(
    pool: &PgPool,
    caller: &Caller,
    term: &str,
    users_wanted: bool,
    groups_wanted: bool,
) -> ServiceResult<Vec<PrincipalHit>> {
    let term = term.trim();
    let search = (!term.is_empty()).then_some(term);
    let mut hits = Vec::new();
    if users_wanted {
        for u in users::list(pool, caller, search, PageRequest::first(10))
            .await?
            .items
            .into_iter()
            .filter(|u| u.active)
        {
            hits.push(PrincipalHit {
                kind: PrincipalKind::User,
                id: u.id.0,
                name: u.display_name,
                detail: u.email,
            });
        }
    }
    if groups_wanted {
        for g in groups::list(pool, caller, search, PageRequest::first(10))
            .await?
            .items
        {
            hits.push(PrincipalHit {
                kind: PrincipalKind::Group,
                id: g.group.id.0,
                name: g.group.display_name,
                detail: "group".into(),
            });
        }
    }
    Ok(hits)
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
// Assignments and requests

/// The assignments of a package.
#[derive(Debug)]
pub struct AssignmentsPage {
    pub package: PackagePage,
    pub assignments: Page<AssignmentView>,
}

pub async fn assignments_page(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    state: Option<&str>,
    page: PageRequest,
) -> ServiceResult<AssignmentsPage> {
    let mut p = package_page(pool, caller, package).await?;
    let list = assignments::list(
        pool,
        caller,
        assignments::ListQuery {
            mine: false,
            package: Some(package),
            target: None,
            state,
        },
        page,
    )
    .await?;
    let mut wanted = Wanted::default();
    for a in &list.items {
        wanted.user(a.assignment.target_user_id.0);
    }
    let mut conn = pool.acquire().await?;
    let more = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    p.names.users.extend(more.users);
    for pol in &p.policies {
        p.names.add_policy(pol.id.0, pol.display_name.clone());
    }
    Ok(AssignmentsPage {
        package: p,
        assignments: list,
    })
}

/// A direct assignment by an admin, naming the person by email.
#[derive(Clone, Debug)]
pub struct DirectAssignment {
    pub email: String,
    pub policy_id: Option<PolicyId>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

/// Assigns the package to the user with that email (an `adminAdd` request).
pub async fn assign_directly(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    input: DirectAssignment,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let user = {
        let mut conn = pool.acquire().await?;
        user_by_email(&mut conn, caller.tenant_id(), &input.email, "email").await?
    };
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::AdminAdd,
            access_package_id: Some(package),
            policy_id: input.policy_id,
            target_user_id: Some(user.id),
            assignment_id: None,
            justification: input.justification,
            answers: Vec::new(),
            start: input.start,
            end: input.end,
        },
        now,
    )
    .await
    .map_err(|e| rename_field(e, "policyId", "policyId"))
}

/// Removes an assignment (an `adminRemove` request).
pub async fn remove_assignment(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let a = assignments::get(pool, caller, id).await?;
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::AdminRemove,
            access_package_id: Some(a.assignment.package_id),
            policy_id: None,
            target_user_id: Some(a.assignment.target_user_id),
            assignment_id: Some(id),
            justification: None,
            answers: Vec::new(),
            start: None,
            end: None,
        },
        now,
    )
    .await
}

/// A page of requests with the names of their packages and people.
#[derive(Debug)]
pub struct RequestsPage {
    pub requests: Page<RequestView>,
    pub names: Names,
}

pub async fn requests_page(
    pool: &PgPool,
    caller: &Caller,
    package: Option<PackageId>,
    state: Option<&str>,
    page: PageRequest,
) -> ServiceResult<RequestsPage> {
    if !caller.roles.is_tenant_admin() && caller.roles.catalogs().next().is_none() {
        return Err(DomainError::forbidden(
            "You may not see requests here (tenant admins and the roles of a catalog only).",
        )
        .into());
    }
    let list = requests::list(
        pool,
        caller,
        requests::ListQuery {
            mine: false,
            package,
            target: None,
            state,
        },
        page,
    )
    .await?;
    let mut wanted = Wanted::default();
    for r in &list.items {
        wanted.user(r.request.target_user_id.0);
        if let Some(u) = r.request.requestor_id {
            wanted.user(u.0);
        }
        wanted.package(r.request.package_id.0);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(RequestsPage {
        requests: list,
        names,
    })
}

/// One request with its stages, decisions and every name they mention.
#[derive(Debug)]
pub struct RequestPage {
    pub request: RequestView,
    pub policy: Option<Policy>,
    pub names: Names,
}

pub async fn request_page(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestPage> {
    let request = requests::get(pool, caller, id).await?;
    let policy = packages::get_policy(pool, caller, request.request.policy_id)
        .await
        .ok();
    let mut wanted = Wanted::default();
    wanted.user(request.request.target_user_id.0);
    if let Some(u) = request.request.requestor_id {
        wanted.user(u.0);
    }
    wanted.package(request.request.package_id.0);
    for s in &request.stages {
        for a in &s.stage.approver_ids {
            wanted.user(*a);
        }
        for d in &s.decisions {
            wanted.user(d.approver_id.0);
        }
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(RequestPage {
        request,
        policy,
        names,
    })
}

// ---------------------------------------------------------------------------------
// Directory

/// A user with their manager, for the user page.
#[derive(Debug)]
pub struct UserPage {
    pub user: User,
    pub manager: Option<User>,
}

pub async fn user_page(pool: &PgPool, caller: &Caller, id: UserId) -> ServiceResult<UserPage> {
    caller.require(Action::ManageDirectory)?;
    let user = users::get(pool, caller, id).await?;
    let manager = match user.manager_id {
        Some(m) => Some(users::get(pool, caller, m).await?),
        None => None,
    };
    Ok(UserPage { user, manager })
}

/// The user form as typed: the manager is named by email ("" = none).
#[derive(Clone, Debug, Default)]
pub struct UserForm {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub manager_email: Option<String>,
    pub guest: bool,
}

async fn user_fields(pool: &PgPool, caller: &Caller, form: UserForm) -> ServiceResult<UserFields> {
    let manager_id = match form.manager_email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(email) => {
            let mut conn = pool.acquire().await?;
            Some(
                user_by_email(&mut conn, caller.tenant_id(), email, "managerEmail")
                    .await?
                    .id,
            )
        }
    };
    Ok(UserFields {
        email: form.email,
        display_name: form.display_name,
        department: Some(form.department),
        job_title: Some(form.job_title),
        manager_id: Some(manager_id),
        kind: Some(if form.guest {
            crate::domain::values::UserKind::Guest
        } else {
            crate::domain::values::UserKind::Member
        }),
        external_id: None,
        active: None,
    })
}

pub async fn create_user(
    pool: &PgPool,
    caller: &Caller,
    form: UserForm,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    caller.require(Action::ManageDirectory)?;
    let fields = user_fields(pool, caller, form).await?;
    users::create(pool, caller, fields, now)
        .await
        .map_err(|e| rename_field(e, "managerId", "managerEmail"))
}

pub async fn update_user(
    pool: &PgPool,
    caller: &Caller,
    id: UserId,
    form: UserForm,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    caller.require(Action::ManageDirectory)?;
    let fields = user_fields(pool, caller, form).await?;
    users::update(pool, caller, id, fields, now)
        .await
        .map_err(|e| rename_field(e, "managerId", "managerEmail"))
}

/// A group with its members (and the sources of each membership) and owners.
#[derive(Debug)]
pub struct GroupPage {
    pub group: GroupView,
    pub members: Page<MemberRow>,
    pub names: Names,
}

pub async fn group_page(
    pool: &PgPool,
    caller: &Caller,
    id: GroupId,
    page: PageRequest,
) -> ServiceResult<GroupPage> {
    let group = groups::get(pool, caller, id).await?;
    let members = groups::list_members(pool, caller, id, page).await?;
    let mut wanted = Wanted::default();
    for m in &members.items {
        wanted.user(m.user_id.0);
    }
    for o in &group.owner_ids {
        wanted.user(o.0);
    }
    let mut conn = pool.acquire().await?;
    let mut names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    // Memberships delivered by assignments show the package they came from.
    let sources: Vec<AssignmentId> = members
        .items
        .iter()
        .flat_map(|m| m.sources.iter().flatten())
        .map(|a| AssignmentId(*a))
        .collect();
    for a in sources {
        if let Some(row) = db::assignments::get(&mut conn, caller.tenant_id(), a).await?
            && let Some(p) =
                db::packages::get(&mut conn, caller.tenant_id(), row.package_id).await?
        {
            names.add_policy(a.0, p.display_name);
        }
    }
    Ok(GroupPage {
        group,
        members,
        names,
    })
}

/// Adds a direct member named by email.
pub async fn add_group_member(
    pool: &PgPool,
    caller: &Caller,
    group: GroupId,
    email: &str,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    caller.require(Action::ManageDirectory)?;
    let user = {
        let mut conn = pool.acquire().await?;
        user_by_email(&mut conn, caller.tenant_id(), email, "email").await?
    };
    groups::add_member(pool, caller, group, user.id, now).await
}

/// Adds (`add = true`) or removes a direct owner named by email or id.
pub async fn change_group_owner(
    pool: &PgPool,
    caller: &Caller,
    group: GroupId,
    owner: OwnerChange,
    now: DateTime<Utc>,
) -> ServiceResult<GroupView> {
    caller.require(Action::ManageDirectory)?;
    let current = groups::get(pool, caller, group).await?;
    let mut owners = current.owner_ids.clone();
    match owner {
        OwnerChange::Add(email) => {
            let user = {
                let mut conn = pool.acquire().await?;
                user_by_email(&mut conn, caller.tenant_id(), &email, "ownerEmail").await?
            };
            if !owners.contains(&user.id) {
                owners.push(user.id);
            }
        }
        OwnerChange::Remove(id) => owners.retain(|o| *o != id),
    }
    groups::update(
        pool,
        caller,
        group,
        GroupFields {
            owner_ids: Some(owners),
            ..GroupFields::default()
        },
        now,
    )
    .await
}

pub enum OwnerChange {
    Add(String),
    Remove(UserId),
}

/// The audit log with the names of its actors.
#[derive(Debug)]
pub struct AuditPage {
    pub events: Page<AuditEvent>,
    pub names: Names,
}

pub async fn audit_page(
    pool: &PgPool,
    caller: &Caller,
    target: Option<Uuid>,
    after: Option<DateTime<Utc>>,
    page: PageRequest,
) -> ServiceResult<AuditPage> {
    let events = super::audit::list(pool, caller, target, after, page).await?;
    let mut wanted = Wanted::default();
    for e in &events.items {
        if let Some(a) = e.actor_id {
            wanted.user(a);
        }
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(AuditPage { events, names })
}

/// Ids of resource roles as sent by a form, for `PackageFields`.
pub fn role_ids(raw: &[&str]) -> Vec<ResourceRoleId> {
    raw.iter().filter_map(|r| r.parse().ok()).collect()
}

/// Packages the caller administers (those of catalogs where they hold a role; all for
/// tenant admins), optionally of one catalog and matching `search`.
pub async fn package_list(
    pool: &PgPool,
    caller: &Caller,
    catalog: Option<CatalogId>,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<(Page<PackageView>, Names)> {
    let mut list = packages::list(pool, caller, catalog, search, page).await?;
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

/// The package form as typed: incompatible groups are kept by id and added by name.
#[derive(Clone, Debug, Default)]
pub struct PackageForm {
    pub fields: packages::PackageFields,
    pub add_incompatible_group: Option<String>,
}

/// Saves a package's edit form (adding the incompatible group named, if any).
pub async fn update_package(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
    mut form: PackageForm,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
    if let Some(name) = form
        .add_incompatible_group
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        match resolve_principal(pool, caller, name, "addIncompatibleGroup").await? {
            Principal::Group(g) => {
                let groups = form
                    .fields
                    .incompatible_group_ids
                    .get_or_insert_with(Vec::new);
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            Principal::User(_) => {
                return Err(DomainError::field(
                    "addIncompatibleGroup",
                    "enter the exact name of a group, not a person",
                )
                .into());
            }
        }
    }
    packages::update(pool, caller, id, form.fields, now).await
}
