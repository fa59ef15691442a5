//! Access reviews in the admin portal, driven as an admin's browser would: the list
//! with its progress, one review's progress by reviewer and results per person, Stop,
//! Apply results, Remind now, the results as CSV, and who may do what.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Org, assign, assignment, decide, emailed, in_state, instance, item_of, org, review, rfc,
};
use crate::fixtures::{GroupPackage, group_package, open_policy, sources};
use crate::helpers::portal::{admin_of, sign_in};
use crate::helpers::{TestApp, start_time, uuid_of};
use crate::mailbox::wait_for_email;

/// The text of each cell of the first table row that contains `needle`.
fn row_cells(html: &str, needle: &str) -> Vec<String> {
    let row = html
        .split("<tr>")
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap_or(r))
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in:\n{html}"));
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let cell = cell.split("</td>").next().unwrap_or(cell);
            let mut text = String::new();
            let mut in_tag = true; // the rest of the `<td …>` tag comes first
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        text.push(' ');
                    }
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// A package reviewed by Megan and Nestor (both review every item, results applied by
/// an admin), held by Adele, Alex and Pradeep; its first instance started.
struct Reviewed {
    o: Org,
    pkg: GroupPackage,
    r: Value,
    adele: Uuid,
}

async fn reviewed(app: &TestApp, extra: Value) -> Reviewed {
    let o = org(app).await;
    let mut settings = json!({"autoApply": false,
        "reviewers": [{"type": "user", "id": o.megan.0}, {"type": "user", "id": o.nestor.0}]});
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let pkg = group_package(
        app,
        &o.t,
        "Sales Tools",
        open_policy(json!({"review": review(settings)})),
    )
    .await;
    let adele = assign(app, &o.adele.1, pkg.package).await;
    assign(app, &o.alex.1, pkg.package).await;
    assign(app, &o.pradeep.1, pkg.package).await;
    app.clock.set(start_time() + Duration::hours(1));
    let r = instance(app, &o.t, pkg.policy, 0).await;
    Reviewed { o, pkg, r, adele }
}

