//! The tenant's configuration as a document: ids become names, secrets stay behind.

use std::collections::HashMap;

use serde_json::Value;

use super::document::{
    CatalogDoc, Document, ExtensionDoc, PackageDoc, PackageRefDoc, PackageRoleDoc, PolicyDoc,
    ResourceDoc, ResourceRoleDoc, RoleGrantDoc,
};
use super::refs::{for_each_extension, for_each_principal, kind};
use crate::db::config::{self, Snapshot};
use crate::db::{Conn, DbResult};
use crate::domain::ids::{GroupId, TenantId, UserId};
use crate::model::roles::RoleAssignment;

/// The names export writes for ids.
struct Names {
    emails: HashMap<uuid::Uuid, String>,
    groups: HashMap<uuid::Uuid, String>,
}

impl Names {
    fn principal(
        &self,
        user: Option<UserId>,
        group: Option<GroupId>,
    ) -> (Option<String>, Option<String>) {
        match (user, group) {
            (Some(u), _) => (
                Some(
                    self.emails
                        .get(&u.0)
                        .cloned()
                        .unwrap_or_else(|| u.0.to_string()),
                ),
                None,
            ),
            (None, Some(g)) => (
                None,
                Some(
                    self.groups
                        .get(&g.0)
                        .cloned()
                        .unwrap_or_else(|| g.0.to_string()),
                ),
            ),
            (None, None) => (None, None),
        }
    }
}

fn grant(r: &RoleAssignment, names: &Names) -> RoleGrantDoc {
    let (user, group) = names.principal(r.user_id, r.group_id);
    RoleGrantDoc {
        role: r.role.as_str().to_string(),
        user,
        group,
    }
}

/// The policy's settings with names for ids and without question ids.
fn policy_settings(
    settings: &Value,
    names: &Names,
    extensions: &HashMap<uuid::Uuid, String>,
) -> serde_json::Map<String, Value> {
    let mut v = settings.clone();
    for_each_principal(&mut v, &mut |_, m| {
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<uuid::Uuid>().ok());
        let Some(id) = id else { return };
        let (key, found) = match kind(m) {
            "user" => ("email", names.emails.get(&id)),
            "group" => ("group", names.groups.get(&id)),
            _ => return,
        };
        if let Some(name) = found {
            m.remove("id");
            m.insert(key.to_string(), Value::String(name.clone()));
        }
    });
    for_each_extension(&mut v, &mut |_, m| {
        let id = m
            .get("extensionId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<uuid::Uuid>().ok());
        if let Some(name) = id.and_then(|id| extensions.get(&id)) {
            m.remove("extensionId");
            m.insert("extension".to_string(), Value::String(name.clone()));
        }
    });
    strip_question_ids(&mut v);
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// Question ids are Portico's own; documents leave them out.
pub(super) fn strip_question_ids(settings: &mut Value) {
    if let Some(Value::Array(qs)) = settings.get_mut("questions") {
        for q in qs {
            if let Value::Object(q) = q {
                q.remove("id");
            }
        }
    }
}

/// The ids of users and groups the snapshot's policies and roles name.
fn referenced(s: &Snapshot) -> (Vec<UserId>, Vec<GroupId>) {
    let mut users: Vec<UserId> = s
        .role_assignments
        .iter()
        .filter_map(|r| r.user_id)
        .collect();
    let mut groups: Vec<GroupId> = s
        .role_assignments
        .iter()
        .filter_map(|r| r.group_id)
        .collect();
    groups.extend(s.resources.iter().filter_map(|r| r.group_id));
    groups.extend(s.incompatible_groups.iter().map(|(_, g)| *g));
    for p in &s.policies {
        let mut v = serde_json::to_value(&p.settings.0).unwrap_or_default();
        for_each_principal(&mut v, &mut |_, m| {
            let id = m
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<uuid::Uuid>().ok());
            match (kind(m), id) {
                ("user", Some(id)) => users.push(UserId(id)),
                ("group", Some(id)) => groups.push(GroupId(id)),
                _ => {}
            }
        });
    }
    users.sort_by_key(|u| u.0);
    users.dedup();
    groups.sort_by_key(|g| g.0);
    groups.dedup();
    (users, groups)
}

/// The tenant's configuration document.
#[tracing::instrument(skip_all)]
pub async fn document(conn: &mut Conn, tenant: TenantId) -> DbResult<Document> {
    let s = config::snapshot(conn, tenant).await?;
    let (users, groups) = referenced(&s);
    let names = Names {
        emails: crate::db::users::get_many(conn, tenant, &users)
            .await?
            .into_iter()
            .map(|u| (u.id.0, u.email))
            .collect(),
        groups: crate::db::groups::get_many(conn, tenant, &groups)
            .await?
            .into_iter()
            .map(|g| (g.id.0, g.display_name))
            .collect(),
    };
    Ok(from_snapshot(&s, &names))
}

