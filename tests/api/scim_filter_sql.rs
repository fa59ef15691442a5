//! SCIM filters translated to SQL (`db::scim_filter`) run against a temporary table in
//! the test's own PostgreSQL database, so each operator is proven by the rows it selects.

use portico::db::scim_filter::*;
use portico::domain::scim::filter::{AttrPath, parse};
use portico::domain::scim::{ScimError, ScimType};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::helpers::TestApp;

const U1: &str = "0192f0a4-5f4e-7c4c-9c59-1f6a1b8e2a10";

fn column(path: &AttrPath) -> Option<Column> {
    let (sql, kind) = if path.is("userName", None) {
        ("user_name", ColumnKind::Text)
    } else if path.is("externalId", None) {
        ("external_id", ColumnKind::CaseExactText)
    } else if path.is("active", None) {
        ("active", ColumnKind::Bool)
    } else if path.is("meta", Some("lastModified")) {
        ("modified", ColumnKind::Time)
    } else if path.is("id", None) {
        ("id", ColumnKind::Uuid)
    } else if path.is("emails", Some("value")) || path.is("emails", None) {
        ("email", ColumnKind::Text)
    } else if path.is("title", None) {
        ("title", ColumnKind::Text)
    } else {
        return None;
    };
    Some(Column { sql, kind })
}

async fn connect() -> (TestApp, PgConnection) {
    let app = TestApp::spawn().await;
    let mut conn = app.pool.acquire().await.unwrap().detach();
    sqlx::raw_sql(
        "create temporary table scim_people (
            id uuid, user_name text, external_id text, active boolean,
            modified timestamptz, email text, title text);
         insert into scim_people values
          ('0192f0a4-5f4e-7c4c-9c59-1f6a1b8e2a10', 'Alice@Example.com', 'ExtA', true,
           '2026-01-01T00:00:00Z', 'alice@example.com', 'Boss'),
          (gen_random_uuid(), 'bob@example.com', 'extb', false,
           '2026-02-01T00:00:00Z', 'bob@example.com', null),
          (gen_random_uuid(), 'c%_\\x@example.com', 'x', true,
           '2026-03-01T00:00:00Z', 'c@example.com', ''),
          (gen_random_uuid(), 'carol@other.org', null, true,
           '2026-04-01T00:00:00Z', 'carol@other.org', 'Dev');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    (app, conn)
}

async fn select(conn: &mut PgConnection, filter: &str) -> Result<Vec<String>, ScimError> {
    let f = parse(filter)?;
    let mut qb = QueryBuilder::<Postgres>::new("select user_name from scim_people where ");
    push_filter(&mut qb, &f, &column)?;
    qb.push(" order by user_name");
    let sql = qb.sql().as_str().to_string();
    assert!(
        !sql.contains("drop table"),
        "values are bound, never written: {sql:?}"
    );
    Ok(qb
        .build_query_scalar::<String>()
        .fetch_all(&mut *conn)
        .await
        .unwrap())
}

async fn rows(conn: &mut PgConnection, filter: &str) -> Vec<String> {
    match select(conn, filter).await {
        Ok(r) => r,
        Err(e) => panic!("{filter}: {e}"),
    }
}

async fn refused(conn: &mut PgConnection, filter: &str) -> String {
    let e = select(conn, filter).await.unwrap_err();
    assert_eq!(
        (e.status, e.scim_type),
        (400, Some(ScimType::InvalidFilter)),
        "{filter}"
    );
    e.detail
}

const ALICE: &str = "Alice@Example.com";
const BOB: &str = "bob@example.com";
const ODD: &str = "c%_\\x@example.com";
const CAROL: &str = "carol@other.org";

