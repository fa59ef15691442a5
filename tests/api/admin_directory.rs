//! The directory and the audit log in the admin portal: users with their managers, CSV
//! import (all or nothing, every bad row named), groups with members, sources and
//! owners, and the audit log's filters.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::TestApp;
use crate::helpers::portal::{admin_of, id_in, setup};

#[tokio::test]
async fn admins_create_and_edit_users_with_their_managers() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let created = b
        .post(
            "/admin/users",
            &[
                ("email", "megan@acme.test"),
                ("displayName", "Megan Bowen"),
                ("department", "Engineering"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let megan = id_in(&created.location);
    let adele = b
        .post(
            "/admin/users",
            &[
                ("email", "adele@acme.test"),
                ("displayName", "Adele Vance"),
                ("managerEmail", "megan@acme.test"),
            ],
        )
        .await;
    let adele = id_in(&adele.location);
    let manager: Option<Uuid> = sqlx::query_scalar("select manager_id from users where id = $1")
        .bind(adele)
        .fetch_one(&app.pool)
        .await
        .expect("user");
    assert_eq!(manager, Some(megan));

    let loop_ = b
        .post(
            &format!("/admin/users/{megan}"),
            &[
                ("email", "megan@acme.test"),
                ("displayName", "Megan Bowen"),
                ("managerEmail", "adele@acme.test"),
            ],
        )
        .await;
    assert_eq!(loop_.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(loop_.body.contains("that would make a loop"));
    let duplicate = b
        .post(
            "/admin/users",
            &[("email", "MEGAN@acme.test"), ("displayName", "Another")],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(duplicate.body.contains("already exists"));

    let edited = b
        .post(
            &format!("/admin/users/{adele}"),
            &[
                ("email", "adele@acme.test"),
                ("displayName", "Adele Vance"),
                ("department", "Sales"),
                ("jobTitle", "Account manager"),
                ("managerEmail", ""),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let (department, manager): (Option<String>, Option<Uuid>) =
        sqlx::query_as("select department, manager_id from users where id = $1")
            .bind(adele)
            .fetch_one(&app.pool)
            .await
            .expect("user");
    assert_eq!(department.as_deref(), Some("Sales"));
    assert_eq!(manager, None);
    let list = b.get("/admin/users?q=vance").await;
    assert!(list.body.contains("Adele Vance"));
    assert!(!list.body.contains("Megan Bowen"));
    assert!(t.admin_email.contains('@'));
}

#[tokio::test]
async fn a_csv_import_with_one_bad_row_imports_nothing_and_names_the_row() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from users where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .expect("count")
    };
    let before = count().await;
    let bad = "email,displayName,department,jobTitle,managerEmail\n\
               megan@acme.test,Megan Bowen,Engineering,Manager,\n\
               adele@acme.test,\"Vance, Adele\",Engineering,Engineer,megan@acme.test\n\
               not-an-email,Broken,,,\n";
    let refused = b.post("/admin/users/import", &[("csv", bad)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Nothing was imported"));
    assert!(refused.body.contains("<td>4</td>"), "{}", refused.body);
    assert!(refused.body.contains("is not an email address"));
    assert_eq!(count().await, before);

    let good = bad.replace("not-an-email,Broken,,,\n", "");
    let imported = b.post("/admin/users/import", &[("csv", &good)]).await;
    assert_eq!(imported.status, StatusCode::SEE_OTHER, "{}", imported.body);
    assert_eq!(count().await, before + 2);
    let (name, manager): (String, Option<String>) = sqlx::query_as(
        "select u.display_name, m.email from users u left join users m on m.tenant_id = u.tenant_id and m.id = u.manager_id
          where u.email = 'adele@acme.test'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("adele");
    assert_eq!(name, "Vance, Adele");
    assert_eq!(manager.as_deref(), Some("megan@acme.test"));
    // The same file again: every row already exists, nothing changes.
    let twice = b.post("/admin/users/import", &[("csv", &good)]).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("already exists"));
    assert_eq!(count().await, before + 2);
}

#[tokio::test]
async fn groups_show_members_with_their_sources_and_owners() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let (ada, _) = app
        .user(&s.t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    let created = b
        .post(
            "/admin/groups",
            &[("displayName", "Testers"), ("description", "QA")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let testers = id_in(&created.location);
    let empty = b.post("/admin/groups", &[("displayName", "")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let member = b
        .post(
            &format!("/admin/groups/{testers}/members"),
            &[("email", "ada@acme.test")],
        )
        .await;
    assert_eq!(member.status, StatusCode::SEE_OTHER);
    let owner = b
        .post(
            &format!("/admin/groups/{testers}/owners"),
            &[("ownerEmail", "ada@acme.test")],
        )
        .await;
    assert_eq!(owner.status, StatusCode::SEE_OTHER, "{}", owner.body);
    let page = b.get(&format!("/admin/groups/{testers}")).await;
    assert!(page.body.contains("Direct"));
    assert!(page.body.contains("Remove owner Ada"));

    // A membership delivered by an assignment names its package.
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    fixtures::policy(&app, &s.t, package, fixtures::open_policy(json!({}))).await;
    b.post(
        &format!("/admin/packages/{package}/assignments"),
        &[("email", "ada@acme.test")],
    )
    .await;
    let page = b.get(&format!("/admin/groups/{}", s.group)).await;
    assert!(page.body.contains("Assignment of Windows 11 Testing"));
    let removed = b
        .post(
            &format!("/admin/groups/{testers}/members/{ada}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_audit_log_filters_by_target_and_time() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;
    let created = b
        .post("/admin/catalogs", &[("displayName", "Audited")])
        .await;
    let id = id_in(&created.location);
    let page = b.get(&format!("/admin/audit?target={id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("catalog.created"));
    assert!(!page.body.contains("<code>session.created</code>"));
    let later = b.get("/admin/audit?after=2030-01-01T00:00").await;
    assert!(later.body.contains("No events match"));
    let bad = b.get("/admin/audit?target=nope").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("enter the id of an object"));
}

#[tokio::test]
async fn a_csv_import_of_five_hundred_users_finds_their_managers_in_the_file_and_the_directory() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let (boss, _) = app
        .user(&t, "boss@acme.test", json!({"displayName": "Boss"}))
        .await;
    // Excel's way: a byte-order mark, CRLF line ends, quoted names with commas and
    // quotes. Rows come last-first, so most managers are on a later line; the first
    // person reports to a user already in the directory.
    let mut file = String::from("\u{feff}email,displayName,department,jobTitle,managerEmail\r\n");
    for i in (0..500).rev() {
        let manager = if i == 0 {
            "BOSS@acme.test".to_string()
        } else {
            format!("user{}@acme.test", i / 2)
        };
        file.push_str(&format!(
            "user{i}@acme.test,\"Person {i}, \"\"Team {}\"\"\",Engineering,Engineer,{manager}\r\n",
            i % 10
        ));
    }
    let imported = b.post("/admin/users/import", &[("csv", &file)]).await;
    assert_eq!(imported.status, StatusCode::SEE_OTHER, "{}", imported.body);

    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select u.email, u.display_name, m.email from users u
           left join users m on m.tenant_id = u.tenant_id and m.id = u.manager_id
          where u.tenant_id = $1 and u.email like 'user%'",
    )
    .bind(t.id)
    .fetch_all(&app.pool)
    .await
    .expect("imported users");
    assert_eq!(rows.len(), 500);
    for (email, name, manager) in &rows {
        let i: usize = email
            .trim_start_matches("user")
            .trim_end_matches("@acme.test")
            .parse()
            .expect("a numbered user");
        assert_eq!(name, &format!("Person {i}, \"Team {}\"", i % 10));
        let expected = if i == 0 {
            "boss@acme.test".to_string()
        } else {
            format!("user{}@acme.test", i / 2)
        };
        assert_eq!(manager.as_deref(), Some(expected.as_str()), "{email}");
    }
    let reports: i64 =
        sqlx::query_scalar("select count(*) from users where tenant_id = $1 and manager_id = $2")
            .bind(t.id)
            .bind(boss)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(reports, 1);

    // One unknown manager anywhere in the file imports none of them.
    let again = file
        .replace("user", "again")
        .replace("BOSS@acme.test", "nobody@acme.test");
    let refused = b.post("/admin/users/import", &[("csv", &again)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("there is no user nobody@acme.test in the directory or in this file"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("<td>501</td>"),
        "the last line is named"
    );
    let agains: i64 = sqlx::query_scalar(
        "select count(*) from users where tenant_id = $1 and email like 'again%'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(agains, 0);
}
