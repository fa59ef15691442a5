//! A catalog's resources: the add form (groups picked from the directory;
//! applications, sites and custom resources with their roles and an optional webhook,
//! SCIM or LDAP connector), the Delivery page of a resource (its connector form, the
//! connector's health and a "Test connection" button), and removing one. A stored
//! secret is never shown: the form says it is stored, and a blank field keeps it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::connector::{Connector, ConnectorType};
use crate::domain::ids::{CatalogId, GroupId, ResourceId};
use crate::model::catalogs::Catalog;
use crate::services::catalogs::{
    ConnectionTest, NewConnector, NewLdap, NewResource, NewRole, ResourceKind,
};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageResult, Params, Posted, redirect_with_error, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid, when, when_opt};

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
    connector: ConnectorFields,
}

/// The connector part of a form, as the person filled it in (never a secret).
struct ConnectorFields {
    /// "", "webhook", "scim" or "ldap".
    kind: String,
    url: String,
    base_url: String,
    deactivate: bool,
    /// A secret of this type is stored (the edit form): blank keeps it.
    secret_stored: bool,
    /// The LDAP server's URL (`connector.ldapUrl` in the form, `connector.url` in the
    /// API: the webhook's URL field is beside it).
    ldap_url: String,
    start_tls: bool,
    bind_dn: String,
    base_dn: String,
    user_filter: String,
    member_attribute: String,
    /// (value, label, chosen) of the member attributes.
    member_attributes: Vec<(&'static str, &'static str, bool)>,
}

const MEMBER_ATTRIBUTES: [(&str, &str); 3] = [
    ("member", "member"),
    ("uniqueMember", "uniqueMember"),
    ("memberUid", "memberUid"),
];

/// The LDAP URL field of the form.
const LDAP_URL: &str = "connector.ldapUrl";

impl ConnectorFields {
    fn with_member_attribute(mut self) -> Self {
        let chosen = if self.member_attribute.is_empty() {
            "member".to_string()
        } else {
            self.member_attribute.clone()
        };
        self.member_attributes = MEMBER_ATTRIBUTES
            .iter()
            .map(|(v, l)| (*v, *l, v.eq_ignore_ascii_case(&chosen)))
            .collect();
        self
    }

    fn from_form(form: Option<&FormData>, stored: Option<&Connector>) -> Self {
        match form {
            Some(f) => Self {
                kind: f.text("connector.type"),
                url: f.text("connector.url"),
                base_url: f.text("connector.baseUrl"),
                deactivate: f.checked("connector.deactivateOnLastRevoke"),
                secret_stored: stored
                    .is_some_and(|c| c.kind().as_str() == f.text("connector.type")),
                ldap_url: f.text(LDAP_URL),
                start_tls: f.checked("connector.startTls"),
                bind_dn: f.text("connector.bindDn"),
                base_dn: f.text("connector.baseDn"),
                user_filter: f.text("connector.userFilter"),
                member_attribute: f.text("connector.memberAttribute"),
                member_attributes: Vec::new(),
            }
            .with_member_attribute(),
            None => {
                let mut fields = Self {
                    kind: String::new(),
                    url: String::new(),
                    base_url: String::new(),
                    deactivate: true,
                    secret_stored: stored.is_some(),
                    ldap_url: String::new(),
                    start_tls: false,
                    bind_dn: String::new(),
                    base_dn: String::new(),
                    user_filter: "(mail={email})".into(),
                    member_attribute: String::new(),
                    member_attributes: Vec::new(),
                };
                match stored {
                    Some(Connector::Webhook { url }) => {
                        fields.kind = "webhook".into();
                        fields.url = url.clone();
                    }
                    Some(Connector::Scim {
                        base_url,
                        deactivate_on_last_revoke,
                    }) => {
                        fields.kind = "scim".into();
                        fields.base_url = base_url.clone();
                        fields.deactivate = *deactivate_on_last_revoke;
                    }
                    Some(Connector::Ldap {
                        url,
                        start_tls,
                        bind_dn,
                        base_dn,
                        user_filter,
                        member_attribute,
                    }) => {
                        fields.kind = "ldap".into();
                        fields.ldap_url = url.clone();
                        fields.start_tls = *start_tls;
                        fields.bind_dn = bind_dn.clone();
                        fields.base_dn = base_dn.clone();
                        fields.user_filter = user_filter.clone();
                        fields.member_attribute = member_attribute.clone();
                    }
                    None => {}
                }
                fields.with_member_attribute()
            }
        }
    }
}

