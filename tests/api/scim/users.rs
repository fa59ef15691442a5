//! `/Users`: create, read, list with filters and paging, attributes, PUT, PATCH, DELETE.

use reqwest::StatusCode;
use serde_json::json;

use super::{ENTERPRISE, USER, scim};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_created_user_signs_in_with_their_user_name_and_reads_back_with_meta() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let (status, created) = s
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "userName": "Ada@Acme.test", "externalId": "e-1",
                   "name": {"givenName": "Ada", "familyName": "Lovelace"}, "title": "Engineer",
                   "userType": "Guest", "active": "True",
                   ENTERPRISE: {"department": "R&D"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(
        created["meta"]["location"]
            .as_str()
            .expect("location")
            .ends_with(&format!("/scim/v2/acme/Users/{id}"))
    );
    assert!(
        created["meta"]["version"]
            .as_str()
            .expect("v")
            .starts_with("W/\"")
    );
    assert_eq!(created["active"], true);
    let (status, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(portico["email"], "Ada@Acme.test");
    assert_eq!(portico["displayName"], "Ada Lovelace");
    assert_eq!(portico["jobTitle"], "Engineer");
    assert_eq!(portico["kind"], "guest");
    assert_eq!(portico["department"], "R&D");
    assert_eq!(portico["externalId"], "e-1");
    let (status, again) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["userName"], "Ada@Acme.test");
    assert_eq!(again[ENTERPRISE]["department"], "R&D");
}

#[tokio::test]
async fn user_names_are_unique_and_must_give_an_email_address() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    s.user("ada@acme.test", json!({})).await;
    let (status, dup) = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ADA@acme.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(dup["scimType"], "uniqueness");
    let (status, bad) = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "not an email"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["scimType"], "invalidValue");
    // A plain user name is fine when the primary email is an address (JumpCloud).
    let (status, ok) = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "grace",
                   "emails": [{"value": "grace@acme.test", "type": "work", "primary": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ok}");
    assert_eq!(ok["userName"], "grace");
    let (_, found) = s.get("/Users?filter=userName%20eq%20%22GRACE%22").await;
    assert_eq!(found["totalResults"], 1);
    // The admin's own email is taken too.
    let (status, _) = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": t.admin_email}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn filters_paging_and_attributes_select_and_shape_the_list() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    for i in 0..5 {
        s.user(
            &format!("u{i}@acme.test"),
            json!({"externalId": format!("x{i}")}),
        )
        .await;
    }
    let (status, page) = s.get("/Users?startIndex=2&count=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalResults"], 6, "five pushed users and the admin");
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["Resources"].as_array().map(Vec::len), Some(2));
    let (_, none) = s.get("/Users?count=0").await;
    assert_eq!(none["totalResults"], 6);
    assert_eq!(none["Resources"], json!([]));
    let (_, low) = s.get("/Users?startIndex=0&count=1").await;
    assert_eq!(low["startIndex"], 1);

    let (_, by_ext) = s.get("/Users?filter=externalId%20eq%20%22x3%22").await;
    assert_eq!(by_ext["totalResults"], 1);
    assert_eq!(by_ext["Resources"][0]["userName"], "u3@acme.test");
    let filter = urlencoding("userName sw \"u\" and not (externalId eq \"x1\")");
    let (_, combo) = s.get(&format!("/Users?filter={filter}")).await;
    assert_eq!(combo["totalResults"], 4);
    let filter = urlencoding("emails[type eq \"work\" and value co \"u4\"]");
    let (status, by_email) = s.get(&format!("/Users?filter={filter}")).await;
    assert_eq!(status, StatusCode::OK, "{by_email}");
    assert_eq!(by_email["totalResults"], 1);

    let (_, shaped) = s
        .get("/Users?filter=externalId%20eq%20%22x2%22&attributes=userName,name.givenName")
        .await;
    let r = &shaped["Resources"][0];
    assert_eq!(r["userName"], "u2@acme.test");
    assert_eq!(r["name"], json!({"givenName": "Given"}));
    assert!(r["id"].is_string() && r["meta"].is_object() && r["schemas"].is_array());
    assert!(r.get("active").is_none());
    let (_, without) = s
        .get("/Users?filter=externalId%20eq%20%22x2%22&excludedAttributes=name,emails")
        .await;
    assert!(without["Resources"][0].get("name").is_none());
    assert_eq!(without["Resources"][0]["userName"], "u2@acme.test");
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn put_replaces_the_user_and_patch_speaks_the_clients_dialects() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let id = s.user("ada@acme.test", json!({"title": "Engineer"})).await;
    let (status, put) = s
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": "ada@acme.test", "displayName": "Ada L.", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert!(put.get("title").is_none(), "PUT replaces: title is gone");
    let (status, patched) = s
        .patch(
            &format!("/Users/{id}"),
            json!([
                {"op": "Replace", "path": "title", "value": "Lead"},
                {"op": "add", "value": {"displayName": "Ada Lovelace", "name.givenName": "Ada"}},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@acme.test"},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["title"], "Lead");
    assert_eq!(patched["displayName"], "Ada Lovelace");
    let (status, bad) = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "id", "value": "x"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, bad) = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "jump", "path": "title"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["jobTitle"], "Lead");
    assert_eq!(portico["displayName"], "Ada Lovelace");
}

#[tokio::test]
async fn delete_deactivates_hides_from_scim_and_a_later_post_brings_the_same_person_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let id = s.user("ada@acme.test", json!({})).await;
    assert_eq!(
        s.delete(&format!("/Users/{id}")).await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.delete(&format!("/Users/{id}")).await,
        StatusCode::NOT_FOUND
    );
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["active"], false, "kept, deactivated");
    let again = s.user("ada@acme.test", json!({})).await;
    assert_eq!(again, id, "the same person comes back");
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["active"], true);
    let (status, _) = s.get("/Users/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_tenants_users_are_not_found() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let a = scim(&app, &acme).await;
    let o = scim(&app, &other).await;
    let id = a.user("ada@acme.test", json!({})).await;
    let (status, _) = o.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = o
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = o.get("/Users").await;
    assert_eq!(list["totalResults"], 1, "only other's admin");
}
