//! `/catalogs` and their `/resources`. A connector's secret (webhook secret, SCIM
//! token, LDAP bind password) is accepted on the way in and never rendered on the way
//! out: answers say only that it is set. A resource's connector can be tested
//! (`…/connector/test`), and its health (from the outbox) comes with the resource.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::versions::{IfMatch, Tagged};
use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::connector::{Connector as ConnectorSettings, ConnectorType};
use crate::domain::ids::{CatalogId, GroupId, ResourceId};
use crate::model::catalogs::Catalog as CatalogRow;
use crate::model::outbox::ConnectorHealth as OutboxHealth;
use crate::services;
use crate::services::catalogs::{
    CatalogFields, ConnectionTest, NewConnector, NewLdap, NewResource, NewRole, ResourceKind,
    ResourceView,
};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_catalogs, create_catalog))
        .routes(routes!(get_catalog, patch_catalog, delete_catalog))
        .routes(routes!(list_resources, add_resource))
        .routes(routes!(get_resource, remove_resource))
        .routes(routes!(put_connector))
        .routes(routes!(test_connector))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    pub id: Uuid,
    pub display_name: String,
    pub description: String,
    /// Packages of a disabled catalog cannot be requested.
    pub enabled: bool,
    /// Guests may request packages of this catalog.
    pub externally_visible: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CatalogRow> for Catalog {
    fn from(c: CatalogRow) -> Self {
        Self {
            id: c.id.0,
            display_name: c.display_name,
            description: c.description,
            enabled: c.enabled,
            externally_visible: c.externally_visible,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

crate::list_schema!(CatalogList, Catalog);

/// Body of POST: what `CatalogBody` parses, with the fields a new catalog needs.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewCatalogBody {
    pub display_name: String,
    /// Default "" (null too).
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default false.
    pub externally_visible: Option<bool>,
}

/// Body of PATCH: any field; absent (or null for a flag or the name) leaves it as it is.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CatalogBody {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default false.
    pub externally_visible: Option<bool>,
}

impl From<CatalogBody> for CatalogFields {
    fn from(b: CatalogBody) -> Self {
        Self {
            display_name: b.display_name,
            description: b.description,
            enabled: b.enabled,
            externally_visible: b.externally_visible,
            expected_version: None,
        }
    }
}

/// Catalogs the caller may read: all for tenant admins, otherwise those where the caller
/// holds a catalog role (an empty list for everyone else).
#[utoipa::path(get, path = "/catalogs", tag = "catalogs", params(Pagination),
    responses((status = 200, body = CatalogList)))]
async fn list_catalogs(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(p): ApiQuery<Pagination>,
) -> Result<List<Catalog>, AppError> {
    let page = services::catalogs::list(state.pool(), &caller, p.page()?).await?;
    Ok(List::from_page(page, Catalog::from))
}