fn rid(r: &Value) -> String {
    r["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn the_review_list_shows_each_review_with_its_progress_and_filters_by_package_and_state() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    let other = group_package(
        &app,
        &s.o.t,
        "Printers",
        open_policy(
            json!({"review": review(json!({"reviewers": [{"type": "user", "id": s.o.megan.0}],
            "startDate": rfc(start_time() + Duration::hours(2))}))}),
        ),
    )
    .await;
    assign(&app, &s.o.alex.1, other.package).await;
    app.clock.set(start_time() + Duration::hours(2));
    let printers = instance(&app, &s.o.t, other.policy, 0).await;
    let item = item_of(&app, &s.o.t, &s.r, s.o.adele.0).await;
    let (status, d) = decide(&app, &s.o.megan.1, &s.r, &item, "deny", None).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let admin = sign_in(&app, "contoso", &s.o.t.admin_email).await;

    let home = admin.get("/admin").await;
    assert!(
        home.body.contains("href=\"/t/contoso/admin/reviews\""),
        "the navigation links to the reviews"
    );
    let list = admin.get("/admin/reviews").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let sales = row_cells(&list.body, &rid(&s.r));
    assert_eq!(sales[0], "Sales Tools");
    assert_eq!(sales[1], "Policy");
    let start = s.r["startDateTime"].as_str().expect("start");
    assert!(
        sales[2].starts_with(&format!("{} {}", &start[..10], &start[11..16])),
        "the period: {sales:?}"
    );
    assert_eq!(
        sales[3],
        sales[2].split(" – ").nth(1).expect("end"),
        "due at the end"
    );
    assert_eq!(
        (&sales[4][..], &sales[5][..]),
        ("1", "2"),
        "decided, undecided"
    );
    assert_eq!(sales[6], "In progress");
    let printer_row = row_cells(&list.body, &rid(&printers));
    assert_eq!((&printer_row[4][..], &printer_row[5][..]), ("0", "1"));

    // The package page leads to its reviews, and the filter keeps to that package.
    let package = admin
        .get(&format!("/admin/packages/{}", s.pkg.package))
        .await;
    let link = format!("/t/contoso/admin/reviews?package={}", s.pkg.package);
    assert!(package.body.contains(&link), "{}", package.body);
    let only = admin
        .get(&format!("/admin/reviews?package={}", s.pkg.package))
        .await;
    assert_eq!(only.status, StatusCode::OK);
    assert!(only.body.contains(&rid(&s.r)));
    assert!(
        !only.body.contains(&rid(&printers)),
        "other packages left out"
    );
    assert!(only.body.contains("Access reviews of “Sales Tools”"));

    let applied = admin.get("/admin/reviews?state=applied").await;
    assert_eq!(applied.status, StatusCode::OK);
    assert!(!applied.body.contains(&rid(&s.r)));
    assert!(applied.body.contains("No access reviews match"));
    let in_progress = admin.get("/admin/reviews?state=inProgress").await;
    assert!(in_progress.body.contains(&rid(&s.r)));

    let bad = admin.get("/admin/reviews?state=finished").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("not an access review state"));
    let bad = admin.get("/admin/reviews?package=nope").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_review_page_shows_progress_by_reviewer_and_the_result_for_each_person() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    let adele = item_of(&app, &s.o.t, &s.r, s.o.adele.0).await;
    let alex = item_of(&app, &s.o.t, &s.r, s.o.alex.0).await;
    decide(
        &app,
        &s.o.megan.1,
        &s.r,
        &adele,
        "deny",
        Some("Left the team"),
    )
    .await;
    decide(&app, &s.o.megan.1, &s.r, &alex, "approve", None).await;
    let admin = sign_in(&app, "contoso", &s.o.t.admin_email).await;

    let page = admin.get(&format!("/admin/reviews/{}", rid(&s.r))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("2 of 3 decided · 1 undecided"),
        "{}",
        page.body
    );
    assert_eq!(
        row_cells(&page.body, "megan@contoso.test"),
        ["Megan Bowen megan@contoso.test", "3", "2", "1", "Deciding"]
    );
    assert_eq!(
        row_cells(&page.body, "nestor@contoso.test"),
        ["Nestor Wilke nestor@contoso.test", "3", "0", "1", "Silent"]
    );
    let adele_row = row_cells(&page.body, "adele@contoso.test");
    assert_eq!(adele_row[0], "Adele Vance adele@contoso.test");
    assert!(adele_row[1].starts_with("Deny "), "{adele_row:?}");
    assert_eq!(
        adele_row[2..],
        ["Megan Bowen", "Left the team", "None", "Not applied"]
    );
    let pradeep_row = row_cells(&page.body, "pradeep@contoso.test");
    assert_eq!(pradeep_row[1], "Not reviewed");
    assert_eq!(pradeep_row[2], "");
    for action in ["/stop\"", "/remind\"", "/results.csv\""] {
        assert!(page.body.contains(action), "{action}");
    }
    assert!(
        !page.body.contains("/apply\""),
        "no Apply while in progress"
    );
}

