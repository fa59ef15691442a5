//! Read models and use cases of the requester portal, My Access (DOMAIN.md §5–7, §9):
//! what a person may request, their requests, their access, the approvals and access
//! review items that are theirs to decide. Each page calls one function here.
//!
//! Invariant: everything returned is the caller's own — their requests and
//! assignments, stages where they are an approver, review items where they are a
//! reviewer — whatever admin roles they also hold; anything else reads as missing
//! (404), like another tenant's id.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::requests::{self, RequestInput, RequestView};
use super::{Caller, ServiceError, ServiceResult, reviews};
use crate::db::assignments::AssignmentRow;
use crate::db::catalogs::Catalog;
use crate::db::groups::Relation;
use crate::db::packages::{AccessPackage, Policy};
use crate::db::portal::{Counts, ListedPackage};
use crate::db::reviews::{ItemRow, ReviewRow};
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::ids::{
    AccessReviewId, AssignmentId, GroupId, PackageId, PolicyId, RequestId, ReviewItemId, TenantId,
    UserId,
};
use crate::domain::policy::ApproverKind;
use crate::domain::request::{AnswerInput, Decision, RequestType};
use crate::domain::review::ItemDecision;

fn missing(what: &'static str) -> ServiceError {
    ServiceError::Domain(DomainError::NotFound(what))
}

/// Display names of the people, groups and packages a page mentions, loaded in one
/// query per kind.
#[derive(Clone, Debug, Default)]
pub struct Names {
    users: HashMap<Uuid, String>,
    groups: HashMap<Uuid, String>,
    packages: HashMap<Uuid, String>,
    policies: HashMap<Uuid, Policy>,
}

impl Names {
    pub fn user(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "someone who left".into())
    }

    pub fn group(&self, id: Uuid) -> String {
        self.groups
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "a group".into())
    }

    pub fn package(&self, id: Uuid) -> String {
        self.packages
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "an access package".into())
    }

    pub fn policy(&self, id: PolicyId) -> Option<&Policy> {
        self.policies.get(&id.0)
    }

    async fn load(
        conn: &mut Conn,
        tenant: TenantId,
        users: Vec<Uuid>,
        groups: Vec<Uuid>,
        packages: Vec<Uuid>,
    ) -> ServiceResult<Self> {
        let mut names = Self::default();
        let mut users: Vec<UserId> = users.into_iter().map(UserId).collect();
        users.sort();
        users.dedup();
        if !users.is_empty() {
            for u in db::users::get_many(conn, tenant, &users).await? {
                names.users.insert(u.id.0, u.display_name);
            }
        }
        let mut groups: Vec<GroupId> = groups.into_iter().map(GroupId).collect();
        groups.sort();
        groups.dedup();
        if !groups.is_empty() {
            for g in db::groups::get_many(conn, tenant, &groups).await? {
                names.groups.insert(g.id.0, g.display_name);
            }
        }
        let mut packages: Vec<PackageId> = packages.into_iter().map(PackageId).collect();
        packages.sort();
        packages.dedup();
        if !packages.is_empty() {
            for p in db::packages::get_many(conn, tenant, &packages).await? {
                names.packages.insert(p.id.0, p.display_name);
            }
        }
        Ok(names)
    }

    /// Names of everything the requests mention (packages, requestors, approvers).
    async fn of_requests(
        conn: &mut Conn,
        tenant: TenantId,
        views: &[RequestView],
    ) -> ServiceResult<Self> {
        let mut users = Vec::new();
        let mut packages = Vec::new();
        for v in views {
            packages.push(v.request.package_id.0);
            users.push(v.request.target_user_id.0);
            users.extend(v.request.requestor_id.map(|u| u.0));
            for s in &v.stages {
                users.extend(s.stage.approver_ids.iter().copied());
                users.extend(s.decisions.iter().map(|d| d.approver_id.0));
            }
        }
        let mut names = Self::load(conn, tenant, users, Vec::new(), packages).await?;
        let mut policy_ids: Vec<PolicyId> = views.iter().map(|v| v.request.policy_id).collect();
        policy_ids.sort();
        policy_ids.dedup();
        for id in policy_ids {
            if let Some(p) = db::packages::get_policy(conn, tenant, id).await? {
                names.policies.insert(id.0, p);
            }
        }
        Ok(names)
    }
}

