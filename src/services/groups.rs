//! Directory groups. Members carry their sources: tenant admins add and remove only the
//! `direct` source; assignments add and remove their own.

use crate::db::assignments::ScopeChange;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{Caller, ServiceError, ServiceResult, principals, validated};
use crate::db::groups::{Group, MemberRow, Relation};
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{GroupId, TenantId, UserId};
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;

#[derive(Debug, Default, Clone)]
pub struct GroupFields {
    pub display_name: Option<String>,
    pub description: Option<Option<String>>,
    pub owner_ids: Option<Vec<UserId>>,
}

/// A group with the ids of its owners.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub group: Group,
    pub owner_ids: Vec<UserId>,
}

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("group"))
}

async fn check_users_exist(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
    field: &str,
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    let found = db::users::get_many(conn, tenant, ids).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|u| u.id == **id)) {
        errors.add(field, format!("there is no user with id {missing}"));
    }
    Ok(())
}

async fn views(
    conn: &mut Conn,
    tenant: TenantId,
    groups: Vec<Group>,
) -> ServiceResult<Vec<GroupView>> {
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let owners = db::groups::owners_of(conn, tenant, &ids).await?;
    Ok(groups
        .into_iter()
        .map(|group| {
            let owner_ids = owners
                .iter()
                .filter(|(g, _)| *g == group.id)
                .map(|(_, u)| *u)
                .collect();
            GroupView { group, owner_ids }
        })
        .collect())
}

async fn view(conn: &mut Conn, tenant: TenantId, group: Group) -> ServiceResult<GroupView> {
    views(conn, tenant, vec![group])
        .await?
        .pop()
        .ok_or_else(not_found)
}

