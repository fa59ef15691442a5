//! Typed states (CONVENTIONS.md §5): every enumerated state column of the schema lists
//! exactly the values of its Rust enum, and a value the enum does not know (a newer
//! version's, a bad restore) makes the read fail, never turns into a default.

use std::collections::BTreeSet;

use portico::domain::assignment::{AssignmentState, GrantState, RemovalReason};
use portico::domain::audit::ActorType;
use portico::domain::authz::Role;
use portico::domain::chat::ChatMessageState;
use portico::domain::extension::{
    CallbackOutcome, CallbackState, ExtensionBehavior, ExtensionStage,
};
use portico::domain::outbox::{OutboxKind, OutboxState};
use portico::domain::policy::DecisionRule;
use portico::domain::request::{Decision, RequestState, RequestType, StageState};
use portico::domain::review::{AppliedResult, IfNoResponseValue, ItemDecision, ReviewState};
use portico::domain::values::UserKind;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{decide, group_package, open_policy, request};
use crate::helpers::{TestApp, TestTenant, uuid_of};

/// The texts of every value of a `string_enum`.
macro_rules! texts {
    ($name:ty) => {
        <$name>::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<BTreeSet<&'static str>>()
    };
}

/// Each state column with the values of its enum.
fn state_columns() -> Vec<(&'static str, &'static str, BTreeSet<&'static str>)> {
    vec![
        ("assignment_requests", "request_type", texts!(RequestType)),
        ("assignment_requests", "state", texts!(RequestState)),
        ("request_stages", "state", texts!(StageState)),
        ("request_stages", "decision_rule", texts!(DecisionRule)),
        ("stage_decisions", "decision", texts!(Decision)),
        ("assignments", "state", texts!(AssignmentState)),
        ("assignments", "removal_reason", texts!(RemovalReason)),
        ("assignment_grants", "state", texts!(GrantState)),
        ("access_reviews", "state", texts!(ReviewState)),
        (
            "access_reviews",
            "if_no_response",
            texts!(IfNoResponseValue),
        ),
        ("access_review_items", "decision", texts!(ItemDecision)),
        ("access_review_items", "recommendation", texts!(Decision)),
        (
            "access_review_items",
            "applied_result",
            texts!(AppliedResult),
        ),
        ("outbox", "state", texts!(OutboxState)),
        ("outbox", "kind", texts!(OutboxKind)),
        ("users", "kind", texts!(UserKind)),
        ("role_assignments", "role", texts!(Role)),
        ("audit_events", "actor_type", texts!(ActorType)),
        ("chat_messages", "state", texts!(ChatMessageState)),
        ("custom_extensions", "behavior", texts!(ExtensionBehavior)),
        ("custom_extensions", "on_timeout", texts!(CallbackOutcome)),
        ("request_callbacks", "stage", callback_stages()),
        ("request_callbacks", "on_timeout", texts!(CallbackOutcome)),
        ("request_callbacks", "outcome", texts!(CallbackOutcome)),
        ("request_callbacks", "state", texts!(CallbackState)),
    ]
}

/// The stages at which a request can be held (the others have no request to hold).
fn callback_stages() -> BTreeSet<&'static str> {
    ExtensionStage::ALL
        .iter()
        .filter(|s| s.can_wait())
        .map(|s| s.as_str())
        .collect()
}

/// Enumerated text columns that hold no state (kinds, relations, methods).
const NOT_STATES: [(&str, &str); 6] = [
    ("resources", "kind"),
    ("resources", "connector"),
    ("resource_roles", "group_relation"),
    ("sessions", "method"),
    ("identity_providers", "kind"),
    ("oidc_flows", "purpose"),
];

/// Every single-column CHECK that lists values (`col in ('a', 'b')`, which PostgreSQL
/// keeps as `col = ANY (ARRAY['a'::text, 'b'::text])`): table, column and the listed
/// values.
async fn listed_values(app: &TestApp) -> Vec<(String, String, BTreeSet<String>)> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select t.relname::text, a.attname::text, pg_get_constraintdef(c.oid)
         from pg_constraint c
         join pg_class t on t.oid = c.conrelid
         join pg_namespace n on n.oid = t.relnamespace and n.nspname = 'public'
         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
         where c.contype = 'c' and cardinality(c.conkey) = 1
           and pg_get_constraintdef(c.oid) like '%= ANY (ARRAY[%'
         order by 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .expect("check constraints");
    rows.into_iter()
        .map(|(table, column, definition)| {
            // The listed values are the quoted parts: every second piece between quotes.
            let values = definition
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (table, column, values)
        })
        .collect()
}

