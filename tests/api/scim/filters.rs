//! Value-path filters over HTTP (RFC 7644 §3.4.2.2): `emails[…]` and the
//! attribute-after-bracket form on Users, `members[value eq "…"]` on Groups (how Okta
//! and Entra ID find the groups a user is in).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Scim, scim};
use crate::helpers::TestApp;

fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The `userName`s (or `displayName`s) a filtered list answers, sorted.
async fn names(s: &Scim<'_>, resource: &str, filter: &str) -> Vec<String> {
    let (status, list) = s
        .get(&format!("/{resource}?filter={}", encoded(filter)))
        .await;
    assert_eq!(status, StatusCode::OK, "{filter}: {list}");
    let key = if resource == "Users" {
        "userName"
    } else {
        "displayName"
    };
    let mut out: Vec<String> = list["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    assert_eq!(list["totalResults"], json!(out.len()), "{filter}");
    out
}

async fn refused(s: &Scim<'_>, resource: &str, filter: &str) -> Value {
    let (status, body) = s
        .get(&format!("/{resource}?filter={}", encoded(filter)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
    assert_eq!(body["scimType"], "invalidFilter", "{body}");
    body
}

#[tokio::test]
async fn users_are_found_by_the_elements_of_their_emails() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    s.user(
        "ada@acme.test",
        json!({"emails": [{"value": "ada@acme.test", "type": "work", "primary": true},
                          {"value": "ada@home.test", "type": "home"}]}),
    )
    .await;
    s.user(
        "bob@acme.test",
        json!({"emails": [{"value": "bob@home.test", "type": "home"},
                          {"value": "bob@acme.test", "type": "other"}]}),
    )
    .await;
    // Pushed without emails: the sign-in email stands as the work email.
    s.user("cy@acme.test", json!({})).await;

    assert_eq!(
        names(
            &s,
            "Users",
            r#"emails[type eq "work" and value co "@acme"]"#
        )
        .await,
        ["ada@acme.test", "admin@acme.test", "cy@acme.test"]
    );
    assert_eq!(
        names(
            &s,
            "Users",
            r#"emails[type eq "work"].value eq "ADA@acme.test""#
        )
        .await,
        ["ada@acme.test"]
    );
    // Bob's acme address is not his work one.
    assert!(
        names(
            &s,
            "Users",
            r#"emails[type eq "work"].value eq "bob@acme.test""#
        )
        .await
        .is_empty()
    );
    assert_eq!(
        names(
            &s,
            "Users",
            r#"emails[type eq "home"].value ew "home.test""#
        )
        .await,
        ["ada@acme.test", "bob@acme.test"]
    );
    assert_eq!(
        names(
            &s,
            "Users",
            r#"emails[primary eq true] and userName sw "a""#
        )
        .await,
        ["ada@acme.test", "admin@acme.test"]
    );
    let body = refused(&s, "Users", r#"emails[display eq "Ada"]"#).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("emails.display")),
        "{body}"
    );
    let body = refused(&s, "Users", r#"phoneNumbers[type eq "work"].value eq "1""#).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("phoneNumbers")),
        "{body}"
    );
}

#[tokio::test]
async fn groups_are_found_by_their_members_and_only_in_their_tenant() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let ada = s.user("ada@acme.test", json!({})).await;
    let bob = s.user("bob@acme.test", json!({})).await;
    s.group("Engineering", &[&ada, &bob]).await;
    s.group("Finance", &[&bob]).await;
    s.group("Empty", &[]).await;

    assert_eq!(
        names(&s, "Groups", &format!(r#"members[value eq "{ada}"]"#)).await,
        ["Engineering"]
    );
    assert_eq!(
        names(&s, "Groups", &format!(r#"members[value eq "{bob}"]"#)).await,
        ["Engineering", "Finance"]
    );
    assert_eq!(
        names(
            &s,
            "Groups",
            &format!(r#"displayName eq "finance" and members[value eq "{bob}"]"#)
        )
        .await,
        ["Finance"]
    );
    assert_eq!(
        names(&s, "Groups", &format!(r#"members.value eq "{ada}""#)).await,
        ["Engineering"]
    );
    assert_eq!(names(&s, "Groups", r#"not (members pr)"#).await, ["Empty"]);
    assert!(
        names(&s, "Groups", r#"members[value eq "not-an-id"]"#)
            .await
            .is_empty()
    );
    let body = refused(&s, "Groups", r#"members[display eq "Ada"]"#).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("members.display")),
        "{body}"
    );

    // Another tenant's directory with a group finds nothing by acme's user.
    let other = app.tenant("globex").await;
    let g = scim(&app, &other).await;
    g.group("Engineering", &[]).await;
    assert!(
        names(&g, "Groups", &format!(r#"members[value eq "{ada}"]"#))
            .await
            .is_empty()
    );
}