// ---------------------------------------------------------------------------------
// Home

/// The portal's home page: counts, open requests and access ending soon.
pub struct Overview {
    pub counts: Counts,
    pub ending_soon: Vec<AssignmentRow>,
    pub names: Names,
}

pub async fn overview(
    pool: &PgPool,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<Overview> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let counts = db::portal::counts(&mut conn, tenant, caller.user_id(), now).await?;
    let soon = now + Duration::days(30);
    let ending_soon: Vec<AssignmentRow> =
        db::assignments::active_of_user(&mut conn, tenant, caller.user_id())
            .await?
            .into_iter()
            .filter(|a| a.end_at.is_some_and(|e| e <= soon))
            .collect();
    let packages = ending_soon.iter().map(|a| a.package_id.0).collect();
    let names = Names::load(&mut conn, tenant, Vec::new(), Vec::new(), packages).await?;
    Ok(Overview {
        counts,
        ending_soon,
        names,
    })
}

// ---------------------------------------------------------------------------------
// Access packages

/// The packages the caller may browse, a page at a time (hidden ones only by link).
pub async fn packages(
    pool: &PgPool,
    caller: &Caller,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<ListedPackage>> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let mut conn = pool.acquire().await?;
    Ok(db::portal::requestable(
        &mut conn,
        caller.tenant_id(),
        caller.user.is_guest(),
        search,
        page,
    )
    .await?)
}

/// One approval stage of a policy, in words.
#[derive(Clone, Debug)]
pub struct StageSummary {
    pub approvers: String,
    pub timeout_days: i64,
    pub require_justification: bool,
}

/// A policy the caller may request under, with what it asks.
#[derive(Clone, Debug)]
pub struct PolicyOption {
    pub policy: Policy,
    pub stages: Vec<StageSummary>,
}

/// A package as the portal shows it.
pub struct PackageDetail {
    pub package: AccessPackage,
    pub catalog: Catalog,
    /// (resource, role) pairs the package grants.
    pub grants: Vec<(String, String)>,
    /// Policies whose requestors include the caller and that take requests.
    pub policies: Vec<PolicyOption>,
    pub active: Option<AssignmentRow>,
    pub open_request: Option<RequestId>,
}

