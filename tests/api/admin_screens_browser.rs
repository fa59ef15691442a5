//! The admin screens of removing and fixing things in a real headless Chromium on the
//! demo tenant `contoso` (and the bulk assignment pages): each page at 1280 and 390 px (PNG files under
//! target/screenshots/admin-screens/), each checked by axe-core for serious or
//! critical accessibility violations.

use std::path::Path;

use fantoccini::Client;
use uuid::Uuid;

use crate::browser_e2e::{axe, sign_in_as};
use crate::helpers::browser::{Shots, browser, phone_full, start_driver, tempdir, wait_heading};
use crate::helpers::{AppOptions, TestApp};

#[tokio::test]
async fn the_admin_screens_render_wide_and_narrow_without_serious_accessibility_problems() {
    let driver = start_driver().await;
    let app = TestApp::spawn_with(AppOptions {
        demo_tenant: Some("contoso".into()),
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    portico::services::demo::seed(&app.pool, app.state.keys(), app.now())
        .await
        .expect("seed the demo tenant");
    let package: Uuid = sqlx::query_scalar(
        "select id from access_packages where display_name = 'Windows 11 Testing'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("package");
    let (tenant, general): (Uuid, Uuid) =
        sqlx::query_as("select tenant_id, id from catalogs where display_name = 'General' limit 1")
            .fetch_one(&app.pool)
            .await
            .expect("catalog");
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, completed_at)
         values ($1, $2, 'webhook', '{\"type\": \"grant\", \"resourceName\": \"Payroll\"}', 'failed', 12, $3,
                 'the target answered 503 Service Unavailable', $3, $3)",
    )
    .bind(tenant)
    .bind(Uuid::now_v7())
    .bind(app.now())
    .execute(&app.pool)
    .await
    .expect("a failed delivery");

    // A resource delivered by a webhook, for its delivery form.
    let hooked = crate::helpers::TestTenant {
        slug: "contoso".into(),
        id: tenant,
        admin_id: Uuid::nil(),
        admin_email: String::new(),
        admin: String::new(),
    };
    let (resource, _) = crate::fixtures::webhook_resource(
        &app,
        &hooked,
        general,
        "https://hooks.example.com/portico",
        "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw==",
    )
    .await;

    // Something for the reports page to show of Adele: a group and a catalog role.
    sqlx::query(
        "with adele as (select id from users where tenant_id = $1 and email = 'adele@contoso.example')
         insert into group_memberships (tenant_id, group_id, user_id, created_at, from_directory)
         select $1, g.id, adele.id, now(), false from adele, (select id from groups where tenant_id = $1 limit 1) g",
    )
    .bind(tenant)
    .execute(&app.pool)
    .await
    .expect("a membership");
    sqlx::query(
        "insert into role_assignments (tenant_id, id, role, user_id, catalog_id, created_at)
         select $1, gen_random_uuid(), 'catalogReader', id, $2, now()
         from users where tenant_id = $1 and email = 'adele@contoso.example'",
    )
    .bind(tenant)
    .bind(general)
    .execute(&app.pool)
    .await
    .expect("a role");
    // A custom extension of the catalog, chosen by the package's policy.
    let extension = Uuid::now_v7();
    sqlx::query(
        "insert into custom_extensions (tenant_id, id, catalog_id, display_name, url, secret, behavior,
             timeout_minutes, on_timeout, created_at, updated_at)
         values ($1, $2, $3, 'HR records check', 'https://hr.example.com/portico/extension', 'sealed',
                 'waitForCallback', 60, 'deny', $4, $4)",
    )
    .bind(tenant)
    .bind(extension)
    .bind(general)
    .bind(app.now())
    .execute(&app.pool)
    .await
    .expect("an extension");
    let policy: Uuid = sqlx::query_scalar(
        "update policies set settings = jsonb_set(settings, '{customExtensions}',
             jsonb_build_array(jsonb_build_object('stage', 'requestCreated', 'extensionId', $2::text)))
         where id = (select id from policies where package_id = $1 order by id limit 1) returning id",
    )
    .bind(package)
    .bind(extension.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("a policy calling it");

    let profile = tempdir();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/admin-screens");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let c = browser(&driver, &profile).await;
    let result = walk(&c, &app, &mut shots, package, general, resource, policy).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.unwrap_or_else(|e| panic!("{e}"));
}

