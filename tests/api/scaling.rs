//! The schema satisfies Citus's rules for tables distributed by `tenant_id`
//! (docs/scaling.md): every table but the reference and local ones named here has a
//! non-null `tenant_id`, a primary key that includes it, only unique keys (and
//! exclusion constraints) that include it, and foreign keys to other distributed
//! tables that pair `tenant_id` with `tenant_id`; no reference or local table points at
//! a distributed one; and docs/scaling.md distributes exactly these tables. Also: the
//! pool's sessions run in UTC without JIT compilation.

use std::collections::BTreeSet;

use crate::helpers::TestApp;

/// Replicated to every node in full (`create_reference_table`): read by every tenant's
/// requests, never per-tenant.
const REFERENCE_TABLES: [&str; 1] = ["tenants"];

/// Left on the coordinator alone: the migrations' own bookkeeping, and the demo's dev
/// mailbox (a developer tool of one `portico demo` process, keyed by tenant slug, with
/// messages kept for no tenant; never used by a deployment that would run on Citus).
const LOCAL_TABLES: [&str; 2] = ["_sqlx_migrations", "dev_mail_messages"];

/// The distribution column of every other table.
const COLUMN: &str = "tenant_id";

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Distributed,
    Reference,
    Local,
}

fn kind(table: &str) -> Kind {
    if REFERENCE_TABLES.contains(&table) {
        Kind::Reference
    } else if LOCAL_TABLES.contains(&table) {
        Kind::Local
    } else {
        Kind::Distributed
    }
}

/// Every ordinary or partitioned table of the public schema (partitions follow their
/// parent) with whether it has a `tenant_id` column and whether that is `not null`.
async fn tables(app: &TestApp) -> Vec<(String, bool, bool)> {
    sqlx::query_as(
        "select c.relname::text,
                a.attname is not null,
                coalesce(a.attnotnull, false)
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
         left join pg_attribute a on a.attrelid = c.oid and a.attname = $1 and not a.attisdropped
         where c.relkind in ('r', 'p') and not c.relispartition
         order by 1",
    )
    .bind(COLUMN)
    .fetch_all(&app.pool)
    .await
    .expect("tables of the schema")
}

