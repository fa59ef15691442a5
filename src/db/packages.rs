//! Access packages: their resource roles, incompatible packages and groups, and their
//! assignment policies (each policy's settings are one validated JSON document).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult, Page, PageRequest, like_pattern};
use crate::domain::ids::{CatalogId, GroupId, PackageId, PolicyId, ResourceRoleId, TenantId};
pub use crate::model::packages::{AccessPackage, Policy};

pub(crate) const COLUMNS: &str = "tenant_id, id, catalog_id, display_name, description, hidden, created_at, updated_at, archived_at, version";

pub async fn insert(conn: &mut Conn, p: &AccessPackage) -> DbResult<()> {
    sqlx::query(
        "insert into access_packages (tenant_id, id, catalog_id, display_name, description, hidden, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.tenant_id)
    .bind(p.id)
    .bind(p.catalog_id)
    .bind(&p.display_name)
    .bind(&p.description)
    .bind(p.hidden)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `p` over the stored package if it is still at `p.version`, raising the
/// version; false when another change came first.
pub async fn update(conn: &mut Conn, p: &AccessPackage) -> DbResult<bool> {
    let done = sqlx::query(
        "update access_packages set display_name = $3, description = $4, hidden = $5, updated_at = $6,
             version = version + 1
         where tenant_id = $1 and id = $2 and version = $7",
    )
    .bind(p.tenant_id)
    .bind(p.id)
    .bind(&p.display_name)
    .bind(&p.description)
    .bind(p.hidden)
    .bind(p.updated_at)
    .bind(p.version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A package with what a request needs of its catalog.
#[derive(Clone, Debug, FromRow)]
pub struct PackageToRequest {
    #[sqlx(flatten)]
    pub package: AccessPackage,
    pub catalog_enabled: bool,
    pub catalog_externally_visible: bool,
}

/// The package and its catalog's switches, in one statement; the package row is
/// share-locked, so it cannot be archived while a request of it is being added.
pub async fn get_to_request(
    conn: &mut Conn,
    tenant: TenantId,
    id: PackageId,
) -> DbResult<Option<PackageToRequest>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, c.enabled as catalog_enabled, c.externally_visible as catalog_externally_visible
         from access_packages p
         join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
         where p.tenant_id = $1 and p.id = $2
         for share of p",
        COLUMNS = super::qualified(COLUMNS, "p")
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: PackageId,
) -> DbResult<Option<AccessPackage>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_packages where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_many(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[PackageId],
) -> DbResult<Vec<AccessPackage>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_packages where tenant_id = $1 and id = any($2)"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Filters of a package list.
#[derive(Clone, Debug, Default)]
pub struct PackageFilter<'a> {
    pub catalog: Option<CatalogId>,
    /// Only packages of these catalogs (`None`: any).
    pub catalogs: Option<&'a [CatalogId]>,
    pub search: Option<&'a str>,
    pub include_hidden: bool,
}

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    filter: &PackageFilter<'_>,
    page: PageRequest,
) -> DbResult<Page<AccessPackage>> {
    let rows: Vec<AccessPackage> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_packages
         where tenant_id = $1 and id < $2
           and ($3::uuid is null or catalog_id = $3)
           and ($4::uuid[] is null or catalog_id = any($4))
           and ($5::text is null or lower(display_name || ' ' || description) like $5)
           and ($6 or not hidden) and archived_at is null
         order by id desc limit $7"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(filter.catalog)
    .bind(filter.catalogs)
    .bind(filter.search.map(like_pattern))
    .bind(filter.include_hidden)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |p| p.id.0))
}

