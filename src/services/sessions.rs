//! Browser sign-in and sessions. A person proves who they are through a
//! `SignInMethod` (today an emailed single-use link, or the demo's dev sign-in; OIDC
//! later plugs in as another method that ends in `open_session`), and gets a session
//! whose random token lives only in an HttpOnly cookie (the database keeps its hash).
//!
//! Invariants: asking for a link never reveals whether the address exists; a link
//! opens at most one session and only within 15 minutes; a session works only while
//! its user is active (checked on every request) and is revoked when they are
//! deactivated; sign-in limits are kept in Postgres, so every replica enforces the
//! same ones, and they can only hold back whoever sends the requests: an address is
//! sent at most one email per cooldown (asking more often is answered the same and
//! sends nothing, so nobody can lock a person out by asking for them), and a client
//! address that asks too often is refused for a while.

use std::net::{IpAddr, Ipv6Addr};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::audit::{self, Entry};
use super::notify::{self, Notice};
use super::{Actor, Caller, ServiceError, ServiceResult, links, roles};
use crate::db::sessions::{Session, SignInLink};
use crate::db::tenants::Tenant;
use crate::db::users::User;
use crate::db::{self, Conn, PageRequest};
use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::ids::{TenantId, UserId};
use crate::domain::values::EmailAddress;

/// How long an emailed sign-in link works.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);
/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// The window of the per-client limit.
pub const RATE_WINDOW: Duration = Duration::minutes(15);
/// Sign-in emails one client address may ask for per window.
pub const MAX_PER_CLIENT: i64 = 30;
/// The least time between two sign-in emails to one person.
pub const EMAIL_COOLDOWN: Duration = Duration::seconds(60);

/// How a person proved who they are; recorded on the session. Every method's
/// last step is `open_session`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    EmailLink,
    /// Demo mode only: pick a user from a list.
    Dev,
    /// The tenant's identity provider (OpenID Connect).
    Oidc,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailLink => "emailLink",
            Self::Dev => "dev",
            Self::Oidc => "oidc",
        }
    }
}

/// What asking for a sign-in email did. `Sent` is answered whether or not the address
/// belongs to anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRequest {
    Sent,
    /// Too many emails asked for from this client address in the last 15 minutes.
    RateLimited,
}

/// An open session: the plain cookie token (never stored) and its CSRF token.
#[derive(Clone, Debug)]
pub struct OpenedSession {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
}

/// The caller behind a session cookie.
#[derive(Clone, Debug)]
pub struct SessionAuth {
    pub caller: Caller,
    pub session_id: Uuid,
    pub csrf_token: String,
}

/// What a sign-in link is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Valid,
    Used,
    Expired,
}

fn tenant_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("tenant"))
}

fn link_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("sign-in link"))
}

/// The tenant with `slug`, or 404.
#[tracing::instrument(skip_all)]
pub async fn tenant(pool: &PgPool, slug: &str) -> ServiceResult<Tenant> {
    let mut conn = pool.acquire().await?;
    db::tenants::by_slug(&mut conn, slug)
        .await?
        .ok_or_else(tenant_not_found)
}

