//! Access packages: the list (search and pagination; htmx live search answers the
//! `_package_rows.html` fragment), creation in the walkthrough's order (catalog, then
//! basics and resource roles, then a policy), the package page and its edit form
//! (basics, resource roles, hidden, incompatible packages and groups), and removing
//! a package after a confirmation: deleted when nothing refers to it, archived when it
//! has history (the list shows archived packages apart, `?archived=1`).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::authz::Action;
use crate::domain::ids::PackageId;
use crate::services::views::packages::PackagePage;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, PageResult, Params};
use crate::web::shell::{Section, Shell};
use crate::web::view::Pager;

mod form;
mod remove;

use form::{create_package, edit_package, new_package, update_package};
use remove::{
    archive_package, confirm_delete_policy, confirm_removal, delete_package, delete_policy,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages",
            get(list_packages).post(create_package),
        )
        .route("/t/{slug}/admin/packages/new", get(new_package))
        .route("/t/{slug}/admin/packages/{id}", get(show_package))
        .route(
            "/t/{slug}/admin/packages/{id}/edit",
            get(edit_package).post(update_package),
        )
        .route("/t/{slug}/admin/packages/{id}/remove", get(confirm_removal))
        .route("/t/{slug}/admin/packages/{id}/delete", post(delete_package))
        .route(
            "/t/{slug}/admin/packages/{id}/archive",
            post(archive_package),
        )
        .route(
            "/t/{slug}/admin/packages/{id}/policies/{pid}/delete",
            get(confirm_delete_policy).post(delete_policy),
        )
}

pub struct PackageRow {
    pub href: String,
    pub name: String,
    pub description: String,
    pub catalog: String,
    pub hidden: bool,
    pub roles: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/packages.html")]
struct PackagesPage {
    shell: Shell,
    slug: String,
    query: String,
    rows: Vec<PackageRow>,
    pager: Pager,
    can_create: bool,
    archived: bool,
}

/// The rows of the package list alone (htmx live search).
#[derive(Template, WebTemplate)]
#[template(path = "admin/_package_rows.html")]
struct PackageRowsFragment {
    query: String,
    rows: Vec<PackageRow>,
    pager: Pager,
}

async fn list_packages(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let query = q.get("q").unwrap_or_default();
    let archived = q.get("archived").is_some_and(|v| !v.is_empty());
    let (list, names) = services::views::packages::package_list(
        state.pool(),
        &who.caller,
        None,
        Some(query.as_str()),
        archived,
        page,
    )
    .await?;
    let base = who.url("/admin/packages");
    let mut filters = Vec::new();
    if archived {
        filters.push("archived=1".to_string());
    }
    if !query.is_empty() {
        filters.push(format!(
            "q={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        ));
    }
    let filtered = if filters.is_empty() {
        base.clone()
    } else {
        format!("{base}?{}", filters.join("&"))
    };
    let rows = list
        .items
        .iter()
        .map(|v| PackageRow {
            href: format!("{base}/{}", v.package.id),
            name: v.package.display_name.clone(),
            description: v.package.description.clone(),
            catalog: names.catalog(v.package.catalog_id.0),
            hidden: v.package.hidden,
            roles: v.resource_role_ids.len(),
        })
        .collect();
    let pager = Pager::new(&filtered, &page, list.next);
    if who.htmx_target.as_deref() == Some("package-results") {
        return Ok(PackageRowsFragment { query, rows, pager }.into_response());
    }
    let roles = &who.caller.roles;
    Ok(PackagesPage {
        shell: who.shell(
            if archived {
                "Archived access packages"
            } else {
                "Access packages"
            },
            Section::Packages,
        ),
        archived,
        slug: who.slug().to_string(),
        query,
        rows,
        pager,
        can_create: roles.is_tenant_admin()
            || roles
                .catalogs()
                .any(|c| roles.allows(Action::ManagePackages(c))),
    }
    .into_response())
}

struct PolicyRow {
    href: String,
    delete: String,
    name: String,
    requestors: String,
    stages: usize,
    enabled: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/package.html")]
struct PackageDetailPage {
    shell: Shell,
    slug: String,
    base: String,
    id: String,
    name: String,
    description: String,
    catalog_href: String,
    catalog_name: String,
    hidden: bool,
    roles: Vec<String>,
    incompatible_packages: Vec<String>,
    incompatible_groups: Vec<String>,
    policies: Vec<PolicyRow>,
    can_manage: bool,
    can_assign: bool,
    archived_on: Option<String>,
    can_remove: bool,
    my_access_link: String,
    requestable: bool,
}

pub fn requestors_label(s: &crate::domain::policy::PolicySettings) -> String {
    use crate::domain::policy::RequestorScope;
    match s.requestors.scope {
        RequestorScope::None => "Nobody (administrators assign directly)".into(),
        RequestorScope::Specific => format!(
            "Specific users and groups ({})",
            s.requestors.principals.len()
        ),
        RequestorScope::AllMembers => "All members (not guests)".into(),
        RequestorScope::AllUsers => "All users, guests included".into(),
    }
}

/// The address of the package in My Access, to share with those who may request it
/// (a hidden package is requestable only through it).
fn my_access_link(state: &AppState, slug: &str, id: PackageId) -> String {
    format!("{}/t/{slug}/packages/{id}", state.settings().public_url())
}

fn package_detail(state: &AppState, who: &AdminCaller, p: PackagePage) -> PackageDetailPage {
    let id = p.package.package.id;
    let base = who.url(&format!("/admin/packages/{id}"));
    PackageDetailPage {
        shell: who
            .shell(p.package.package.display_name.clone(), Section::Packages)
            .history(&who.caller, Some(id.0)),
        slug: who.slug().to_string(),
        name: p.package.package.display_name.clone(),
        description: p.package.package.description.clone(),
        catalog_href: who.url(&format!("/admin/catalogs/{}", p.catalog.id)),
        catalog_name: p.catalog.display_name.clone(),
        hidden: p.package.package.hidden,
        roles: p
            .package
            .resource_role_ids
            .iter()
            .map(|r| p.names.role(r.0))
            .collect(),
        incompatible_packages: p
            .package
            .incompatible_package_ids
            .iter()
            .map(|x| p.names.package(x.0))
            .collect(),
        incompatible_groups: p
            .package
            .incompatible_group_ids
            .iter()
            .map(|x| p.names.group(x.0))
            .collect(),
        policies: p
            .policies
            .iter()
            .map(|pol| PolicyRow {
                href: format!("{base}/policies/{}", pol.id),
                delete: format!("{base}/policies/{}/delete", pol.id),
                name: pol.display_name.clone(),
                requestors: requestors_label(&pol.settings.0),
                stages: pol.settings.0.approval.stages.len(),
                enabled: pol.settings.0.requests_enabled,
            })
            .collect(),
        can_manage: p.can_manage,
        can_assign: p.can_assign,
        archived_on: p
            .package
            .package
            .archived_at
            .map(|at| at.format("%Y-%m-%d").to_string()),
        can_remove: p.can_manage,
        my_access_link: my_access_link(state, who.slug(), id),
        requestable: p.package.package.archived_at.is_none()
            && p.policies.iter().any(|pol| pol.settings.0.takes_requests()),
        id: id.to_string(),
        base,
    }
}

async fn show_package(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<PackageId>,
) -> PageResult {
    let page = services::views::packages::package_page(state.pool(), &who.caller, id).await?;
    Ok(package_detail(&state, &who, page).into_response())
}
