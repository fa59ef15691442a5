//! `/Groups` of the SCIM server. A group's SCIM `members` are the memberships the
//! directory pushed (source `directory`); SCIM adds, removes and replaces only those,
//! set-based in SQL, and Portico's own memberships (direct, from assignments) are never
//! touched by SCIM, nor the directory's by Portico.
//!
//! The directory is trusted like a tenant admin, so no privilege check of
//! `services::groups` applies to its memberships: a group that holds roles gets the
//! members the identity provider says it has (that is the point of pushing it).
//!
//! DELETE: a group nothing in Portico refers to is deleted; a group Portico still uses
//! (a resource, an approver, a role) loses the directory's memberships and is hidden
//! from SCIM, so the catalog never breaks.

use crate::db::assignments::ScopeChange;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgPool;

use super::represent::{GROUP_SCHEMA, get_ci, group_input, member, member_ids, meta};
use super::users::Written;
use super::{Directory, Fail, ScimCounts, ScimResult};
use crate::db::groups::Group;
use crate::db::scim_directory::{self as store, Kind};
use crate::db::{self, Conn};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::ids::{GroupId, TenantId, UserId};
use crate::domain::scim::filter::Filter;
use crate::services::tx::Work;

fn parse_id(id: &str) -> ScimResult<GroupId> {
    id.parse::<GroupId>()
        .map_err(|_| Fail::not_found("group", id))
}

/// A group as SCIM shows it; `members` only when it has some.
pub fn group_resource(g: &Group, members: &[UserId], base: &str) -> Value {
    let location = format!("{base}/Groups/{}", g.id);
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(g.id.to_string()));
    out.insert("displayName".into(), json!(g.display_name));
    if let Some(e) = &g.external_id {
        out.insert("externalId".into(), json!(e));
    }
    if !members.is_empty() {
        out.insert(
            "members".into(),
            Value::Array(members.iter().map(|m| member(*m, base)).collect()),
        );
    }
    out.insert(
        "meta".into(),
        meta("Group", g.created_at, g.updated_at, &location),
    );
    Value::Object(out)
}

/// A member id that is no user of the tenant, as `store::add_members` reports it:
/// 400 invalidValue (the work is then dropped, so nothing of it is kept).
fn refuse_missing(missing: Option<UserId>) -> ScimResult<()> {
    match missing {
        None => Ok(()),
        Some(m) => Err(Fail::bad(
            "invalidValue",
            format!("member '{m}' is not a user of this directory."),
        )),
    }
}

async fn members_of(conn: &mut Conn, tenant: TenantId, group: GroupId) -> ScimResult<Vec<UserId>> {
    Ok(store::directory_members(conn, tenant, &[group])
        .await?
        .into_iter()
        .map(|(_, u)| u)
        .collect())
}

fn members_in(body: &Value) -> ScimResult<Option<Vec<UserId>>> {
    match body.as_object().and_then(|m| get_ci(m, "members")) {
        None => Ok(None),
        Some(v) => member_ids(v).map(Some),
    }
}

/// POST /Groups.
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    dir: &Directory,
    body: &Value,
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<Written> {
    let input = group_input(body)?;
    let members = members_in(body)?.unwrap_or_default();
    let tenant = dir.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let group = Group {
        tenant_id: tenant,
        id: GroupId::new(),
        display_name: input.display_name,
        description: String::new(),
        created_at: now,
        updated_at: now,
        external_id: input.external_id,
        directory_managed: true,
    };
    db::groups::insert(work.conn(), &group).await?;
    refuse_missing(store::add_members(work.conn(), tenant, group.id, &members, now).await?)?;
    work.audit(
        AuditAction::GroupCreated,
        Target::Group(group.id),
        json!({"after": {"displayName": group.display_name, "externalId": group.external_id,
                         "members": members.len()}, "source": "directory"}),
    );
    work.commit(dir.authority()).await?;
    Ok(Written {
        resource: group_resource(&group, &members, base),
        counts: ScimCounts {
            groups_created: 1,
            ..ScimCounts::default()
        },
    })
}