async fn walk(
    c: &Client,
    app: &TestApp,
    shots: &mut Shots,
    package: Uuid,
    general: Uuid,
    resource: Uuid,
    policy: Uuid,
) -> Result<(), String> {
    let base = format!("{}/t/contoso", app.address);
    sign_in_as(c, &base, "Contoso Admin", "/admin").await?;
    wait_heading(c, "Administration").await;
    let pages = [
        (
            format!("/admin/packages/{package}"),
            "Windows 11 Testing",
            "admin-package",
        ),
        (
            format!("/admin/packages/{package}/remove"),
            "Windows 11 Testing",
            "admin-package-remove",
        ),
        ("/admin/outbox".to_string(), "Deliveries", "admin-outbox"),
        (
            "/admin/settings".to_string(),
            "Tenant settings",
            "admin-settings",
        ),
        ("/admin/roles".to_string(), "Tenant roles", "admin-roles"),
        (
            format!("/admin/packages/new?catalog={general}"),
            "New access package",
            "admin-package-new",
        ),
        (
            format!("/admin/catalogs/{general}/resources/new?kind=application"),
            "Add a resource",
            "admin-resource-new",
        ),
        (
            format!("/admin/catalogs/{general}/resources/{resource}/connector"),
            "Delivery of",
            "admin-resource-connector",
        ),
        (
            "/admin/reports?person=adele%40contoso.example".to_string(),
            "Reports",
            "admin-reports",
        ),
        (
            format!("/admin/catalogs/{general}"),
            "General",
            "admin-catalog-extensions",
        ),
        (
            format!("/admin/catalogs/{general}/extensions/new"),
            "Add a custom extension",
            "admin-extension-new",
        ),
        (
            format!("/admin/packages/{package}/policies/{policy}"),
            "Edit policy",
            "admin-policy-extensions",
        ),
        ("/admin/config".to_string(), "Configuration", "admin-config"),
        ("/admin/audit".to_string(), "Audit log", "admin-audit"),
        (
            "/admin/audit/stream".to_string(),
            "Audit streaming",
            "admin-audit-stream",
        ),
        (
            format!("/admin/packages/{package}/assignments"),
            "Assignments of",
            "admin-assignments-bulk-actions",
        ),
        (
            format!("/admin/packages/{package}/assignments/bulk"),
            "Bulk assign",
            "admin-bulk-assign",
        ),
    ];
    for (path, heading, name) in pages {
        c.goto(&format!("{base}{path}"))
            .await
            .map_err(|e| e.to_string())?;
        wait_heading(c, heading).await;
        shots.take_wide_and_narrow(c, name).await;
        phone_full(c, shots, name).await?;
        axe(c, name).await?;
    }
    // The configuration page with the plan of an edited document.
    c.goto(&format!("{base}/admin/config"))
        .await
        .map_err(|e| e.to_string())?;
    wait_heading(c, "Configuration").await;
    c.execute(
        "const d = document.getElementById('f-document'); d.value = d.value.replace('Read and update customer accounts', 'Read customer accounts');",
        vec![],
    )
    .await
    .map_err(|e| e.to_string())?;
    crate::helpers::browser::click(c, "button[value=plan]").await;
    crate::helpers::browser::wait_for(c, "#plan-title").await;
    shots.take_wide_and_narrow(c, "admin-config-plan").await;
    phone_full(c, shots, "admin-config-plan").await?;
    axe(c, "admin-config-plan").await?;
    Ok(())
}