/// The key a client address is counted under: an IPv4 address itself, an IPv6
/// address by its /64, which is what one subscriber line usually gets (counting each
/// address of it alone would give one sender billions of budgets).
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// Asks for a sign-in email to `email` in tenant `slug` from `client_ip`. A client
/// address over its limit is refused. Otherwise the attempt is recorded (so the
/// client limit counts unknown addresses too) and, if an active user has this address
/// and was not sent a link within the cooldown, the email is queued with a fresh
/// single-use link. Within the cooldown the answer is the same `Sent`: the person
/// already has a link from less than a minute ago, whoever asked for it.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn request_link(
    pool: &PgPool,
    slug: &str,
    email: &str,
    client_ip: Option<IpAddr>,
    now: DateTime<Utc>,
) -> ServiceResult<LinkRequest> {
    let email = EmailAddress::parse(email).map_err(|e| DomainError::field("email", e.0))?;
    let key = email.as_str().to_lowercase();
    let client = client_ip.map(client_key);
    let mut tx = pool.begin().await?;
    let tenant = db::tenants::by_slug(&mut tx, slug)
        .await?
        .ok_or_else(tenant_not_found)?;
    db::sessions::lock_attempts(&mut tx, tenant.id, &key).await?;
    if let Some(client) = client.as_deref()
        && db::sessions::count_client_attempts(&mut tx, client, now - RATE_WINDOW).await?
            >= MAX_PER_CLIENT
    {
        return Ok(LinkRequest::RateLimited);
    }
    db::sessions::prune_attempts(&mut tx, now - Duration::days(1)).await?;
    db::sessions::insert_attempt(&mut tx, tenant.id, &key, client.as_deref(), now).await?;
    if let Some(user) = db::users::by_email(&mut tx, tenant.id, email.as_str()).await?
        && user.active
        && db::sessions::last_link_at(&mut tx, tenant.id, user.id)
            .await?
            .is_none_or(|at| now - at >= EMAIL_COOLDOWN)
    {
        let token = links::new_token();
        let link = SignInLink {
            tenant_id: tenant.id,
            id: Uuid::now_v7(),
            user_id: user.id,
            token_hash: links::hash(&token),
            expires_at: now + LINK_LIFETIME,
            used_at: None,
            created_at: now,
        };
        db::sessions::insert_link(&mut tx, &link).await?;
        notify::enqueue(
            &mut tx,
            tenant.id,
            user.id,
            &Notice::SignInLink { token },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(LinkRequest::Sent)
}

async fn load_link(conn: &mut Conn, slug: &str, token: &str) -> ServiceResult<SignInLink> {
    let tenant = db::tenants::by_slug(conn, slug)
        .await?
        .ok_or_else(tenant_not_found)?;
    db::sessions::link_by_hash(conn, tenant.id, &links::hash(token))
        .await?
        .ok_or_else(link_not_found)
}

fn link_state(link: &SignInLink, now: DateTime<Utc>) -> LinkState {
    if link.used_at.is_some() {
        LinkState::Used
    } else if link.expires_at <= now {
        LinkState::Expired
    } else {
        LinkState::Valid
    }
}

/// What the link `token` is now (opening it changes nothing: mail scanners open links).
#[tracing::instrument(skip_all)]
pub async fn check_link(
    pool: &PgPool,
    slug: &str,
    token: &str,
    now: DateTime<Utc>,
) -> ServiceResult<LinkState> {
    let mut conn = pool.acquire().await?;
    let link = load_link(&mut conn, slug, token).await?;
    Ok(link_state(&link, now))
}

/// Uses the link `token` and opens a session for its user. `Ok(Err(state))` when the
/// link is used or expired, or its user has been deactivated since.
#[tracing::instrument(skip_all)]
pub async fn consume_link(
    pool: &PgPool,
    slug: &str,
    token: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Result<OpenedSession, LinkState>> {
    let mut tx = pool.begin().await?;
    let link = load_link(&mut tx, slug, token).await?;
    let state = link_state(&link, now);
    if state != LinkState::Valid {
        return Ok(Err(state));
    }
    if !db::sessions::use_link(&mut tx, link.tenant_id, link.id, now).await? {
        return Ok(Err(LinkState::Used));
    }
    let user = db::users::lock(&mut tx, link.tenant_id, link.user_id)
        .await?
        .filter(|u| u.active);
    let Some(user) = user else {
        // Used up, and no session for a deactivated user.
        tx.commit().await?;
        return Ok(Err(LinkState::Expired));
    };
    let opened = open_session(&mut tx, user, SignInMethod::EmailLink, now).await?;
    tx.commit().await?;
    Ok(Ok(opened))
}

/// Opens a session for `user` (who has just proved who they are by `method`) in the
/// caller's transaction, and records the sign-in.
#[tracing::instrument(skip_all)]
pub async fn open_session(
    conn: &mut Conn,
    mut user: User,
    method: SignInMethod,
    now: DateTime<Utc>,
) -> ServiceResult<OpenedSession> {
    let token = links::new_token();
    let csrf_token = links::new_token();
    let session = Session {
        tenant_id: user.tenant_id,
        id: Uuid::now_v7(),
        user_id: user.id,
        token_hash: links::hash(&token),
        csrf_token: csrf_token.clone(),
        method: method.as_str().into(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_LIFETIME,
        revoked_at: None,
    };
    db::sessions::insert_session(conn, &session).await?;
    db::users::touch_sign_in(conn, user.tenant_id, user.id, now).await?;
    user.last_sign_in_at = Some(now);
    audit::record(
        conn,
        user.tenant_id,
        Actor::User {
            id: user.id,
            token: None,
        },
        Entry {
            action: AuditAction::SessionCreated,
            target: Target::User(user.id),
            details: json!({"method": method.as_str(), "sessionId": session.id}),
        },
        now,
    )
    .await?;
    Ok(OpenedSession {
        token,
        csrf_token,
        user,
    })
}

/// Resolves a session cookie to its caller in tenant `slug`. A session of another
/// tenant, a revoked or expired one, one unused for longer than `idle`, or one whose
/// user is deactivated, is refused.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    pool: &PgPool,
    slug: &str,
    token: &str,
    idle: std::time::Duration,
    now: DateTime<Utc>,
) -> ServiceResult<SessionAuth> {
    let denied = || ServiceError::Unauthenticated("Please sign in.".into());
    let mut conn = pool.acquire().await?;
    let tenant = db::tenants::by_slug(&mut conn, slug)
        .await?
        .ok_or_else(tenant_not_found)?;
    let session = db::sessions::session_by_hash(&mut conn, &links::hash(token))
        .await?
        .filter(|s| {
            s.tenant_id == tenant.id
                && s.revoked_at.is_none()
                && s.expires_at > now
                && !idle_too_long(s.last_seen_at, idle, now)
        })
        .ok_or_else(denied)?;
    let user = db::users::get(&mut conn, tenant.id, session.user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(denied)?;
    let roles = roles::roles_of(&mut conn, tenant.id, user.id).await?;
    db::sessions::touch_session(&mut conn, tenant.id, session.id, now).await?;
    Ok(SessionAuth {
        caller: Caller {
            tenant,
            user,
            roles,
            token: None,
        },
        session_id: session.id,
        csrf_token: session.csrf_token,
    })
}

/// Whether a session last seen at `last_seen` has gone unused for longer than `idle`.
/// `last_seen` is written at most once a minute, so the limit holds to within a minute.
fn idle_too_long(last_seen: DateTime<Utc>, idle: std::time::Duration, now: DateTime<Utc>) -> bool {
    Duration::from_std(idle).is_ok_and(|idle| now - last_seen > idle)
}

/// Ends the caller's session.
#[tracing::instrument(skip_all)]
pub async fn sign_out(
    pool: &PgPool,
    tenant: TenantId,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut conn = pool.acquire().await?;
    db::sessions::revoke_session(&mut conn, tenant, session_id, now).await?;
    Ok(())
}

/// Demo mode: the active users of tenant `slug` to pick from.
#[tracing::instrument(skip_all)]
pub async fn dev_users(pool: &PgPool, slug: &str) -> ServiceResult<Vec<User>> {
    let mut conn = pool.acquire().await?;
    let tenant = db::tenants::by_slug(&mut conn, slug)
        .await?
        .ok_or_else(tenant_not_found)?;
    let page = db::users::list(&mut conn, tenant.id, None, PageRequest::first(200)).await?;
    let mut users: Vec<User> = page.items.into_iter().filter(|u| u.active).collect();
    users.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(users)
}

/// Demo mode: signs in as `user` of tenant `slug` without a link.
#[tracing::instrument(skip_all)]
pub async fn dev_sign_in(
    pool: &PgPool,
    slug: &str,
    user: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<OpenedSession> {
    let mut tx = pool.begin().await?;
    let tenant = db::tenants::by_slug(&mut tx, slug)
        .await?
        .ok_or_else(tenant_not_found)?;
    let user = db::users::lock(&mut tx, tenant.id, user)
        .await?
        .filter(|u| u.active)
        .ok_or(ServiceError::Domain(DomainError::NotFound("user")))?;
    let opened = open_session(&mut tx, user, SignInMethod::Dev, now).await?;
    tx.commit().await?;
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn clients_are_counted_by_ipv4_address_and_ipv6_slash_64() {
        let key = |s: &str| client_key(s.parse().expect("ip"));
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::7"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn sessions_unused_for_longer_than_the_idle_limit_are_refused() {
        let seen = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        let hour = std::time::Duration::from_secs(3600);
        assert!(!idle_too_long(seen, hour, seen + Duration::minutes(60)));
        assert!(idle_too_long(seen, hour, seen + Duration::minutes(61)));
    }

    #[test]
    fn notices_of_sign_in_links_serialise_with_their_template_name() {
        let v = serde_json::to_value(Notice::SignInLink { token: "t".into() }).expect("json");
        assert_eq!(v["template"], "signInLink");
        assert_eq!(v["token"], "t");
    }
}