pub async fn package(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
) -> ServiceResult<PackageDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let package = db::packages::get(&mut conn, tenant, id)
        .await?
        .ok_or_else(|| missing("access package"))?;
    let catalog = db::catalogs::get(&mut conn, tenant, package.catalog_id)
        .await?
        .ok_or_else(|| missing("access package"))?;
    if caller.user.is_guest() && !catalog.externally_visible {
        return Err(missing("access package"));
    }
    let role_ids: Vec<_> = db::packages::roles_of(&mut conn, tenant, &[id])
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let roles = db::catalogs::get_roles(&mut conn, tenant, &role_ids).await?;
    let mut resource_ids: Vec<_> = roles.iter().map(|r| r.resource_id).collect();
    resource_ids.dedup();
    let resources = db::catalogs::get_resources(&mut conn, tenant, &resource_ids).await?;
    let group_ids: Vec<Uuid> = resources
        .iter()
        .filter_map(|r| r.group_id.map(|g| g.0))
        .collect();
    let groups =
        db::groups::groups_of_user(&mut conn, Relation::Member, tenant, caller.user_id()).await?;
    let policies: Vec<Policy> = db::packages::policies_of(&mut conn, tenant, id)
        .await?
        .into_iter()
        .filter(|p| {
            let s = &p.settings.0;
            s.requests_enabled
                && requests::in_scope(s, &caller.user, &groups, catalog.externally_visible)
        })
        .collect();
    let mut users = Vec::new();
    let mut approver_groups = group_ids;
    for p in &policies {
        for s in &p.settings.0.approval.stages {
            for a in &s.approvers {
                match a.kind {
                    ApproverKind::User => users.extend(a.id),
                    ApproverKind::Group => approver_groups.extend(a.id),
                    _ => {}
                }
            }
        }
    }
    let names = Names::load(&mut conn, tenant, users, approver_groups, Vec::new()).await?;
    let grants = roles
        .iter()
        .map(|role| {
            let resource = resources.iter().find(|r| r.id == role.resource_id);
            let label = resource.map_or_else(String::new, |r| match r.group_id {
                Some(g) => names.group(g.0),
                None => r.display_name.clone(),
            });
            (label, role.display_name.clone())
        })
        .collect();
    let policies = policies
        .into_iter()
        .map(|policy| {
            let stages = policy
                .settings
                .0
                .approval
                .stages
                .iter()
                .map(|s| StageSummary {
                    approvers: s
                        .approvers
                        .iter()
                        .map(|a| match a.kind {
                            ApproverKind::Manager => "your manager".to_string(),
                            ApproverKind::SecondLevelManager => "your manager's manager".into(),
                            ApproverKind::User => a.id.map_or_else(String::new, |u| names.user(u)),
                            ApproverKind::Group => a.id.map_or_else(String::new, |g| {
                                format!("a member of {}", names.group(g))
                            }),
                            ApproverKind::ResourceOwners => "the owners of the resources".into(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    timeout_days: s.timeout_days,
                    require_justification: s.require_justification,
                })
                .collect();
            PolicyOption { policy, stages }
        })
        .collect();
    let active = db::assignments::active_for(&mut conn, tenant, id, caller.user_id()).await?;
    let open_request =
        db::portal::open_add_request(&mut conn, tenant, id, caller.user_id()).await?;
    Ok(PackageDetail {
        package,
        catalog,
        grants,
        policies,
        active,
        open_request,
    })
}

/// What the request form sent.
#[derive(Clone, Debug, Default)]
pub struct RequestForm {
    pub policy_id: Option<PolicyId>,
    pub justification: Option<String>,
    pub answers: Vec<AnswerInput>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Requests the package for the caller (a `userAdd` request).
pub async fn request_package(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    form: RequestForm,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    {
        // Another tenant's (or no) package reads as missing, not as a form error.
        let mut conn = pool.acquire().await?;
        db::packages::get(&mut conn, caller.tenant_id(), package)
            .await?
            .ok_or_else(|| missing("access package"))?;
    }
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::UserAdd,
            access_package_id: Some(package),
            policy_id: form.policy_id,
            target_user_id: None,
            assignment_id: None,
            justification: form.justification,
            answers: form.answers,
            start: form.start,
            end: form.end,
        },
        now,
    )
    .await
}

// ---------------------------------------------------------------------------------
// Requests

/// A page of requests with the names they mention.
pub struct RequestList {
    pub page: Page<RequestView>,
    pub names: Names,
}

/// The caller's own requests (for themselves), newest first.
pub async fn my_requests(
    pool: &PgPool,
    caller: &Caller,
    page: PageRequest,
) -> ServiceResult<RequestList> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let filter = db::requests::RequestFilter {
        involving: None,
        package: None,
        target: Some(caller.user_id()),
        state: None,
        catalogs: None,
    };
    let rows = db::requests::list(&mut conn, tenant, &filter, page).await?;
    let items = requests::views(&mut conn, tenant, rows.items).await?;
    let names = Names::of_requests(&mut conn, tenant, &items).await?;
    Ok(RequestList {
        page: Page {
            items,
            next: rows.next,
        },
        names,
    })
}

/// One request with the names it mentions.
pub struct RequestDetail {
    pub view: RequestView,
    pub names: Names,
}

