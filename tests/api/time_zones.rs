//! Time zones: the tenant's zone and each person's own (which wins) change the times
//! pages and emails show and how typed dates are read; the API stays UTC. Unknown
//! zones are 422 naming the field; nobody sets another person's zone or, without
//! being a tenant admin, the tenant's.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{group_package, open_policy, request};
use crate::helpers::portal::{admin_of, sign_in};
use crate::helpers::{TestApp, TestTenant};
use crate::mailbox::wait_for_email;

/// Sets the tenant's zone through the API.
async fn tenant_zone(app: &TestApp, t: &TestTenant, zone: &str) {
    let (status, body) = app
        .patch(&t.admin, "/api/v1/tenant", json!({"timeZone": zone}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timeZone"], zone, "{body}");
}

/// The first `<td>`-free text of `html` after `marker`, up to the next tag.
fn text_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[at + marker.len()..];
    rest.split('<').next().unwrap_or_default()
}

/// A request of `token`'s user for a package with a custom schedule, through the API.
async fn requested(app: &TestApp, t: &TestTenant, token: &str, approver: Option<Uuid>) -> Value {
    let approval = approver.map_or(
        json!({"stages": []}),
        |a| json!({"stages": [{"approvers": [{"type": "user", "id": a}]}]}),
    );
    let pkg = group_package(
        app,
        t,
        "Quarter close",
        open_policy(json!({"allowCustomSchedule": true, "approval": approval})),
    )
    .await;
    let (status, req) = request(app, token, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    req
}

#[tokio::test]
async fn the_tenant_zone_changes_the_times_of_admin_and_portal_pages() {
    let app = TestApp::spawn().await;
    let (t, admin) = admin_of(&app, "acme").await;
    let req = requested(&app, &t, &t.admin, None).await;
    let detail = format!("/requests/{}", req["id"].as_str().expect("id"));

    // In UTC: the admin signed in at 09:00 UTC, when the request was made too.
    let users = admin.get("/admin/users").await;
    assert!(
        users.body.contains("2027-01-04 09:00 UTC"),
        "{}",
        users.body
    );
    let mine = admin.get(&detail).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert!(mine.body.contains("2027-01-04 09:00 UTC"), "{}", mine.body);

    // The admin settings page sets Europe/Berlin: the same instants read as CET.
    let saved = admin
        .post(
            "/admin/settings",
            &[
                ("displayName", "Tenant acme"),
                ("timeZone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings = admin.get("/admin/settings").await;
    assert!(
        settings.body.contains("value=\"Europe/Berlin\""),
        "{}",
        settings.body
    );
    let users = admin.get("/admin/users").await;
    assert!(
        users.body.contains("2027-01-04 10:00 CET"),
        "{}",
        users.body
    );
    assert!(!users.body.contains("09:00 UTC"), "{}", users.body);
    let mine = admin.get(&detail).await;
    assert!(mine.body.contains("2027-01-04 10:00 CET"), "{}", mine.body);
    let own = admin.get("/settings").await;
    assert!(
        own.body.contains("<strong>Europe/Berlin</strong>"),
        "{}",
        own.body
    );

    // The change is audited with both zones.
    let details: Value = sqlx::query_scalar(
        "select details from audit_events where tenant_id = $1 and action = 'tenant.updated' order by id desc limit 1",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("audit");
    assert_eq!(details["before"]["timeZone"], "UTC", "{details}");
    assert_eq!(details["after"]["timeZone"], "Europe/Berlin", "{details}");
}

#[tokio::test]
async fn a_persons_own_zone_wins_over_the_tenants() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    tenant_zone(&app, &t, "Europe/Berlin").await;
    let (adele_id, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let req = requested(&app, &t, &token, None).await;
    let detail = format!("/requests/{}", req["id"].as_str().expect("id"));
    let adele = sign_in(&app, "acme", "adele@acme.test").await;
    assert!(
        adele
            .get(&detail)
            .await
            .body
            .contains("2027-01-04 10:00 CET")
    );

    let saved = adele
        .post("/settings", &[("timeZone", "America/New_York")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = adele.get(&detail).await;
    assert!(page.body.contains("2027-01-04 04:00 EST"), "{}", page.body);
    let own = adele.get("/settings").await;
    assert!(
        own.body.contains("value=\"America/New_York\""),
        "{}",
        own.body
    );
    assert!(
        own.body.contains("it is now 2027-01-04 04:00 EST"),
        "{}",
        own.body
    );

    // Others still read the tenant's zone; clearing her own brings it back for her.
    let admin = sign_in(&app, "acme", &t.admin_email).await;
    assert!(admin.get("/admin/users").await.body.contains("CET"));
    let cleared = adele.post("/settings", &[("timeZone", "")]).await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    assert!(
        adele
            .get(&detail)
            .await
            .body
            .contains("2027-01-04 10:00 CET")
    );

    // The admin's user form sets someone's zone too, and the API shows it.
    let edited = admin
        .post(
            &format!("/admin/users/{adele_id}"),
            &[
                ("email", "adele@acme.test"),
                ("displayName", "adele"),
                ("timeZone", "Asia/Tokyo"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let (_, user) = app
        .get(&t.admin, &format!("/api/v1/users/{adele_id}"))
        .await;
    assert_eq!(user["timeZone"], "Asia/Tokyo", "{user}");
    assert!(
        adele
            .get(&detail)
            .await
            .body
            .contains("2027-01-04 18:00 JST")
    );
}

#[tokio::test]
async fn a_date_typed_in_a_form_is_taken_in_the_persons_zone() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    tenant_zone(&app, &t, "Europe/Berlin").await;
    let (_, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Quarter close",
        open_policy(json!({"allowCustomSchedule": true, "approval": {"stages": []}})),
    )
    .await;
    let adele = sign_in(&app, "acme", "adele@acme.test").await;
    let form = adele.get(&format!("/packages/{}", pkg.package)).await;
    assert!(
        form.body.contains("Start (optional, Europe/Berlin)"),
        "{}",
        form.body
    );

    // 02:30 on the night clocks go forward does not exist in Berlin: a form error.
    let gap = adele
        .post(
            &format!("/packages/{}/request", pkg.package),
            &[("start", "2027-03-28T02:30")],
        )
        .await;
    assert_eq!(gap.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", gap.body);
    assert!(
        gap.body
            .contains("2027-03-28 02:30 does not exist in Europe/Berlin"),
        "{}",
        gap.body
    );

    let ok = adele
        .post(
            &format!("/packages/{}/request", pkg.package),
            &[("start", "2027-02-01T10:00")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let id = ok
        .location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .expect("request id")
        .to_string();
    let (status, req) = app
        .get(&token, &format!("/api/v1/assignmentRequests/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{req}");
    assert_eq!(
        req["schedule"]["startDateTime"], "2027-02-01T09:00:00Z",
        "{req}"
    );
}

#[tokio::test]
async fn the_api_keeps_its_times_in_utc_whatever_the_zones() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (adele, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let before = requested(&app, &t, &token, None).await;
    tenant_zone(&app, &t, "Asia/Kolkata").await;
    let (status, _) = app
        .patch(
            &token,
            &format!("/api/v1/users/{adele}"),
            json!({"timeZone": "Pacific/Auckland"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, after) = app
        .get(
            &token,
            &format!(
                "/api/v1/assignmentRequests/{}",
                before["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["createdAt"], before["createdAt"], "{after}");
    assert_eq!(
        after["createdAt"].as_str().expect("a time"),
        "2027-01-04T09:00:00Z",
        "{after}"
    );
    let (_, me) = app.get(&token, "/api/v1/me").await;
    assert_eq!(me["user"]["timeZone"], "Pacific/Auckland", "{me}");
    assert_eq!(me["user"]["createdAt"], "2027-01-04T09:00:00Z", "{me}");
}

#[tokio::test]
async fn an_email_shows_the_recipients_local_time_with_the_zone() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    tenant_zone(&app, &t, "Europe/Berlin").await;
    let (megan, _) = app
        .user(&t, "megan@acme.test", json!({"timeZone": "Asia/Tokyo"}))
        .await;
    let (_, token) = app.user(&t, "adele@acme.test", json!({})).await;
    requested(&app, &t, &token, Some(megan)).await;

    // The stage is due 14 days on, at 09:00 UTC: 18:00 in Tokyo.
    let email = wait_for_email(&app.mailer, |e| {
        e.to == "megan@acme.test" && e.subject.contains("pproval")
    })
    .await;
    assert!(
        email.text.contains("Decide by: 2027-01-18 18:00 JST"),
        "{}",
        email.text
    );
    assert!(
        email.html.contains("2027-01-18 18:00 JST"),
        "{}",
        email.html
    );
    assert!(!email.text.contains("UTC"), "{}", email.text);
}

#[tokio::test]
async fn an_unknown_zone_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (t, admin) = admin_of(&app, "acme").await;
    let (status, body) = app
        .patch(&t.admin, "/api/v1/tenant", json!({"timeZone": "Mars/Base"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("timeZone"), "{body}");
    assert!(body.to_string().contains("Mars/Base"), "{body}");

    let (adele, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let (status, body) = app
        .patch(
            &token,
            &format!("/api/v1/users/{adele}"),
            json!({"timeZone": "Mars/Base"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("timeZone"), "{body}");
    let (status, body) = app
        .post(
            &t.admin,
            "/api/v1/users",
            json!({"email": "x@acme.test", "displayName": "X", "timeZone": "Mars/Base"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let form = admin
        .post(
            "/admin/settings",
            &[("displayName", "Tenant acme"), ("timeZone", "Mars/Base")],
        )
        .await;
    assert_eq!(
        form.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        form.body
    );
    assert!(
        form.body.contains("&#39;Mars/Base&#39; is not a time zone")
            || form.body.contains("'Mars/Base' is not a time zone"),
        "{}",
        form.body
    );
    let own = admin.post("/settings", &[("timeZone", "Mars/Base")]).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", own.body);
    assert!(own.body.contains("value=\"Mars/Base\""), "{}", own.body);

    let zones: (String, Option<String>) = sqlx::query_as(
        "select t.time_zone, u.time_zone from tenants t join users u on u.tenant_id = t.id where u.id = $1",
    )
    .bind(adele)
    .fetch_one(&app.pool)
    .await
    .expect("zones");
    assert_eq!(zones, ("UTC".to_string(), None));
    assert_eq!(text_after(&own.body, "<strong>"), "UTC");
}

#[tokio::test]
async fn nobody_sets_another_persons_zone_nor_without_admin_the_tenants() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (adele, adele_token) = app.user(&t, "adele@acme.test", json!({})).await;
    let (megan, _) = app.user(&t, "megan@acme.test", json!({})).await;

    // A member may change their own zone alone, nothing else of theirs, nobody else's.
    let (status, body) = app
        .patch(
            &adele_token,
            &format!("/api/v1/users/{megan}"),
            json!({"timeZone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .patch(
            &adele_token,
            &format!("/api/v1/users/{adele}"),
            json!({"timeZone": "Europe/Berlin", "jobTitle": "CEO"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .patch(
            &adele_token,
            "/api/v1/tenant",
            json!({"timeZone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .patch(
            &adele_token,
            &format!("/api/v1/users/{adele}"),
            json!({"timeZone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timeZone"], "Europe/Berlin", "{body}");
    let zone: Option<String> = sqlx::query_scalar("select time_zone from users where id = $1")
        .bind(megan)
        .fetch_one(&app.pool)
        .await
        .expect("zone");
    assert_eq!(zone, None);

    // The admin settings page is not hers either.
    let b = sign_in(&app, "acme", "adele@acme.test").await;
    let page = b
        .post(
            "/admin/settings",
            &[("displayName", "Mine"), ("timeZone", "Asia/Tokyo")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    let tenant_zone: String = sqlx::query_scalar("select time_zone from tenants where id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("zone");
    assert_eq!(tenant_zone, "UTC");

    // Another tenant's admin cannot reach her at all.
    let other = app.tenant("globex").await;
    let (status, _) = app
        .patch(
            &other.admin,
            &format!("/api/v1/users/{adele}"),
            json!({"timeZone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_directory_sets_the_zone_through_the_scim_timezone_attribute() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = crate::scim::scim(&app, &t).await;
    let id = s
        .user("ada@acme.test", json!({"timezone": "Europe/Berlin"}))
        .await;
    let (_, user) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(user["timeZone"], "Europe/Berlin", "{user}");

    // A zone Portico does not know does not fail the push; the tenant's zone applies.
    let other = s
        .user("bob@acme.test", json!({"timezone": "Mars/Base"}))
        .await;
    let (_, user) = app.get(&t.admin, &format!("/api/v1/users/{other}")).await;
    assert_eq!(user["timeZone"], Value::Null, "{user}");
}
