//! Streaming a tenant's audit log to its SIEM: `GET, PUT /tenant/auditStream` and the
//! delivery the scheduler runs. Each delivery POSTs `{tenant, events: [...]}`, signed
//! like the webhook connectors (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`), with the next events of the tenant in commit-safe order (see
//! `db::audit_stream`). The cursor moves only after a 2xx answer, so every event is
//! delivered at least once and in order; a failure is retried with the webhooks'
//! backoff and shown (last error, attempts) to the tenant's admins. The signing secret
//! is sealed with the tenant's context and never shown again after it is generated.

use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::RngCore;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::connectors::outbound::Outbound;
use crate::connectors::webhook;
use crate::crypto::Keys;
use crate::db;
use crate::db::audit_stream::{AuditStreamRow, Claimed, StreamEvent};
use crate::domain::FieldErrors;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::TenantId;
use crate::services::tx::Work;
use crate::services::{Caller, ServiceResult};

/// Events sent in one delivery at most.
pub const EVENTS_PER_DELIVERY: i64 = 200;

fn secret_context(tenant: TenantId) -> String {
    format!("audit_streams.secret/{tenant}")
}

/// What a tenant admin sees of the stream.
#[derive(Clone, Debug)]
pub struct StreamView {
    pub url: String,
    pub enabled: bool,
    pub secret_set: bool,
    /// Failed attempts since the last delivery.
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub delivered_events: i64,
    pub updated_at: DateTime<Utc>,
}

fn view(row: &AuditStreamRow) -> StreamView {
    StreamView {
        url: row.url.clone(),
        enabled: row.enabled,
        secret_set: !row.secret.is_empty(),
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error.clone(),
        last_delivered_at: row.last_delivered_at,
        delivered_events: row.delivered_events,
        updated_at: row.updated_at,
    }
}

/// The stream's settings as sent: a left-out secret is kept, or generated for a new
/// stream.
#[derive(Clone, Debug, Default)]
pub struct StreamInput {
    pub url: String,
    pub enabled: bool,
    pub secret: Option<String>,
}

/// The stream after a change, with the secret when Portico generated it (shown once).
#[derive(Clone, Debug)]
pub struct Saved {
    pub stream: StreamView,
    pub generated_secret: Option<String>,
}

/// The tenant's stream, if set up (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller) -> ServiceResult<Option<StreamView>> {
    caller.require(Action::ManageDirectory)?;
    let mut conn = pool.acquire().await?;
    let row = db::audit_stream::get(&mut conn, caller.tenant_id()).await?;
    Ok(row.as_ref().map(view))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Sets up or changes the tenant's stream (tenant admins); every bad field is named
/// (422). Audited without the URL's path or query or the secret.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn put(
    pool: &PgPool,
    keys: &Keys,
    http: &Outbound,
    caller: &Caller,
    input: StreamInput,
    now: DateTime<Utc>,
) -> ServiceResult<Saved> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    let url = input.url.trim().to_string();
    let host = match http.check_url(&url) {
        Ok(u) => u.host_str().unwrap_or_default().to_string(),
        Err(e) => {
            errors.add("url", e.to_string());
            String::new()
        }
    };
    let secret = input
        .secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(s) = secret
        && s.chars().count() < 24
    {
        errors.add(
            "secret",
            "use at least 24 characters (or leave it out to have one generated)",
        );
    }
    errors.into_result()?;
    let mut work = Work::begin(pool, tenant, now).await?;
    let existing = db::audit_stream::get(work.conn(), tenant).await?;
    let context = secret_context(tenant);
    let (sealed, generated) = match (secret, &existing) {
        (Some(s), _) => (keys.seal(s, &context), None),
        (None, Some(row)) => (row.secret.clone(), None),
        (None, None) => {
            let s = generate_secret();
            (keys.seal(&s, &context), Some(s))
        }
    };
    let row =
        db::audit_stream::upsert(work.conn(), tenant, &url, &sealed, input.enabled, now).await?;
    work.audit(
        AuditAction::AuditStreamSet,
        Target::Tenant(tenant),
        json!({
            "host": host,
            "enabled": input.enabled,
            "created": existing.is_none(),
            "urlChanged": existing.as_ref().is_some_and(|r| r.url != url),
            "secretChanged": secret.is_some() || generated.is_some(),
        }),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(Saved {
        stream: view(&row),
        generated_secret: generated,
    })
}

/// An event as the stream ships it (the API's shape).
fn event_json(e: &StreamEvent) -> Value {
    let e = &e.event;
    json!({
        "id": e.id.0,
        "at": e.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "actor": {
            "type": e.actor_type.as_str(),
            "userId": e.actor_id,
            "tokenId": e.actor_token_id,
            "name": e.actor_name,
        },
        "action": e.action.as_str(),
        "targetType": e.target_type.as_str(),
        "targetId": e.target_id,
        "targetName": e.target_name,
        "details": e.details,
        "correlationId": e.correlation_id,
    })
}

/// What one stream's delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Nothing new to ship.
    Idle,
    /// This many events delivered (a full batch means more may be waiting).
    Delivered(usize),
    /// The receiver or the network failed; retried later.
    Failed(String),
}

/// Leases the streams due at `now` (at most `limit`).
#[tracing::instrument(skip_all)]
pub async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> ServiceResult<Vec<Claimed>> {
    let mut conn = pool.acquire().await?;
    Ok(db::audit_stream::claim(&mut conn, now, now + lease, limit).await?)
}

/// Delivers the next events of a claimed stream, then moves its cursor or records the
/// failure with `retry_at`.
#[tracing::instrument(skip_all, fields(tenant = %stream.slug))]
pub async fn deliver(
    pool: &PgPool,
    keys: &Keys,
    http: &Outbound,
    stream: &Claimed,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
) -> ServiceResult<Delivery> {
    let tenant = stream.tenant_id;
    let mut conn = pool.acquire().await?;
    let events = db::audit_stream::next_events(
        &mut conn,
        tenant,
        &stream.cursor_xact,
        stream.cursor_id,
        EVENTS_PER_DELIVERY,
    )
    .await?;
    let Some(last) = events.last() else {
        db::audit_stream::release(&mut conn, tenant).await?;
        return Ok(Delivery::Idle);
    };
    let secret = match keys.open(&stream.secret, &secret_context(tenant)) {
        Ok(s) => s,
        Err(e) => {
            let error = format!("the signing secret no longer opens ({e}): set it again");
            db::audit_stream::failed(&mut conn, tenant, &error, retry_at).await?;
            return Ok(Delivery::Failed(error));
        }
    };
    let body = json!({
        "tenant": stream.slug,
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    });
    let body = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
    // The same batch has the same id on every retry while no event is added to it.
    let id = format!("audit_{}", last.event.id.0);
    let sent = webhook::send(http, &stream.url, &secret, &id, now.timestamp(), &body).await;
    match sent {
        Ok(()) => {
            let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
            db::audit_stream::delivered(
                &mut conn,
                tenant,
                (&stream.cursor_xact, stream.cursor_id),
                (&last.xact, last.event.id.0),
                count,
                now,
            )
            .await?;
            Ok(Delivery::Delivered(events.len()))
        }
        Err(error) => {
            db::audit_stream::failed(&mut conn, tenant, &error, retry_at).await?;
            Ok(Delivery::Failed(error))
        }
    }
}
