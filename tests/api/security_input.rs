//! Bytes that PostgreSQL cannot store or that must not reach a header: NUL and other
//! control characters in query strings, JSON bodies, forms, CSV and paths answer
//! 422 (or 404 in a path), never 500; the database's own refusal maps to 422 too.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::portal::{Browser, input_value, sign_in};

const REFUSED: &str = "must not contain control characters";

async fn raw_get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    crate::helpers::read(res).await
}

#[tokio::test]
async fn a_nul_in_an_api_search_is_a_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    for path in [
        "/api/v1/accessPackages?search=%00",
        "/api/v1/users?search=ada%00",
        "/api/v1/users?limit=5&search=%1B%5B0m",
    ] {
        let (status, problem) = raw_get(&app, &t.admin, path).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert!(
            problem["errors"]["search"]
                .as_str()
                .is_some_and(|m| m.contains(REFUSED)),
            "{path}: {problem}"
        );
    }
    // Tabs and line breaks are text, and a percent sign is not a control character.
    let (status, _) = raw_get(&app, &t.admin, "/api/v1/users?search=a%09b%0D%0A").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = raw_get(&app, &t.admin, "/api/v1/users?search=100%25").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_nul_in_a_json_body_is_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    for (body, field) in [
        (
            json!({"email": "ada@acme.test", "displayName": "Ada\u{0}"}),
            "displayName",
        ),
        (
            json!({"email": "ada\u{0}@acme.test", "displayName": "Ada"}),
            "email",
        ),
        (
            json!({"email": "ada@acme.test", "displayName": "Ada", "department": "R\u{0}D"}),
            "department",
        ),
        (
            json!({"email": "ada@acme.test", "displayName": "Ada", "jobTitle": "a\u{7}"}),
            "jobTitle",
        ),
    ] {
        let (status, problem) = app.post(&t.admin, "/api/v1/users", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert!(
            problem["errors"][field]
                .as_str()
                .is_some_and(|m| m.contains(REFUSED)),
            "{body}: {problem}"
        );
    }
    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "HR", "description": "line one\nline\ttwo \\u0000 as text"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "tabs, line breaks and an escaped backslash are text: {problem}"
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 1, "only the admin");
}

#[tokio::test]
async fn control_characters_in_a_path_are_404() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;

    for path in [
        "/t/contoso%00/sign-in",
        "/t/%0d%0aX",
        "/t/%0d%0aX/",
        "/t/contoso/sign-in/abc%00def",
        "/links/abc%0d%0aLocation:%20x/approve",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(res.headers().get("location").is_none(), "{path}");
    }
    let (status, problem) = raw_get(&app, &t.admin, "/api/v1/users/%00").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["type"], "urn:portico:problem:not-found");
}

#[tokio::test]
async fn a_nul_in_the_sign_in_form_is_a_field_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    let page = b.get("/sign-in").await;
    let csrf = input_value(&page.body, "csrf_token").expect("csrf field");

    let email = format!("{}\0", t.admin_email);
    let sent = b
        .post_raw("/sign-in", &[("csrf_token", &csrf), ("email", &email)])
        .await;

    assert_eq!(
        sent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        sent.body
    );
    assert!(sent.body.contains(REFUSED), "{}", sent.body);
}

#[tokio::test]
async fn a_nul_in_portal_forms_searches_and_csv_is_refused_with_a_message() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = sign_in(&app, "acme", &t.admin_email).await;

    let search = b.get("/packages?q=%00").await;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(search.body.contains(REFUSED), "{}", search.body);
    let admin_search = b.get("/admin/users?q=x%00").await;
    assert_eq!(admin_search.status, StatusCode::UNPROCESSABLE_ENTITY);

    let form = b
        .post(
            "/admin/users",
            &[("email", "megan\0@acme.test"), ("displayName", "Megan")],
        )
        .await;
    assert_eq!(
        form.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        form.body
    );
    assert!(form.body.contains(REFUSED), "{}", form.body);

    let csv = "email,displayName,department\nmegan@acme.test,Megan Bowen,Eng\0neering\n";
    let import = b.post("/admin/users/import", &[("csv", csv)]).await;
    assert_eq!(
        import.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        import.body
    );
    assert!(
        import.body.contains("Nothing was imported"),
        "{}",
        import.body
    );
    assert!(import.body.contains(REFUSED), "{}", import.body);

    let users: i64 = sqlx::query_scalar("select count(*) from users where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 1, "only the admin");
}

#[tokio::test]
async fn text_the_database_cannot_store_maps_to_a_validation_error() {
    use portico::db::DbError;
    use portico::domain::DomainError;
    use portico::services::ServiceError;

    let app = TestApp::spawn().await;
    let nul_in_text = sqlx::query("select $1::text")
        .bind("a\0b")
        .execute(&app.pool)
        .await
        .expect_err("PostgreSQL refuses NUL in text");
    let nul_in_jsonb = sqlx::query("select $1::text::jsonb")
        .bind(r#"{"a": "\u0000"}"#)
        .execute(&app.pool)
        .await
        .expect_err("PostgreSQL refuses \\u0000 in jsonb");

    for e in [nul_in_text, nul_in_jsonb] {
        let shown = e.to_string();
        let db = DbError::from(e);
        assert!(matches!(db, DbError::UnstorableText), "{shown}");
        match ServiceError::from(db) {
            ServiceError::Domain(DomainError::Validation(errors)) => {
                assert!(errors.0["input"].contains(REFUSED), "{errors:?}");
            }
            other => panic!("{shown} became {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_json_array_where_an_object_is_expected_is_a_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    // serde would read `[null, null]` as the two fields of the chat settings, in order.
    let (status, problem) = app
        .put(&t.admin, "/api/v1/tenant/chat", json!([null, null]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem.to_string().contains("must be a JSON object"),
        "{problem}"
    );
    let (status, problem) = app
        .post(&t.admin, "/api/v1/users", json!(["ada@acme.test", "Ada"]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_events where action = 'tenant.chatSet'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 0);
}
