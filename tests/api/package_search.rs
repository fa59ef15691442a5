//! Searching access packages among a thousand and more: the API list and the My Access
//! catalog page find every package whose name or description contains the term (case
//! aside, a phrase of several words as written, `%` and `_` as themselves), newest
//! first and a page at a time, whether the newest packages match often, seldom or
//! never; and the statements behind them read a rare term's packages through the
//! trigram index instead of reading every package of the tenant.

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::portal::sign_in;
use crate::helpers::{TestApp, TestTenant};

const NAMES: [&str; 8] = [
    "Windows 11 Testing",
    "Finance Reports",
    "Sales CRM",
    "Design Tools",
    "Build Servers",
    "HR Portal",
    "Data Lake",
    "Support Desk",
];

/// One generated package, as the oracle sees it.
struct Generated {
    id: Uuid,
    name: String,
    /// Name and description, lower case.
    text: String,
    hidden: bool,
    archived: bool,
    /// Its policy lets every member request it.
    for_members: bool,
}

impl Generated {
    /// Listed for a member through the API.
    fn visible(&self) -> bool {
        !self.hidden && !self.archived
    }

    /// Listed in a member's portal.
    fn requestable(&self) -> bool {
        self.visible() && self.for_members
    }
}

/// `n` packages in the tenant's General catalog, package i newer than package i - 1:
/// named "<one of NAMES> i", described "Package number i.", every tenth (from 3) hidden,
/// every tenth (from 7) archived, and every tenth (from 5) only requestable by people
/// named in its policy (nobody); then "Disk quota 100% alert", the newest. Returns them
/// newest first.
async fn packages(app: &TestApp, t: &TestTenant, n: i64) -> Vec<Generated> {
    let catalog = app.general_catalog(t).await;
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    // Version 7 ids, one millisecond apart.
    let id = |i: &str| {
        format!(
            "(lpad(to_hex(1700000000000 + {i}), 12, '0') || '7000' || '8' || lpad(to_hex({i}), 15, '0'))::uuid"
        )
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into access_packages (tenant_id, id, catalog_id, display_name, description, hidden, archived_at,
                                      created_at, updated_at)
         select $1, {}, $2, $3[1 + i % 8] || ' ' || i, 'Package number ' || i || '.', i % 10 = 3,
                case when i % 10 = 7 then now() end, now(), now()
           from generate_series(0, $4 - 1) i",
        id("i")
    )))
    .bind(t.id)
    .bind(catalog)
    .bind(&names)
    .bind(n)
    .execute(&app.pool)
    .await
    .expect("generate packages");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into access_packages (tenant_id, id, catalog_id, display_name, description, hidden, created_at, updated_at)
         values ($1, {}, $2, 'Disk quota 100% alert', '', false, now(), now())",
        id("$3")
    )))
    .bind(t.id)
    .bind(catalog)
    .bind(n)
    .execute(&app.pool)
    .await
    .expect("the package with a percent sign");
    sqlx::query(
        "insert into policies (tenant_id, id, package_id, display_name, settings, created_at, updated_at)
         select $1, gen_random_uuid(), p.id, 'Employees',
                case when p.description like 'Package number %5.'
                     then '{\"requestors\": {\"scope\": \"specific\", \"principals\": []}}'::jsonb
                     else '{\"requestors\": {\"scope\": \"allMembers\"}}'::jsonb end,
                now(), now()
           from access_packages p where p.tenant_id = $1",
    )
    .bind(t.id)
    .execute(&app.pool)
    .await
    .expect("policies");
    // As autovacuum would have by then: the planner's statistics of the tenant.
    sqlx::query("analyze access_packages")
        .execute(&app.pool)
        .await
        .expect("analyze");
    let rows: Vec<(Uuid, String, String, bool, bool, bool)> = sqlx::query_as(
        "select p.id, p.display_name, p.description, p.hidden, p.archived_at is not null,
                pol.settings -> 'requestors' ->> 'scope' = 'allMembers'
           from access_packages p join policies pol on pol.tenant_id = p.tenant_id and pol.package_id = p.id
          where p.tenant_id = $1 order by p.id desc",
    )
    .bind(t.id)
    .fetch_all(&app.pool)
    .await
    .expect("packages");
    rows.into_iter()
        .map(
            |(id, name, description, hidden, archived, for_members)| Generated {
                id,
                text: format!("{name} {description}").to_lowercase(),
                name,
                hidden,
                archived,
                for_members,
            },
        )
        .collect()
}