#[tokio::test]
async fn stop_then_apply_results_from_the_page_removes_denied_access() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    let item = item_of(&app, &s.o.t, &s.r, s.o.adele.0).await;
    decide(&app, &s.o.megan.1, &s.r, &item, "deny", None).await;
    let admin = sign_in(&app, "contoso", &s.o.t.admin_email).await;
    let page = format!("/admin/reviews/{}", rid(&s.r));

    let early = admin.post(&format!("{page}/apply"), &[]).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert!(early.body.contains("still in progress"), "{}", early.body);
    assert!(early.body.contains("2 of 3") || early.body.contains("1 of 3"));

    let stopped = admin.post(&format!("{page}/stop"), &[]).await;
    assert_eq!(stopped.status, StatusCode::SEE_OTHER, "{}", stopped.body);
    assert_eq!(
        stopped.location.as_deref(),
        Some(&*format!("/t/contoso{page}"))
    );
    let after = admin.get(&page).await;
    assert!(
        after.body.contains("The review is stopped"),
        "{}",
        after.body
    );
    assert!(after.body.contains("(stopped early)"));
    in_state(&app, &s.o.t, &s.r, "completed").await;
    assert_eq!(
        assignment(&app, &s.o.t, s.adele).await["state"],
        "delivered",
        "stopping does not apply the results without auto-apply"
    );

    let again = admin.post(&format!("{page}/stop"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.contains("already ended"), "{}", again.body);
    assert!(
        again.body.contains("Progress by reviewer"),
        "the review page itself"
    );

    let applied = admin.post(&format!("{page}/apply"), &[]).await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let a = assignment(&app, &s.o.t, s.adele).await;
    assert_eq!(
        (a["state"].as_str(), a["removalReason"].as_str()),
        (Some("removed"), Some("review"))
    );
    assert!(sources(&app, s.pkg.group, s.o.adele.0).await.is_empty());
    let after = admin.get(&page).await;
    assert!(after.body.contains("The results are applied"));
    assert_eq!(row_cells(&after.body, "adele@contoso.test")[5], "Removed");
    assert_eq!(row_cells(&after.body, "alex@contoso.test")[5], "Kept");

    let twice = admin.post(&format!("{page}/apply"), &[]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(
        twice.body.contains("already been applied"),
        "{}",
        twice.body
    );
    assert_eq!(
        app.audit_actions(uuid_of(&s.r["id"])).await,
        [
            "accessReview.started",
            "accessReview.completed",
            "accessReview.applied"
        ]
    );
}

#[tokio::test]
async fn stopping_a_review_that_applies_automatically_applies_it_at_once() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({"autoApply": true})).await;
    let item = item_of(&app, &s.o.t, &s.r, s.o.adele.0).await;
    decide(&app, &s.o.nestor.1, &s.r, &item, "deny", None).await;
    let admin = sign_in(&app, "contoso", &s.o.t.admin_email).await;
    let stopped = admin
        .post(&format!("/admin/reviews/{}/stop", rid(&s.r)), &[])
        .await;
    assert_eq!(stopped.status, StatusCode::SEE_OTHER, "{}", stopped.body);
    let page = admin.get(&format!("/admin/reviews/{}", rid(&s.r))).await;
    assert!(page.body.contains("stopped and its results are applied"));
    assert_eq!(assignment(&app, &s.o.t, s.adele).await["state"], "removed");
}

