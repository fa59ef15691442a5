//! Read models of the directory for the admin portal: a user's page, a group's page
//! with its members and owners, and the user/group picker's search.

use sqlx::PgPool;
use uuid::Uuid;

use super::names::{Names, Wanted};
use crate::db::groups::MemberRow;
use crate::db::users::User;
use crate::db::{Page, PageRequest};
use crate::domain::authz::Action;
use crate::domain::ids::{AssignmentId, GroupId, UserId};
use crate::domain::policy::PrincipalKind;
use crate::services::groups::{self, GroupView};
use crate::services::{Caller, ServiceResult, users};

/// A user with their manager, for the user page.
#[derive(Debug)]
pub struct UserPage {
    pub user: User,
    pub manager: Option<User>,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn user_page(pool: &PgPool, caller: &Caller, id: UserId) -> ServiceResult<UserPage> {
    caller.require(Action::ManageDirectory)?;
    let user = users::get(pool, caller, id).await?;
    let manager = match user.manager_id {
        Some(m) => Some(users::get(pool, caller, m).await?),
        None => None,
    };
    Ok(UserPage { user, manager })
}

/// A group with its members (and the sources of each membership) and owners.
#[derive(Debug)]
pub struct GroupPage {
    pub group: GroupView,
    pub members: Page<MemberRow>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn group_page(
    pool: &PgPool,
    caller: &Caller,
    id: GroupId,
    page: PageRequest,
) -> ServiceResult<GroupPage> {
    let group = groups::get(pool, caller, id).await?;
    let members = groups::list_members(pool, caller, id, page).await?;
    let mut wanted = Wanted::default();
    for m in &members.items {
        wanted.user(m.user_id.0);
        // Memberships delivered by assignments show the package they came from.
        for a in m.sources.iter().flatten() {
            wanted.assignment(AssignmentId(*a));
        }
    }
    for o in &group.owner_ids {
        wanted.user(o.0);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(GroupPage {
        group,
        members,
        names,
    })
}

/// One search result of the user/group picker.
#[derive(Clone, Debug)]
pub struct PrincipalHit {
    pub kind: PrincipalKind,
    pub id: Uuid,
    pub name: String,
    pub detail: String,
}

/// Users and groups matching `term` (display name or email; the newest when blank),
/// for pickers.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn search_principals(
    pool: &PgPool,
    caller: &Caller,
    term: &str,
    users_wanted: bool,
    groups_wanted: bool,
) -> ServiceResult<Vec<PrincipalHit>> {
    let term = term.trim();
    let search = (!term.is_empty()).then_some(term);
    let mut hits = Vec::new();
    if users_wanted {
        for u in users::list(pool, caller, search, PageRequest::first(10))
            .await?
            .items
            .into_iter()
            .filter(|u| u.active)
        {
            hits.push(PrincipalHit {
                kind: PrincipalKind::User,
                name: super::names::person(&u),
                id: u.id.0,
                detail: u.email,
            });
        }
    }
    if groups_wanted {
        for g in groups::list(pool, caller, search, PageRequest::first(10))
            .await?
            .items
        {
            hits.push(PrincipalHit {
                kind: PrincipalKind::Group,
                id: g.group.id.0,
                name: g.group.display_name,
                detail: "group".into(),
            });
        }
    }
    Ok(hits)
}
