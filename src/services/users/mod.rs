//! Directory users: tenant admins create, change and deactivate them; every member may
//! look users up (to pick approvers); guests may not search the directory.

use crate::db::assignments::ScopeChange;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{Actor, Caller, ServiceError, ServiceResult, validated};
use crate::db::users::User;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::request::RequestType;
use crate::domain::values::{DisplayName, EmailAddress, UserKind, optional_text};
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;

mod import;
pub use import::{ImportOutcome, MAX_IMPORT_ROWS, RowError, import_csv, parse_csv};

/// Fields of a user as sent by a client; on create `email` and `displayName` are
/// required, on update absent fields stay unchanged and `Some(None)` clears.
#[derive(Debug, Default, Clone)]
pub struct UserFields {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub department: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub manager_id: Option<Option<UserId>>,
    pub kind: Option<UserKind>,
    pub external_id: Option<Option<String>>,
    pub active: Option<bool>,
    /// An IANA time zone name; `Some(None)` is the tenant's.
    pub time_zone: Option<Option<String>>,
}

pub(crate) fn user_json(u: &User) -> serde_json::Value {
    json!({"email": u.email, "displayName": u.display_name, "department": u.department,
           "jobTitle": u.job_title, "managerId": u.manager_id, "kind": u.kind,
           "active": u.active, "externalId": u.external_id, "timeZone": u.time_zone})
}

/// Applies `fields` onto `user`, collecting every field error.
async fn apply(
    conn: &mut Conn,
    tenant: TenantId,
    user: &mut User,
    fields: &UserFields,
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    if let Some(email) = &fields.email
        && let Some(email) = errors.check("email", EmailAddress::parse(email))
    {
        user.email = email.to_string();
    }
    if let Some(name) = &fields.display_name
        && let Some(name) = errors.check("displayName", DisplayName::parse(name))
    {
        user.display_name = name.into_string();
    }
    if let Some(v) = &fields.department
        && let Some(v) = errors.check("department", optional_text(v.as_deref(), 256))
    {
        user.department = v;
    }
    if let Some(v) = &fields.job_title
        && let Some(v) = errors.check("jobTitle", optional_text(v.as_deref(), 256))
    {
        user.job_title = v;
    }
    if let Some(v) = &fields.external_id
        && let Some(v) = errors.check("externalId", optional_text(v.as_deref(), 256))
    {
        user.external_id = v;
    }
    if let Some(kind) = fields.kind {
        user.kind = kind;
    }
    if let Some(zone) = &fields.time_zone {
        match zone.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
            None => user.time_zone = None,
            Some(z) => {
                if let Some(z) = errors.check("timeZone", crate::time_text::parse_zone(z)) {
                    user.time_zone = Some(z.name().to_string());
                }
            }
        }
    }
    if let Some(manager) = fields.manager_id {
        match manager {
            None => user.manager_id = None,
            Some(m) if m == user.id => errors.add("managerId", "a user cannot be their own manager"),
            Some(m) => match db::users::get(conn, tenant, m).await? {
                None => errors.add("managerId", format!("there is no user with id {m}")),
                Some(_) if db::users::manager_chain_contains(conn, tenant, m, user.id).await? => {
                    errors.add(
                        "managerId",
                        "this manager reports (directly or indirectly) to the user: that would make a loop",
                    )
                }
                Some(_) => user.manager_id = Some(m),
            },
        }
    }
    Ok(())
}