/// Replaces the direct owners with `owners` (sources from assignments stay).
async fn set_direct_owners(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    owners: &[UserId],
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    db::groups::remove_direct_owners_except(conn, tenant, group, owners).await?;
    for owner in owners {
        db::groups::add(conn, Relation::Owner, tenant, group, *owner, None, now).await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    fields: GroupFields,
    now: DateTime<Utc>,
) -> ServiceResult<GroupView> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    let name = match &fields.display_name {
        None => {
            errors.add("displayName", "a display name is required");
            None
        }
        Some(n) => errors.check("displayName", DisplayName::parse(n)),
    };
    let desc = errors.check(
        "description",
        description(fields.description.clone().flatten().as_deref()),
    );
    let owners = fields.owner_ids.clone().unwrap_or_default();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    check_users_exist(work.conn(), tenant, &owners, "ownerIds", &mut errors).await?;
    validated(errors)?;
    let group = Group {
        tenant_id: tenant,
        id: GroupId::new(),
        display_name: name.map(DisplayName::into_string).unwrap_or_default(),
        description: desc.unwrap_or_default(),
        created_at: now,
        updated_at: now,
        external_id: None,
        directory_managed: false,
    };
    db::groups::insert(work.conn(), &group).await?;
    set_direct_owners(work.conn(), tenant, group.id, &owners, now).await?;
    work.audit(AuditAction::GroupCreated, Target::Group(group.id), json!({"after": {"displayName": group.display_name, "description": group.description, "ownerIds": owners}}));
    let view = view(work.conn(), tenant, group).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(view)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller, id: GroupId) -> ServiceResult<GroupView> {
    if caller.user.is_guest() && !caller.roles.is_any_admin() {
        return Err(DomainError::forbidden("Guests cannot search the directory.").into());
    }
    let mut conn = pool.acquire().await?;
    let group = db::groups::get(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(not_found)?;
    view(&mut conn, caller.tenant_id(), group).await
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<GroupView>> {
    if caller.user.is_guest() && !caller.roles.is_any_admin() {
        return Err(DomainError::forbidden("Guests cannot search the directory.").into());
    }
    let mut conn = pool.acquire().await?;
    let tenant = caller.tenant_id();
    let page = db::groups::list(
        &mut conn,
        tenant,
        search.filter(|s| !s.trim().is_empty()),
        page,
    )
    .await?;
    let items = views(&mut conn, tenant, page.items).await?;
    Ok(Page {
        items,
        next: page.next,
    })
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: GroupId,
    fields: GroupFields,
    now: DateTime<Utc>,
) -> ServiceResult<GroupView> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let before = db::groups::get(work.conn(), tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let before_view = view(work.conn(), tenant, before.clone()).await?;
    let mut group = before.clone();
    let mut errors = FieldErrors::new();
    if let Some(n) = &fields.display_name
        && let Some(n) = errors.check("displayName", DisplayName::parse(n))
    {
        group.display_name = n.into_string();
    }
    if let Some(d) = &fields.description
        && let Some(d) = errors.check("description", description(d.as_deref()))
    {
        group.description = d;
    }
    if let Some(owners) = &fields.owner_ids {
        check_users_exist(work.conn(), tenant, owners, "ownerIds", &mut errors).await?;
    }
    validated(errors)?;
    group.updated_at = now;
    db::groups::update(work.conn(), &group).await?;
    if let Some(owners) = &fields.owner_ids {
        set_direct_owners(work.conn(), tenant, id, owners, now).await?;
    }
    let after = view(work.conn(), tenant, group).await?;
    work.audit(AuditAction::GroupUpdated, Target::Group(id), json!({
                "before": {"displayName": before.display_name, "description": before.description, "ownerIds": before_view.owner_ids},
                "after": {"displayName": after.group.display_name, "description": after.group.description, "ownerIds": after.owner_ids},
            }));
    work.commit(caller.permitted(permit)).await?;
    Ok(after)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    id: GroupId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let group = db::groups::get(work.conn(), tenant, id)
        .await?
        .ok_or_else(not_found)?;
    db::groups::delete(work.conn(), tenant, id).await.map_err(|e| match e {
        db::DbError::ForeignKey(_) => ServiceError::Domain(DomainError::conflict(
            "This group is used as a resource, an approver or an incompatible group; remove it from there first.",
        )),
        other => other.into(),
    })?;
    crate::services::scope::remove_left_out(work.conn(), tenant, ScopeChange::LeftGroup(id), now)
        .await?;
    work.audit(
        AuditAction::GroupDeleted,
        Target::Group(id),
        json!({"before": {"displayName": group.display_name}}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(())
}

/// Members with their sources: tenant admins and the group's owners.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list_members(
    pool: &PgPool,
    caller: &Caller,
    id: GroupId,
    page: PageRequest,
) -> ServiceResult<Page<MemberRow>> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    db::groups::get(&mut conn, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if !caller.roles.allows(Action::ReadDirectory)
        && !db::groups::is_related(&mut conn, Relation::Owner, tenant, id, caller.user_id()).await?
    {
        caller.require(Action::ReadDirectory)?;
    }
    Ok(db::groups::list_related(&mut conn, Relation::Member, tenant, id, page).await?)
}

/// Adds the `direct` source of membership; `true` when it was new.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, group = %group))]
pub async fn add_member(
    pool: &PgPool,
    caller: &Caller,
    group: GroupId,
    user: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    db::groups::get(work.conn(), tenant, group)
        .await?
        .ok_or_else(not_found)?;
    if db::users::get(work.conn(), tenant, user).await?.is_none() {
        return Err(
            DomainError::field("userId", format!("there is no user with id {user}")).into(),
        );
    }
    let added = db::groups::add(
        work.conn(),
        Relation::Member,
        tenant,
        group,
        user,
        None,
        now,
    )
    .await?;
    if added {
        work.audit(
            AuditAction::GroupMemberAdded,
            Target::Group(group),
            json!({"userId": user, "source": "direct"}),
        );
    }
    work.commit(caller.permitted(permit)).await?;
    Ok(added)
}

/// Removes the `direct` source only; memberships delivered by assignments stay.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, group = %group))]
pub async fn remove_member(
    pool: &PgPool,
    caller: &Caller,
    group: GroupId,
    user: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    db::groups::get(work.conn(), tenant, group)
        .await?
        .ok_or_else(not_found)?;
    if !db::groups::remove(work.conn(), Relation::Member, tenant, group, user, None).await? {
        if db::groups::is_directory_member(work.conn(), tenant, group, user).await? {
            return Err(DomainError::conflict(
                "This membership comes from your identity provider (SCIM); change it there.",
            )
            .into());
        }
        return Err(DomainError::NotFound("direct membership").into());
    }
    let removed = crate::services::scope::remove_left_out(
        work.conn(),
        tenant,
        ScopeChange::LeftGroup(group),
        now,
    )
    .await?;
    work.audit(
        AuditAction::GroupMemberRemoved,
        Target::Group(group),
        json!({"userId": user, "source": "direct", "assignmentsRemoved": removed}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(())
}

/// Adds a direct member named by email.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn add_group_member(
    pool: &PgPool,
    caller: &Caller,
    group: GroupId,
    email: &str,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    caller.require(Action::ManageDirectory)?;
    let user = {
        let mut conn = pool.acquire().await?;
        principals::user_by_email(&mut conn, caller.tenant_id(), email, "email").await?
    };
    add_member(pool, caller, group, user.id, now).await
}

/// A direct owner to add (named by email) or to remove.
pub enum OwnerChange {
    Add(String),
    Remove(UserId),
}

/// Adds or removes a direct owner.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn change_group_owner(
    pool: &PgPool,
    caller: &Caller,
    group: GroupId,
    owner: OwnerChange,
    now: DateTime<Utc>,
) -> ServiceResult<GroupView> {
    caller.require(Action::ManageDirectory)?;
    let current = get(pool, caller, group).await?;
    let mut owners = current.owner_ids.clone();
    match owner {
        OwnerChange::Add(email) => {
            let user = {
                let mut conn = pool.acquire().await?;
                principals::user_by_email(&mut conn, caller.tenant_id(), &email, "ownerEmail")
                    .await?
            };
            if !owners.contains(&user.id) {
                owners.push(user.id);
            }
        }
        OwnerChange::Remove(id) => owners.retain(|o| *o != id),
    }
    update(
        pool,
        caller,
        group,
        GroupFields {
            owner_ids: Some(owners),
            ..GroupFields::default()
        },
        now,
    )
    .await
}