async fn own_request(
    conn: &mut Conn,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<crate::db::requests::RequestRow> {
    db::requests::get(conn, caller.tenant_id(), id)
        .await?
        .filter(|r| {
            r.target_user_id == caller.user_id() || r.requestor_id == Some(caller.user_id())
        })
        .ok_or_else(|| missing("assignment request"))
}

pub async fn my_request(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let row = own_request(&mut conn, caller, id).await?;
    let views = requests::views(&mut conn, tenant, vec![row]).await?;
    let names = Names::of_requests(&mut conn, tenant, &views).await?;
    let view = views
        .into_iter()
        .next()
        .ok_or_else(|| missing("assignment request"))?;
    Ok(RequestDetail { view, names })
}

/// Cancels one of the caller's own open requests.
pub async fn cancel_my_request(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    {
        let mut conn = pool.acquire().await?;
        own_request(&mut conn, caller, id).await?;
    }
    requests::cancel(pool, caller, id, now).await
}

// ---------------------------------------------------------------------------------
// My access

/// The caller's active assignments with their packages and policies.
pub struct AccessList {
    pub items: Vec<AssignmentRow>,
    pub names: Names,
}

pub async fn my_access(pool: &PgPool, caller: &Caller) -> ServiceResult<AccessList> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let mut items = db::assignments::active_of_user(&mut conn, tenant, caller.user_id()).await?;
    items.reverse();
    let packages = items.iter().map(|a| a.package_id.0).collect();
    let mut names = Names::load(&mut conn, tenant, Vec::new(), Vec::new(), packages).await?;
    for a in &items {
        if let Some(p) = db::packages::get_policy(&mut conn, tenant, a.policy_id).await? {
            names.policies.insert(a.policy_id.0, p);
        }
    }
    Ok(AccessList { items, names })
}

/// One of the caller's active assignments (extend and remove pages).
pub struct AccessDetail {
    pub assignment: AssignmentRow,
    pub package: String,
    pub policy: Policy,
}

pub async fn my_assignment(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
) -> ServiceResult<AccessDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let assignment = db::assignments::get(&mut conn, tenant, id)
        .await?
        .filter(|a| a.target_user_id == caller.user_id())
        .filter(|a| a.state.is_active())
        .ok_or_else(|| missing("assignment"))?;
    let package = db::packages::get(&mut conn, tenant, assignment.package_id)
        .await?
        .map(|p| p.display_name)
        .unwrap_or_default();
    let policy = db::packages::get_policy(&mut conn, tenant, assignment.policy_id)
        .await?
        .ok_or_else(|| missing("assignment"))?;
    Ok(AccessDetail {
        assignment,
        package,
        policy,
    })
}

/// Asks to extend one of the caller's assignments (a `userUpdate` request).
pub async fn extend_access(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let detail = my_assignment(pool, caller, id).await?;
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::UserUpdate,
            access_package_id: Some(detail.assignment.package_id),
            policy_id: None,
            target_user_id: None,
            assignment_id: Some(id),
            justification,
            answers: Vec::new(),
            start: None,
            end: None,
        },
        now,
    )
    .await
}

/// Gives up one of the caller's assignments (a `userRemove` request).
pub async fn remove_access(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let detail = my_assignment(pool, caller, id).await?;
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::UserRemove,
            access_package_id: Some(detail.assignment.package_id),
            policy_id: None,
            target_user_id: None,
            assignment_id: Some(id),
            justification: None,
            answers: Vec::new(),
            start: None,
            end: None,
        },
        now,
    )
    .await
}

// ---------------------------------------------------------------------------------
// Approvals

/// The caller's approvals (pending or decided) with the names they mention.
pub struct ApprovalList {
    pub items: Vec<(i32, RequestView)>,
    pub next: Option<Uuid>,
    pub names: Names,
}