async fn email_taken(conn: &mut Conn, tenant: TenantId, user: &User) -> ServiceResult<bool> {
    Ok(db::users::by_email(conn, tenant, &user.email)
        .await?
        .is_some_and(|other| other.id != user.id))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    fields: UserFields,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    if fields.email.is_none() {
        errors.add("email", "an email address is required");
    }
    if fields.display_name.is_none() {
        errors.add("displayName", "a display name is required");
    }
    let mut user = User {
        tenant_id: tenant,
        id: UserId::new(),
        email: String::new(),
        display_name: String::new(),
        department: None,
        job_title: None,
        manager_id: None,
        kind: UserKind::Member,
        active: true,
        external_id: None,
        last_sign_in_at: None,
        directory_managed: false,
        time_zone: None,
        created_at: now,
        updated_at: now,
    };
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    apply(work.conn(), tenant, &mut user, &fields, &mut errors).await?;
    if errors.is_empty() && email_taken(work.conn(), tenant, &user).await? {
        errors.add("email", "a user with this email address already exists");
    }
    validated(errors)?;
    // A user created through the API is active; `active: false` is ignored here.
    db::users::insert(work.conn(), &user).await?;
    work.audit(
        AuditAction::UserCreated,
        Target::User(user.id),
        json!({"after": user_json(&user)}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(user)
}

/// One user of the caller's tenant (guests may read only themselves).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller, id: UserId) -> ServiceResult<User> {
    if caller.user.is_guest() && id != caller.user_id() && !caller.roles.is_any_admin() {
        return Err(DomainError::forbidden("Guests cannot look up other users.").into());
    }
    let mut conn = pool.acquire().await?;
    db::users::get(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("user")))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<User>> {
    if caller.user.is_guest() && !caller.roles.is_any_admin() {
        return Err(DomainError::forbidden("Guests cannot search the directory.").into());
    }
    let mut conn = pool.acquire().await?;
    Ok(db::users::list(
        &mut conn,
        caller.tenant_id(),
        search.filter(|s| !s.trim().is_empty()),
        page,
    )
    .await?)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: UserId,
    fields: UserFields,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    if id == caller.user_id()
        && !caller.roles.allows(Action::ManageDirectory)
        && let UserFields {
            time_zone: Some(zone),
            email: None,
            display_name: None,
            department: None,
            job_title: None,
            manager_id: None,
            kind: None,
            external_id: None,
            active: None,
        } = fields
    {
        // Everyone may choose the zone they read times in, and nothing else of theirs.
        return super::profile::set_time_zone(pool, caller, zone, now).await;
    }
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let before = db::users::lock(work.conn(), tenant, id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("user")))?;
    let mut user = before.clone();
    let mut errors = FieldErrors::new();
    apply(work.conn(), tenant, &mut user, &fields, &mut errors).await?;
    if errors.is_empty() && email_taken(work.conn(), tenant, &user).await? {
        errors.add("email", "a user with this email address already exists");
    }
    validated(errors)?;
    refuse_directory_owned_changes(&before, &user)?;
    let deactivating = before.active && fields.active == Some(false);
    if deactivating {
        super::roles::ensure_an_admin_remains(work.conn(), tenant, user.id, "deactivating them")
            .await?;
    }
    if let Some(active) = fields.active {
        user.active = active;
    }
    user.updated_at = now;
    db::users::update(work.conn(), &user).await?;
    work.audit(
        AuditAction::UserUpdated,
        Target::User(user.id),
        json!({"before": user_json(&before), "after": user_json(&user)}),
    );
    if deactivating {
        end_access_of_deactivated(&mut work, &user).await?;
    } else if before.kind != user.kind {
        let change = ScopeChange::Users(std::slice::from_ref(&user.id));
        crate::services::scope::remove_left_out(work.conn(), tenant, change, now).await?;
    }
    work.commit(caller.permitted(permit)).await?;
    Ok(user)
}

/// A user the directory manages (SCIM) keeps the attributes the directory pushes: only
/// the identity provider changes them (`services::scim::users::DIRECTORY_OWNED`).
fn refuse_directory_owned_changes(before: &User, after: &User) -> ServiceResult<()> {
    if !before.directory_managed {
        return Ok(());
    }
    let changed: Vec<&str> = [
        ("email", before.email != after.email),
        ("displayName", before.display_name != after.display_name),
        ("department", before.department != after.department),
        ("jobTitle", before.job_title != after.job_title),
        ("managerId", before.manager_id != after.manager_id),
        ("kind", before.kind != after.kind),
        ("externalId", before.external_id != after.external_id),
    ]
    .into_iter()
    .filter_map(|(f, c)| c.then_some(f))
    .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(DomainError::conflict(format!(
        "This user is managed by your identity provider: change {} there.",
        changed.join(", ")
    ))
    .into())
}