#[tokio::test]
async fn remind_now_emails_only_the_reviewers_who_have_undecided_items() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    // Adele's manager Megan reviews her; Alex has no manager, so Nestor (fallback) does.
    let settings = review(json!({"reviewers": [{"type": "manager"}],
        "fallbackReviewers": [{"type": "user", "id": o.nestor.0}]}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    assign(&app, &o.adele.1, pkg.package).await;
    assign(&app, &o.alex.1, pkg.package).await;
    app.clock.set(start_time() + Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    decide(&app, &o.megan.1, &r, &item, "approve", None).await;
    let admin = sign_in(&app, "contoso", &o.t.admin_email).await;
    let page = format!("/admin/reviews/{}", rid(&r));

    let sent = admin.post(&format!("{page}/remind"), &[]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let after = admin.get(&page).await;
    assert!(
        after
            .body
            .contains("A reminder is on its way to the 1 reviewer"),
        "{}",
        after.body
    );
    let email = wait_for_email(&app.mailer, |e| {
        e.to == "nestor@contoso.test" && e.subject.starts_with("Reminder: access review")
    })
    .await;
    assert!(
        email
            .text
            .contains(&format!("/t/contoso/reviews/{}", rid(&r))),
        "{}",
        email.text
    );
    assert_eq!(emailed(&app, "reviewReminder", &r).await, [o.nestor.0]);
    let reminded: Value = sqlx::query_scalar(
        "select jsonb_build_object('actor', actor_id, 'details', details) from audit_events
         where target_id = $1 and action = 'accessReview.reminded'",
    )
    .bind(uuid_of(&r["id"]))
    .fetch_one(&app.pool)
    .await
    .expect("the reminder is audited");
    assert_eq!(reminded["actor"], json!(o.t.admin_id), "{reminded}");
    assert_eq!(reminded["details"]["reviewerIds"], json!([o.nestor.0]));

    // A second press within the hour sends nothing more and says when it may.
    let again = admin.post(&format!("{page}/remind"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(
        again.body.contains("you can remind them again from"),
        "{}",
        again.body
    );
    assert_eq!(emailed(&app, "reviewReminder", &r).await, [o.nestor.0]);

    // Once everything is decided there is nobody to remind, and the page says so.
    let item = item_of(&app, &o.t, &r, o.alex.0).await;
    decide(&app, &o.nestor.1, &r, &item, "approve", None).await;
    let none = admin.post(&format!("{page}/remind"), &[]).await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.body);
    assert!(none.body.contains("nobody to remind"), "{}", none.body);
    assert!(
        !none.body.contains("Remind now</button>"),
        "no button to press"
    );
    admin.post(&format!("{page}/stop"), &[]).await;
    let ended = admin.post(&format!("{page}/remind"), &[]).await;
    assert_eq!(ended.status, StatusCode::CONFLICT);
    assert!(ended.body.contains("has ended"), "{}", ended.body);
    assert_eq!(emailed(&app, "reviewReminder", &r).await, [o.nestor.0]);
}

#[tokio::test]
async fn the_results_download_as_csv_with_every_person_and_no_formulas() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    let item = item_of(&app, &s.o.t, &s.r, s.o.adele.0).await;
    let (status, d) = decide(
        &app,
        &s.o.megan.1,
        &s.r,
        &item,
        "deny",
        Some("=HYPERLINK(\"http://x.test\"), moved on"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let admin = sign_in(&app, "contoso", &s.o.t.admin_email).await;
    let res = admin
        .client
        .get(admin.url(&format!("/admin/reviews/{}/results.csv", rid(&s.r))))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"access-review-sales-tools-2027-01-01.csv\"".replace(
            "2027-01-01",
            &s.r["startDateTime"].as_str().expect("start")[..10]
        )
    );
    let body = res.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headings: Vec<String> = reader
        .headers()
        .expect("headings")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        headings[..10],
        [
            "Holder",
            "Holder email",
            "Decision",
            "Decided by",
            "Decided by email",
            "Decided at (UTC)",
            "Justification",
            "Recommendation",
            "Result",
            "Reviewers"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 3, "{body}");
    let adele = rows
        .iter()
        .find(|r| r[1] == "adele@contoso.test")
        .expect("Adele's row");
    assert_eq!(adele[0], "Adele Vance");
    assert_eq!(adele[2], "Deny");
    assert_eq!(
        (&adele[3][..], &adele[4][..]),
        ("Megan Bowen", "megan@contoso.test")
    );
    assert_eq!(
        adele[6], "'=HYPERLINK(\"http://x.test\"), moved on",
        "a justification never becomes a spreadsheet formula"
    );
    assert_eq!(adele[8], "Not applied");
    assert_eq!(adele[9], "megan@contoso.test; nestor@contoso.test");
    assert_eq!(
        adele[10],
        item["assignmentId"].as_str().expect("assignment")
    );
    let alex = rows
        .iter()
        .find(|r| r[1] == "alex@contoso.test")
        .expect("Alex's row");
    assert_eq!((&alex[2][..], &alex[3][..]), ("Not reviewed", ""));
}

#[tokio::test]
async fn a_catalog_reader_sees_the_results_but_may_not_stop_apply_or_remind() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    app.user_with_role(
        &s.o.t,
        "reader@contoso.test",
        "catalogReader",
        Some(s.pkg.catalog),
    )
    .await;
    let reader = sign_in(&app, "contoso", "reader@contoso.test").await;
    let page = format!("/admin/reviews/{}", rid(&s.r));

    assert!(reader.get("/admin/reviews").await.body.contains(&rid(&s.r)));
    let seen = reader.get(&page).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.contains("Progress by reviewer"));
    assert!(!seen.body.contains("Stop review"), "no actions offered");
    assert!(!seen.body.contains("Remind now"));
    let csv = reader.get(&format!("{page}/results.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);

    for action in ["stop", "apply", "remind"] {
        let refused = reader.post(&format!("{page}/{action}"), &[]).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{action}: {}",
            refused.body
        );
        assert!(
            refused.body.contains("You may not do this"),
            "{action}: {}",
            refused.body
        );
    }
    in_state(&app, &s.o.t, &s.r, "inProgress").await;
    assert!(emailed(&app, "reviewReminder", &s.r).await.is_empty());
}

#[tokio::test]
async fn an_assignment_manager_of_the_catalog_may_remind_and_stop() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    app.user_with_role(
        &s.o.t,
        "manager@contoso.test",
        "assignmentManager",
        Some(s.pkg.catalog),
    )
    .await;
    let manager = sign_in(&app, "contoso", "manager@contoso.test").await;
    let page = format!("/admin/reviews/{}", rid(&s.r));
    let reminded = manager.post(&format!("{page}/remind"), &[]).await;
    assert_eq!(reminded.status, StatusCode::SEE_OTHER, "{}", reminded.body);
    assert_eq!(
        emailed(&app, "reviewReminder", &s.r).await,
        super::sorted(vec![s.o.megan.0, s.o.nestor.0])
    );
    let stopped = manager.post(&format!("{page}/stop"), &[]).await;
    assert_eq!(stopped.status, StatusCode::SEE_OTHER, "{}", stopped.body);
    in_state(&app, &s.o.t, &s.r, "completed").await;
}

#[tokio::test]
async fn reviewers_and_roles_of_other_catalogs_are_refused_and_other_tenants_get_404() {
    let app = TestApp::spawn().await;
    let s = reviewed(&app, json!({})).await;
    let page = format!("/admin/reviews/{}", rid(&s.r));

    // A reviewer without any role has no admin portal.
    let megan = sign_in(&app, "contoso", "megan@contoso.test").await;
    assert_eq!(
        megan.get("/admin/reviews").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(megan.get(&page).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        megan.post(&format!("{page}/stop"), &[]).await.status,
        StatusCode::FORBIDDEN
    );

    // Owners of another catalog: a reviewer among them is told where to decide; the
    // others do not learn that the review exists.
    let (status, other) = app
        .post(
            &s.o.t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    for who in [s.o.nestor.0, s.o.alex.0] {
        let (status, body) = app
            .post(
                &s.o.t.admin,
                "/api/v1/roleAssignments",
                json!({"role": "catalogOwner", "principal": {"type": "user", "id": who}, "catalogId": other["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let nestor = sign_in(&app, "contoso", "nestor@contoso.test").await;
    let list = nestor.get("/admin/reviews").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        !list.body.contains(&rid(&s.r)),
        "not a review of their catalog"
    );
    let told = nestor.get(&page).await;
    assert_eq!(told.status, StatusCode::FORBIDDEN);
    assert!(
        told.body
            .contains("decide them under Access reviews in My Access"),
        "{}",
        told.body
    );
    assert_eq!(
        nestor.get(&format!("{page}/results.csv")).await.status,
        StatusCode::FORBIDDEN
    );
    let alex = sign_in(&app, "contoso", "alex@contoso.test").await;
    assert_eq!(alex.get(&page).await.status, StatusCode::NOT_FOUND);
    for action in ["stop", "apply", "remind"] {
        let refused = alex.post(&format!("{page}/{action}"), &[]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(
        alex.get(&format!("{page}/results.csv")).await.status,
        StatusCode::NOT_FOUND
    );

    // A form without the session's CSRF token changes nothing.
    let admin = sign_in(&app, "contoso", &s.o.t.admin_email).await;
    let forged = admin.post_raw(&format!("{page}/stop"), &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Another tenant's admin: 404, like a review that does not exist.
    let (_, beta) = admin_of(&app, "beta").await;
    assert_eq!(beta.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        beta.get(&format!("{page}/results.csv")).await.status,
        StatusCode::NOT_FOUND
    );
    for action in ["stop", "apply", "remind"] {
        let refused = beta.post(&format!("{page}/{action}"), &[]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{action}");
    }
    assert!(!beta.get("/admin/reviews").await.body.contains(&rid(&s.r)));
    assert_eq!(
        beta.get(&format!("/admin/reviews/{}", Uuid::now_v7()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    in_state(&app, &s.o.t, &s.r, "inProgress").await;
    assert!(emailed(&app, "reviewReminder", &s.r).await.is_empty());
}

/// The page's content (below the header) in a phone-wide window, then the wide
/// window again.
async fn narrow(c: &fantoccini::Client, shots: &mut crate::helpers::browser::Shots, name: &str) {
    c.set_window_size(390, 1600)
        .await
        .expect("a phone-wide window");
    c.execute("document.getElementById('main').scrollIntoView()", vec![])
        .await
        .expect("scroll to the content");
    shots.take(c, name).await;
    c.set_window_size(1280, 1400)
        .await
        .expect("the wide window again");
}

/// The list and a review's page in a real browser at 1280 and 390 px, Remind now
/// pressed there; the screenshots go to `target/screenshots/admin-reviews`.
#[tokio::test]
async fn the_review_pages_work_in_a_real_browser() {
    use crate::helpers::AppOptions;
    use crate::helpers::browser::{
        Shots, browser, click_text, start_driver, tempdir, type_into, wait_for, wait_heading,
    };
    use crate::helpers::portal::sign_in_token;

    let driver = start_driver().await;
    let app = TestApp::spawn_with(AppOptions {
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    let s = reviewed(&app, json!({})).await;
    let item = item_of(&app, &s.o.t, &s.r, s.o.adele.0).await;
    decide(
        &app,
        &s.o.megan.1,
        &s.r,
        &item,
        "deny",
        Some("Moved to the finance team"),
    )
    .await;
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/admin-reviews");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let profile = tempdir();
    let c = browser(&driver, &profile).await;
    let base = format!("{}/t/contoso", app.address);

    c.goto(&format!("{base}/sign-in"))
        .await
        .expect("sign-in page");
    type_into(&c, "#email", &s.o.t.admin_email).await;
    click_text(&c, "button", "Email me a sign-in link").await;
    wait_heading(&c, "Check").await;
    let token = sign_in_token(&app, &s.o.t.admin_email)
        .await
        .expect("a sign-in link");
    c.goto(&format!("{base}/sign-in/{token}"))
        .await
        .expect("link");
    click_text(&c, "button", "Sign in").await;
    wait_for(&c, "nav[aria-label='Main']").await;

    c.goto(&format!("{base}/admin/reviews"))
        .await
        .expect("list");
    wait_heading(&c, "Access reviews").await;
    shots.take(&c, "reviews").await;
    narrow(&c, &mut shots, "reviews-390").await;
    click_text(&c, "a", "Sales Tools").await;
    wait_heading(&c, "Review of Sales Tools").await;
    shots.take(&c, "review").await;
    narrow(&c, &mut shots, "review-390").await;
    click_text(&c, "button", "Remind now").await;
    wait_for(&c, ".flash-ok").await;
    shots.take(&c, "review-reminded").await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    assert_eq!(
        emailed(&app, "reviewReminder", &s.r).await,
        super::sorted(vec![s.o.megan.0, s.o.nestor.0])
    );
}