pub async fn approvals(
    pool: &PgPool,
    caller: &Caller,
    decided: bool,
    page: PageRequest,
) -> ServiceResult<ApprovalList> {
    let found = requests::approvals(pool, caller, decided, page).await?;
    let items: Vec<(i32, RequestView)> = found
        .items
        .into_iter()
        .map(|a| (a.stage_index, a.request))
        .collect();
    let views: Vec<RequestView> = items.iter().map(|(_, v)| v.clone()).collect();
    let mut conn = pool.acquire().await?;
    let names = Names::of_requests(&mut conn, caller.tenant_id(), &views).await?;
    Ok(ApprovalList {
        items,
        next: found.next,
        names,
    })
}

/// A request the caller approves (or approved) at some stage; else 404.
pub async fn approval(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let row = db::requests::get(&mut conn, tenant, id)
        .await?
        .ok_or_else(|| missing("approval"))?;
    let views = requests::views(&mut conn, tenant, vec![row]).await?;
    let view = views
        .into_iter()
        .next()
        .filter(|v| {
            v.stages
                .iter()
                .any(|s| s.stage.approver_ids.contains(&caller.user_id().0))
        })
        .ok_or_else(|| missing("approval"))?;
    let names = Names::of_requests(&mut conn, tenant, std::slice::from_ref(&view)).await?;
    Ok(RequestDetail { view, names })
}

/// The caller's decision on a request they approve.
pub async fn decide_approval(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    approval(pool, caller, id).await?;
    requests::decide(pool, caller, id, decision, justification, now).await
}

// ---------------------------------------------------------------------------------
// Access reviews

/// Review instances where the caller reviews an item.
pub struct ReviewList {
    pub items: Vec<ReviewRow>,
    pub next: Option<Uuid>,
    pub names: Names,
}

pub async fn my_reviews(
    pool: &PgPool,
    caller: &Caller,
    page: PageRequest,
) -> ServiceResult<ReviewList> {
    let found = reviews::list(
        pool,
        caller,
        reviews::ListQuery {
            mine: true,
            ..Default::default()
        },
        page,
    )
    .await?;
    let packages = found.items.iter().map(|r| r.package_id.0).collect();
    let mut conn = pool.acquire().await?;
    let names = Names::load(
        &mut conn,
        caller.tenant_id(),
        Vec::new(),
        Vec::new(),
        packages,
    )
    .await?;
    Ok(ReviewList {
        items: found.items,
        next: found.next,
        names,
    })
}

/// One review instance with the caller's items.
pub struct ReviewDetail {
    pub review: ReviewRow,
    pub items: Vec<ItemRow>,
    pub names: Names,
}

pub async fn my_review(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<ReviewDetail> {
    let review = reviews::get(pool, caller, id).await?;
    let items = reviews::items(pool, caller, id, true, PageRequest::first(PageRequest::MAX))
        .await?
        .items;
    if items.is_empty() {
        return Err(missing("access review"));
    }
    let users = items
        .iter()
        .flat_map(|i| std::iter::once(i.target_user_id.0).chain(i.decided_by.map(|u| u.0)))
        .collect();
    let mut conn = pool.acquire().await?;
    let names = Names::load(
        &mut conn,
        caller.tenant_id(),
        users,
        Vec::new(),
        vec![review.package_id.0],
    )
    .await?;
    Ok(ReviewDetail {
        review,
        items,
        names,
    })
}

/// The caller's decision on one item of a review.
pub async fn decide_review_item(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    item: ReviewItemId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<ItemRow> {
    my_review(pool, caller, id).await?;
    reviews::decide(pool, caller, id, item, decision, justification, now).await
}

/// Takes the recommendation of every item of the caller's that has one and is not
/// decided yet; the number of items decided.
pub async fn accept_recommendations(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<usize> {
    let detail = my_review(pool, caller, id).await?;
    let mut n = 0;
    for item in detail
        .items
        .iter()
        .filter(|i| i.decision == ItemDecision::NotReviewed)
    {
        let Some(decision) = item.recommendation else {
            continue;
        };
        reviews::decide(
            pool,
            caller,
            id,
            item.id,
            decision,
            justification.clone(),
            now,
        )
        .await?;
        n += 1;
    }
    Ok(n)
}