pub async fn delete(conn: &mut Conn, tenant: TenantId, id: PackageId) -> DbResult<()> {
    sqlx::query("delete from policies where tenant_id = $1 and package_id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from access_packages where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// (package, resource role) pairs of `packages`.
pub async fn roles_of(
    conn: &mut Conn,
    tenant: TenantId,
    packages: &[PackageId],
) -> DbResult<Vec<(PackageId, ResourceRoleId)>> {
    Ok(sqlx::query_as(
        "select package_id, resource_role_id from access_package_roles
         where tenant_id = $1 and package_id = any($2) order by package_id, resource_role_id",
    )
    .bind(tenant)
    .bind(packages)
    .fetch_all(conn)
    .await?)
}

pub async fn add_role(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    role: ResourceRoleId,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "insert into access_package_roles (tenant_id, package_id, resource_role_id, created_at)
         values ($1, $2, $3, $4) on conflict do nothing",
    )
    .bind(tenant)
    .bind(package)
    .bind(role)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn remove_role(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    role: ResourceRoleId,
) -> DbResult<()> {
    sqlx::query("delete from access_package_roles where tenant_id = $1 and package_id = $2 and resource_role_id = $3")
        .bind(tenant)
        .bind(package)
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

/// (package, incompatible package) pairs of `packages`, in either direction: an
/// incompatibility declared on one package binds both.
pub async fn incompatible_packages_of(
    conn: &mut Conn,
    tenant: TenantId,
    packages: &[PackageId],
) -> DbResult<Vec<(PackageId, PackageId)>> {
    Ok(sqlx::query_as(
        "select package_id, other_package_id from incompatible_packages where tenant_id = $1 and package_id = any($2)
         order by package_id, other_package_id",
    )
    .bind(tenant)
    .bind(packages)
    .fetch_all(conn)
    .await?)
}

pub async fn incompatible_groups_of(
    conn: &mut Conn,
    tenant: TenantId,
    packages: &[PackageId],
) -> DbResult<Vec<(PackageId, GroupId)>> {
    Ok(sqlx::query_as(
        "select package_id, group_id from incompatible_groups where tenant_id = $1 and package_id = any($2)
         order by package_id, group_id",
    )
    .bind(tenant)
    .bind(packages)
    .fetch_all(conn)
    .await?)
}

pub async fn set_incompatible(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    packages: &[PackageId],
    groups: &[GroupId],
) -> DbResult<()> {
    sqlx::query("delete from incompatible_packages where tenant_id = $1 and package_id = $2")
        .bind(tenant)
        .bind(package)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from incompatible_groups where tenant_id = $1 and package_id = $2")
        .bind(tenant)
        .bind(package)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into incompatible_packages (tenant_id, package_id, other_package_id)
         select $1, $2, unnest($3::uuid[]) on conflict do nothing",
    )
    .bind(tenant)
    .bind(package)
    .bind(packages)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into incompatible_groups (tenant_id, package_id, group_id)
         select $1, $2, unnest($3::uuid[]) on conflict do nothing",
    )
    .bind(tenant)
    .bind(package)
    .bind(groups)
    .execute(conn)
    .await?;
    Ok(())
}

/// Active assignments plus open requests of a package (or of one policy).
pub async fn open_work(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    policy: Option<PolicyId>,
) -> DbResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "select
            (select count(*) from assignments where tenant_id = $1 and package_id = $2
               and ($3::uuid is null or policy_id = $3)
               and state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed')),
            (select count(*) from assignment_requests where tenant_id = $1 and package_id = $2
               and ($3::uuid is null or policy_id = $3)
               and state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled', 'delivering'))",
    )
    .bind(tenant)
    .bind(package)
    .bind(policy)
    .fetch_one(conn)
    .await?)
}

/// Whether anything keeps the package's history: a request, assignment or review of it.
pub async fn has_history(conn: &mut Conn, tenant: TenantId, package: PackageId) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from assignment_requests where tenant_id = $1 and package_id = $2)
             or exists (select 1 from assignments where tenant_id = $1 and package_id = $2)
             or exists (select 1 from access_reviews where tenant_id = $1 and package_id = $2)",
    )
    .bind(tenant)
    .bind(package)
    .fetch_one(conn)
    .await?)
}

