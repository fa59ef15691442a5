//! Operational endpoints and cross-cutting HTTP behaviour: health, readiness, metrics,
//! the OpenAPI description, the landing page and static assets, security headers,
//! request ids, problem answers for unknown routes, and the tenant settings.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn get_raw(app: &TestApp, path: &str) -> Response {
    app.client
        .get(format!("{}{}", app.address, path))
        .send()
        .await
        .expect("send")
}

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn healthz_answers_ok_and_readyz_answers_when_the_database_does() {
    let app = TestApp::spawn().await;

    let res = get_raw(&app, "/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("body"), "ok");

    let res = get_raw(&app, "/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("body"), "ready");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_the_pool() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    for _ in 0..3 {
        assert_eq!(app.get(&t.admin, "/api/v1/users").await.0, StatusCode::OK);
    }

    let res = get_raw(&app, "/metrics").await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").starts_with("text/plain"));
    let text = res.text().await.expect("body");
    let users_line = text
        .lines()
        .find(|l| {
            l.starts_with("portico_http_requests_total{")
                && l.contains("route=\"/api/v1/users\"")
                && l.contains("method=\"GET\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter for GET /api/v1/users in:\n{text}"));
    let count: f64 = users_line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a counter value");
    assert!(count >= 3.0, "{users_line}");
    assert!(text.contains("portico_db_pool_connections"), "{text}");
    assert!(
        text.contains("portico_http_request_duration_seconds"),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_description_is_3_1_and_lists_the_api_paths() {
    let app = TestApp::spawn().await;

    let res = get_raw(&app, "/api/v1/openapi.json").await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").starts_with("application/json"));
    let doc: Value = res.json().await.expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/groups/{id}/members",
        "/api/v1/roleAssignments",
        "/api/v1/auditEvents",
        "/api/v1/me",
        "/api/v1/tenant",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// The operations of the served description, as (method path, operation).
fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item[method].is_object() {
                out.push((format!("{} {path}", method.to_uppercase()), &item[method]));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_api_answer_is_described_and_every_error_is_a_problem() {
    let app = TestApp::spawn().await;

    let doc: Value = get_raw(&app, "/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("JSON");

    let operations = operations(&doc);
    assert!(operations.len() > 50, "{}", operations.len());
    let mut faults = Vec::new();
    for (op, operation) in &operations {
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if response["description"].as_str().is_none_or(str::is_empty) {
                faults.push(format!("{op} {status}: no description"));
            }
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"].as_object();
                let types: Vec<&String> = content.map(|c| c.keys().collect()).unwrap_or_default();
                if types != ["application/problem+json"]
                    || response["content"]["application/problem+json"]["schema"]["$ref"]
                        != "#/components/schemas/Problem"
                {
                    faults.push(format!(
                        "{op} {status}: not a Problem as problem+json: {types:?}"
                    ));
                }
            }
        }
        let params = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut expected = vec!["401"];
        if operation["requestBody"].is_object() {
            expected.extend(["400", "422"]);
        }
        if params.iter().any(|p| p["in"] == "query") {
            expected.push("422");
        }
        if params.iter().any(|p| p["in"] == "path") {
            expected.push("404");
        }
        for status in expected {
            if !responses.contains_key(status) {
                faults.push(format!("{op}: {status} is not documented"));
            }
        }
        for p in params.iter().filter(|p| p["name"] == "limit") {
            let schema = &p["schema"];
            let integer = schema["type"] == "integer"
                || schema["type"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("integer")));
            if !integer || schema["minimum"] != 1 || schema["maximum"] != 500 {
                faults.push(format!("{op}: limit is {schema}"));
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[tokio::test]
async fn the_openapi_description_has_enums_and_separate_post_and_patch_bodies() {
    let app = TestApp::spawn().await;

    let doc: Value = get_raw(&app, "/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("JSON");

    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Request"]["properties"]["state"]["$ref"],
        "#/components/schemas/RequestState"
    );
    assert!(
        schemas["RequestState"]["enum"]
            .as_array()
            .is_some_and(|v| v.contains(&json!("pendingApproval"))),
        "{}",
        schemas["RequestState"]
    );
    let request_type = &schemas["SubmittableRequestType"]["enum"];
    assert!(
        request_type
            .as_array()
            .is_some_and(|v| v.contains(&json!("userAdd")) && !v.contains(&json!("systemAdd"))),
        "{request_type}"
    );
    let state_param = doc["paths"]["/api/v1/assignments"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "state"))
        .cloned()
        .unwrap_or_default();
    assert!(
        state_param.to_string().contains("AssignmentState"),
        "{state_param}"
    );
    let body_of = |method: &str, path: &str| {
        let reference = doc["paths"][path][method]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        schemas[reference.as_str()].clone()
    };
    for (path, fields) in [
        ("/api/v1/catalogs", vec!["displayName"]),
        ("/api/v1/accessPackages", vec!["catalogId", "displayName"]),
        ("/api/v1/users", vec!["email", "displayName"]),
        ("/api/v1/groups", vec!["displayName"]),
    ] {
        let post = body_of("post", path);
        assert_eq!(post["required"], json!(fields), "POST {path}: {post}");
        let patch = body_of("patch", &format!("{path}/{{id}}"));
        assert!(patch["properties"].is_object(), "PATCH {path}: {patch}");
        assert!(patch["required"].is_null(), "PATCH {path}: {patch}");
    }
}

#[tokio::test]
async fn an_empty_page_or_filter_parameter_is_refused_as_the_description_says() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    for (path, field) in [
        ("/api/v1/users?cursor=", "cursor"),
        ("/api/v1/catalogs?limit=", "limit"),
        ("/api/v1/outbox?state=", "state"),
        ("/api/v1/outbox?kind=", "kind"),
    ] {
        let (status, problem) = app.get(&t.admin, path).await;

        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert!(problem["errors"][field].is_string(), "{path}: {problem}");
    }
    let (status, _) = app.get(&t.admin, "/api/v1/users?limit=2").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_api_path_is_a_404_problem() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let res = app
        .request(reqwest::Method::GET, &t.admin, "/api/v1/nope")
        .send()
        .await
        .expect("send");

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&res, "content-type"), "application/problem+json");
    let problem: Value = res.json().await.expect("JSON");
    assert_eq!(problem["status"], 404);
    assert!(
        problem["title"].is_string()
            && problem["type"].is_string()
            && problem["detail"].is_string()
    );
}

#[tokio::test]
async fn the_landing_page_is_html_with_security_headers() {
    let app = TestApp::spawn().await;

    let res = get_raw(&app, "/").await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        header(&res, "content-type").starts_with("text/html"),
        "{}",
        header(&res, "content-type")
    );
    let csp = header(&res, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert!(!header(&res, "referrer-policy").is_empty());
    let html = res.text().await.expect("body");
    assert!(html.contains("Portico"));
    assert!(html.contains("/static/app.css"));
}

#[tokio::test]
async fn static_assets_are_served_with_their_type_and_unknown_ones_are_404() {
    let app = TestApp::spawn().await;

    let res = get_raw(&app, "/static/app.css").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        header(&res, "content-type").starts_with("text/css"),
        "{}",
        header(&res, "content-type")
    );
    assert!(res.text().await.expect("body").contains("body"));

    let res = get_raw(&app, "/static/nope.css").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_kept() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    for path in [
        "/healthz",
        "/",
        "/static/app.css",
        "/api/v1/me",
        "/api/v1/nope",
        "/nowhere",
        "/metrics",
    ] {
        let res = get_raw(&app, path).await;
        assert!(
            !header(&res, "x-request-id").is_empty(),
            "{path} has no x-request-id"
        );
    }
    let res = app
        .request(reqwest::Method::GET, &t.admin, "/api/v1/me")
        .send()
        .await
        .expect("send");
    let first = header(&res, "x-request-id");
    let res = app
        .request(reqwest::Method::GET, &t.admin, "/api/v1/me")
        .send()
        .await
        .expect("send");
    assert_ne!(
        first,
        header(&res, "x-request-id"),
        "each request gets its own id"
    );

    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .expect("send");
    assert_eq!(header(&res, "x-request-id"), "trace-me-123");
}

#[tokio::test]
async fn a_tenant_admin_reads_and_changes_the_tenant_settings() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, tenant) = app.get(&t.admin, "/api/v1/tenant").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["displayName"], "Tenant acme");
    assert_eq!(tenant["replyTo"], Value::Null);
    assert_eq!(tenant["approvalLinksRequireSignIn"], false);

    let (status, tenant) = app
        .patch(
            &t.admin,
            "/api/v1/tenant",
            json!({"replyTo": "it-help@acme.test", "approvalLinksRequireSignIn": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["replyTo"], "it-help@acme.test");
    assert_eq!(tenant["approvalLinksRequireSignIn"], true);
    assert_eq!(
        tenant["displayName"], "Tenant acme",
        "absent fields stay unchanged"
    );

    let (_, fetched) = app.get(&t.admin, "/api/v1/tenant").await;
    assert_eq!(fetched, tenant);

    let (status, tenant) = app
        .patch(&t.admin, "/api/v1/tenant", json!({"replyTo": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenant["replyTo"], Value::Null);
    assert_eq!(tenant["approvalLinksRequireSignIn"], true);
}

#[tokio::test]
async fn a_bad_reply_to_is_422_and_members_cannot_change_the_tenant() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, problem) = app
        .patch(
            &t.admin,
            "/api/v1/tenant",
            json!({"replyTo": "not an address"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["replyTo"].is_string(), "{problem}");

    let (status, tenant) = app.get(&ada_token, "/api/v1/tenant").await;
    assert_eq!(status, StatusCode::OK, "members may read the tenant");
    assert_eq!(tenant["slug"], "acme");
    let (status, problem) = app
        .patch(
            &ada_token,
            "/api/v1/tenant",
            json!({"approvalLinksRequireSignIn": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    let (_, tenant) = app.get(&t.admin, "/api/v1/tenant").await;
    assert_eq!(tenant["replyTo"], Value::Null);
    assert_eq!(tenant["approvalLinksRequireSignIn"], false);
}
