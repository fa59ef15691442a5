//! Catalogs: list, create, edit, enable/disable, the role holders of a catalog, and
//! its resources (groups picked from the directory; applications, sites and custom
//! resources with their roles and an optional webhook connector).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{CatalogId, GroupId, ResourceId, RoleAssignmentId};
use crate::model::catalogs::Catalog;
use crate::services::catalogs::{CatalogFields, NewConnector, NewResource, ResourceKind};
use crate::services::roles::GrantInput;
use crate::services::views::catalogs::CatalogPage;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageResult, Params, Posted, redirect_with_error, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Errors, Pager, form_errors, invalid};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/catalogs",
            get(list_catalogs).post(create_catalog),
        )
        .route("/t/{slug}/admin/catalogs/new", get(new_catalog))
        .route("/t/{slug}/admin/catalogs/{id}", get(show_catalog))
        .route(
            "/t/{slug}/admin/catalogs/{id}/edit",
            get(edit_catalog).post(update_catalog),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/enabled",
            post(toggle_catalog),
        )
        .route("/t/{slug}/admin/catalogs/{id}/roles", post(grant_role))
        .route(
            "/t/{slug}/admin/catalogs/{id}/roles/{rid}/revoke",
            post(revoke_role),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources/new",
            get(new_resource),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources",
            post(add_resource),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources/{rid}/remove",
            post(remove_resource),
        )
}