/// What a search for `term` should find, newest first: the oracle is the definition.
fn matching<'a>(
    all: &'a [Generated],
    term: &str,
    keep: impl Fn(&Generated) -> bool,
) -> Vec<&'a Generated> {
    let term = term.trim().to_lowercase();
    all.iter()
        .filter(|p| keep(p) && p.text.contains(&term))
        .collect()
}

/// Every page of `GET /api/v1/accessPackages?search=term&limit=limit`, their ids in order.
async fn api_search(app: &TestApp, token: &str, term: &str, limit: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let term: String = url::form_urlencoded::byte_serialize(term.as_bytes()).collect();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/accessPackages?search={term}&limit={limit}&cursor={c}"),
            None => format!("/api/v1/accessPackages?search={term}&limit={limit}"),
        };
        let (status, body) = app.get(token, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let items = body["items"].as_array().expect("items");
        assert!(items.len() <= limit, "{path}: {} items", items.len());
        ids.extend(
            items
                .iter()
                .map(|p| Uuid::parse_str(p["id"].as_str().expect("id")).expect("uuid")),
        );
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
        assert!(ids.len() < 5_000, "{path}: the pages do not end");
    }
}

#[tokio::test]
async fn the_api_search_finds_every_match_newest_first_for_common_rare_and_absent_terms() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, member) = app.user(&t, "max@acme.test", serde_json::json!({})).await;
    let all = packages(&app, &t, 1_200).await;

    for (term, limit, at_least) in [
        // An eighth of the packages: the newest packages fill every page.
        ("windows", 50, 100),
        // Matches among the newest packages (1000–1199) and far older ones (10–19,
        // 100–199): pages that cross from the newest packages to the index.
        ("crm 1", 20, 30),
        // Only far older packages match (30–39, 300–399), so no page is found among
        // the newest ones; small pages walk on through the index.
        ("lake 3", 4, 10),
        // The rare term of the benchmark, a phrase of two words.
        ("crm 42", 20, 1),
        // Matches among which hidden (1103, 1183) and archived (1127, 1167) packages.
        ("desk 11", 5, 8),
        // Case does not matter, and a phrase matches only as written.
        ("SALES CRM 1010", 20, 1),
        ("1010 sales", 20, 0),
        // `%` is a percent sign, not a wildcard.
        ("100%", 20, 1),
        ("zzqx", 20, 0),
    ] {
        let expected: Vec<Uuid> = matching(&all, term, Generated::visible)
            .iter()
            .map(|p| p.id)
            .collect();
        assert!(
            expected.len() >= at_least,
            "{term}: only {} packages match",
            expected.len()
        );
        let found = api_search(&app, &member, term, limit).await;
        assert_eq!(found, expected, "search {term:?}, pages of {limit}");
    }
    // A tenant admin's search finds the hidden packages too.
    let expected: Vec<Uuid> = matching(&all, "desk 11", |p| !p.archived)
        .iter()
        .map(|p| p.id)
        .collect();
    assert!(
        expected
            .iter()
            .any(|id| all.iter().any(|p| p.id == *id && p.hidden))
    );
    assert_eq!(api_search(&app, &t.admin, "desk 11", 10).await, expected);
}

/// The package names of a catalog page's cards, in order, and its next page's path.
fn cards(body: &str) -> (Vec<String>, Option<String>) {
    let names = body
        .split("<h2><a href=\"")
        .skip(1)
        .filter_map(|s| s.split_once("\">"))
        .filter_map(|(_, rest)| rest.split_once("</a></h2>"))
        .map(|(name, _)| name.to_string())
        .collect();
    let next = body
        .split("rel=\"next\"")
        .next()
        .filter(|_| body.contains("rel=\"next\""))
        .and_then(|before| before.rsplit("href=\"").next())
        .and_then(|href| href.split('"').next())
        .map(|href| href.replace("&#38;", "&").replace("&amp;", "&"));
    (names, next)
}

