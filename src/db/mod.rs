//! Persistence: sqlx only, runtime-checked queries with explicit row types. Every
//! function of a tenant-owned aggregate takes the `TenantId` and filters by it, so no
//! query can reach another tenant's rows.

pub mod assignments;
pub mod attention;
pub mod audit;
pub mod audit_stream;
pub mod backlog;
pub mod catalogs;
pub mod chat;
pub mod config;
pub mod delivery;
pub mod dev_mail;
pub mod embedded;
pub mod extensions;
pub mod groups;
pub mod identity;
pub mod links;
pub mod outbox;
pub mod packages;
pub mod portal;
pub mod reports;
pub mod requests;
pub mod reviews;
pub mod roles;
pub mod scim_directory;
pub mod scim_filter;
pub mod scim_tokens;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use crate::domain::ids::*;
pub use crate::paging::{Page, PageRequest};

/// Lets the typed ids of `domain::ids` travel to and from Postgres `uuid` columns
/// without `domain` depending on sqlx.
macro_rules! sqlx_id {
    ($($name:ident),*) => {$(
        impl sqlx::Type<Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <Uuid as sqlx::Type<Postgres>>::type_info()
            }
        }
        impl<'q> sqlx::Encode<'q, Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <Uuid as sqlx::Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
            }
        }
        impl<'r> sqlx::Decode<'r, Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                <Uuid as sqlx::Decode<'r, Postgres>>::decode(value).map(Self)
            }
        }
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <Uuid as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
    )*};
}
crate::for_each_id!(sqlx_id);

/// Lets the state enums of `domain` travel as Postgres `text` (each column has a CHECK
/// listing its values) without `domain` depending on sqlx. A value this version does
/// not know is a decoding error, never a default.
macro_rules! sqlx_text_enum {
    ($($name:ty),*) => {$(
        impl sqlx::Type<Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<Postgres>>::compatible(ty)
            }
        }
        impl<'q> sqlx::Encode<'q, Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <&str as sqlx::Decode<'r, Postgres>>::decode(value)?;
                <$name>::parse(raw).ok_or_else(|| {
                    format!("unknown {} '{raw}' in the database", stringify!($name)).into()
                })
            }
        }
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
            fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }
    )*};
}
sqlx_text_enum!(
    crate::domain::audit::ActorType,
    crate::domain::audit::AuditAction,
    crate::domain::audit::TargetType,
    crate::domain::values::UserKind,
    crate::domain::authz::Role,
    crate::domain::policy::DecisionRule,
    crate::domain::request::RequestType,
    crate::domain::request::RequestState,
    crate::domain::request::StageState,
    crate::domain::request::Decision,
    crate::domain::assignment::AssignmentState,
    crate::domain::assignment::RemovalReason,
    crate::domain::assignment::GrantState,
    crate::domain::review::ReviewState,
    crate::domain::review::IfNoResponseValue,
    crate::domain::review::ItemDecision,
    crate::domain::review::AppliedResult,
    crate::domain::chat::ChatMessageState,
    crate::domain::outbox::OutboxKind,
    crate::domain::extension::ExtensionBehavior,
    crate::domain::extension::CallbackOutcome,
    crate::domain::extension::ExtensionStage,
    crate::domain::extension::CallbackState,
    crate::domain::outbox::OutboxState
);

pub type Tx<'a> = sqlx::Transaction<'a, Postgres>;
pub use sqlx::PgConnection as Conn;

/// A persistence failure, with constraint violations named so services can turn them
/// into messages a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("row not found")]
    NotFound,
    #[error("unique constraint {0} violated")]
    Unique(String),
    #[error("foreign key {0} violated")]
    ForeignKey(String),
    #[error("check constraint {0} violated")]
    Check(String),
    /// Text PostgreSQL cannot store (a NUL character).
    #[error("the text holds a character the database cannot store")]
    UnstorableText,
    #[error(transparent)]
    Other(sqlx::Error),
}

/// Whether PostgreSQL refused a character it cannot store in text: SQLSTATE 22021
/// `character_not_in_repertoire` (NUL in text) or 22P05 `untranslatable_character`
/// (`\u0000` in jsonb).
pub fn is_unstorable_text(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")))
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            e if is_unstorable_text(e) => Self::UnstorableText,
            sqlx::Error::Database(db) => {
                let constraint = db.constraint().unwrap_or_default().to_string();
                match db.code().as_deref() {
                    Some("23505") => Self::Unique(constraint),
                    Some("23503") => Self::ForeignKey(constraint),
                    Some("23514") => Self::Check(constraint),
                    _ => Self::Other(e),
                }
            }
            _ => Self::Other(e),
        }
    }
}

impl DbError {
    pub fn is_unique(&self, constraint: &str) -> bool {
        matches!(self, Self::Unique(c) if c == constraint)
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A connection idle longer than this is checked (one round trip) before it is used
/// again; one in steady use is not, which saves a round trip on every acquire.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens the pool: `max` connections, each session in UTC and without JIT compilation
/// (Portico's statements are short; once a plan's estimate passes `jit_above_cost`,
/// compiling it costs tens of milliseconds, more than the statement itself).
pub async fn connect(options: PgConnectOptions, max: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options.options([("timezone", "UTC"), ("jit", "off")]))
        .await
}

/// Whether the database answers (readiness).
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(pool)
        .await
        .map(|_| ())
}

/// Applies the embedded migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await
}

/// Gives the runtime role (the one `serve` connects as, `PORTICO_RUNTIME_DATABASE_URL`)
/// what the application needs and no more: rows of every table, but the audit log only
/// to read and append; no DDL (it owns nothing, so it can neither alter tables nor
/// disable the audit log's triggers). Run by the owner after every migration.
pub async fn grant_runtime_role(pool: &PgPool, role: &str) -> Result<(), sqlx::Error> {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    let mut tx = pool.begin().await?;
    for statement in [
        format!("grant usage on schema public to {role}"),
        format!("grant select, insert, update, delete on all tables in schema public to {role}"),
        format!("grant usage, select on all sequences in schema public to {role}"),
        format!("revoke update, delete, truncate, references, trigger on audit_events from {role}"),
        format!("revoke insert, update, delete, truncate on _sqlx_migrations from {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// The embedded migrator (tests build template databases from it).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Creates `name` on the server of `admin` (a connection to another database) unless
/// it exists.
pub async fn ensure_database(admin: PgConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(&admin).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = name.replace('"', "\"\"");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{quoted}\"")))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await
}

/// `%term%` for ILIKE, with LIKE's wildcards escaped.
pub fn like_pattern(term: &str) -> String {
    let escaped = term
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A column list (`"a, b"`) with each column qualified by `alias` (`"t.a, t.b"`).
pub(crate) fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