#[tokio::test]
async fn every_state_column_lists_exactly_the_values_of_its_enum() {
    let app = TestApp::spawn().await;
    let listed = listed_values(&app).await;
    for (table, column, values) in state_columns() {
        let found: Vec<&BTreeSet<String>> = listed
            .iter()
            .filter(|(t, c, _)| t == table && c == column)
            .map(|(_, _, v)| v)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one CHECK lists the values of {table}.{column}"
        );
        let expected: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            found[0], &expected,
            "{table}.{column}: the schema and the enum disagree"
        );
    }
    // A new enumerated column is either a state with its enum or named here as none.
    for (table, column, _) in &listed {
        let known = state_columns()
            .iter()
            .any(|(t, c, _)| t == table && c == column)
            || NOT_STATES.contains(&(table.as_str(), column.as_str()));
        assert!(known, "{table}.{column} lists values but has no enum here");
    }
}

/// Drops the CHECKs that involve `table.column` (if not yet dropped) and writes a value no version knows
/// into the rows where `key = id`; returns what was there, for `restore`.
async fn write_unknown(
    app: &TestApp,
    table: &str,
    column: &str,
    key: &str,
    id: Uuid,
) -> Option<String> {
    let checks: Vec<String> = sqlx::query_scalar(
        "select c.conname::text from pg_constraint c
         join pg_class t on t.oid = c.conrelid
         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
         where c.contype = 'c' and t.relname = $1 and a.attname = $2",
    )
    .bind(table)
    .bind(column)
    .fetch_all(&app.pool)
    .await
    .expect("checks of the column");
    for name in checks {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "alter table {table} drop constraint {name}"
        )))
        .execute(&app.pool)
        .await
        .expect("drop check");
    }
    let before: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select {column} from {table} where {key} = $1 limit 1"
    )))
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap_or_else(|e| panic!("{table}.{column} where {key} = {id}: {e}"));
    let written = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {table} set {column} = 'bogus' where {key} = $1"
    )))
    .bind(id)
    .execute(&app.pool)
    .await
    .expect("unknown value")
    .rows_affected();
    assert!(written > 0, "no row of {table} with {key} = {id}");
    before
}

async fn restore(
    app: &TestApp,
    table: &str,
    column: &str,
    key: &str,
    id: Uuid,
    value: Option<String>,
) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {table} set {column} = $2 where {key} = $1"
    )))
    .bind(id)
    .bind(value)
    .execute(&app.pool)
    .await
    .expect("restore");
}

/// With an unknown value in `table.column` (rows where `key = id`), every one of
/// `paths` answers 500 for `token`; the value is put back afterwards.
async fn unreadable(
    app: &TestApp,
    token: &str,
    (table, column, key, id): (&str, &str, &str, Uuid),
    paths: &[&str],
) {
    let before = write_unknown(app, table, column, key, id).await;
    for path in paths {
        let (status, body) = app.get(token, path).await;
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{table}.{column} = 'bogus' must not be read as anything: {path} answered {body}"
        );
    }
    restore(app, table, column, key, id, before).await;
    for path in paths {
        let (status, body) = app.get(token, path).await;
        assert_eq!(status, StatusCode::OK, "{path} after restoring: {body}");
    }
}

/// A member of `t` called `name`, at `<first name>@contoso.test`: (id, API token).
async fn member(app: &TestApp, t: &TestTenant, name: &str) -> (Uuid, String) {
    let first = name.split(' ').next().unwrap_or(name).to_lowercase();
    let email = format!("{first}@contoso.test");
    app.user(t, &email, json!({"displayName": name})).await
}

