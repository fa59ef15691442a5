//! `/accessPackages`, their `/policies`, and `/policies/{id}`. A policy body is parsed
//! field by field so that a wrong value (an unknown enum value included) is a 422
//! naming its path, such as `approval.stages[0].decision`.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::versions::{IfMatch, Tagged};
use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::FieldErrors;
use crate::domain::ids::{CatalogId, GroupId, PackageId, PolicyId, ResourceRoleId};
use crate::domain::policy::PolicySettings;
use crate::model::packages::Policy as PolicyRow;
use crate::services;
use crate::services::packages::{PackageFields, PackageView, PolicyInput};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packages, create_package))
        .routes(routes!(get_package, patch_package, delete_package))
        .routes(routes!(archive_package))
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, put_policy, delete_policy))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackage {
    pub id: Uuid,
    pub catalog_id: Uuid,
    pub display_name: String,
    pub description: String,
    /// Not listed in the portal, but requestable by direct link.
    pub hidden: bool,
    pub resource_role_ids: Vec<Uuid>,
    pub incompatible_package_ids: Vec<Uuid>,
    pub incompatible_group_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the package was archived: kept for its history, read-only, not listed and
    /// not requestable. Absent while it is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<PackageView> for AccessPackage {
    fn from(v: PackageView) -> Self {
        let p = v.package;
        Self {
            id: p.id.0,
            catalog_id: p.catalog_id.0,
            display_name: p.display_name,
            description: p.description,
            hidden: p.hidden,
            resource_role_ids: v.resource_role_ids.into_iter().map(|r| r.0).collect(),
            incompatible_package_ids: v
                .incompatible_package_ids
                .into_iter()
                .map(|p| p.0)
                .collect(),
            incompatible_group_ids: v.incompatible_group_ids.into_iter().map(|g| g.0).collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            archived_at: p.archived_at,
        }
    }
}

crate::list_schema!(AccessPackageList, AccessPackage);

/// Body of POST: what `AccessPackageBody` parses, with the fields a new package needs.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewAccessPackageBody {
    pub catalog_id: Uuid,
    pub display_name: String,
    /// Default "" (null too).
    pub description: Option<String>,
    /// Default false.
    pub hidden: Option<bool>,
    /// Roles of resources in the package's catalog. Default [].
    pub resource_role_ids: Option<Vec<Uuid>>,
    pub incompatible_package_ids: Option<Vec<Uuid>>,
    pub incompatible_group_ids: Option<Vec<Uuid>>,
}

/// Body of PATCH: any field; the lists replace the current ones whole; catalogId
/// cannot change.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageBody {
    #[schema(value_type = Option<Uuid>)]
    pub catalog_id: Option<CatalogId>,
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Default false.
    pub hidden: Option<bool>,
    /// Roles of resources in the package's catalog.
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub resource_role_ids: Option<Vec<ResourceRoleId>>,
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub incompatible_package_ids: Option<Vec<PackageId>>,
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub incompatible_group_ids: Option<Vec<GroupId>>,
}