/// DELETE: deactivates the user (users are never erased, their history stays).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn deactivate(
    pool: &PgPool,
    caller: &Caller,
    id: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    update(
        pool,
        caller,
        id,
        UserFields {
            active: Some(false),
            ..UserFields::default()
        },
        now,
    )
    .await
}

/// The admin portal's user form as typed: the manager is named by email ("" = none).
#[derive(Clone, Debug, Default)]
pub struct UserForm {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub manager_email: Option<String>,
    pub guest: bool,
    /// "" or `None` is the tenant's zone.
    pub time_zone: Option<String>,
}

async fn user_fields(pool: &PgPool, caller: &Caller, form: UserForm) -> ServiceResult<UserFields> {
    let manager_id = match form.manager_email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(email) => {
            let mut conn = pool.acquire().await?;
            Some(
                super::principals::user_by_email(
                    &mut conn,
                    caller.tenant_id(),
                    email,
                    "managerEmail",
                )
                .await?
                .id,
            )
        }
    };
    Ok(UserFields {
        email: form.email,
        display_name: form.display_name,
        department: Some(form.department),
        job_title: Some(form.job_title),
        manager_id: Some(manager_id),
        kind: Some(if form.guest {
            UserKind::Guest
        } else {
            UserKind::Member
        }),
        external_id: None,
        active: None,
        time_zone: Some(form.time_zone),
    })
}

/// Creates a user from the user form.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create_user(
    pool: &PgPool,
    caller: &Caller,
    form: UserForm,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    caller.require(Action::ManageDirectory)?;
    let fields = user_fields(pool, caller, form).await?;
    create(pool, caller, fields, now)
        .await
        .map_err(|e| super::rename_field(e, "managerId", "managerEmail"))
}

/// Saves the user form of an existing user.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn update_user(
    pool: &PgPool,
    caller: &Caller,
    id: UserId,
    form: UserForm,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    caller.require(Action::ManageDirectory)?;
    let fields = user_fields(pool, caller, form).await?;
    update(pool, caller, id, fields, now)
        .await
        .map_err(|e| super::rename_field(e, "managerId", "managerEmail"))
}

/// What deactivation ends at once: every assignment (reason `userDeactivated`), open
/// requests made by or for the user, API tokens, and their say in pending approvals.
#[tracing::instrument(skip_all, fields(user = %user.id))]
pub(crate) async fn end_access_of_deactivated(work: &mut Work, user: &User) -> ServiceResult<()> {
    let (tenant, now) = (work.tenant(), work.now());
    let conn = work.conn();
    let revoked = db::tokens::revoke_all_of_user(conn, tenant, user.id, now).await?;
    let sessions = db::sessions::revoke_all_of_user(conn, tenant, user.id, now).await?;
    let mut removed = Vec::new();
    for mut a in db::assignments::active_of_user(conn, tenant, user.id).await? {
        super::assignments::end(
            conn,
            &mut a,
            RequestType::SystemRemove,
            None,
            AssignmentState::Removed,
            Some(RemovalReason::UserDeactivated),
            Actor::System,
            now,
        )
        .await?;
        removed.push(a.id);
    }
    let mut canceled = Vec::new();
    for id in db::requests::open_of_user(conn, tenant, user.id).await? {
        if let Some(mut r) = db::requests::lock(conn, tenant, id).await?
            && r.state.is_open()
        {
            super::requests::cancel_row(conn, &mut r, Actor::System, now).await?;
            canceled.push(id);
        }
    }
    db::links::expire_all_of_user(conn, tenant, user.id, now).await?;
    super::requests::approver_left(conn, tenant, user.id, now).await?;
    work.audit(AuditAction::UserDeactivated, Target::User(user.id), json!({"tokensRevoked": revoked, "sessionsRevoked": sessions, "assignmentsRemoved": removed, "requestsCanceled": canceled}));
    Ok(())
}