struct CatalogRow {
    href: String,
    name: String,
    description: String,
    status: Badge,
    external: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalogs.html")]
struct CatalogsPage {
    shell: Shell,
    slug: String,
    rows: Vec<CatalogRow>,
    pager: Pager,
    can_create: bool,
}

fn enabled_badge(c: &Catalog) -> Badge {
    if c.enabled {
        Badge::state("enabled")
    } else {
        Badge::state("disabled")
    }
}

async fn list_catalogs(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let list = services::catalogs::list(state.pool(), &who.caller, page).await?;
    let base = who.url("/admin/catalogs");
    Ok(CatalogsPage {
        shell: who.shell("Catalogs", Section::Catalogs),
        slug: who.slug().to_string(),
        pager: Pager::new(&base, &page, list.next),
        rows: list
            .items
            .iter()
            .map(|c| CatalogRow {
                href: format!("{base}/{}", c.id),
                name: c.display_name.clone(),
                description: c.description.clone(),
                status: enabled_badge(c),
                external: c.externally_visible,
            })
            .collect(),
        can_create: who.caller.roles.allows(Action::CreateCatalog),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalog_form.html")]
struct CatalogFormPage {
    shell: Shell,
    csrf: String,
    action: String,
    cancel: String,
    heading: String,
    submit: String,
    errors: Errors,
    display_name: String,
    description: String,
    enabled: bool,
    externally_visible: bool,
}

fn catalog_form(
    who: &AdminCaller,
    catalog: Option<&Catalog>,
    form: Option<&FormData>,
    errors: Errors,
) -> CatalogFormPage {
    let (action, cancel, heading, submit) = match catalog {
        Some(c) => (
            who.url(&format!("/admin/catalogs/{}/edit", c.id)),
            who.url(&format!("/admin/catalogs/{}", c.id)),
            format!("Edit catalog “{}”", c.display_name),
            "Save changes".to_string(),
        ),
        None => (
            who.url("/admin/catalogs"),
            who.url("/admin/catalogs"),
            "New catalog".to_string(),
            "Create catalog".to_string(),
        ),
    };
    let (display_name, description, enabled, externally_visible) = match (form, catalog) {
        (Some(f), _) => (
            f.text("displayName"),
            f.text("description"),
            f.checked("enabled"),
            f.checked("externallyVisible"),
        ),
        (None, Some(c)) => (
            c.display_name.clone(),
            c.description.clone(),
            c.enabled,
            c.externally_visible,
        ),
        (None, None) => (String::new(), String::new(), true, false),
    };
    CatalogFormPage {
        shell: who.shell(heading.clone(), Section::Catalogs),
        csrf: who.csrf.clone(),
        action,
        cancel,
        heading,
        submit,
        errors,
        display_name,
        description,
        enabled,
        externally_visible,
    }
}

async fn new_catalog(who: AdminCaller) -> PageResult {
    who.caller.require(Action::CreateCatalog)?;
    Ok(catalog_form(&who, None, None, Errors::none()).into_response())
}

fn catalog_fields(form: &FormData) -> CatalogFields {
    CatalogFields {
        display_name: Some(form.text("displayName")),
        description: Some(form.opt("description")),
        enabled: Some(form.checked("enabled")),
        externally_visible: Some(form.checked("externallyVisible")),
    }
}

async fn create_catalog(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let created = services::catalogs::create(
        state.pool(),
        &who.caller,
        catalog_fields(&form),
        state.now(),
    )
    .await;
    match created {
        Ok(c) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{}", c.id)),
            &format!("Catalog “{}” created.", c.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(catalog_form(&who, None, Some(&form), errors)))
        }
    }
}

struct ResourceRow {
    name: String,
    kind: String,
    roles: String,
    connector: String,
    remove: String,
}

struct PackageRow {
    href: String,
    name: String,
    hidden: bool,
}

struct HolderRow {
    role: String,
    who: String,
    revoke: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalog.html")]
struct CatalogDetailPage {
    shell: Shell,
    csrf: String,
    slug: String,
    base: String,
    id: String,
    alert: Option<String>,
    name: String,
    description: String,
    enabled: bool,
    status: Badge,
    externally_visible: bool,
    resources: Vec<ResourceRow>,
    packages: Vec<PackageRow>,
    holders: Option<Vec<HolderRow>>,
    can_edit: bool,
    can_grant: bool,
    can_manage_packages: bool,
    grant_errors: Errors,
    grant_role: String,
    grant_principal: String,
    role_choices: Vec<(&'static str, &'static str)>,
}

const CATALOG_ROLES: [(&str, &str); 4] = [
    ("catalogOwner", "Catalog owner"),
    ("catalogReader", "Catalog reader"),
    ("packageManager", "Access package manager"),
    ("assignmentManager", "Assignment manager"),
];

fn role_title(role: &str) -> String {
    CATALOG_ROLES
        .iter()
        .find(|(k, _)| *k == role)
        .map_or_else(|| role.to_string(), |(_, v)| v.to_string())
}

fn catalog_detail(
    who: &AdminCaller,
    p: CatalogPage,
    alert: Option<String>,
    grant: Option<(&FormData, Errors)>,
) -> CatalogDetailPage {
    let base = who.url(&format!("/admin/catalogs/{}", p.catalog.id));
    let resources = p
        .resources
        .iter()
        .map(|r| ResourceRow {
            name: r.resource.display_name.clone(),
            kind: r.resource.kind.clone(),
            roles: r
                .roles
                .iter()
                .map(|x| x.display_name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            connector: r
                .resource
                .connector_url
                .clone()
                .map_or_else(String::new, |u| format!("Webhook: {u}")),
            remove: format!("{base}/resources/{}/remove", r.resource.id),
        })
        .collect();
    let packages = p
        .packages
        .iter()
        .map(|v| PackageRow {
            href: who.url(&format!("/admin/packages/{}", v.package.id)),
            name: v.package.display_name.clone(),
            hidden: v.package.hidden,
        })
        .collect();
    let holders = p.role_holders.as_ref().map(|list| {
        list.iter()
            .map(|r| HolderRow {
                role: role_title(r.role.as_str()),
                who: match (r.user_id, r.group_id) {
                    (Some(u), _) => format!("{} ({})", p.names.user(u.0), p.names.user_email(u.0)),
                    (None, Some(g)) => format!("Group: {}", p.names.group(g.0)),
                    _ => "—".into(),
                },
                revoke: format!("{base}/roles/{}/revoke", r.id),
            })
            .collect()
    });
    let (grant_role, grant_principal, grant_errors) = match grant {
        Some((f, e)) => (f.text("role"), f.text("principal"), e),
        None => (String::new(), String::new(), Errors::none()),
    };
    CatalogDetailPage {
        shell: who.shell(p.catalog.display_name.clone(), Section::Catalogs),
        csrf: who.csrf.clone(),
        slug: who.slug().to_string(),
        alert,
        id: p.catalog.id.to_string(),
        name: p.catalog.display_name.clone(),
        description: p.catalog.description.clone(),
        enabled: p.catalog.enabled,
        status: enabled_badge(&p.catalog),
        externally_visible: p.catalog.externally_visible,
        resources,
        packages,
        holders,
        can_edit: p.can_edit,
        can_grant: p.can_grant,
        can_manage_packages: p.can_manage_packages,
        grant_errors,
        grant_role,
        grant_principal,
        role_choices: CATALOG_ROLES.to_vec(),
        base,
    }
}

async fn show_catalog(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
) -> PageResult {
    let page = services::views::catalogs::catalog_page(state.pool(), &who.caller, id).await?;
    Ok(catalog_detail(&who, page, None, None).into_response())
}

async fn edit_catalog(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    who.caller.require(Action::EditCatalog(id))?;
    Ok(catalog_form(&who, Some(&catalog), None, Errors::none()).into_response())
}

async fn update_catalog(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    match services::catalogs::update(
        state.pool(),
        &who.caller,
        id,
        catalog_fields(&form),
        state.now(),
    )
    .await
    {
        Ok(c) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!("Catalog “{}” saved.", c.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let current = services::catalogs::get(state.pool(), &who.caller, id).await?;
            Ok(invalid(catalog_form(
                &who,
                Some(&current),
                Some(&form),
                errors,
            )))
        }
    }
}

async fn toggle_catalog(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let enabled = form.get("enabled") == Some("true");
    let c = services::catalogs::update(
        state.pool(),
        &who.caller,
        id,
        CatalogFields {
            enabled: Some(enabled),
            ..CatalogFields::default()
        },
        state.now(),
    )
    .await?;
    let message = if c.enabled {
        format!(
            "Catalog “{}” enabled: its packages can be requested.",
            c.display_name
        )
    } else {
        format!(
            "Catalog “{}” disabled: its packages cannot be requested; existing assignments stay.",
            c.display_name
        )
    };
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/catalogs/{id}")),
        &message,
    ))
}

async fn grant_role(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let input = GrantInput {
        role: form.opt("role"),
        principal: form.text("principal"),
    };
    match services::roles::grant_catalog_role(state.pool(), &who.caller, id, input, state.now())
        .await
    {
        Ok(r) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!("{} granted.", role_title(r.role.as_str())),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let page =
                services::views::catalogs::catalog_page(state.pool(), &who.caller, id).await?;
            Ok(invalid(catalog_detail(
                &who,
                page,
                None,
                Some((&form, errors)),
            )))
        }
    }
}

async fn revoke_role(
    State(state): State<AppState>,
    Ids((id, rid)): Ids<(CatalogId, RoleAssignmentId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::roles::delete(state.pool(), &who.caller, rid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/catalogs/{id}")),
        "Role revoked.",
    ))
}

// ---------------------------------------------------------------------------------
// Resources

struct GroupHit {
    id: String,
    name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/resource_form.html")]
struct ResourceFormPage {
    shell: Shell,
    csrf: String,
    base: String,
    catalog_name: String,
    kind: String,
    kinds: Vec<(&'static str, &'static str, String, bool)>,
    query: String,
    groups: Vec<GroupHit>,
    errors: Errors,
    display_name: String,
    description: String,
    roles: String,
    webhook: bool,
    url: String,
}

const KINDS: [(&str, &str); 4] = [
    ("group", "Groups and Teams"),
    ("application", "Applications"),
    ("site", "Sites"),
    ("custom", "Custom"),
];

fn parse_kind(raw: &str) -> Option<ResourceKind> {
    match raw {
        "group" => Some(ResourceKind::Group),
        "application" => Some(ResourceKind::Application),
        "site" => Some(ResourceKind::Site),
        "custom" => Some(ResourceKind::Custom),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn resource_form(
    who: &AdminCaller,
    catalog: &Catalog,
    kind: &str,
    query: String,
    groups: Option<Vec<GroupHit>>,
    form: Option<&FormData>,
    errors: Errors,
) -> ResourceFormPage {
    let base = who.url(&format!("/admin/catalogs/{}", catalog.id));
    let kinds = KINDS
        .iter()
        .map(|(k, label)| {
            (
                *k,
                *label,
                format!("{base}/resources/new?kind={k}"),
                *k == kind,
            )
        })
        .collect();
    ResourceFormPage {
        shell: who.shell(
            format!("Add a resource to {}", catalog.display_name),
            Section::Catalogs,
        ),
        csrf: who.csrf.clone(),
        catalog_name: catalog.display_name.clone(),
        kind: kind.to_string(),
        kinds,
        query,
        groups: groups.unwrap_or_default(),
        errors,
        display_name: form.map(|f| f.text("displayName")).unwrap_or_default(),
        description: form.map(|f| f.text("description")).unwrap_or_default(),
        roles: form.map(|f| f.text("roles")).unwrap_or_default(),
        webhook: form.is_some_and(|f| f.checked("webhook")),
        url: form.map(|f| f.text("connector.url")).unwrap_or_default(),
        base,
    }
}

async fn new_resource(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
    q: Params,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    who.caller.require(Action::EditCatalog(id))?;
    let kind = q.get("kind").unwrap_or_else(|| "group".into());
    if parse_kind(&kind).is_none() {
        return Err(crate::web::session::PageError::bad_request(
            "Choose a kind of resource: group, application, site or custom.",
        ));
    }
    let query = q.get("q").unwrap_or_default();
    let groups = if kind == "group" {
        let hits = services::views::directory::search_principals(
            state.pool(),
            &who.caller,
            &query,
            false,
            true,
        )
        .await?;
        Some(
            hits.into_iter()
                .map(|h| GroupHit {
                    id: h.id.to_string(),
                    name: h.name,
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(resource_form(&who, &catalog, &kind, query, groups, None, Errors::none()).into_response())
}

fn role_lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

async fn add_resource(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let kind_raw = form.text("kind");
    let kind = parse_kind(&kind_raw);
    let input = match kind {
        Some(ResourceKind::Group) => NewResource {
            kind,
            group_id: form.get("groupId").and_then(|g| g.parse::<GroupId>().ok()),
            ..NewResource::default()
        },
        _ => NewResource {
            kind,
            group_id: None,
            display_name: Some(form.text("displayName")),
            description: form.opt("description"),
            roles: Some(role_lines(&form.text("roles"))),
            connector: form.checked("webhook").then(|| NewConnector {
                url: form.opt("connector.url"),
                secret: form.opt("connector.secret"),
            }),
        },
    };
    let added = services::catalogs::add_resource(
        state.pool(),
        &who.caller,
        id,
        input,
        state.settings().webhook_allow_private,
        state.keys(),
        state.now(),
    )
    .await;
    match added {
        Ok(r) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!(
                "Resource “{}” added with the roles {}.",
                r.resource.display_name,
                r.roles
                    .iter()
                    .map(|x| x.display_name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        Err(ServiceError::Domain(DomainError::Conflict(m))) => Ok(redirect_with_error(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &m,
        )),
        Err(e) => {
            let raw = form_errors(e)?;
            // Each role's problem is shown at the roles field.
            let mut errors = Errors::none();
            for (field, message) in raw.iter() {
                match field.strip_prefix("roles[") {
                    Some(rest) => {
                        let n = rest
                            .trim_end_matches(']')
                            .parse::<usize>()
                            .map_or(0, |n| n + 1);
                        errors.add("roles", format!("role {n}: {message}"));
                    }
                    None => errors.add(field, message.clone()),
                }
            }
            let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
            let kind = kind.map_or("group", |k| k.as_str());
            Ok(invalid(resource_form(
                &who,
                &catalog,
                kind,
                String::new(),
                (kind == "group").then(Vec::new),
                Some(&form),
                errors,
            )))
        }
    }
}

async fn remove_resource(
    State(state): State<AppState>,
    Ids((id, rid)): Ids<(CatalogId, ResourceId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    match services::catalogs::remove_resource(state.pool(), &who.caller, id, rid, state.now()).await
    {
        Ok(()) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            "Resource removed from the catalog.",
        )),
        Err(ServiceError::Domain(DomainError::Conflict(message))) => {
            let page =
                services::views::catalogs::catalog_page(state.pool(), &who.caller, id).await?;
            Ok((
                StatusCode::CONFLICT,
                catalog_detail(&who, page, Some(message), None),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authz::Role;

    #[test]
    fn the_form_offers_only_catalog_roles() {
        assert!(
            CATALOG_ROLES
                .iter()
                .all(|(r, _)| Role::parse(r).is_some_and(Role::is_catalog_scoped))
        );
    }
}