#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn get(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    with_members: bool,
    base: &str,
) -> ScimResult<Value> {
    let gid = parse_id(id)?;
    let mut conn = pool.acquire().await?;
    let group = store::group(&mut conn, dir.tenant_id(), gid)
        .await?
        .ok_or_else(|| Fail::not_found("group", id))?;
    let members = if with_members {
        members_of(&mut conn, dir.tenant_id(), gid).await?
    } else {
        Vec::new()
    };
    Ok(group_resource(&group, &members, base))
}

/// One page of groups, with their members when asked (one query for the page).
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    dir: &Directory,
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
    with_members: bool,
    base: &str,
) -> ScimResult<(i64, Vec<Value>)> {
    if let Some(f) = filter {
        store::check_filter(Kind::Groups, f)?;
    }
    let tenant = dir.tenant_id();
    let mut conn = pool.acquire().await?;
    let (total, groups) = store::groups(&mut conn, tenant, filter, offset, limit).await?;
    let members = if with_members && !groups.is_empty() {
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        store::directory_members(&mut conn, tenant, &ids).await?
    } else {
        Vec::new()
    };
    Ok((
        total,
        groups
            .iter()
            .map(|g| {
                let of: Vec<UserId> = members
                    .iter()
                    .filter(|(gid, _)| *gid == g.id)
                    .map(|(_, u)| *u)
                    .collect();
                group_resource(g, &of, base)
            })
            .collect(),
    ))
}

/// What a PATCH does to a group: its own attributes, then the directory's members.
#[derive(Debug, Default)]
pub struct GroupChange {
    /// The attributes besides `members` after the operations (`None`: untouched).
    pub attributes: Option<Value>,
    pub members: MemberChange,
}

/// Member changes, applied in this order: replace, remove all, remove, add.
#[derive(Debug, Default)]
pub struct MemberChange {
    pub replace: Option<Vec<UserId>>,
    pub remove_all: bool,
    pub remove: Vec<UserId>,
    pub add: Vec<UserId>,
}

impl MemberChange {
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && !self.remove_all && self.remove.is_empty() && self.add.is_empty()
    }
}

async fn save(
    work: &mut Work,
    before: &Group,
    attributes: Option<&Value>,
    members: &MemberChange,
) -> ScimResult<Group> {
    let (tenant, now) = (work.tenant(), work.now());
    let mut group = before.clone();
    if let Some(attrs) = attributes {
        let input = group_input(attrs)?;
        group.display_name = input.display_name;
        group.external_id = input.external_id;
    }
    group.directory_managed = true;
    group.updated_at = now;
    db::groups::update(work.conn(), &group).await?;
    if let Some(r) = &members.replace {
        refuse_missing(store::replace_members(work.conn(), tenant, group.id, r, now).await?)?;
    }
    if members.remove_all {
        store::replace_members(work.conn(), tenant, group.id, &[], now).await?;
    }
    if !members.remove.is_empty() {
        store::remove_members(work.conn(), tenant, group.id, &members.remove).await?;
    }
    if !members.add.is_empty() {
        refuse_missing(
            store::add_members(work.conn(), tenant, group.id, &members.add, now).await?,
        )?;
    }
    let removed = if members.replace.is_some() || members.remove_all || !members.remove.is_empty() {
        let change = ScopeChange::LeftGroup(group.id);
        crate::services::scope::remove_left_out(work.conn(), tenant, change, now).await?
    } else {
        Vec::new()
    };
    work.audit(
        AuditAction::GroupUpdated,
        Target::Group(group.id),
        json!({
            "before": {"displayName": before.display_name, "externalId": before.external_id},
            "after": {"displayName": group.display_name, "externalId": group.external_id},
            "members": {"replaced": members.replace.as_ref().map(Vec::len), "removedAll": members.remove_all,
                        "removed": members.remove, "added": members.add},
            "assignmentsRemoved": removed,
            "source": "directory",
        }),
    );
    Ok(group)
}