/// The connector a form asks for: `Ok(None)` for none, or the field error.
fn connector_input(form: &FormData) -> Result<Option<NewConnector>, (String, String)> {
    let raw = form.text("connector.type");
    match ConnectorType::parse(raw.trim()) {
        None if matches!(raw.trim(), "" | "none") => Ok(None),
        None => Err((
            "connector.type".into(),
            "choose how roles are delivered: recorded only, webhook, SCIM or LDAP".into(),
        )),
        Some(ConnectorType::Webhook) => Ok(Some(NewConnector::webhook(
            form.opt("connector.url"),
            form.opt("connector.secret"),
        ))),
        Some(ConnectorType::Scim) => Ok(Some(NewConnector {
            kind: ConnectorType::Scim,
            url: None,
            secret: None,
            base_url: form.opt("connector.baseUrl"),
            token: form.opt("connector.token"),
            deactivate_on_last_revoke: Some(form.checked("connector.deactivateOnLastRevoke")),
            ldap: None,
        })),
        Some(ConnectorType::Ldap) => Ok(Some(NewConnector {
            kind: ConnectorType::Ldap,
            url: form.opt(LDAP_URL),
            secret: None,
            base_url: None,
            token: None,
            deactivate_on_last_revoke: None,
            ldap: Some(NewLdap {
                start_tls: Some(form.checked("connector.startTls")),
                bind_dn: form.opt("connector.bindDn"),
                bind_password: form.opt("connector.bindPassword"),
                base_dn: form.opt("connector.baseDn"),
                user_filter: form.opt("connector.userFilter"),
                member_attribute: form.opt("connector.memberAttribute"),
            }),
        })),
    }
}

/// The form's errors: an LDAP connector's URL error goes to its own field.
fn connector_errors(form: &FormData, errors: Errors) -> Errors {
    if form.text("connector.type").trim() != "ldap" || !errors.has("connector.url") {
        return errors;
    }
    let mut moved = Errors::none();
    for (field, message) in errors.iter() {
        let field = if field == "connector.url" {
            LDAP_URL
        } else {
            field.as_str()
        };
        moved.add(field, message.clone());
    }
    moved
}

/// Labels of the connector fields, for the error summary.
fn connector_label(field: &str) -> Option<String> {
    let label = match field {
        "connector.type" => "Delivery",
        "connector.url" => "Webhook URL",
        "connector.secret" => "Signing secret",
        "connector.baseUrl" => "SCIM base URL",
        "connector.token" => "SCIM token",
        "connector.deactivateOnLastRevoke" => "Deactivate on last revoke",
        LDAP_URL => "LDAP server URL",
        "connector.startTls" => "StartTLS",
        "connector.bindDn" => "Bind DN",
        "connector.bindPassword" => "Bind password",
        "connector.baseDn" => "Base DN",
        "connector.userFilter" => "User filter",
        "connector.memberAttribute" => "Member attribute",
        "connector" => "Connector",
        _ => return None,
    };
    Some(label.into())
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
        connector: ConnectorFields::from_form(form, None),
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

/// One role per line: `Name`, or `Name = value in the target`.
fn role_lines(raw: &str) -> Vec<NewRole> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('=') {
            Some((name, value)) => NewRole::Mapped {
                display_name: Some(name.trim().to_string()),
                connector_value: Some(value.trim().to_string()),
            },
            None => NewRole::Named(line.to_string()),
        })
        .collect()
}

pub(super) async fn add_resource(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let kind_raw = form.text("kind");
    let kind = parse_kind(&kind_raw);
    let (connector, connector_error) = match connector_input(&form) {
        Ok(c) => (c, None),
        Err(e) => (None, Some(e)),
    };
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
            connector,
        },
    };
    let added = match connector_error {
        Some((field, message)) => Err(crate::domain::DomainError::field(&field, message).into()),
        None => {
            services::catalogs::add_resource(
                state.pool(),
                &who.caller,
                id,
                input,
                state.settings().webhook_allow_private,
                state.keys(),
                state.now(),
            )
            .await
        }
    };
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
                            .split(']')
                            .next()
                            .and_then(|n| n.parse::<usize>().ok())
                            .map_or(0, |n| n + 1);
                        errors.add("roles", format!("role {n}: {message}"));
                    }
                    None => errors.add(field, message.clone()),
                }
            }
            let errors = connector_errors(&form, errors).labelled(connector_label);
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

/// How the stored connector is doing, as the Delivery page shows it.
struct HealthView {
    /// "webhook", "SCIM" or "LDAP" and where it goes.
    target: String,
    last_success: String,
    last_error: Option<(String, String)>,
    queued: i64,
    failed: i64,
    /// The outbox page with the failed deliveries.
    outbox: String,
}

