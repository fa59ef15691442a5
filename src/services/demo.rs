//! The demo tenant `contoso` (idempotent: seeding twice changes nothing but issues a
//! fresh API token for the demo admin).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{ServiceResult, tenants, tokens};
use crate::db::{self, users::User};
use crate::domain::ids::UserId;
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
];

pub async fn seed(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<Seeded> {
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
                kind: "member".into(),
                active: true,
                external_id: None,
                last_sign_in_at: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
    }
    drop(conn);
    let (_, token) = tokens::create(pool, SLUG, ADMIN_EMAIL, Some("demo"), Some(1), now).await?;
    Ok(Seeded {
        admin_email: ADMIN_EMAIL.into(),
        admin_token: token,
    })
}
