//! A catalog's resources: the add form (groups picked from the directory;
//! applications, sites and custom resources with their roles and an optional webhook
//! connector) and removing one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{CatalogId, GroupId, ResourceId};
use crate::model::catalogs::Catalog;
use crate::services::catalogs::{NewConnector, NewResource, ResourceKind};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageResult, Params, Posted, redirect_with_error, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

use super::detail::catalog_detail;

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

pub(super) async fn new_resource(
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

pub(super) async fn add_resource(
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

pub(super) async fn remove_resource(
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
