//! `/Users` of the SCIM server: the directory creates, replaces, patches and deletes
//! people. `active: false` and DELETE deactivate exactly as an admin deactivation does
//! (`services::users::end_access_of_deactivated`: assignments end, open requests are
//! canceled, tokens and sessions revoked). DELETE also hides the user from SCIM (a GET
//! answers 404 afterwards, as RFC 7644 §3.6 asks) but never erases them: their history
//! stays, and a later POST with the same email brings the same person back.

use crate::db::assignments::ScopeChange;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::represent::{UserInput, canonical_user, user_input, user_resource};
use super::{Directory, Fail, ScimCounts, ScimResult};
use crate::db::scim_directory::{self as store, Kind, UserChecks, UserDoc};
use crate::db::users::User;
use crate::db::{self};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::ids::UserId;
use crate::domain::scim::filter::Filter;
use crate::domain::values::UserKind;
use crate::services::tx::Work;
use crate::services::users::{end_access_of_deactivated, user_json};

/// A resource written, with what the write counts for in the SCIM activity.
#[derive(Debug)]
pub struct Written {
    pub resource: Value,
    pub counts: ScimCounts,
}

pub(crate) fn parse_id(id: &str) -> ScimResult<UserId> {
    id.parse::<UserId>()
        .map_err(|_| Fail::not_found("user", id))
}

async fn load_locked(work: &mut Work, id: &str) -> ScimResult<UserDoc> {
    let uid = parse_id(id)?;
    let tenant = work.tenant();
    store::lock_user(work.conn(), tenant, uid)
        .await?
        .ok_or_else(|| Fail::not_found("user", id))
}

fn user_name_of<'a>(doc: &'a Value, input: &'a UserInput) -> &'a str {
    doc.get("userName")
        .and_then(Value::as_str)
        .unwrap_or(&input.email)
}

/// The checks of writing `doc` over user `id` (None: a new user), in one statement.
async fn checks(work: &mut Work, id: Option<UserId>, doc: &Value) -> ScimResult<UserChecks> {
    let input = user_input(doc)?;
    let tenant = work.tenant();
    Ok(store::user_checks(
        work.conn(),
        tenant,
        id,
        user_name_of(doc, &input),
        &input.email,
        input.manager_id,
    )
    .await?)
}

/// Writes one user from a canonical document (create when `before` is `None`), once
/// `checks` (`checks()` of the same document and user) pass; returns the user and
/// whether this write deactivated them.
async fn write(
    work: &mut Work,
    before: Option<&User>,
    doc: &Value,
    deleted: Option<DateTime<Utc>>,
    checks: UserChecks,
) -> ScimResult<(User, bool)> {
    let (tenant, now) = (work.tenant(), work.now());
    let input = user_input(doc)?;
    let id = before.map_or_else(UserId::new, |u| u.id);
    if checks.name_taken {
        return Err(Fail::uniqueness(format!(
            "A user with the userName '{}' or the email '{}' already exists.",
            user_name_of(doc, &input),
            input.email
        )));
    }
    if let Some(m) = input.manager_id {
        let bad = |why: String| Fail::bad("invalidValue", why);
        if m == id {
            return Err(bad("A user cannot be their own manager.".into()));
        }
        if !checks.manager_visible {
            // RFC 7644 lets us refuse: a directory sends the manager once they exist
            // (Entra ID provisions managers first and retries references later).
            return Err(bad(format!(
                "The manager '{m}' is not a user of this directory yet."
            )));
        }
        if checks.manager_loop {
            return Err(bad(
                "This manager reports (directly or indirectly) to the user: that would make a loop."
                    .into(),
            ));
        }
    }
    let mut user = before.cloned().unwrap_or(User {
        tenant_id: tenant,
        id,
        email: String::new(),
        display_name: String::new(),
        department: None,
        job_title: None,
        manager_id: None,
        kind: UserKind::Member,
        active: true,
        external_id: None,
        last_sign_in_at: None,
        created_at: now,
        updated_at: now,
        directory_managed: true,
        time_zone: None,
    });
    user.email = input.email;
    user.display_name = input.display_name;
    user.job_title = input.job_title;
    user.kind = input.kind;
    user.department = input.department;
    user.manager_id = input.manager_id;
    user.external_id = input.external_id;
    if input.time_zone.is_some() {
        // The directory's zone, when it sends one; otherwise the person's own choice stays.
        user.time_zone = input.time_zone;
    }
    user.directory_managed = true;
    if let Some(active) = input.active {
        user.active = active;
    }
    if deleted.is_some() {
        user.active = false;
    }
    user.updated_at = now;
    let deactivating = before.is_some_and(|b| b.active) && !user.active;
    if deactivating {
        crate::services::roles::ensure_an_admin_remains(
            work.conn(),
            tenant,
            user.id,
            "deactivating them",
        )
        .await?;
    }
    match before {
        None => {
            db::users::insert(work.conn(), &user).await?;
            work.audit(
                AuditAction::UserCreated,
                Target::User(user.id),
                json!({"after": user_json(&user), "source": "directory"}),
            );
        }
        Some(b) => {
            db::users::update(work.conn(), &user).await?;
            work.audit(
                AuditAction::UserUpdated,
                Target::User(user.id),
                json!({"before": user_json(b), "after": user_json(&user), "source": "directory"}),
            );
        }
    }
    store::set_user_document(work.conn(), tenant, user.id, doc, deleted).await?;
    if deactivating {
        end_access_of_deactivated(work, &user).await?;
    } else if before.is_some_and(|b| b.kind != user.kind) {
        let change = ScopeChange::Users(std::slice::from_ref(&user.id));
        crate::services::scope::remove_left_out(work.conn(), tenant, change, now).await?;
    }
    Ok((user, deactivating))
}

