//! Discovery documents and the protocol's envelope: media type, errors, unknown paths.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{ENTERPRISE, USER, scim};
use crate::helpers::TestApp;

#[tokio::test]
async fn the_service_provider_config_advertises_patch_and_filter_but_not_bulk_sort_or_etag() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let (status, spc, ct) = s.send(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/scim+json"), "{ct}");
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 200);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["sort"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

#[tokio::test]
async fn resource_types_and_schemas_describe_users_groups_and_the_enterprise_extension() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let (status, types) = s.get("/ResourceTypes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(types["totalResults"], 2);
    let (_, user_type) = s.get("/ResourceTypes/User").await;
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    let (status, schemas) = s.get("/Schemas").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schemas["totalResults"], 3);
    let (status, user) = s.get(&format!("/Schemas/{USER}")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for n in [
        "userName",
        "name",
        "displayName",
        "title",
        "userType",
        "active",
        "emails",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let (_, ext) = s.get(&format!("/Schemas/{ENTERPRISE}")).await;
    assert_eq!(ext["attributes"][1]["name"], "manager");
    let (status, missing) = s.get("/Schemas/urn:nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["status"], "404");
}

#[tokio::test]
async fn unknown_paths_and_bad_bodies_answer_scim_errors_in_the_scim_media_type() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let (status, body, ct) = s.send(Method::GET, "/Nothing/here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(ct.starts_with("application/scim+json"), "{ct}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let res = app
        .request(Method::POST, &s.token, &s.path("/Users"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    let (status, body) = crate::helpers::read(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidSyntax");
    let (status, body) = s.get("/Users?filter=userName%20zz%20%22x%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");
    let (status, body) = s.get("/Users?filter=nickName%20eq%20%22x%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidFilter");
    let (status, _) = s
        .post("/Users", json!({"userName": {"nested": true}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