/// Create a catalog (tenant admins and catalog creators; a creator becomes its owner).
#[utoipa::path(post, path = "/catalogs", tag = "catalogs", request_body = NewCatalogBody,
    responses((status = 201, body = Catalog), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_catalog(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<CatalogBody>,
) -> Result<Created<Catalog>, AppError> {
    let catalog =
        services::catalogs::create(state.pool(), &caller, body.into(), state.now()).await?;
    Ok(Created(catalog.into()))
}

#[utoipa::path(get, path = "/catalogs/{id}", tag = "catalogs", params(("id" = Uuid, Path)),
    responses((status = 200, body = Catalog, headers(("ETag" = String, description = "The version; send it back in If-Match to change only this version"))), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_catalog(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
) -> Result<Tagged<Catalog>, AppError> {
    let catalog = services::catalogs::get(state.pool(), &caller, id).await?;
    Ok(Tagged(catalog.version, catalog.into()))
}

/// Change any field (tenant admins and the catalog's owners). With `If-Match`, only
/// that version is changed (412 otherwise).
#[utoipa::path(patch, path = "/catalogs/{id}", tag = "catalogs", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[1-9][0-9]{0,17}")$"#, description = "The ETag of the version this change is made from (such as \"3\"), or *; another version answers 412")),
    request_body = CatalogBody,
    responses((status = 200, body = Catalog, headers(("ETag" = String, description = "The version; send it back in If-Match to change only this version"))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn patch_catalog(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<CatalogBody>,
) -> Result<Tagged<Catalog>, AppError> {
    let fields = CatalogFields {
        expected_version: expected,
        ..body.into()
    };
    let catalog =
        services::catalogs::update(state.pool(), &caller, id, fields, state.now()).await?;
    Ok(Tagged(catalog.version, catalog.into()))
}

/// Delete a catalog and its resources (409 while it has access packages).
#[utoipa::path(delete, path = "/catalogs/{id}", tag = "catalogs", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_catalog(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
) -> Result<StatusCode, AppError> {
    services::catalogs::delete(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ResourceKindName {
    Group,
    Application,
    Site,
    Custom,
}

impl From<ResourceKindName> for ResourceKind {
    fn from(k: ResourceKindName) -> Self {
        match k {
            ResourceKindName::Group => Self::Group,
            ResourceKindName::Application => Self::Application,
            ResourceKindName::Site => Self::Site,
            ResourceKindName::Custom => Self::Custom,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRole {
    pub id: Uuid,
    pub display_name: String,
    /// What the role means in the connector's target (its name unless given); null
    /// for the roles of a group resource.
    pub connector_value: Option<String>,
}

/// A connector as shown: never with its secret, only that one is set.
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Connector {
    #[serde(rename_all = "camelCase")]
    Webhook { url: String, secret_set: bool },
    #[serde(rename_all = "camelCase")]
    Scim {
        base_url: String,
        token_set: bool,
        deactivate_on_last_revoke: bool,
    },
    #[serde(rename_all = "camelCase")]
    Ldap {
        url: String,
        start_tls: bool,
        bind_dn: String,
        bind_password_set: bool,
        base_dn: String,
        user_filter: String,
        member_attribute: String,
    },
}

impl Connector {
    fn shown(c: ConnectorSettings, secret_set: bool) -> Self {
        match c {
            ConnectorSettings::Webhook { url } => Self::Webhook { url, secret_set },
            ConnectorSettings::Scim {
                base_url,
                deactivate_on_last_revoke,
            } => Self::Scim {
                base_url,
                token_set: secret_set,
                deactivate_on_last_revoke,
            },
            ConnectorSettings::Ldap {
                url,
                start_tls,
                bind_dn,
                base_dn,
                user_filter,
                member_attribute,
            } => Self::Ldap {
                url,
                start_tls,
                bind_dn,
                bind_password_set: secret_set,
                base_dn,
                user_filter,
                member_attribute,
            },
        }
    }
}

/// The last error still standing on one of a connector's calls.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorError {
    pub at: Option<DateTime<Utc>>,
    pub message: String,
}

/// How a resource's connector is doing, from its calls in the outbox.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorHealth {
    /// When a call last succeeded; null before the first.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The most recent error still standing on a call (retrying or failed).
    pub last_error: Option<ConnectorError>,
    /// Calls waiting to be made (pending or retrying).
    pub queued: i64,
    /// Calls that failed for good (reprocess them from the outbox or the assignment).
    pub failed: i64,
}

impl From<OutboxHealth> for ConnectorHealth {
    fn from(h: OutboxHealth) -> Self {
        Self {
            last_success_at: h.last_success_at,
            last_error: h.last_error.map(|message| ConnectorError {
                at: h.last_error_at,
                message,
            }),
            queued: h.queued,
            failed: h.failed,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub id: Uuid,
    pub catalog_id: Uuid,
    #[schema(value_type = ResourceKindName)]
    pub kind: String,
    /// For group resources, the group's display name.
    pub display_name: String,
    pub description: String,
    /// The directory group of a group resource; null for other kinds.
    pub group_id: Option<Uuid>,
    pub roles: Vec<ResourceRole>,
    pub connector: Option<Connector>,
    /// The connector's health; null without a connector.
    pub connector_health: Option<ConnectorHealth>,
    pub created_at: DateTime<Utc>,
}

impl From<ResourceView> for Resource {
    fn from(v: ResourceView) -> Self {
        let r = v.resource;
        // The view never holds the secret; a stored connector always has one.
        let connector = r.connector.map(|c| Connector::shown(c, true));
        Self {
            id: r.id.0,
            catalog_id: r.catalog_id.0,
            kind: r.kind,
            display_name: r.display_name,
            description: r.description,
            group_id: r.group_id.map(|g| g.0),
            roles: v
                .roles
                .into_iter()
                .map(|role| ResourceRole {
                    id: role.id.0,
                    display_name: role.display_name,
                    connector_value: role.connector_value,
                })
                .collect(),
            connector,
            connector_health: v.health.map(ConnectorHealth::from),
            created_at: r.created_at,
        }
    }
}

crate::list_schema!(ResourceList, Resource);

/// A connector: `{type: webhook, url, secret}` (Portico POSTs signed grant/revoke
/// calls to `url`), `{type: scim, baseUrl, token, deactivateOnLastRevoke?}` (Portico
/// manages the person and their group memberships in a SCIM 2.0 service provider) or
/// `{type: ldap, url, startTls?, bindDn, bindPassword, baseDn, userFilter?,
/// memberAttribute?}` (Portico adds the person to and removes them from LDAP groups,
/// each role's connectorValue being a group DN).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorBody {
    #[serde(rename = "type")]
    pub kind: ConnectorType,
    /// Webhook: http(s) URL on a public address (unless the operator allows private
    /// ones). LDAP: the server, `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: Option<String>,
    /// Webhook: signing secret, at least 16 characters; write-only.
    #[schema(write_only)]
    pub secret: Option<String>,
    /// SCIM: the base URL of the target's SCIM 2.0 API (where /Users and /Groups are),
    /// on a public address like a webhook URL.
    pub base_url: Option<String>,
    /// SCIM: the bearer token the target issued; write-only.
    #[schema(write_only)]
    pub token: Option<String>,
    /// SCIM: deactivate the person in the target when their last grant through this
    /// connector is revoked. Default true.
    pub deactivate_on_last_revoke: Option<bool>,
    /// LDAP: upgrade an `ldap://` connection with StartTLS. Default false.
    pub start_tls: Option<bool>,
    /// LDAP: the DN Portico binds as.
    pub bind_dn: Option<String>,
    /// LDAP: the bind password; write-only (blank on PUT keeps the stored one).
    #[schema(write_only)]
    pub bind_password: Option<String>,
    /// LDAP: where people are searched.
    pub base_dn: Option<String>,
    /// LDAP: the filter that finds one person, `{email}` standing for their email.
    /// Default `(mail={email})`; Active Directory: `(userPrincipalName={email})`.
    pub user_filter: Option<String>,
    /// LDAP: `member` (default), `uniqueMember` or `memberUid`.
    pub member_attribute: Option<String>,
}

impl From<ConnectorBody> for NewConnector {
    fn from(c: ConnectorBody) -> Self {
        let ldap = [
            c.bind_dn.is_some(),
            c.bind_password.is_some(),
            c.base_dn.is_some(),
            c.user_filter.is_some(),
            c.member_attribute.is_some(),
            c.start_tls.is_some(),
        ]
        .contains(&true)
        .then_some(NewLdap {
            start_tls: c.start_tls,
            bind_dn: c.bind_dn,
            bind_password: c.bind_password,
            base_dn: c.base_dn,
            user_filter: c.user_filter,
            member_attribute: c.member_attribute,
        });
        Self {
            kind: c.kind,
            url: c.url,
            secret: c.secret,
            base_url: c.base_url,
            token: c.token,
            deactivate_on_last_revoke: c.deactivate_on_last_revoke,
            ldap,
        }
    }
}

/// A role: its name (which is then also its connector value), or
/// `{displayName, connectorValue}`.
#[derive(Serialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum RoleBody {
    Name(String),
    Role {
        #[serde(rename = "displayName")]
        display_name: Option<String>,
        /// What the role means in the target (a SCIM group's displayName). Default:
        /// the display name.
        #[serde(rename = "connectorValue")]
        connector_value: Option<String>,
    },
}

impl<'de> Deserialize<'de> for RoleBody {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RoleBody;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a role name or an object {displayName, connectorValue}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RoleBody, E> {
                Ok(RoleBody::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RoleBody, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Fields {
                    display_name: Option<String>,
                    connector_value: Option<String>,
                }
                let f = Fields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RoleBody::Role {
                    display_name: f.display_name,
                    connector_value: f.connector_value,
                })
            }
        }
        de.deserialize_any(Visit)
    }
}

impl From<RoleBody> for NewRole {
    fn from(r: RoleBody) -> Self {
        match r {
            RoleBody::Name(name) => Self::Named(name),
            RoleBody::Role {
                display_name,
                connector_value,
            } => Self::Mapped {
                display_name,
                connector_value,
            },
        }
    }
}

/// `{kind: group, groupId}` or `{kind: application|site|custom, displayName,
/// description?, roles: [names], connector?}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBody {
    pub kind: Option<ResourceKindName>,
    /// The directory group (kind group only).
    pub group_id: Option<Uuid>,
    /// Required for kinds other than group.
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// 1–50 roles with unique names and connector values (kinds other than group).
    pub roles: Option<Vec<RoleBody>>,
    pub connector: Option<ConnectorBody>,
}

impl From<ResourceBody> for NewResource {
    fn from(b: ResourceBody) -> Self {
        Self {
            kind: b.kind.map(ResourceKind::from),
            group_id: b.group_id.map(GroupId),
            display_name: b.display_name,
            description: b.description,
            roles: b
                .roles
                .map(|roles| roles.into_iter().map(NewRole::from).collect()),
            connector: b.connector.map(NewConnector::from),
        }
    }
}

/// Resources of a catalog with their roles (anyone holding a role in the catalog).
#[utoipa::path(get, path = "/catalogs/{id}/resources", tag = "catalogs", params(("id" = Uuid, Path), Pagination),
    responses((status = 200, body = ResourceList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_resources(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
    ApiQuery(p): ApiQuery<Pagination>,
) -> Result<List<Resource>, AppError> {
    let page = services::catalogs::list_resources(state.pool(), &caller, id, p.page()?).await?;
    Ok(List::from_page(page, Resource::from))
}

/// Add a resource (tenant admins and the catalog's owners). A group resource gets the
/// roles Member and Owner; 409 when the group is already in the catalog. Only a tenant
/// admin or an owner of the group may add a group, and only a tenant admin a group that
/// holds a role or approves or reviews for another catalog (403 naming the rule).
#[utoipa::path(post, path = "/catalogs/{id}/resources", tag = "catalogs", params(("id" = Uuid, Path)),
    request_body = ResourceBody,
    responses((status = 201, body = Resource), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_resource(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
    ApiJson(body): ApiJson<ResourceBody>,
) -> Result<Created<Resource>, AppError> {
    let allow_private = state.settings().webhook_allow_private;
    let resource = services::catalogs::add_resource(
        state.pool(),
        &caller,
        id,
        body.into(),
        allow_private,
        state.keys(),
        state.now(),
    )
    .await?;
    Ok(Created(resource.into()))
}

/// Remove a resource (409 while an access package uses one of its roles).
#[utoipa::path(delete, path = "/catalogs/{id}/resources/{resourceId}", tag = "catalogs",
    params(("id" = Uuid, Path), ("resourceId" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn remove_resource(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, resource)): ApiPath<(CatalogId, ResourceId)>,
) -> Result<StatusCode, AppError> {
    services::catalogs::remove_resource(state.pool(), &caller, id, resource, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One resource of a catalog with its roles and its connector's health (anyone
/// holding a role in the catalog).
#[utoipa::path(get, path = "/catalogs/{id}/resources/{resourceId}", tag = "catalogs",
    params(("id" = Uuid, Path), ("resourceId" = Uuid, Path)),
    responses((status = 200, body = Resource), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_resource(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, resource)): ApiPath<(CatalogId, ResourceId)>,
) -> Result<Json<Resource>, AppError> {
    let view = services::catalogs::get_resource(state.pool(), &caller, id, resource).await?;
    Ok(Json(view.into()))
}

/// Body of PUT `…/connector`: the connector, or `{connector: null}` for none.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorChange {
    pub connector: Option<ConnectorBody>,
}

/// Set, replace or remove a resource's connector (tenant admins and the catalog's
/// owners). A blank secret (`secret`, `token`, `bindPassword`) keeps the stored one
/// while the type stays the same. For an LDAP connector every role's connectorValue
/// must be a group DN (422 naming the role).
#[utoipa::path(put, path = "/catalogs/{id}/resources/{resourceId}/connector", tag = "catalogs",
    params(("id" = Uuid, Path), ("resourceId" = Uuid, Path)), request_body = ConnectorChange,
    responses((status = 200, body = Resource), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
async fn put_connector(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, resource)): ApiPath<(CatalogId, ResourceId)>,
    ApiJson(body): ApiJson<ConnectorChange>,
) -> Result<Json<Resource>, AppError> {
    services::catalogs::update_connector(
        state.pool(),
        &caller,
        id,
        resource,
        body.connector.map(NewConnector::from),
        state.settings().webhook_allow_private,
        state.keys(),
        state.now(),
    )
    .await?;
    let view = services::catalogs::get_resource(state.pool(), &caller, id, resource).await?;
    Ok(Json(view.into()))
}

/// What testing a connector found.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorTestResult {
    /// Whether the target answered as it should.
    pub ok: bool,
    /// What was done, or what failed, in words a person can act on.
    pub message: String,
    pub tested_at: DateTime<Utc>,
}

impl From<ConnectionTest> for ConnectorTestResult {
    fn from(t: ConnectionTest) -> Self {
        Self {
            ok: t.ok,
            message: t.message,
            tested_at: t.tested_at,
        }
    }
}

/// Test a resource's connector without changing anything in the target (tenant
/// admins and the catalog's owners): a webhook gets a signed `ping` call, a SCIM
/// target is asked for its ServiceProviderConfig with the token, an LDAP server is
/// bound to and its base DN read. A target that fails answers 200 with `ok: false`
/// and the reason; 409 when the resource has no connector.
#[utoipa::path(post, path = "/catalogs/{id}/resources/{resourceId}/connector/test", tag = "catalogs",
    params(("id" = Uuid, Path), ("resourceId" = Uuid, Path)),
    responses((status = 200, body = ConnectorTestResult), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
async fn test_connector(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, resource)): ApiPath<(CatalogId, ResourceId)>,
) -> Result<Json<ConnectorTestResult>, AppError> {
    let result = services::catalogs::test_connector(
        state.pool(),
        &caller,
        id,
        resource,
        state.http(),
        state.settings().webhook_allow_private,
        state.keys(),
        state.now(),
    )
    .await?;
    Ok(Json(result.into()))
}