/// Every primary key, unique index (constraint or not) and exclusion constraint:
/// table, index, whether it is the primary key, and whether `tenant_id` is one of its
/// plain key columns (an expression over it does not count: Citus needs the column).
async fn unique_indexes(app: &TestApp) -> Vec<(String, String, bool, bool)> {
    sqlx::query_as(
        "select t.relname::text, x.relname::text, i.indisprimary,
                exists (select 1 from pg_attribute a
                        where a.attrelid = t.oid and a.attname = $1
                          and a.attnum = any ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
         from pg_index i
         join pg_class t on t.oid = i.indrelid
         join pg_class x on x.oid = i.indexrelid
         join pg_namespace n on n.oid = t.relnamespace and n.nspname = 'public'
         where i.indisprimary or i.indisunique or i.indisexclusion
         order by 1, 2",
    )
    .bind(COLUMN)
    .fetch_all(&app.pool)
    .await
    .expect("unique indexes of the schema")
}

/// Every foreign key: table, constraint, referenced table, and whether it pairs the
/// table's `tenant_id` with the referenced table's `tenant_id`.
async fn foreign_keys(app: &TestApp) -> Vec<(String, String, String, bool)> {
    sqlx::query_as(
        "select t.relname::text, c.conname::text, r.relname::text,
                exists (select 1 from generate_subscripts(c.conkey, 1) k
                        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[k]
                        join pg_attribute b on b.attrelid = c.confrelid and b.attnum = c.confkey[k]
                        where a.attname = $1 and b.attname = $1)
         from pg_constraint c
         join pg_class t on t.oid = c.conrelid
         join pg_class r on r.oid = c.confrelid
         join pg_namespace n on n.oid = t.relnamespace and n.nspname = 'public'
         where c.contype = 'f'
         order by 1, 2",
    )
    .bind(COLUMN)
    .fetch_all(&app.pool)
    .await
    .expect("foreign keys of the schema")
}

/// Each broken rule, as `table: rule`.
async fn citus_violations(app: &TestApp) -> Vec<String> {
    let tables = tables(app).await;
    let mut found = Vec::new();
    for name in REFERENCE_TABLES.iter().chain(LOCAL_TABLES.iter()) {
        if !tables.iter().any(|(t, _, _)| t == name) {
            found.push(format!(
                "{name}: listed as a reference or local table but not in the schema"
            ));
        }
    }
    let indexes = unique_indexes(app).await;
    for (table, has_column, not_null) in &tables {
        if kind(table) != Kind::Distributed {
            continue;
        }
        if !has_column {
            found.push(format!(
                "{table}: has no {COLUMN} column to be distributed by"
            ));
            continue;
        }
        if !not_null {
            found.push(format!(
                "{table}: {COLUMN} is nullable (a distributed row needs its distribution value)"
            ));
        }
        match indexes
            .iter()
            .find(|(t, _, primary, _)| t == table && *primary)
        {
            None => found.push(format!("{table}: has no primary key")),
            Some((_, index, _, false)) => found.push(format!(
                "{table}: primary key {index} does not include {COLUMN}"
            )),
            Some(_) => {}
        }
        for (_, index, _, includes) in indexes
            .iter()
            .filter(|(t, _, primary, _)| t == table && !primary)
        {
            if !includes {
                found.push(format!(
                    "{table}: unique index or exclusion constraint {index} does not include {COLUMN}"
                ));
            }
        }
    }
    for (table, constraint, referenced, paired) in foreign_keys(app).await {
        match (kind(&table), kind(&referenced)) {
            (Kind::Distributed, Kind::Distributed) if !paired => found.push(format!(
                "{table}: foreign key {constraint} to the distributed table {referenced} does not pair {COLUMN} with {COLUMN}"
            )),
            (Kind::Distributed, Kind::Local) => found.push(format!(
                "{table}: foreign key {constraint} points at the local table {referenced}"
            )),
            (Kind::Reference | Kind::Local, Kind::Distributed) => found.push(format!(
                "{table}: foreign key {constraint} of a reference or local table points at the distributed table {referenced}"
            )),
            (Kind::Reference, Kind::Local) => found.push(format!(
                "{table}: foreign key {constraint} of a reference table points at the local table {referenced}"
            )),
            _ => {}
        }
    }
    found
}

#[tokio::test]
async fn every_table_can_be_distributed_by_tenant_id_or_is_listed_as_reference_or_local() {
    let app = TestApp::spawn().await;
    let found = citus_violations(&app).await;
    assert!(
        found.is_empty(),
        "the schema breaks Citus's rules (docs/scaling.md):\n{}",
        found.join("\n")
    );
}

/// The check sees what it is meant to see: a table like the ones it passes, broken one
/// rule at a time, is named with that rule.
#[tokio::test]
async fn a_table_that_breaks_a_rule_is_named_with_the_rule() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "create table scaling_probe (id uuid primary key)",
            "scaling_probe: has no tenant_id column",
        ),
        (
            "create table scaling_probe (tenant_id uuid, id uuid not null, primary key (id))",
            "scaling_probe: tenant_id is nullable",
        ),
        (
            "create table scaling_probe (tenant_id uuid not null, id uuid not null)",
            "scaling_probe: has no primary key",
        ),
        (
            "create table scaling_probe (tenant_id uuid not null, id uuid not null, primary key (id))",
            "scaling_probe: primary key scaling_probe_pkey does not include tenant_id",
        ),
        (
            "create table scaling_probe (tenant_id uuid not null, id uuid not null, code text not null,
                 primary key (tenant_id, id), constraint scaling_probe_code_key unique (code))",
            "scaling_probe: unique index or exclusion constraint scaling_probe_code_key does not include tenant_id",
        ),
        (
            "create table scaling_probe (tenant_id uuid not null, id uuid not null, user_id uuid not null,
                 primary key (tenant_id, id),
                 constraint scaling_probe_user_fkey foreign key (user_id, id) references users (id, tenant_id))",
            "scaling_probe: foreign key scaling_probe_user_fkey to the distributed table users does not pair tenant_id with tenant_id",
        ),
    ];
    for (create, expected) in cases {
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&app.pool)
            .await
            .unwrap_or_else(|e| panic!("{create}: {e}"));
        let found = citus_violations(&app).await;
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected} not among {found:?}"
        );
        sqlx::query("drop table scaling_probe")
            .execute(&app.pool)
            .await
            .expect("drop the probe");
    }
    assert!(citus_violations(&app).await.is_empty());
}

/// The names inside `function('...'` calls of docs/scaling.md.
fn named_in_docs(text: &str, function: &str) -> BTreeSet<String> {
    let opening = format!("{function}('");
    text.split(opening.as_str())
        .skip(1)
        .filter_map(|rest| rest.split('\'').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn docs_scaling_distributes_exactly_the_tables_of_the_schema() {
    let app = TestApp::spawn().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scaling.md");
    let text = std::fs::read_to_string(&path).expect("docs/scaling.md");
    let tables = tables(&app).await;
    let of_kind = |k: Kind| -> BTreeSet<String> {
        tables
            .iter()
            .filter(|(t, _, _)| kind(t) == k)
            .map(|(t, _, _)| t.clone())
            .collect()
    };
    for (function, k) in [
        ("create_distributed_table", Kind::Distributed),
        ("create_reference_table", Kind::Reference),
    ] {
        let named = named_in_docs(&text, function);
        let expected = of_kind(k);
        let missing: Vec<&String> = expected.difference(&named).collect();
        let extra: Vec<&String> = named.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/scaling.md: {function} is missing for {missing:?} and names {extra:?}, which the schema does not have as such"
        );
    }
    for local in LOCAL_TABLES {
        assert!(
            text.contains(&format!("`{local}`")),
            "docs/scaling.md does not explain the local table {local}"
        );
    }
}

/// Portico's sessions never JIT-compile a plan: its statements are short, and compiling
/// one whose estimate passes `jit_above_cost` costs more than running it.
#[tokio::test]
async fn the_pool_s_sessions_run_in_utc_without_jit_compilation() {
    let app = TestApp::spawn().await;
    let (zone, jit): (String, String) =
        sqlx::query_as("select current_setting('TimeZone'), current_setting('jit')")
            .fetch_one(&app.pool)
            .await
            .expect("settings");
    assert_eq!((zone.as_str(), jit.as_str()), ("UTC", "off"));
}
