//! Read queries of the requester portal (My Access): the packages a person may browse
//! (one indexed query with the catalog's name joined in), their open add request of
//! a package, and the counts of the portal's home page.

use chrono::{DateTime, Utc};

use super::assignments::ACTIVE;
use super::{Conn, DbResult, Page, PageRequest, like_pattern};
use crate::domain::ids::{GroupId, PackageId, RequestId, TenantId, UserId};
pub use crate::model::portal::{Counts, ListedPackage};

/// Packages listed in the portal for a user: not hidden nor archived, in an enabled catalog (for
/// guests, an externally visible one), with at least one policy that takes requests
/// and whose requestor scope admits the user (the SQL reading of
/// `PolicySettings::admits`), or one the user holds; newest first, each with the
/// user's active assignment of it. A search reads the newest packages in order, then
/// the trigram index on name and description ([`super::packages::search_page`]).
pub async fn requestable(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    guest: bool,
    groups: &[GroupId],
    search: Option<&str>,
    page: PageRequest,
) -> DbResult<Page<ListedPackage>> {
    let rows: Vec<ListedPackage> =
        sqlx::query_as(sqlx::AssertSqlSafe(requestable_statement(search.is_some())))
            .bind(tenant)
            .bind(page.before_bound())
            .bind(guest)
            .bind(search.map(like_pattern))
            .bind(page.fetch_limit())
            .bind(user)
            .bind(groups)
            .fetch_all(conn)
            .await?;
    Ok(Page::from_rows(rows, page, |p| p.package.id.0))
}

/// The statement of [`requestable`], searching or not: `$1` tenant, `$2` the cursor,
/// `$3` guest, `$4` the `like_pattern` of the term, `$5` the fetch limit, `$6` the user,
/// `$7` their groups.
pub fn requestable_statement(search: bool) -> String {
    if search {
        super::packages::search_page(&listed_row(), "$4", "$5")
    } else {
        format!(
            // `m` at the top level, so that the page's limit lets the planner walk the
            // primary key (a subquery would be planned for all its rows: a sort of them).
            "select x.* from access_packages m
             cross join lateral ({}) x
             where m.tenant_id = $1 and m.id < $2
             order by m.id desc limit $5",
            listed_row()
        )
    }
}

/// The portal's row of the package `m.id` when the user may see it (`$1` tenant, `$3`
/// guest, `$6` user, `$7` their groups). A subquery with `limit 1` is run per package in
/// the page's order, so the policy check is an index lookup per package read rather than
/// a hash of every policy of the tenant built for each page.
fn listed_row() -> String {
    format!(
        "select p.tenant_id, p.id, p.catalog_id, p.display_name, p.description, p.hidden, p.created_at,
                p.updated_at, p.archived_at, p.version, c.display_name as catalog_name, held.id as held
         from access_packages p
         join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
         left join lateral (select a.id from assignments a
                             where a.tenant_id = p.tenant_id and a.package_id = p.id and a.target_user_id = $6
                               and a.state in {ACTIVE}
                             order by a.id desc limit 1) held on true
         where p.tenant_id = $1 and p.id = m.id and not p.hidden and p.archived_at is null and c.enabled
           and (not $3 or c.externally_visible)
           and (held.id is not null or exists (
                 select 1 from policies pol where pol.tenant_id = p.tenant_id and pol.package_id = p.id
                   and coalesce((pol.settings ->> 'requestsEnabled')::boolean, true)
                   and case pol.settings -> 'requestors' ->> 'scope'
                         when 'allMembers' then not $3
                         when 'allUsers' then true
                         when 'specific' then exists (
                           select 1 from jsonb_array_elements(pol.settings -> 'requestors' -> 'principals') pr
                            where (pr ->> 'type' = 'user' and pr ->> 'id' = $6::text)
                               or (pr ->> 'type' = 'group' and (pr ->> 'id')::uuid = any($7)))
                         else false
                       end))
         limit 1"
    )
}

/// The user's open add request of the package, if any.
pub async fn open_add_request(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    user: UserId,
) -> DbResult<Option<RequestId>> {
    Ok(sqlx::query_scalar(
        "select id from assignment_requests
         where tenant_id = $1 and package_id = $2 and target_user_id = $3
           and state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled')
           and request_type in ('userAdd', 'adminAdd', 'systemAdd')
         order by id desc limit 1",
    )
    .bind(tenant)
    .bind(package)
    .bind(user)
    .fetch_optional(conn)
    .await?)
}

pub async fn counts(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    now: DateTime<Utc>,
) -> DbResult<Counts> {
    Ok(sqlx::query_as(
        "select
           (select count(*) from request_stages s
             where s.tenant_id = $1 and s.state = 'pending' and s.approver_ids @> array[$2::uuid]
               and not exists (select 1 from stage_decisions d where d.tenant_id = s.tenant_id and d.request_id = s.request_id
                                 and d.stage_index = s.stage_index and d.approver_id = $2)) as pending_approvals,
           (select count(*) from assignment_requests r
             where r.tenant_id = $1 and r.target_user_id = $2
               and r.state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled', 'delivering')) as open_requests,
           (select count(*) from access_review_items i
              join access_reviews v on v.tenant_id = i.tenant_id and v.id = i.review_id
             where i.tenant_id = $1 and i.reviewer_ids @> array[$2::uuid] and i.decision = 'notReviewed'
               and v.state = 'inProgress' and v.end_at > $3) as pending_reviews",
    )
    .bind(tenant)
    .bind(user)
    .bind(now)
    .fetch_one(conn)
    .await?)
}