fn from_snapshot(s: &Snapshot, names: &Names) -> Document {
    let extension_names: HashMap<uuid::Uuid, String> = s
        .extensions
        .iter()
        .map(|e| (e.id.0, e.display_name.clone()))
        .collect();
    let catalog_names: HashMap<uuid::Uuid, String> = s
        .catalogs
        .iter()
        .map(|c| (c.id.0, c.display_name.clone()))
        .collect();
    let resource_name = |r: &crate::db::catalogs::Resource| match r.group_id {
        Some(g) => names
            .groups
            .get(&g.0)
            .cloned()
            .unwrap_or_else(|| r.display_name.clone()),
        None => r.display_name.clone(),
    };
    let catalogs = s
        .catalogs
        .iter()
        .map(|c| CatalogDoc {
            name: c.display_name.clone(),
            description: c.description.clone(),
            enabled: c.enabled,
            externally_visible: c.externally_visible,
            resources: s
                .resources
                .iter()
                .filter(|r| r.catalog_id == c.id)
                .map(|r| ResourceDoc {
                    name: resource_name(r),
                    kind: r.kind.clone(),
                    description: r.description.clone(),
                    roles: if r.group_id.is_some() {
                        Vec::new()
                    } else {
                        s.resource_roles
                            .iter()
                            .filter(|x| x.resource_id == r.id)
                            .map(|x| ResourceRoleDoc {
                                name: x.display_name.clone(),
                                value: x.connector_value.clone().filter(|v| *v != x.display_name),
                            })
                            .collect()
                    },
                    connector: r
                        .connector
                        .as_ref()
                        .and_then(|c| serde_json::to_value(c).ok()),
                })
                .collect(),
            extensions: s
                .extensions
                .iter()
                .filter(|e| e.catalog_id == c.id)
                .map(|e| ExtensionDoc {
                    name: e.display_name.clone(),
                    url: e.url.clone(),
                    behavior: e.behavior.as_str().to_string(),
                    timeout_minutes: i64::from(e.timeout_minutes),
                    on_timeout: e.on_timeout.as_str().to_string(),
                    secret: None,
                })
                .collect(),
            roles: s
                .role_assignments
                .iter()
                .filter(|r| r.catalog_id == Some(c.id))
                .map(|r| grant(r, names))
                .collect(),
        })
        .collect();
    let role_names: HashMap<uuid::Uuid, (String, String)> = s
        .resource_roles
        .iter()
        .filter_map(|role| {
            let r = s.resources.iter().find(|r| r.id == role.resource_id)?;
            Some((role.id.0, (resource_name(r), role.display_name.clone())))
        })
        .collect();
    let package_refs: HashMap<uuid::Uuid, PackageRefDoc> = s
        .packages
        .iter()
        .map(|p| {
            let catalog = catalog_names
                .get(&p.catalog_id.0)
                .cloned()
                .unwrap_or_default();
            (
                p.id.0,
                PackageRefDoc {
                    catalog,
                    package: p.display_name.clone(),
                },
            )
        })
        .collect();
    let packages = s
        .packages
        .iter()
        .map(|p| PackageDoc {
            name: p.display_name.clone(),
            catalog: catalog_names
                .get(&p.catalog_id.0)
                .cloned()
                .unwrap_or_default(),
            description: p.description.clone(),
            hidden: p.hidden,
            roles: s
                .package_roles
                .iter()
                .filter(|(pk, _)| *pk == p.id)
                .filter_map(|(_, role)| role_names.get(&role.0))
                .map(|(resource, role)| PackageRoleDoc {
                    resource: resource.clone(),
                    role: role.clone(),
                })
                .collect(),
            incompatible_packages: s
                .incompatible_packages
                .iter()
                .filter(|(pk, _)| *pk == p.id)
                .filter_map(|(_, other)| package_refs.get(&other.0).cloned())
                .collect(),
            incompatible_groups: s
                .incompatible_groups
                .iter()
                .filter(|(pk, _)| *pk == p.id)
                .map(|(_, g)| {
                    names
                        .groups
                        .get(&g.0)
                        .cloned()
                        .unwrap_or_else(|| g.0.to_string())
                })
                .collect(),
            policies: s
                .policies
                .iter()
                .filter(|x| x.package_id == p.id)
                .map(|x| PolicyDoc {
                    name: x.display_name.clone(),
                    settings: policy_settings(
                        &serde_json::to_value(&x.settings.0).unwrap_or_default(),
                        names,
                        &extension_names,
                    ),
                })
                .collect(),
        })
        .collect();
    Document {
        version: 1,
        catalogs,
        packages,
        roles: s
            .role_assignments
            .iter()
            .filter(|r| r.catalog_id.is_none())
            .map(|r| grant(r, names))
            .collect(),
    }
}