/// Locks the package row, so no request is added while it is archived.
pub async fn lock(conn: &mut Conn, tenant: TenantId, id: PackageId) -> DbResult<()> {
    sqlx::query("select 1 from access_packages where tenant_id = $1 and id = $2 for update")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn archive(
    conn: &mut Conn,
    tenant: TenantId,
    id: PackageId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update access_packages set archived_at = $3, updated_at = $3, version = version + 1
         where tenant_id = $1 and id = $2 and archived_at is null",
    )
    .bind(tenant)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) const POLICY_COLUMNS: &str =
    "tenant_id, id, package_id, display_name, settings, created_at, updated_at, version";

pub async fn insert_policy(conn: &mut Conn, p: &Policy) -> DbResult<()> {
    sqlx::query(
        "insert into policies (tenant_id, id, package_id, display_name, settings, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(p.id)
    .bind(p.package_id)
    .bind(&p.display_name)
    .bind(&p.settings)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `p` over the stored policy if it is still at `p.version`, raising the
/// version; false when another change came first.
pub async fn update_policy(conn: &mut Conn, p: &Policy) -> DbResult<bool> {
    let done = sqlx::query(
        "update policies set display_name = $3, settings = $4, updated_at = $5, version = version + 1
         where tenant_id = $1 and id = $2 and version = $6",
    )
    .bind(p.tenant_id)
    .bind(p.id)
    .bind(&p.display_name)
    .bind(&p.settings)
    .bind(p.updated_at)
    .bind(p.version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_policy(conn: &mut Conn, tenant: TenantId, id: PolicyId) -> DbResult<()> {
    sqlx::query("delete from policies where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_policy(
    conn: &mut Conn,
    tenant: TenantId,
    id: PolicyId,
) -> DbResult<Option<Policy>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POLICY_COLUMNS} from policies where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Policies of a package, oldest first (the order an admin created them).
pub async fn policies_of(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> DbResult<Vec<Policy>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POLICY_COLUMNS} from policies where tenant_id = $1 and package_id = $2 order by id"
    )))
    .bind(tenant)
    .bind(package)
    .fetch_all(conn)
    .await?)
}

/// Directory groups behind the package's group resources.
pub async fn groups_of_package(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> DbResult<Vec<GroupId>> {
    Ok(sqlx::query_scalar(
        "select distinct r.group_id from access_package_roles p
         join resource_roles rr on rr.tenant_id = p.tenant_id and rr.id = p.resource_role_id
         join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id
         where p.tenant_id = $1 and p.package_id = $2 and r.group_id is not null",
    )
    .bind(tenant)
    .bind(package)
    .fetch_all(conn)
    .await?)
}

/// What a caller may see of the package list: every package of `readable` catalogs
/// (of all catalogs with `read_all`), and elsewhere the non-hidden packages of enabled
/// catalogs (for guests only of externally visible ones). Archived packages are
/// listed only when asked for (`archived`), and then alone.
#[derive(Clone, Debug, Default)]
pub struct Visibility<'a> {
    pub read_all: bool,
    pub readable: &'a [CatalogId],
    pub guest: bool,
    pub archived: bool,
}

pub async fn list_visible(
    conn: &mut Conn,
    tenant: TenantId,
    visibility: &Visibility<'_>,
    catalog: Option<CatalogId>,
    search: Option<&str>,
    page: PageRequest,
) -> DbResult<Page<AccessPackage>> {
    let rows: Vec<AccessPackage> =
        sqlx::query_as(sqlx::AssertSqlSafe(visible_statement(search.is_some())))
            .bind(tenant)
            .bind(page.before_bound())
            .bind(catalog)
            .bind(search.map(like_pattern))
            .bind(visibility.read_all)
            .bind(visibility.readable)
            .bind(visibility.guest)
            .bind(page.fetch_limit())
            .bind(visibility.archived)
            .fetch_all(conn)
            .await?;
    Ok(Page::from_rows(rows, page, |p| p.id.0))
}