#[tokio::test]
async fn the_catalog_page_search_lists_every_requestable_match_newest_first() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.user(&t, "max@acme.test", serde_json::json!({})).await;
    let all = packages(&app, &t, 1_200).await;
    let max = sign_in(&app, "acme", "max@acme.test").await;

    for term in [
        "windows",
        "crm 1",
        "lake 3",
        "crm 42",
        "Support Desk 119",
        "zzqx",
    ] {
        let expected: Vec<String> = matching(&all, term, Generated::requestable)
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let mut listed = Vec::new();
        let q: String = url::form_urlencoded::byte_serialize(term.as_bytes()).collect();
        let mut path = format!("/packages?q={q}");
        loop {
            let page = max.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            let (names, next) = cards(&page.body);
            listed.extend(names);
            match next {
                Some(href) => path = href.trim_start_matches("/t/acme").to_string(),
                None => break,
            }
            assert!(listed.len() < 5_000, "{path}: the pages do not end");
        }
        assert_eq!(listed, expected, "catalog page search {term:?}");
        if expected.is_empty() {
            let page = max.get(&format!("/packages?q={q}")).await;
            assert!(page.body.contains("No access package matches"));
        }
    }
}

/// Each scan of `access_packages` in an `EXPLAIN (ANALYZE, FORMAT JSON)` plan: its node
/// type, its index, and the rows it read from the table (returned or filtered out, over
/// all its loops; a bitmap index scan reads no rows, its heap scan does).
fn scans(plan: &Value, out: &mut Vec<(String, String, f64)>) {
    let kind = plan["Node Type"].as_str().unwrap_or_default().to_string();
    let index = plan["Index Name"].as_str().unwrap_or_default().to_string();
    if plan["Relation Name"] == "access_packages" {
        let loops = plan["Actual Loops"].as_f64().unwrap_or(1.0);
        let read = [
            "Actual Rows",
            "Rows Removed by Filter",
            "Rows Removed by Index Recheck",
        ]
        .iter()
        .map(|k| plan[*k].as_f64().unwrap_or(0.0))
        .sum::<f64>()
            * loops;
        out.push((kind, index, read));
    } else if index.starts_with("access_packages_") {
        out.push((kind, index, 0.0));
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        scans(child, out);
    }
}

#[tokio::test]
async fn a_rare_term_is_read_through_the_trigram_index_not_by_walking_every_package() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let all = packages(&app, &t, 3_000).await;
    let window = portico::db::packages::SEARCH_WINDOW as f64;
    let no_groups: Vec<Uuid> = Vec::new();
    let none: Vec<Uuid> = Vec::new();

    // (term, whether only the index can find it without reading past the window)
    for (term, rare) in [
        (Some("crm 42"), true),
        (Some("zzqx"), true),
        (Some("windows"), false),
        (None, false),
    ] {
        let pattern = term.map(portico::db::like_pattern);
        let portal = format!(
            "explain (analyze, format json) {}",
            portico::db::portal::requestable_statement(term.is_some())
        );
        let api = format!(
            "explain (analyze, format json) {}",
            portico::db::packages::visible_statement(term.is_some())
        );
        let portal_plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(portal))
            .bind(t.id)
            .bind(Uuid::max())
            .bind(false)
            .bind(&pattern)
            .bind(26_i64)
            .bind(t.admin_id)
            .bind(&no_groups)
            .fetch_one(&app.pool)
            .await
            .expect("explain the catalog page");
        let api_plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(api))
            .bind(t.id)
            .bind(Uuid::max())
            .bind(None::<Uuid>)
            .bind(&pattern)
            .bind(false)
            .bind(&none)
            .bind(false)
            .bind(51_i64)
            .bind(false)
            .fetch_one(&app.pool)
            .await
            .expect("explain the API list");
        for (what, plan) in [("catalog page", portal_plan), ("API", api_plan)] {
            let mut read = Vec::new();
            scans(&plan[0]["Plan"], &mut read);
            assert!(
                read.iter().all(|(_, _, rows)| *rows <= window),
                "{what}, {term:?}: a scan read more than the newest {window} of {} packages: {read:?}",
                all.len()
            );
            if rare {
                assert!(
                    read.iter()
                        .any(|(_, index, _)| index == "access_packages_search_idx"),
                    "{what}, {term:?}: the trigram index is not used: {read:?}"
                );
            }
        }
    }
}