impl From<AccessPackageBody> for PackageFields {
    fn from(b: AccessPackageBody) -> Self {
        Self {
            catalog_id: b.catalog_id,
            display_name: b.display_name,
            description: b.description,
            hidden: b.hidden,
            resource_role_ids: b.resource_role_ids,
            incompatible_package_ids: b.incompatible_package_ids,
            incompatible_group_ids: b.incompatible_group_ids,
            expected_version: None,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct PackageQuery {
    /// Only packages of this catalog.
    #[param(value_type = Option<Uuid>)]
    pub catalog_id: Option<CatalogId>,
    /// Matches display name or description (case-insensitive, substring).
    pub search: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Access packages the caller may see: all of the catalogs where they hold a role
/// (hidden ones included); elsewhere the non-hidden packages of enabled catalogs
/// (for guests, of externally visible ones).
#[utoipa::path(get, path = "/accessPackages", tag = "accessPackages", params(PackageQuery),
    responses((status = 200, body = AccessPackageList), (status = 422, body = Problem)))]
async fn list_packages(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<PackageQuery>,
) -> Result<List<AccessPackage>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let packages = services::packages::list(
        state.pool(),
        &caller,
        q.catalog_id,
        q.search.as_deref(),
        page,
    )
    .await?;
    Ok(List::from_page(packages, AccessPackage::from))
}

/// Create an access package (tenant admins, the catalog's owners and package managers).
#[utoipa::path(post, path = "/accessPackages", tag = "accessPackages", request_body = NewAccessPackageBody,
    responses((status = 201, body = AccessPackage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_package(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<AccessPackageBody>,
) -> Result<Created<AccessPackage>, AppError> {
    let package =
        services::packages::create(state.pool(), &caller, body.into(), state.now()).await?;
    Ok(Created(package.into()))
}

/// An access package the caller may see (hidden ones too, by their id).
#[utoipa::path(get, path = "/accessPackages/{id}", tag = "accessPackages", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessPackage, headers(("ETag" = String, description = "The version; send it back in If-Match to change only this version"))), (status = 404, body = Problem)))]
async fn get_package(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
) -> Result<Tagged<AccessPackage>, AppError> {
    let package = services::packages::get(state.pool(), &caller, id).await?;
    Ok(Tagged(package.package.version, package.into()))
}

/// Change any field; changing resourceRoleIds grants or revokes them for current
/// assignees. With `If-Match`, only that version is changed (412 otherwise).
#[utoipa::path(patch, path = "/accessPackages/{id}", tag = "accessPackages", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[1-9][0-9]{0,17}")$"#, description = "The ETag of the version this change is made from (such as \"3\"), or *; another version answers 412")),
    request_body = AccessPackageBody,
    responses((status = 200, body = AccessPackage, headers(("ETag" = String, description = "The version; send it back in If-Match to change only this version"))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn patch_package(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<AccessPackageBody>,
) -> Result<Tagged<AccessPackage>, AppError> {
    let fields = PackageFields {
        expected_version: expected,
        ..body.into()
    };
    let package =
        services::packages::update(state.pool(), &caller, id, fields, state.now()).await?;
    Ok(Tagged(package.package.version, package.into()))
}

/// Delete an access package and its policies (409 while it has active assignments, open
/// requests or a request history).
#[utoipa::path(delete, path = "/accessPackages/{id}", tag = "accessPackages", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_package(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
) -> Result<StatusCode, AppError> {
    services::packages::delete(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Archive an access package whose requests and assignments are all history (409
/// while it has active assignments or open requests, or is archived already). It
/// leaves every list, can no longer be requested, assigned or changed, and stays
/// readable by its id with `archivedAt`.
#[utoipa::path(post, path = "/accessPackages/{id}/archive", tag = "accessPackages", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessPackage), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn archive_package(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
) -> Result<Json<AccessPackage>, AppError> {
    let package = services::packages::archive(state.pool(), &caller, id, state.now()).await?;
    Ok(Json(package.into()))
}

/// An assignment policy as answered: every setting, defaults and nulls included.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub id: Uuid,
    pub access_package_id: Uuid,
    pub display_name: String,
    #[serde(flatten)]
    pub settings: PolicySettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PolicyRow> for Policy {
    fn from(p: PolicyRow) -> Self {
        Self {
            id: p.id.0,
            access_package_id: p.package_id.0,
            display_name: p.display_name,
            settings: p.settings.0,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A policy body: its name and settings. Read-only fields of the representation (`id`,
/// `accessPackageId`, `createdAt`, `updatedAt`) and unknown fields are ignored, so a
/// policy's own representation is a valid PUT body; `null` means the default.
pub struct PolicyBody(pub PolicyInput);

impl<S: Send + Sync> FromRequest<S> for PolicyBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(mut value) = ApiJson::<Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(AppError::field("body", "send the policy as a JSON object"));
        }
        drop_nulls(&mut value);
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Name {
            display_name: Option<String>,
        }
        let name: Name = parse_tracked(&value)?;
        let settings: PolicySettings = parse_tracked(&value)?;
        Ok(Self(PolicyInput {
            display_name: name.display_name,
            settings,
            expected_version: None,
        }))
    }
}

/// Removes every `null` member of every object, so that null means "the default", as
/// leaving the field out does (a required field then reports itself missing).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, v| !v.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Deserializes `value`, reporting a failure against the path of the field at fault.
fn parse_tracked<T: DeserializeOwned>(value: &Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let prefix = if path == "." {
            String::new()
        } else {
            format!("{path}.")
        };
        let mut errors = FieldErrors::new();
        // "missing field `x`" belongs to x itself, where a person looks for it.
        match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            Some(field) => errors.add(format!("{prefix}{field}"), "this field is required"),
            None if path == "." => errors.add("body", message),
            None => errors.add(path, message),
        }
        AppError::validation(errors)
    })
}

/// Policies of an access package, newest first (anyone who may see the package).
#[utoipa::path(get, path = "/accessPackages/{id}/policies", tag = "policies", params(("id" = Uuid, Path), Pagination),
    responses((status = 200, body = PolicyList), (status = 404, body = Problem)))]
async fn list_policies(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
    ApiQuery(p): ApiQuery<Pagination>,
) -> Result<List<Policy>, AppError> {
    let page = services::packages::list_policies(state.pool(), &caller, id, p.page()?).await?;
    Ok(List::from_page(page, Policy::from))
}

/// Add an assignment policy to an access package; questions get ids.
#[utoipa::path(post, path = "/accessPackages/{id}/policies", tag = "policies", params(("id" = Uuid, Path)),
    request_body = PolicyBodySchema,
    responses((status = 201, body = Policy), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
    PolicyBody(input): PolicyBody,
) -> Result<Created<Policy>, AppError> {
    let policy =
        services::packages::create_policy(state.pool(), &caller, id, input, state.now()).await?;
    Ok(Created(policy.into()))
}

#[utoipa::path(get, path = "/policies/{id}", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = Policy, headers(("ETag" = String, description = "The version; send it back in If-Match to change only this version"))), (status = 404, body = Problem)))]
async fn get_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PolicyId>,
) -> Result<Tagged<Policy>, AppError> {
    let policy = services::packages::get_policy(state.pool(), &caller, id).await?;
    Ok(Tagged(policy.version, policy.into()))
}

/// Replace a policy in place (same id). Takes the whole body; the policy's own
/// representation is accepted unchanged; questions sent with an id keep it; open
/// requests and active assignments stay under the policy. With `If-Match`, only that
/// version is replaced (412 otherwise).
#[utoipa::path(put, path = "/policies/{id}", tag = "policies", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[1-9][0-9]{0,17}")$"#, description = "The ETag of the version this change is made from (such as \"3\"), or *; another version answers 412")),
    request_body = PolicyBodySchema,
    responses((status = 200, body = Policy, headers(("ETag" = String, description = "The version; send it back in If-Match to change only this version"))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn put_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PolicyId>,
    IfMatch(expected): IfMatch,
    PolicyBody(input): PolicyBody,
) -> Result<Tagged<Policy>, AppError> {
    let input = PolicyInput {
        expected_version: expected,
        ..input
    };
    let policy =
        services::packages::replace_policy(state.pool(), &caller, id, input, state.now()).await?;
    Ok(Tagged(policy.version, policy.into()))
}

/// Delete a policy (409 while it has active assignments, open requests or a request history).
#[utoipa::path(delete, path = "/policies/{id}", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_policy(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PolicyId>,
) -> Result<StatusCode, AppError> {
    services::packages::delete_policy(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// What `PolicyBody` parses, for the OpenAPI description: the name beside the settings.
/// An assignment policy as sent (POST, PUT); see API.md "Bodies". `null` for any field
/// means its default, as leaving it out does.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PolicyBody)]
struct PolicyBodySchema {
    display_name: String,
    #[serde(flatten)]
    settings: PolicySettings,
}

crate::list_schema!(PolicyList, Policy);
