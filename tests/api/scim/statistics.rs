//! A first sync keeps the planner's statistics up: once a tenant's directory writes in
//! the process reach 1,000 (and each time they double), the directory's tables are
//! analyzed, as `pg_stat_user_tables.analyze_count` (manual analyzes only; autovacuum
//! counts apart) shows.

use reqwest::StatusCode;
use serde_json::json;

use super::{USER, scim};
use crate::helpers::TestApp;

async fn analyzes_of_users(app: &TestApp) -> i64 {
    sqlx::query_scalar("select analyze_count from pg_stat_user_tables where relname = 'users'")
        .fetch_one(&app.pool)
        .await
        .expect("the table's statistics")
}

#[tokio::test]
async fn the_thousandth_directory_write_has_the_directorys_tables_analyzed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let create = |i: usize| {
        let s = &s;
        async move {
            let (status, body) = s
                .post(
                    "/Users",
                    json!({"schemas": [USER], "userName": format!("person{i}@acme.test")}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    };
    let quarter = |q: usize| {
        let create = &create;
        async move {
            for i in (q * 250)..(q * 250 + 250).min(999) {
                create(i).await;
            }
        }
    };
    tokio::join!(quarter(0), quarter(1), quarter(2), quarter(3));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = analyzes_of_users(&app).await;
    assert_eq!(before, 0, "999 writes do not analyze yet");

    create(999).await;
    let mut after = before;
    for _ in 0..100 {
        after = analyzes_of_users(&app).await;
        if after > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        after > before,
        "the 1,000th write analyzes the directory's tables"
    );
}
