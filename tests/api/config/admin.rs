//! The admin portal's "Configuration" page.

use reqwest::StatusCode;

use super::{DEMO_ADMIN, demo};
use crate::helpers::portal::sign_in;

#[tokio::test]
async fn the_page_shows_the_yaml_plans_a_change_applies_it_and_lists_every_problem() {
    let (app, _) = demo().await;
    let b = sign_in(&app, "contoso", DEMO_ADMIN).await;
    let page = b.get("/admin/config").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("version: 1"), "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/t/contoso/admin/config/export.yaml\""),
        "{}",
        page.body
    );
    let download = b.get("/admin/config/export.yaml").await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(
        download.body.starts_with("version: 1\n"),
        "{}",
        download.body
    );

    let edited = download.body.replacen(
        "description: Read and update customer accounts and opportunities in the sales CRM.",
        "description: Reviewed in git.",
        1,
    );
    let planned = b
        .post(
            "/admin/config",
            &[("document", &edited), ("action", "plan")],
        )
        .await;
    assert_eq!(planned.status, StatusCode::OK, "{}", planned.body);
    assert!(
        planned
            .body
            .contains("~ accessPackage General / Sales CRM (description)"),
        "{}",
        planned.body
    );
    assert!(
        planned
            .body
            .contains("Plan: 0 to create, 1 to update, 0 to delete.")
    );
    let unchanged = b.get("/admin/config/export.yaml").await;
    assert_eq!(unchanged.body, download.body, "a plan writes nothing");

    let applied = b
        .post(
            "/admin/config",
            &[("document", &edited), ("action", "apply")],
        )
        .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert!(
        applied
            .body
            .contains("Applied: 0 to create, 1 to update, 0 to delete."),
        "{}",
        applied.body
    );
    assert_eq!(b.get("/admin/config/export.yaml").await.body, edited);

    let wrong = edited.replacen("catalog: General", "catalog: Nowhere", 1);
    let refused = b
        .post(
            "/admin/config",
            &[("document", &wrong), ("action", "apply")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("nothing was changed"),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("<code>packages[0].catalog</code>: no catalog named Nowhere"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("catalog: Nowhere"),
        "the document comes back to be fixed"
    );
    assert_eq!(b.get("/admin/config/export.yaml").await.body, edited);

    let not_yaml = b
        .post(
            "/admin/config",
            &[("document", "catalogs: [unclosed"), ("action", "plan")],
        )
        .await;
    assert_eq!(
        not_yaml.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        not_yaml.body
    );
    assert!(
        not_yaml.body.contains("<code>document</code>"),
        "{}",
        not_yaml.body
    );
}

#[tokio::test]
async fn people_who_are_not_tenant_admins_have_no_configuration_page() {
    let (app, _) = demo().await;
    let megan = sign_in(&app, "contoso", "megan@contoso.example").await;
    assert_eq!(
        megan.get("/admin/config").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        megan.get("/admin/config/export.yaml").await.status,
        StatusCode::FORBIDDEN
    );
    let refused = megan
        .post(
            "/admin/config",
            &[("document", "version: 1\n"), ("action", "apply")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let admin = sign_in(&app, "contoso", DEMO_ADMIN).await;
    let home = admin.get("/admin").await;
    assert!(
        home.body.contains("href=\"/t/contoso/admin/config\""),
        "the admin nav links it"
    );
}
