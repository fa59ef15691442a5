//! The demo tenant `contoso`, as in the walkthrough (access-packages-walkthrough.md):
//! people with managers and departments, the group "Windows 11 Testing" owned by Alex
//! Wilber, and in catalog General the access package "Windows 11 Testing" with its
//! two-stage "Internal users" policy, plus "Sales CRM" (no approval) and "Finance
//! Reports" (one stage). Everything is created through the services, so it is valid;
//! seeding is idempotent: a second run changes nothing but issues a fresh API token
//! for the demo admin.

use crate::crypto::Keys;
use crate::domain::values::UserKind;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{Caller, ServiceResult, catalogs, groups, packages, roles, tenants, tokens};
use crate::db::{self, PageRequest, tenants::Tenant, users::User};
use crate::domain::ids::{CatalogId, GroupId, ResourceRoleId, UserId};
use crate::domain::policy::PolicySettings;
use crate::domain::values::{DisplayName, EmailAddress, Slug};

pub const SLUG: &str = "contoso";
pub const ADMIN_EMAIL: &str = "admin@contoso.example";

pub struct Seeded {
    pub admin_email: String,
    pub admin_token: String,
}

/// (email, display name, department, job title, manager email)
const PEOPLE: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "megan@contoso.example",
        "Megan Bowen",
        "Engineering",
        "Engineering Manager",
        None,
    ),
    (
        "adele@contoso.example",
        "Adele Vance",
        "Engineering",
        "Software Engineer",
        Some("megan@contoso.example"),
    ),
    (
        "alex@contoso.example",
        "Alex Wilber",
        "IT",
        "Desktop Engineer",
        Some("megan@contoso.example"),
    ),
    (
        "diego@contoso.example",
        "Diego Siciliani",
        "Sales",
        "Account Manager",
        None,
    ),
    (
        "isaiah@contoso.example",
        "Isaiah Langer",
        "Sales",
        "Sales Representative",
        Some("diego@contoso.example"),
    ),
    (
        "lynne@contoso.example",
        "Lynne Robbins",
        "Finance",
        "Financial Analyst",
        Some("diego@contoso.example"),
    ),
];

/// Every demo person's (email, display name), the admin first.
pub fn people() -> Vec<(&'static str, &'static str)> {
    std::iter::once((ADMIN_EMAIL, "Contoso Admin"))
        .chain(PEOPLE.iter().map(|(email, name, ..)| (*email, *name)))
        .collect()
}

pub const PACKAGE: &str = "Windows 11 Testing";
pub const PACKAGE_DESCRIPTION: &str =
    "If you want to upgrade your system to Windows 11, request access to this package.";
pub const QUESTION: &str = "Which device will you upgrade?";

