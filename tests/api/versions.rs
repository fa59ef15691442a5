//! Concurrent edits (#13 item 7): catalogs, access packages and policies carry a
//! version. The API answers it as an `ETag` and applies a PATCH or PUT sent with
//! `If-Match` only to that version (412 naming who changed it since, otherwise); admin
//! forms carry it, and a save from a stale form shows who changed it and when instead of
//! silently overwriting their change.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixtures::{self, group_package, open_policy};
use crate::helpers::TestApp;
use crate::helpers::portal::sign_in;

/// Sends a JSON call with an optional `If-Match`; answers status, `ETag` and body.
async fn call(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = app.request(method, token, path);
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = res.json().await.unwrap_or(Value::Null);
    (status, etag, body)
}

#[tokio::test]
async fn a_change_from_a_stale_etag_is_refused_with_412_naming_who_changed_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let pkg = group_package(&app, &t, "Pkg", open_policy(json!({}))).await;
    let admin_name: String = sqlx::query_scalar("select display_name from users where email = $1")
        .bind(&t.admin_email)
        .fetch_one(&app.pool)
        .await
        .expect("admin");

    for (path, method, body) in [
        (
            format!("/api/v1/catalogs/{catalog}"),
            Method::PATCH,
            json!({"description": "changed"}),
        ),
        (
            format!("/api/v1/accessPackages/{}", pkg.package),
            Method::PATCH,
            json!({"description": "changed"}),
        ),
        (
            format!("/api/v1/policies/{}", pkg.policy),
            Method::PUT,
            Value::Null,
        ),
    ] {
        let (status, etag, current) = call(&app, Method::GET, &t.admin, &path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {current}");
        let etag = etag.unwrap_or_else(|| panic!("{path}: no ETag"));
        let body = if body.is_null() {
            current.clone()
        } else {
            body
        };

        // Someone else changes it first (without If-Match: last write wins, as before).
        let (status, newer, _) = call(
            &app,
            method.clone(),
            &t.admin,
            &path,
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_ne!(
            newer.as_deref(),
            Some(etag.as_str()),
            "{path}: the version moves"
        );

        // The change made from the old copy is refused and names who changed it.
        let (status, _, problem) = call(
            &app,
            method.clone(),
            &t.admin,
            &path,
            Some(&etag),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("changed by {admin_name} at ")),
            "{path}: {problem}"
        );
        // The current ETag (weak form too) is accepted; malformed ones are a 400.
        let weak = format!("W/{}", newer.clone().unwrap_or_default());
        let (status, _, body_after) = call(
            &app,
            method.clone(),
            &t.admin,
            &path,
            Some(&weak),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body_after}");
        let (status, _, _) = call(
            &app,
            method.clone(),
            &t.admin,
            &path,
            Some("3"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
}

#[tokio::test]
async fn a_save_from_a_form_opened_before_someone_elses_change_says_so_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let b = sign_in(&app, "contoso", &t.admin_email).await;
    let path = format!("/admin/catalogs/{catalog}/edit");
    let form = b.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body
            .contains("<input type=\"hidden\" name=\"version\" value=\"1\">"),
        "{}",
        form.body
    );

    // Meanwhile the catalog is renamed over the API.
    let (status, body) = app
        .patch(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}"),
            json!({"displayName": "Renamed meanwhile"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let stale = b
        .post(
            &path,
            &[
                ("displayName", "My rename"),
                ("description", ""),
                ("enabled", "true"),
                ("version", "1"),
            ],
        )
        .await;
    assert!(stale.body.contains("since you opened it"), "{}", stale.body);
    assert!(stale.body.contains("Changed since you opened it"));
    assert!(
        stale.body.contains("My rename"),
        "the person's input is kept"
    );
    let name: String = sqlx::query_scalar("select display_name from catalogs where id = $1")
        .bind(catalog)
        .fetch_one(&app.pool)
        .await
        .expect("catalog");
    assert_eq!(name, "Renamed meanwhile", "nothing was overwritten");

    // Opened again, the form carries the new version and saves.
    let again = b.get(&path).await;
    assert!(again.body.contains("name=\"version\" value=\"2\""));
    let saved = b
        .post(
            &path,
            &[
                ("displayName", "My rename"),
                ("description", ""),
                ("enabled", "true"),
                ("version", "2"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
}
