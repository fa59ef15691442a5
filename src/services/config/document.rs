//! The configuration document (INTEGRATIONS.md §6): what `portico export` writes and
//! `portico apply` reads, as YAML or (through the API) JSON. People are named by email,
//! groups by display name, everything else by its name; ids never appear. Unknown
//! fields are refused, so a misspelt key is an error and not silently ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A tenant's configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ConfigDocument)]
pub struct Document {
    /// The document's format: 1.
    #[serde(default = "version_one")]
    pub version: u32,
    #[serde(default)]
    pub catalogs: Vec<CatalogDoc>,
    #[serde(default)]
    pub packages: Vec<PackageDoc>,
    /// Tenant-wide roles (`tenantAdmin`, `catalogCreator`).
    #[serde(default)]
    pub roles: Vec<RoleGrantDoc>,
}

fn version_one() -> u32 {
    1
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub externally_visible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<ExtensionDoc>,
    /// Catalog roles (`catalogOwner`, `catalogReader`, `packageManager`,
    /// `assignmentManager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleGrantDoc>,
}

/// A resource: `type: group` names a directory group by its display name (`name`), and
/// has the roles Member and Owner; other types have their own roles.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceDoc {
    pub name: String,
    /// group, application, site or custom.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ResourceRoleDoc>,
    /// The connector's settings as the API takes them (`type`, `url`, `baseUrl`, ...).
    /// Secrets are never exported; on apply a secret is needed only to create a
    /// connector that signs or authenticates, and is kept otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub connector: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRoleDoc {
    pub name: String,
    /// What the role is in the connector's target, when not its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtensionDoc {
    pub name: String,
    pub url: String,
    /// fireAndForget or waitForCallback.
    pub behavior: String,
    pub timeout_minutes: i64,
    /// continue or deny.
    pub on_timeout: String,
    /// Only to create one (never exported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A role held by a user (`user`: email) or a group (`group`: display name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleGrantDoc {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageDoc {
    pub name: String,
    /// The catalog's name.
    pub catalog: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<PackageRoleDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incompatible_packages: Vec<PackageRefDoc>,
    /// Display names of directory groups whose members may not hold this package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incompatible_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyDoc>,
}

/// A resource role of the package's catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageRoleDoc {
    pub resource: String,
    pub role: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageRefDoc {
    pub catalog: String,
    pub package: String,
}

/// A policy: its name and the settings the API takes (`requestors`, `approval`, ...),
/// with users as `{type: user, email}`, groups as `{type: group, group: <name>}` and
/// custom extensions as `{stage, extension: <name>}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDoc {
    pub name: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub settings: serde_json::Map<String, Value>,
}