/// The statement of [`list_visible`], searching or not: `$1` tenant, `$2` the cursor,
/// `$3` the catalog, `$4` the `like_pattern` of the term, `$5` read_all, `$6` the
/// readable catalogs, `$7` guest, `$8` the fetch limit, `$9` archived.
pub fn visible_statement(search: bool) -> String {
    let visible = "($3::uuid is null or p.catalog_id = $3)
           and ($5 or p.catalog_id = any($6) or (not p.hidden and exists (
                 select 1 from catalogs c where c.tenant_id = p.tenant_id and c.id = p.catalog_id
                   and c.enabled and (not $7 or c.externally_visible))))
           and (p.archived_at is not null) = $9";
    let columns = super::qualified(COLUMNS, "p");
    if search {
        search_page(
            &format!(
                "select {columns} from access_packages p
                 where p.tenant_id = $1 and p.id = m.id and {visible} limit 1"
            ),
            "$4",
            "$8",
        )
    } else {
        format!(
            "select {columns} from access_packages p
             where p.tenant_id = $1 and p.id < $2 and {visible}
             order by p.id desc limit $8"
        )
    }
}

/// How many of the newest packages below the cursor a search reads in order before it
/// turns to the trigram index. A term sent on to the index matches fewer than a page of
/// the window, so about page / window of all packages (at 10,000 packages and the
/// portal's page of 26, some 500 of them to recheck): reading the window and that worst
/// case then cost about the same.
pub const SEARCH_WINDOW: i64 = 500;

/// The statement of one page of packages whose name or description contains a search
/// term, newest first, bounded for common and rare terms alike.
///
/// Walking the packages newest first (the page's order) finds a page of a common term
/// after a few dozen rows but reads every package of the tenant for a rare one; the
/// trigram index (`access_packages_search_idx`) finds a rare term's matches at once but
/// reads and rechecks every one of a common term's thousands. The planner cannot tell
/// the two apart (a pattern's share is estimated from a sample of 100 values, so a term
/// that 15 of 10,000 packages match is taken for 1 %) and, for the page's LIMIT, chose
/// the walk for rare terms too. So the statement fixes the shape instead:
/// 1. `first_page`: walking at most the newest [`SEARCH_WINDOW`] packages below the
///    cursor (`$2`), the listed rows of those that match, up to the page (a common term
///    stops after a few dozen);
/// 2. `older`: only when that page is short, the matches older than the window, through
///    the trigram index (a materialized set without order or limit, so no plan walks the
///    primary key for it);
/// 3. `second_page`: the listed rows of those, newest first, up to the page.
///
/// `row` is the listed row of the candidate package `m.id`: a `select` with `limit 1`
/// (which keeps it a subquery run per candidate, in order, until the page is full);
/// `$1` is the tenant, `pattern` the `like_pattern` parameter, `limit` the page's.
pub(crate) fn search_page(row: &str, pattern: &str, limit: &str) -> String {
    let last = SEARCH_WINDOW - 1;
    format!(
        "with first_page as materialized (
           select x.* from (select id, search_text from access_packages where tenant_id = $1 and id < $2
                             order by id desc limit {SEARCH_WINDOW}) m
           cross join lateral ({row}) x
           where m.search_text like {pattern}
           order by m.id desc limit {limit}
         ), older as materialized (
           select id from access_packages
            where tenant_id = $1 and search_text like {pattern}
              and id < (select id from access_packages where tenant_id = $1 and id < $2
                         order by id desc offset {last} limit 1)
              and (select count(*) from first_page) < {limit}
         ), second_page as materialized (
           select x.* from (select id from older order by id desc) m
           cross join lateral ({row}) x
           order by m.id desc limit {limit}
         )
         select * from first_page union all select * from second_page
         order by id desc limit {limit}"
    )
}

/// Policies of a package, newest first, a page at a time.
pub async fn list_policies(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    page: PageRequest,
) -> DbResult<Page<Policy>> {
    let rows: Vec<Policy> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POLICY_COLUMNS} from policies where tenant_id = $1 and package_id = $2 and id < $3
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(package)
    .bind(page.before_bound())
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |p| p.id.0))
}