/// The result of "Test connection".
struct TestView {
    ok: bool,
    message: String,
    at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/resource_connector.html")]
struct ConnectorFormPage {
    shell: Shell,
    csrf: String,
    base: String,
    catalog_name: String,
    resource_name: String,
    action: String,
    test_action: String,
    roles: Vec<(String, String)>,
    errors: Errors,
    connector: ConnectorFields,
    health: Option<HealthView>,
    test: Option<TestView>,
}

fn type_label(c: &Connector) -> &'static str {
    match c.kind() {
        ConnectorType::Webhook => "Webhook",
        ConnectorType::Scim => "SCIM",
        ConnectorType::Ldap => "LDAP",
    }
}

fn connector_form(
    who: &AdminCaller,
    catalog: &Catalog,
    view: &services::catalogs::ResourceView,
    form: Option<&FormData>,
    errors: Errors,
) -> ConnectorFormPage {
    let base = who.url(&format!("/admin/catalogs/{}", catalog.id));
    let r = &view.resource;
    let health = r
        .connector
        .as_ref()
        .zip(view.health.as_ref())
        .map(|(c, h)| HealthView {
            target: format!("{} connector to {}", type_label(c), c.address()),
            last_success: h
                .last_success_at
                .map_or_else(|| "never yet".to_string(), when),
            last_error: h
                .last_error
                .clone()
                .map(|message| (when_opt(h.last_error_at), message)),
            queued: h.queued,
            failed: h.failed,
            outbox: who.url(&format!(
                "/admin/outbox?state=failed&kind={}",
                c.outbox_kind()
            )),
        });
    ConnectorFormPage {
        shell: who
            .shell(format!("Delivery of {}", r.display_name), Section::Catalogs)
            .history(&who.caller, Some(r.id.0)),
        csrf: who.csrf.clone(),
        action: format!("{base}/resources/{}/connector", r.id),
        test_action: format!("{base}/resources/{}/connector/test", r.id),
        health,
        test: None,
        catalog_name: catalog.display_name.clone(),
        resource_name: r.display_name.clone(),
        roles: view
            .roles
            .iter()
            .map(|x| {
                (
                    x.display_name.clone(),
                    x.connector_value.clone().unwrap_or_default(),
                )
            })
            .collect(),
        errors,
        connector: ConnectorFields::from_form(form, r.connector.as_ref()),
        base,
    }
}

pub(super) async fn edit_connector(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids((id, rid)): Ids<(CatalogId, ResourceId)>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    who.caller.require(Action::EditCatalog(id))?;
    let view = services::catalogs::get_resource(state.pool(), &who.caller, id, rid).await?;
    if view.resource.group_id.is_some() {
        return Err(crate::web::session::PageError::bad_request(
            "A group resource is delivered into its group and has no connector.",
        ));
    }
    Ok(connector_form(&who, &catalog, &view, None, Errors::none()).into_response())
}

/// "Test connection": tries the stored connector and shows the Delivery page with
/// what happened (a failure is a result on the page, not an error page).
pub(super) async fn test_connector(
    State(state): State<AppState>,
    Ids((id, rid)): Ids<(CatalogId, ResourceId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    let tested = services::catalogs::test_connector(
        state.pool(),
        &who.caller,
        id,
        rid,
        state.http(),
        state.settings().webhook_allow_private,
        state.keys(),
        state.now(),
    )
    .await;
    let view = services::catalogs::get_resource(state.pool(), &who.caller, id, rid).await?;
    let mut page = connector_form(&who, &catalog, &view, None, Errors::none());
    match tested {
        Ok(ConnectionTest {
            ok,
            message,
            tested_at,
        }) => {
            page.test = Some(TestView {
                ok,
                message,
                at: when(tested_at),
            });
            Ok(page.into_response())
        }
        Err(ServiceError::Domain(DomainError::Conflict(message))) => {
            page.errors.add("connector", message);
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn update_connector(
    State(state): State<AppState>,
    Ids((id, rid)): Ids<(CatalogId, ResourceId)>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let updated = match connector_input(&form) {
        Err((field, message)) => Err(DomainError::field(&field, message).into()),
        Ok(input) => {
            services::catalogs::update_connector(
                state.pool(),
                &who.caller,
                id,
                rid,
                input,
                state.settings().webhook_allow_private,
                state.keys(),
                state.now(),
            )
            .await
        }
    };
    match updated {
        Ok(r) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &match &r.connector {
                None => format!(
                    "“{}” has no connector now: its roles are only recorded.",
                    r.display_name
                ),
                Some(c) => format!(
                    "“{}” is delivered by its {} connector.",
                    r.display_name,
                    c.kind()
                ),
            },
        )),
        Err(e) => {
            let errors = connector_errors(&form, form_errors(e)?).labelled(connector_label);
            let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
            let view = services::catalogs::get_resource(state.pool(), &who.caller, id, rid).await?;
            Ok(invalid(connector_form(
                &who,
                &catalog,
                &view,
                Some(&form),
                errors,
            )))
        }
    }
}
