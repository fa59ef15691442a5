//! Discovery documents (RFC 7644 §4, RFC 7643 §5–7): what this server supports, its
//! resource types and the schemas of exactly the attributes it keeps (clients and
//! `scim2-tester` build their models from them, so each declared attribute round-trips).

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::error::{ScimError, ScimResponse, scim_json};
use super::query::MAX_COUNT;
use super::{base_url, list_response};
use crate::services::scim::Directory;
use crate::services::scim::represent::{ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(get_service_provider_config))
        .route("/ResourceTypes", get(list_resource_types))
        .route("/ResourceTypes/{id}", get(get_resource_type))
        .route("/Schemas", get(list_schemas))
        .route("/Schemas/{id}", get(get_schema))
}

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

async fn get_service_provider_config(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
) -> ScimResponse {
    let base = base_url(&state, &dir.tenant.slug);
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://github.com/portico/portico/blob/main/docs/INTEGRATIONS.md",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_COUNT},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A SCIM token of the tenant (created in the admin portal, the API or with 'portico token create --scim'), sent as 'Authorization: Bearer <token>'.",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
        }),
    ))
}

fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RT_SCHEMA], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "People of the directory", "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RT_SCHEMA], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "Groups of the directory", "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

async fn list_resource_types(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
) -> ScimResponse {
    let items = resource_types(&base_url(&state, &dir.tenant.slug));
    list_response(items.len() as i64, 1, items)
}

async fn get_resource_type(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
) -> ScimResponse {
    resource_types(&base_url(&state, &dir.tenant.slug))
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        })
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::new(404, None, format!("There is no resource type '{id}'.")))
}

/// One attribute definition (RFC 7643 §7).
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none"
    })
}

fn with(mut a: Value, changes: Value) -> Value {
    if let (Some(a), Some(c)) = (a.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

fn schemas(base: &str) -> Vec<Value> {
    let meta =
        |id: &str| json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")});
    let user = json!({
        "schemas": [SCHEMA_SCHEMA], "id": USER_SCHEMA, "name": "User",
        "description": "A person of the directory; userName (or a primary email) is the sign-in email.",
        "attributes": [
            with(attr("userName", "string", "Unique identifier of the user, usually their email address (the sign-in email)."),
                 json!({"required": true, "uniqueness": "server"})),
            with(attr("name", "complex", "The components of the user's name."), json!({"subAttributes": [
                attr("formatted", "string", "The full name."),
                attr("familyName", "string", "The family name."),
                attr("givenName", "string", "The given name."),
            ]})),
            attr("displayName", "string", "The name shown in Portico."),
            attr("title", "string", "The user's job title."),
            attr("userType", "string", "'Guest' makes a guest in Portico; any other value a member."),
            attr("timezone", "string", "The IANA time zone (e.g. Europe/Berlin) the user reads Portico's pages and emails in; unknown names are ignored."),
            attr("active", "boolean", "false deactivates the user: their access ends at once."),
            with(attr("emails", "complex", "Email addresses; the primary (or work) one signs in when userName is not an email address."),
                 json!({"multiValued": true, "required": true, "subAttributes": [
                    with(attr("value", "string", "The email address."), json!({"required": true})),
                    attr("type", "string", "work, home or other."),
                    attr("primary", "boolean", "The primary address."),
                 ]})),
        ],
        "meta": meta(USER_SCHEMA),
    });
    let enterprise = json!({
        "schemas": [SCHEMA_SCHEMA], "id": ENTERPRISE, "name": "EnterpriseUser",
        "description": "Enterprise attributes Portico uses: department and manager (manager approvals).",
        "attributes": [
            attr("department", "string", "The user's department."),
            with(attr("manager", "complex", "The user's manager (manager and second-level manager approvals)."),
                 json!({"subAttributes": [
                    attr("value", "string", "The id of the manager's User resource."),
                    with(attr("$ref", "reference", "The URI of the manager's User resource."),
                         json!({"referenceTypes": ["User"], "caseExact": true})),
                 ]})),
        ],
        "meta": meta(ENTERPRISE),
    });
    let group = json!({
        "schemas": [SCHEMA_SCHEMA], "id": GROUP_SCHEMA, "name": "Group",
        "description": "A group of the directory; its members here are those the directory pushed.",
        "attributes": [
            with(attr("displayName", "string", "The group's name."), json!({"required": true})),
            with(attr("members", "complex", "The users the directory made members."),
                 json!({"multiValued": true, "subAttributes": [
                    with(attr("value", "string", "The id of the member's User resource."), json!({"mutability": "immutable"})),
                    with(attr("$ref", "reference", "The URI of the member's User resource."),
                         json!({"referenceTypes": ["User"], "mutability": "immutable", "caseExact": true})),
                 ]})),
        ],
        "meta": meta(GROUP_SCHEMA),
    });
    vec![user, enterprise, group]
}

async fn list_schemas(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
) -> ScimResponse {
    let items = schemas(&base_url(&state, &dir.tenant.slug));
    list_response(items.len() as i64, 1, items)
}

async fn get_schema(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
) -> ScimResponse {
    schemas(&base_url(&state, &dir.tenant.slug))
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        })
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::new(404, None, format!("There is no schema '{id}'.")))
}