#[tracing::instrument(skip_all)]
pub async fn seed(pool: &PgPool, keys: &Keys, now: DateTime<Utc>) -> ServiceResult<Seeded> {
    let mut conn = pool.acquire().await?;
    let tenant = match db::tenants::by_slug(&mut conn, SLUG).await? {
        Some(t) => t,
        None => {
            let input = tenants::NewTenant {
                slug: Slug::parse(SLUG).map_err(|e| anyhow::anyhow!(e))?,
                display_name: DisplayName::parse("Contoso").map_err(|e| anyhow::anyhow!(e))?,
                admin_email: EmailAddress::parse(ADMIN_EMAIL).map_err(|e| anyhow::anyhow!(e))?,
            };
            let (tenant, mut admin) = tenants::create(pool, input, now).await?;
            admin.display_name = "Contoso Admin".into();
            admin.department = Some("IT".into());
            db::users::update(&mut conn, &admin).await?;
            tenant
        }
    };
    for (email, name, department, title, manager) in PEOPLE {
        if db::users::by_email(&mut conn, tenant.id, email)
            .await?
            .is_some()
        {
            continue;
        }
        let manager_id = match manager {
            Some(m) => db::users::by_email(&mut conn, tenant.id, m)
                .await?
                .map(|u| u.id),
            None => None,
        };
        db::users::insert(
            &mut conn,
            &User {
                tenant_id: tenant.id,
                id: UserId::new(),
                email: (*email).into(),
                display_name: (*name).into(),
                department: Some((*department).into()),
                job_title: Some((*title).into()),
                manager_id,
                kind: UserKind::Member,
                active: true,
                external_id: None,
                last_sign_in_at: None,
                directory_managed: false,
                time_zone: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
    }
    drop(conn);
    seed_packages(pool, &tenant, keys, now).await?;
    let (_, token) = tokens::create(pool, SLUG, ADMIN_EMAIL, Some("demo"), Some(1), now).await?;
    Ok(Seeded {
        admin_email: ADMIN_EMAIL.into(),
        admin_token: token,
    })
}

/// The demo admin as a caller of the services.
async fn admin_caller(pool: &PgPool, tenant: &Tenant) -> ServiceResult<Caller> {
    let mut conn = pool.acquire().await?;
    let admin = db::users::by_email(&mut conn, tenant.id, ADMIN_EMAIL)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo admin is missing"))?;
    let roles = roles::roles_of(&mut conn, tenant.id, admin.id).await?;
    Ok(Caller {
        tenant: tenant.clone(),
        user: admin,
        roles,
        token: None,
    })
}

async fn user_id(pool: &PgPool, tenant: &Tenant, email: &str) -> ServiceResult<UserId> {
    let mut conn = pool.acquire().await?;
    Ok(db::users::by_email(&mut conn, tenant.id, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user {email} is missing"))?
        .id)
}

/// The group named `name`, created with `owner` when missing.
async fn group(
    pool: &PgPool,
    admin: &Caller,
    name: &str,
    description: &str,
    owner: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<GroupId> {
    let mut conn = pool.acquire().await?;
    let found = db::groups::list(
        &mut conn,
        admin.tenant_id(),
        Some(name),
        PageRequest::first(50),
    )
    .await?
    .items
    .into_iter()
    .find(|g| g.display_name == name);
    drop(conn);
    if let Some(g) = found {
        return Ok(g.id);
    }
    let view = groups::create(
        pool,
        admin,
        groups::GroupFields {
            display_name: Some(name.into()),
            description: Some(Some(description.into())),
            owner_ids: Some(vec![owner]),
        },
        now,
    )
    .await?;
    Ok(view.group.id)
}

async fn package_exists(pool: &PgPool, admin: &Caller, name: &str) -> ServiceResult<bool> {
    let mut conn = pool.acquire().await?;
    let filter = db::packages::PackageFilter {
        search: Some(name),
        include_hidden: true,
        ..Default::default()
    };
    Ok(db::packages::list(
        &mut conn,
        admin.tenant_id(),
        &filter,
        PageRequest::first(50),
    )
    .await?
    .items
    .iter()
    .any(|p| p.display_name == name))
}

/// The Member role of `group` as a resource of `catalog` (added when missing).
async fn member_role(
    pool: &PgPool,
    admin: &Caller,
    catalog: CatalogId,
    group: GroupId,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<ResourceRoleId> {
    let existing = catalogs::list_resources(pool, admin, catalog, PageRequest::first(500))
        .await?
        .items
        .into_iter()
        .find(|r| r.resource.group_id == Some(group));
    let resource = match existing {
        Some(r) => r,
        None => {
            catalogs::add_resource(
                pool,
                admin,
                catalog,
                catalogs::NewResource {
                    kind: Some(catalogs::ResourceKind::Group),
                    group_id: Some(group),
                    ..Default::default()
                },
                false,
                keys,
                now,
            )
            .await?
        }
    };
    resource
        .roles
        .iter()
        .find(|r| r.display_name == "Member")
        .map(|r| r.id)
        .ok_or_else(|| anyhow::anyhow!("group resource without a Member role").into())
}

/// Creates package `name` with one policy unless a package of that name exists.
#[allow(clippy::too_many_arguments)]
async fn package(
    pool: &PgPool,
    admin: &Caller,
    catalog: CatalogId,
    name: &str,
    description: &str,
    role: ResourceRoleId,
    policy_name: &str,
    settings: serde_json::Value,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if package_exists(pool, admin, name).await? {
        return Ok(());
    }
    let settings: PolicySettings =
        serde_json::from_value(settings).map_err(|e| anyhow::anyhow!("demo policy: {e}"))?;
    let view = packages::create(
        pool,
        admin,
        packages::PackageFields {
            catalog_id: Some(catalog),
            display_name: Some(name.into()),
            description: Some(Some(description.into())),
            hidden: Some(false),
            resource_role_ids: Some(vec![role]),
            ..Default::default()
        },
        now,
    )
    .await?;
    packages::create_policy(
        pool,
        admin,
        view.package.id,
        packages::PolicyInput {
            display_name: Some(policy_name.into()),
            settings,
            expected_version: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// The walkthrough's package and two more, in catalog General.
async fn seed_packages(
    pool: &PgPool,
    tenant: &Tenant,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let admin = admin_caller(pool, tenant).await?;
    let general = {
        let mut conn = pool.acquire().await?;
        db::catalogs::list(&mut conn, tenant.id, None, PageRequest::first(500))
            .await?
            .items
            .into_iter()
            .find(|c| c.display_name == "General")
            .ok_or_else(|| anyhow::anyhow!("catalog General is missing"))?
            .id
    };
    let alex = user_id(pool, tenant, "alex@contoso.example").await?;
    let diego = user_id(pool, tenant, "diego@contoso.example").await?;
    let lynne = user_id(pool, tenant, "lynne@contoso.example").await?;

    let windows = group(
        pool,
        &admin,
        PACKAGE,
        "Devices in the Windows 11 beta test ring.",
        alex,
        now,
    )
    .await?;
    let role = member_role(pool, &admin, general, windows, keys, now).await?;
    // Access ends on a fixed date about a year ahead (the walkthrough's "01.01.2022").
    let year_ahead = (now + Duration::days(365)).date_naive();
    let on_date = year_ahead
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| anyhow::anyhow!("date out of range"))?;
    package(
        pool,
        &admin,
        general,
        PACKAGE,
        PACKAGE_DESCRIPTION,
        role,
        "Internal users",
        json!({
            "description": "For users in your directory (no guests).",
            "requestors": {"scope": "allMembers"},
            "requestsEnabled": true,
            "requireJustification": true,
            "approval": {"stages": [
                {"approvers": [{"type": "manager"}], "timeoutDays": 14},
                {"approvers": [{"type": "resourceOwners"}], "timeoutDays": 14}
            ]},
            "questions": [
                {"text": QUESTION, "kind": "shortText", "required": true},
                {"text": "Which Windows 11 channel?", "kind": "choice",
                 "options": ["Beta", "Release preview"], "required": false}
            ],
            "expiration": {"type": "onDate", "date": on_date},
            "extension": {"allowed": true, "requireApproval": true},
            "review": {
                "startDate": now + Duration::days(90),
                "recurrence": "quarterly",
                "durationDays": 14,
                "reviewers": [{"type": "manager"}],
                "ifNoResponse": "keep",
                "autoApply": true
            }
        }),
        now,
    )
    .await?;

    let crm = group(
        pool,
        &admin,
        "Sales CRM Users",
        "People who may sign in to the sales CRM.",
        diego,
        now,
    )
    .await?;
    let role = member_role(pool, &admin, general, crm, keys, now).await?;
    package(
        pool,
        &admin,
        general,
        "Sales CRM",
        "Read and update customer accounts and opportunities in the sales CRM.",
        role,
        "Everyone",
        json!({
            "requestors": {"scope": "allMembers"},
            "expiration": {"type": "afterDays", "days": 365},
            "extension": {"allowed": true, "requireApproval": false}
        }),
        now,
    )
    .await?;

    let finance = group(
        pool,
        &admin,
        "Finance Report Readers",
        "Readers of the monthly finance reports.",
        lynne,
        now,
    )
    .await?;
    let role = member_role(pool, &admin, general, finance, keys, now).await?;
    package(
        pool,
        &admin,
        general,
        "Finance Reports",
        "Monthly and quarterly finance reports (read only).",
        role,
        "Employees",
        json!({
            "requestors": {"scope": "allMembers"},
            "requireJustification": true,
            "approval": {"stages": [{"approvers": [{"type": "manager"}], "timeoutDays": 7}]},
            "questions": [{"text": "What will you use the reports for?", "kind": "longText", "required": false}],
            "expiration": {"type": "afterDays", "days": 180},
            "allowCustomSchedule": true,
            "extension": {"allowed": true, "requireApproval": true}
        }),
        now,
    )
    .await?;
    Ok(())
}