#[tokio::test]
async fn an_unknown_request_type_state_stage_state_or_decision_is_an_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (megan, adele, other) = (
        member(&app, &t, "Megan Bowen").await,
        member(&app, &t, "Adele Vance").await,
        member(&app, &t, "Alex Wilber").await,
    );
    let both = json!([{"type": "user", "id": megan.0}, {"type": "user", "id": other.0}]);
    let pkg = group_package(
        &app,
        &t,
        "All",
        open_policy(json!({"approval": {"stages": [{"approvers": both, "decision": "all"}]}})),
    )
    .await;
    let (status, r) = request(&app, &adele.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    // One of two approvals: the stage holds a decision and stays pending.
    let (status, r) = decide(&app, &megan.1, &r, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "pendingApproval");
    let id = uuid_of(&r["id"]);
    let one = format!("/api/v1/assignmentRequests/{id}");
    let paths = [one.as_str(), "/api/v1/assignmentRequests"];

    for (table, column, key) in [
        ("assignment_requests", "request_type", "id"),
        ("assignment_requests", "state", "id"),
        ("request_stages", "state", "request_id"),
        ("stage_decisions", "decision", "request_id"),
    ] {
        unreadable(&app, &t.admin, (table, column, key, id), &paths).await;
    }

    // Deciding reads the same rows: an unknown stage state decides nothing.
    let before = write_unknown(&app, "request_stages", "state", "request_id", id).await;
    let (status, _) = decide(&app, &other.1, &r, "approve", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let decisions: i64 =
        sqlx::query_scalar("select count(*) from stage_decisions where request_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("decisions");
    assert_eq!(decisions, 1, "the failed decision wrote nothing");
    restore(&app, "request_stages", "state", "request_id", id, before).await;
    let (status, r) = decide(&app, &other.1, &r, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "delivered");
}

#[tokio::test]
async fn an_unknown_assignment_state_removal_reason_or_grant_state_is_an_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let adele = member(&app, &t, "Adele Vance").await;
    let pkg = group_package(&app, &t, "Windows 11 Testing", open_policy(json!({}))).await;
    let (status, r) = request(&app, &adele.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let a = uuid_of(&r["assignmentId"]);
    let one = format!("/api/v1/assignments/{a}");
    let paths = [one.as_str(), "/api/v1/assignments"];

    for (table, column, key) in [
        ("assignments", "state", "id"),
        ("assignments", "removal_reason", "id"),
        ("assignment_grants", "state", "assignment_id"),
    ] {
        unreadable(&app, &t.admin, (table, column, key, a), &paths).await;
    }

    // An assignment in a state this version does not know is neither active nor
    // ended: removing it fails and writes nothing.
    let before = write_unknown(&app, "assignments", "state", "id", a).await;
    let requests = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from assignment_requests")
            .fetch_one(&app.pool)
            .await
            .expect("requests")
    };
    let count = requests().await;
    let (status, _) = app
        .post(
            &adele.1,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": a}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(requests().await, count);
    restore(&app, "assignments", "state", "id", a, before).await;
    let (_, a) = app.get(&t.admin, &one).await;
    assert_eq!(a["state"], "delivered");
}

#[tokio::test]
async fn an_unknown_outbox_state_or_kind_is_an_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (status, list) = app.get(&t.admin, "/api/v1/outbox").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    // A finished row of this tenant that no delivery job touches again.
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, state, next_attempt_at, created_at, completed_at)
         values ($1, $2, 'email', '{}', 'done', now(), now(), now())",
    )
    .bind(t.id)
    .bind(id)
    .execute(&app.pool)
    .await
    .expect("outbox row");
    for (column, filtered) in [
        ("state", "/api/v1/outbox?kind=email"),
        ("kind", "/api/v1/outbox?state=done"),
    ] {
        unreadable(
            &app,
            &t.admin,
            ("outbox", column, "id", id),
            &["/api/v1/outbox", filtered],
        )
        .await;
    }
}

#[tokio::test]
async fn an_unknown_review_state_or_item_value_is_an_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let adele = member(&app, &t, "Adele Vance").await;
    // The first instance starts an hour later, once Adele holds the package.
    let start = app.now() + chrono::Duration::hours(1);
    let pkg = group_package(
        &app,
        &t,
        "Windows 11 Testing",
        open_policy(
            json!({"review": {"startDate": start, "recurrence": "monthly",
            "durationDays": 14, "reviewers": [{"type": "manager"}], "ifNoResponse": "keep",
            "autoApply": false}}),
        ),
    )
    .await;
    let (status, r) = request(&app, &adele.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    app.clock.set(start);
    // This job or the background one starts it.
    let mut review = Value::Null;
    for _ in 0..100 {
        portico::scheduler::reviews::run_once(&app.state, app.now())
            .await
            .expect("review job");
        let (status, list) = app
            .get(
                &t.admin,
                &format!("/api/v1/accessReviews?policyId={}", pkg.policy),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        review = list["items"][0].clone();
        if !review.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(review["state"], "inProgress", "{review}");
    let id = uuid_of(&review["id"]);
    let one = format!("/api/v1/accessReviews/{id}");
    let items = format!("{one}/items");

    for column in ["state", "if_no_response"] {
        unreadable(
            &app,
            &t.admin,
            ("access_reviews", column, "id", id),
            &[one.as_str(), "/api/v1/accessReviews"],
        )
        .await;
    }
    for column in ["decision", "recommendation", "applied_result"] {
        unreadable(
            &app,
            &t.admin,
            ("access_review_items", column, "review_id", id),
            &[items.as_str()],
        )
        .await;
    }
}