#[tokio::test]
async fn text_operators_compare_without_case() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert_eq!(rows(c, r#"userName eq "alice@EXAMPLE.com""#).await, [ALICE]);
    assert_eq!(
        rows(c, r#"userName ne "ALICE@example.com""#).await,
        [BOB, ODD, CAROL]
    );
    assert_eq!(rows(c, r#"userName co "EXAMPLE""#).await, [ALICE, BOB, ODD]);
    assert_eq!(rows(c, r#"userName sw "CA""#).await, [CAROL]);
    assert_eq!(rows(c, r#"userName ew ".ORG""#).await, [CAROL]);
    assert_eq!(rows(c, r#"userName gt "c""#).await, [ODD, CAROL]);
    assert_eq!(
        rows(c, r#"userName ge "bob@example.com""#).await,
        [BOB, ODD, CAROL]
    );
    assert_eq!(rows(c, r#"userName lt "b""#).await, [ALICE]);
    assert_eq!(
        rows(c, r#"userName le "BOB@example.com""#).await,
        [ALICE, BOB]
    );
}

#[tokio::test]
async fn like_wildcards_in_values_are_plain_characters() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert_eq!(rows(c, r#"userName co "%""#).await, [ODD]);
    assert_eq!(rows(c, r#"userName co "_""#).await, [ODD]);
    assert_eq!(rows(c, r#"userName co "\\""#).await, [ODD]);
    assert_eq!(rows(c, r#"userName sw "c%_""#).await, [ODD]);
    assert_eq!(rows(c, r#"userName ew "%""#).await, Vec::<String>::new());
}

#[tokio::test]
async fn case_exact_text_booleans_times_and_ids() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert!(rows(c, r#"externalId eq "exta""#).await.is_empty());
    assert_eq!(rows(c, r#"externalId eq "ExtA""#).await, [ALICE]);
    assert_eq!(rows(c, r#"externalId ne "ExtA""#).await, [BOB, ODD, CAROL]);
    assert_eq!(rows(c, "active eq false").await, [BOB]);
    assert_eq!(rows(c, "active ne true").await, [BOB]);
    assert_eq!(rows(c, r#"active eq "False""#).await, [BOB]);
    assert_eq!(
        rows(c, r#"meta.lastModified gt "2026-02-15T00:00:00Z""#).await,
        [ODD, CAROL]
    );
    assert_eq!(
        rows(c, r#"meta.lastModified ge "2026-02-01T01:00:00+01:00""#).await,
        [BOB, ODD, CAROL]
    );
    assert_eq!(
        rows(c, r#"meta.lastModified lt "2026-02-01T00:00:00Z""#).await,
        [ALICE]
    );
    assert_eq!(
        rows(c, r#"meta.lastModified le "2026-02-01T00:00:00Z""#).await,
        [ALICE, BOB]
    );
    assert_eq!(
        rows(c, r#"meta.lastModified eq "2026-04-01T00:00:00Z""#).await,
        [CAROL]
    );
    assert_eq!(rows(c, &format!(r#"id eq "{U1}""#)).await, [ALICE]);
    assert_eq!(
        rows(c, &format!(r#"id ne "{}""#, U1.to_uppercase())).await,
        [BOB, ODD, CAROL]
    );
    assert!(rows(c, r#"id eq "not-a-uuid""#).await.is_empty());
}

#[tokio::test]
async fn presence_null_and_logic() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert_eq!(rows(c, "title pr").await, [ALICE, CAROL]);
    assert_eq!(rows(c, "title eq null").await, [BOB]);
    assert_eq!(rows(c, "title ne null").await, [ALICE, ODD, CAROL]);
    assert_eq!(rows(c, r#"not (title eq "Boss")"#).await, [BOB, ODD, CAROL]);
    assert_eq!(
        rows(
            c,
            r#"userName sw "a" or userName sw "b" and active eq true"#
        )
        .await,
        [ALICE]
    );
    assert_eq!(
        rows(
            c,
            r#"(userName sw "a" or userName sw "b") and active eq false"#
        )
        .await,
        [BOB]
    );
    assert_eq!(
        rows(
            c,
            r#"not (userName co "example" and not (active eq false))"#
        )
        .await,
        [BOB, CAROL]
    );
}

#[tokio::test]
async fn value_paths_use_the_sub_attribute_column() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert_eq!(
        rows(
            c,
            r#"emails[type eq "work" and value eq "BOB@example.com"]"#
        )
        .await,
        [BOB]
    );
    assert_eq!(rows(c, r#"emails[value co "other"]"#).await, [CAROL]);
    assert_eq!(rows(c, r#"emails.value sw "alice""#).await, [ALICE]);
    assert_eq!(rows(c, r#"emails eq "c@example.com""#).await, [ODD]);
    refused(c, r#"emails[type eq "home"]"#).await;
}

#[tokio::test]
async fn wrong_types_and_unknown_attributes_are_refused() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert!(refused(c, r#"nickName eq "x""#).await.contains("nickName"));
    assert!(refused(c, r#"active eq "yes""#).await.contains("active"));
    refused(c, "active gt true").await;
    refused(c, r#"active co "t""#).await;
    assert!(
        refused(c, r#"meta.lastModified gt "yesterday""#)
            .await
            .contains("RFC 3339")
    );
    refused(c, r#"meta.lastModified co "2026""#).await;
    refused(c, "userName eq 12").await;
    refused(c, "id gt \"a\"").await;
    refused(c, "userName gt null").await;
}

#[tokio::test]
async fn injection_attempts_are_only_values() {
    let (_app, mut conn) = connect().await;
    let c = &mut conn;
    assert!(rows(c, r#"userName eq "x' or '1'='1""#).await.is_empty());
    assert!(
        rows(c, r#"userName co "'); drop table scim_people; --""#)
            .await
            .is_empty()
    );
    assert!(rows(c, r#"title eq "$1""#).await.is_empty());
    assert_eq!(rows(c, "userName pr").await.len(), 4, "the table is intact");
}

/// The people of `connect` with their emails as a jsonb list, `emails` running value
/// paths on its elements (`userName`, `emails.value` and the rest keep their columns).
struct WithEmails;

const EMAILS: Elements = Elements {
    from: "jsonb_array_elements(coalesce(scim_people.emails, '[]')) as em(v)",
    correlate: "true",
    column: |sub| match sub {
        "value" => Some(Column {
            sql: "(em.v ->> 'value')",
            kind: ColumnKind::Text,
        }),
        "type" => Some(Column {
            sql: "(em.v ->> 'type')",
            kind: ColumnKind::Text,
        }),
        "primary" => Some(Column {
            sql: "((em.v -> 'primary')::boolean)",
            kind: ColumnKind::Bool,
        }),
        _ => None,
    },
};

impl Columns for WithEmails {
    fn column(&self, path: &AttrPath) -> Option<Column> {
        column(path)
    }

    fn elements(&self, path: &AttrPath) -> Option<Elements> {
        path.is("emails", None).then_some(EMAILS)
    }
}

async fn with_emails() -> (TestApp, PgConnection) {
    let (app, mut conn) = connect().await;
    sqlx::raw_sql(
        r#"alter table scim_people add column emails jsonb;
         update scim_people set emails = '[{"value": "alice@example.com", "type": "work", "primary": true},
                                           {"value": "al@home.org", "type": "home"}]'
           where user_name = 'Alice@Example.com';
         update scim_people set emails = '[{"value": "bob@example.com", "type": "home"}]'
           where user_name = 'bob@example.com';
         update scim_people set emails = '[{"value": "carol@other.org", "type": "work"},
                                           {"value": "c2@example.com", "type": "other", "primary": false}]'
           where user_name = 'carol@other.org';"#,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    (app, conn)
}

async fn select_in(conn: &mut PgConnection, filter: &str) -> Result<Vec<String>, ScimError> {
    let f = parse(filter)?;
    let mut qb = QueryBuilder::<Postgres>::new("select user_name from scim_people where ");
    push_filter(&mut qb, &f, &WithEmails)?;
    qb.push(" order by user_name");
    assert!(
        !qb.sql().as_str().contains("--"),
        "values are bound, never written"
    );
    Ok(qb
        .build_query_scalar::<String>()
        .fetch_all(&mut *conn)
        .await
        .unwrap())
}

async fn rows_in(conn: &mut PgConnection, filter: &str) -> Vec<String> {
    match select_in(conn, filter).await {
        Ok(r) => r,
        Err(e) => panic!("{filter}: {e}"),
    }
}

#[tokio::test]
async fn a_value_path_holds_when_one_element_satisfies_all_of_it() {
    let (_app, mut conn) = with_emails().await;
    let c = &mut conn;
    // Carol has a work email and an example.com email, but not one element with both.
    assert_eq!(
        rows_in(c, r#"emails[type eq "work" and value co "EXAMPLE"]"#).await,
        [ALICE]
    );
    assert_eq!(
        rows_in(c, r#"emails[type eq "work" or value co "example"]"#).await,
        [ALICE, BOB, CAROL]
    );
    assert_eq!(rows_in(c, r#"emails[type eq "home"]"#).await, [ALICE, BOB]);
    assert_eq!(rows_in(c, r#"emails[primary eq true]"#).await, [ALICE]);
    assert_eq!(
        rows_in(c, r#"emails[primary ne true]"#).await,
        [ALICE, BOB, CAROL]
    );
    assert_eq!(rows_in(c, r#"emails[value pr]"#).await, [ALICE, BOB, CAROL]);
    assert_eq!(
        rows_in(c, r#"not (emails[type eq "work"])"#).await,
        [BOB, ODD]
    );
    assert_eq!(
        rows_in(c, r#"emails[type eq "work"] and userName sw "a""#).await,
        [ALICE]
    );
}

#[tokio::test]
async fn an_attribute_after_the_brackets_and_a_flat_sub_attribute_use_the_elements() {
    let (_app, mut conn) = with_emails().await;
    let c = &mut conn;
    assert_eq!(
        rows_in(c, r#"emails[type eq "work"].value eq "CAROL@other.org""#).await,
        [CAROL]
    );
    assert!(
        rows_in(c, r#"emails[type eq "home"].value eq "carol@other.org""#)
            .await
            .is_empty()
    );
    assert_eq!(
        rows_in(c, r#"emails[type eq "home"].value ew ".org""#).await,
        [ALICE]
    );
    // `emails.type` has no column of its own: it is `emails[type …]`.
    assert_eq!(rows_in(c, r#"emails.type eq "other""#).await, [CAROL]);
    // `emails.value` keeps its column.
    assert_eq!(
        rows_in(c, r#"emails.value eq "c@example.com""#).await,
        [ODD]
    );
}

#[tokio::test]
async fn value_paths_refuse_unknown_sub_attributes_nesting_and_bad_values() {
    let (_app, mut conn) = with_emails().await;
    let c = &mut conn;
    let refused_in = |e: ScimError, filter: &str| {
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter)),
            "{filter}"
        );
        e.detail
    };
    for (filter, names) in [
        (r#"emails[display eq "x"]"#, "emails.display"),
        (r#"emails.display eq "x""#, "emails.display"),
        (r#"phoneNumbers[type eq "work"]"#, "phoneNumbers.type"),
        (r#"emails[primary eq "maybe"]"#, "emails.primary"),
        (r#"emails[type eq "work"].display eq "x""#, "emails.display"),
    ] {
        let detail = refused_in(select_in(c, filter).await.unwrap_err(), filter);
        assert!(detail.contains(names), "{filter}: {detail}");
    }
    let nested = r#"emails[value eq "x" and emails[type eq "work"]]"#;
    let detail = refused_in(select_in(c, nested).await.unwrap_err(), nested);
    assert!(detail.contains("nest"), "{detail}");
    assert!(
        rows_in(c, r#"emails[value eq "x') or true or ('"]"#)
            .await
            .is_empty()
    );
    assert_eq!(
        rows_in(c, "userName pr").await.len(),
        4,
        "the table is intact"
    );
}