fn group_updated() -> ScimCounts {
    ScimCounts {
        groups_updated: 1,
        ..ScimCounts::default()
    }
}

/// PUT /Groups/{id}: replaces the attributes and the directory's members (Portico's
/// own memberships stay).
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn replace(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    body: &Value,
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<Written> {
    let gid = parse_id(id)?;
    let members = MemberChange {
        replace: Some(members_in(body)?.unwrap_or_default()),
        ..MemberChange::default()
    };
    let tenant = dir.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let before = store::lock_group(work.conn(), tenant, gid)
        .await?
        .ok_or_else(|| Fail::not_found("group", id))?;
    let group = save(&mut work, &before, Some(body), &members).await?;
    let now_members = members_of(work.conn(), tenant, gid).await?;
    work.commit(dir.authority()).await?;
    Ok(Written {
        resource: group_resource(&group, &now_members, base),
        counts: group_updated(),
    })
}

/// PATCH /Groups/{id}: `plan` turns the operations into a change, given the group's
/// current representation without members (member operations never load the
/// members, so a change of 100+ members is one statement).
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn patch(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    plan: &(dyn Fn(&Value, &[UserId]) -> ScimResult<GroupChange> + Sync),
    needs_members: bool,
    base: &str,
    now: DateTime<Utc>,
) -> ScimResult<Written> {
    let gid = parse_id(id)?;
    let tenant = dir.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let before = store::lock_group(work.conn(), tenant, gid)
        .await?
        .ok_or_else(|| Fail::not_found("group", id))?;
    let current_members = if needs_members {
        members_of(work.conn(), tenant, gid).await?
    } else {
        Vec::new()
    };
    let change = plan(&group_resource(&before, &[], base), &current_members)?;
    let group = save(
        &mut work,
        &before,
        change.attributes.as_ref(),
        &change.members,
    )
    .await?;
    let now_members = members_of(work.conn(), tenant, gid).await?;
    work.commit(dir.authority()).await?;
    Ok(Written {
        resource: group_resource(&group, &now_members, base),
        counts: group_updated(),
    })
}

/// DELETE /Groups/{id} (see the module header for a group Portico still uses).
#[tracing::instrument(skip_all, fields(tenant = %dir.tenant.slug))]
pub async fn delete(
    pool: &PgPool,
    dir: &Directory,
    id: &str,
    now: DateTime<Utc>,
) -> ScimResult<ScimCounts> {
    let gid = parse_id(id)?;
    let tenant = dir.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let group = store::lock_group(work.conn(), tenant, gid)
        .await?
        .ok_or_else(|| Fail::not_found("group", id))?;
    store::replace_members(work.conn(), tenant, gid, &[], now).await?;
    crate::services::scope::remove_left_out(work.conn(), tenant, ScopeChange::LeftGroup(gid), now)
        .await?;
    let erased = {
        let mut savepoint = sqlx::Connection::begin(&mut *work.conn()).await?;
        match db::groups::delete(&mut savepoint, tenant, gid).await {
            Ok(()) => {
                savepoint.commit().await?;
                true
            }
            Err(db::DbError::ForeignKey(_)) => {
                savepoint.rollback().await?;
                false
            }
            Err(e) => return Err(e.into()),
        }
    };
    if erased {
        work.audit(
            AuditAction::GroupDeleted,
            Target::Group(gid),
            json!({"before": {"displayName": group.display_name}, "source": "directory"}),
        );
    } else {
        store::hide_group(work.conn(), tenant, gid, now).await?;
        work.audit(
            AuditAction::GroupUpdated,
            Target::Group(gid),
            json!({"before": {"displayName": group.display_name},
                   "detail": "deleted by the directory; kept because Portico uses it, without the directory's members",
                   "source": "directory"}),
        );
    }
    work.commit(dir.authority()).await?;
    Ok(ScimCounts {
        groups_deleted: 1,
        ..ScimCounts::default()
    })
}