/// POST /Users. An email the directory deleted before brings that person back.
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    dir: &Directory,
    body: &Value,
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<Written> {
    let doc = canonical_user(body)?;
    let mut work = Work::begin(pool, dir.tenant_id(), now).await?;
    let checked = checks(&mut work, None, &doc).await?;
    let revived = match checked.revived {
        Some(id) => db::users::lock(work.conn(), dir.tenant_id(), id).await?,
        None => None,
    };
    let mut doc = doc;
    if revived.is_some() && doc.get("active").is_none() {
        // A person brought back is active unless the directory says otherwise.
        if let Some(m) = doc.as_object_mut() {
            m.insert("active".into(), Value::Bool(true));
        }
    }
    let (user, _) = write(&mut work, revived.as_ref(), &doc, None, checked).await?;
    work.commit(dir.authority()).await?;
    Ok(Written {
        resource: user_resource(&user, Some(&doc), base),
        counts: ScimCounts {
            users_created: 1,
            ..ScimCounts::default()
        },
    })
}

#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn get(pool: &PgPool, dir: &Directory, id: &str, base: &str) -> ScimResult<Value> {
    let uid = parse_id(id)?;
    let mut conn = pool.acquire().await?;
    let found = store::user(&mut conn, dir.tenant_id(), uid)
        .await?
        .ok_or_else(|| Fail::not_found("user", id))?;
    Ok(user_resource(&found.user, found.document(), base))
}

/// One page of users (`offset` from 0) matching `filter`, with the total.
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    dir: &Directory,
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
    base: &str,
) -> ScimResult<(i64, Vec<Value>)> {
    if let Some(f) = filter {
        store::check_filter(Kind::Users, f)?;
    }
    let mut conn = pool.acquire().await?;
    let (total, rows) = store::users(&mut conn, dir.tenant_id(), filter, offset, limit).await?;
    Ok((
        total,
        rows.iter()
            .map(|r| user_resource(&r.user, r.document(), base))
            .collect(),
    ))
}

fn updated(deactivated: bool) -> ScimCounts {
    ScimCounts {
        users_updated: 1,
        users_deactivated: i64::from(deactivated),
        ..ScimCounts::default()
    }
}

/// PUT /Users/{id}: the document replaces what the directory pushed before.
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn replace(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    body: &Value,
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<Written> {
    let doc = canonical_user(body)?;
    let mut work = Work::begin(pool, dir.tenant_id(), now).await?;
    let before = load_locked(&mut work, id).await?;
    let checked = checks(&mut work, Some(before.user.id), &doc).await?;
    let (user, deactivated) = write(&mut work, Some(&before.user), &doc, None, checked).await?;
    work.commit(dir.authority()).await?;
    Ok(Written {
        resource: user_resource(&user, Some(&doc), base),
        counts: updated(deactivated),
    })
}

/// PATCH /Users/{id}: the operations apply to the user's SCIM representation, which is
/// then written as a PUT would (so every rule of PUT holds for PATCH too).
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn patch(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    apply: &(dyn Fn(&mut Value) -> ScimResult<()> + Sync),
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<Written> {
    let mut work = Work::begin(pool, dir.tenant_id(), now).await?;
    let before = load_locked(&mut work, id).await?;
    let mut current = user_resource(&before.user, before.document(), base);
    apply(&mut current)?;
    if let Some(m) = current.as_object_mut() {
        for readonly in ["id", "meta", "schemas"] {
            m.remove(readonly);
        }
    }
    let doc = canonical_user(&current)?;
    let checked = checks(&mut work, Some(before.user.id), &doc).await?;
    let (user, deactivated) = write(&mut work, Some(&before.user), &doc, None, checked).await?;
    work.commit(dir.authority()).await?;
    Ok(Written {
        resource: user_resource(&user, Some(&doc), base),
        counts: updated(deactivated),
    })
}

/// DELETE /Users/{id}: deactivates (access ends at once) and hides the user from SCIM.
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn delete(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<ScimCounts> {
    let mut work = Work::begin(pool, dir.tenant_id(), now).await?;
    let before = load_locked(&mut work, id).await?;
    let mut doc = before
        .document()
        .cloned()
        .unwrap_or_else(|| user_resource(&before.user, None, base));
    if let Some(m) = doc.as_object_mut() {
        for readonly in ["id", "meta", "schemas"] {
            m.remove(readonly);
        }
        m.insert("active".into(), Value::Bool(false));
    }
    let doc = canonical_user(&doc)?;
    let checked = checks(&mut work, Some(before.user.id), &doc).await?;
    let (_, deactivated) = write(&mut work, Some(&before.user), &doc, Some(now), checked).await?;
    work.commit(dir.authority()).await?;
    Ok(ScimCounts {
        users_deactivated: i64::from(deactivated),
        ..ScimCounts::default()
    })
}

/// The attributes the directory owns on a user it manages: the admin portal shows them
/// read-only and `services::users` refuses to change them.
pub const DIRECTORY_OWNED: &[&str] = &[
    "email",
    "displayName",
    "department",
    "jobTitle",
    "managerId",
    "kind",
    "externalId",
];
