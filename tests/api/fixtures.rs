//! Catalog fixtures written straight through the persistence layer, so request tests
//! do not depend on the admin endpoints: a group resource, an application resource
//! with a webhook connector, packages and policies. Resources are set up as a tenant
//! admin would add them.

use portico::db;
use portico::db::catalogs::{Resource, ResourceRole};
use portico::db::packages::{AccessPackage, Policy};
use portico::domain::connector::Connector;
use portico::domain::ids::*;
use portico::domain::policy::PolicySettings;
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use crate::helpers::{TestApp, TestTenant, uuid_of};

/// A package that delivers membership of one directory group.
#[derive(Clone, Debug)]
pub struct GroupPackage {
    pub catalog: Uuid,
    pub group: Uuid,
    pub member_role: Uuid,
    pub package: Uuid,
    pub policy: Uuid,
}

pub async fn general_catalog(app: &TestApp, t: &TestTenant) -> Uuid {
    sqlx::query_scalar("select id from catalogs where tenant_id = $1 and display_name = 'General'")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("General catalog")
}

pub async fn group(app: &TestApp, t: &TestTenant, name: &str) -> Uuid {
    let (status, g) = app
        .post(&t.admin, "/api/v1/groups", json!({"displayName": name}))
        .await;
    assert_eq!(status, 201, "{g}");
    uuid_of(&g["id"])
}

/// A group resource (roles Member and Owner) in `catalog`.
pub async fn group_resource(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    group: Uuid,
) -> (Uuid, Uuid, Uuid) {
    let now = app.now();
    let resource = Resource {
        tenant_id: TenantId(t.id),
        id: ResourceId::new(),
        catalog_id: CatalogId(catalog),
        kind: "group".into(),
        group_id: Some(GroupId(group)),
        display_name: "group".into(),
        description: String::new(),
        connector: None,
        connector_secret: None,
        added_by_tenant_admin: true,
        created_at: now,
        updated_at: now,
    };
    let roles: Vec<ResourceRole> = [("Member", "member"), ("Owner", "owner")]
        .into_iter()
        .map(|(name, rel)| ResourceRole {
            tenant_id: TenantId(t.id),
            id: ResourceRoleId::new(),
            resource_id: resource.id,
            display_name: name.into(),
            group_relation: Some(rel.into()),
            connector_value: None,
            created_at: now,
        })
        .collect();
    let mut conn = app.pool.acquire().await.expect("conn");
    db::catalogs::insert_resource(&mut conn, &resource, &roles)
        .await
        .expect("resource");
    (resource.id.0, roles[0].id.0, roles[1].id.0)
}

/// An application resource with one role "User", delivered by a webhook to `url`.
pub async fn webhook_resource(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    url: &str,
    secret: &str,
) -> (Uuid, Uuid) {
    let now = app.now();
    let id = ResourceId::new();
    // Stored as the service stores it: sealed, bound to this tenant and resource.
    let sealed = app.state.keys().seal(
        secret,
        &portico::services::catalogs::connector_secret_context(TenantId(t.id), id),
    );
    let resource = Resource {
        tenant_id: TenantId(t.id),
        id,
        catalog_id: CatalogId(catalog),
        kind: "application".into(),
        group_id: None,
        display_name: "Ticketing".into(),
        description: String::new(),
        connector: Some(Connector::Webhook { url: url.into() }),
        connector_secret: Some(sealed),
        added_by_tenant_admin: true,
        created_at: now,
        updated_at: now,
    };
    let role = ResourceRole {
        tenant_id: TenantId(t.id),
        id: ResourceRoleId::new(),
        resource_id: resource.id,
        display_name: "User".into(),
        group_relation: None,
        connector_value: Some("User".into()),
        created_at: now,
    };
    let mut conn = app.pool.acquire().await.expect("conn");
    db::catalogs::insert_resource(&mut conn, &resource, std::slice::from_ref(&role))
        .await
        .expect("resource");
    (resource.id.0, role.id.0)
}

pub async fn package(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    name: &str,
    roles: &[Uuid],
) -> Uuid {
    let now = app.now();
    let p = AccessPackage {
        tenant_id: TenantId(t.id),
        id: PackageId::new(),
        catalog_id: CatalogId(catalog),
        display_name: name.into(),
        description: String::new(),
        hidden: false,
        created_at: now,
        updated_at: now,
        archived_at: None,
        version: 1,
    };
    let mut conn = app.pool.acquire().await.expect("conn");
    db::packages::insert(&mut conn, &p).await.expect("package");
    for r in roles {
        db::packages::add_role(&mut conn, TenantId(t.id), p.id, ResourceRoleId(*r), now)
            .await
            .expect("role");
    }
    p.id.0
}

pub async fn policy(app: &TestApp, t: &TestTenant, package: Uuid, settings: Value) -> Uuid {
    let mut settings: PolicySettings = serde_json::from_value(settings).expect("policy settings");
    settings.assign_question_ids();
    let errors = settings.validate(app.now(), None);
    assert!(errors.is_empty(), "fixture policy invalid: {errors:?}");
    let now = app.now();
    let p = Policy {
        tenant_id: TenantId(t.id),
        id: PolicyId::new(),
        package_id: PackageId(package),
        display_name: "Policy".into(),
        settings: Json(settings),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut conn = app.pool.acquire().await.expect("conn");
    db::packages::insert_policy(&mut conn, &p)
        .await
        .expect("policy");
    p.id.0
}

/// A package delivering membership of a new group, with one policy.
pub async fn group_package(
    app: &TestApp,
    t: &TestTenant,
    name: &str,
    settings: Value,
) -> GroupPackage {
    let catalog = general_catalog(app, t).await;
    let group = group(app, t, name).await;
    let (_, member_role, _) = group_resource(app, t, catalog, group).await;
    let package = package(app, t, catalog, name, &[member_role]).await;
    let policy = policy(app, t, package, settings).await;
    GroupPackage {
        catalog,
        group,
        member_role,
        package,
        policy,
    }
}

/// `{"requestors": {"scope": "allMembers"}}` plus `extra`.
pub fn open_policy(extra: Value) -> Value {
    let mut p = json!({"requestors": {"scope": "allMembers"}});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    p
}

/// The sources of `user`'s membership of `group` ("direct" or assignment ids).
pub async fn sources(app: &TestApp, group: Uuid, user: Uuid) -> Vec<String> {
    let rows: Vec<Option<Uuid>> = sqlx::query_scalar(
        "select assignment_id from group_memberships where group_id = $1 and user_id = $2 order by assignment_id nulls first",
    )
    .bind(group)
    .bind(user)
    .fetch_all(&app.pool)
    .await
    .expect("sources");
    rows.into_iter()
        .map(|s| s.map_or_else(|| "direct".to_string(), |a| a.to_string()))
        .collect()
}

/// Submits a userAdd for the caller.
pub async fn request(
    app: &TestApp,
    token: &str,
    package: Uuid,
    extra: Value,
) -> (reqwest::StatusCode, Value) {
    let mut body = json!({"requestType": "userAdd", "accessPackageId": package});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    app.post(token, "/api/v1/assignmentRequests", body).await
}

pub async fn decide(
    app: &TestApp,
    token: &str,
    request: &Value,
    decision: &str,
    justification: Option<&str>,
) -> (reqwest::StatusCode, Value) {
    app.post(
        token,
        &format!(
            "/api/v1/assignmentRequests/{}/decision",
            request["id"].as_str().expect("id")
        ),
        json!({"decision": decision, "justification": justification}),
    )
    .await
}
