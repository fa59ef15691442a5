//! Access reviews: the list (filtered by package and state) with each instance's
//! progress, and one instance's results: progress by reviewer, the decision on every
//! item and what applying it did, with Stop, Apply results, Remind now and the results
//! as CSV. A refused action (stopping a stopped review…) answers the page again with
//! 409 and the reason.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::domain::DomainError;
use crate::domain::ids::{AccessReviewId, PackageId};
use crate::domain::review::{AppliedResult, IfNoResponseValue, ReviewState};
use crate::paging::PageRequest;
use crate::services::reports::csv_cell;
use crate::services::reviews::AdminQuery;
use crate::services::views::reviews::{
    AdminReview, RESULT_HEADINGS, recommendation_text, result_text,
};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Pager, state_label, when, when_opt};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/reviews", get(list_reviews))
        .route("/t/{slug}/admin/reviews/{id}", get(show_review))
        .route("/t/{slug}/admin/reviews/{id}/stop", post(stop_review))
        .route("/t/{slug}/admin/reviews/{id}/apply", post(apply_review))
        .route(
            "/t/{slug}/admin/reviews/{id}/remind",
            post(remind_reviewers),
        )
        .route(
            "/t/{slug}/admin/reviews/{id}/results.csv",
            get(download_results),
        )
}

/// The badge of an instance's state.
fn review_badge(state: ReviewState) -> Badge {
    let tone = match state {
        ReviewState::InProgress => "warn",
        ReviewState::Completed => "neutral",
        ReviewState::Applied => "ok",
    };
    Badge {
        label: state_label(state),
        tone,
    }
}

/// `2027-01-04 10:00 – 2027-01-18 10:00 CET`, in the reader's zone.
fn period(start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>) -> String {
    let start = start.with_timezone(&crate::time_text::zone());
    format!("{} – {}", start.format("%Y-%m-%d %H:%M"), when(end))
}

// ---------------------------------------------------------------------------------
// The list

struct ReviewListRow {
    href: String,
    package: String,
    policy: String,
    period: String,
    due: String,
    decided: i64,
    undecided: i64,
    state: Badge,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reviews.html")]
struct ReviewsView {
    shell: Shell,
    base: String,
    state: String,
    package: String,
    package_name: String,
    states: Vec<(&'static str, String)>,
    packages: Vec<(String, String)>,
    rows: Vec<ReviewListRow>,
    pager: Pager,
}

async fn list_reviews(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let review_state = match q.get("state") {
        None => None,
        Some(s) => Some(ReviewState::parse(&s).ok_or_else(|| {
            PageError::bad_request(format!("'{s}' is not an access review state."))
        })?),
    };
    let package: Option<PackageId> = match q.get("package") {
        None => None,
        Some(p) => Some(
            p.parse()
                .map_err(|_| PageError::bad_request("The package filter is not a package id."))?,
        ),
    };
    let list = services::views::reviews::admin_reviews(
        state.pool(),
        &who.caller,
        AdminQuery {
            state: review_state,
            package,
        },
        page,
    )
    .await?;
    let base = who.url("/admin/reviews");
    let mut query = Vec::new();
    if let Some(s) = review_state {
        query.push(format!("state={s}"));
    }
    if let Some(p) = package {
        query.push(format!("package={p}"));
    }
    let filtered = if query.is_empty() {
        base.clone()
    } else {
        format!("{base}?{}", query.join("&"))
    };
    let names = &list.names;
    let rows = list
        .overview
        .reviews
        .items
        .iter()
        .map(|(r, p)| ReviewListRow {
            href: format!("{base}/{}", r.id),
            package: names.package(r.package_id.0),
            policy: names.policy_name(r.policy_id.0),
            period: period(r.start_at, r.end_at),
            due: when(r.end_at),
            decided: p.decided,
            undecided: p.items - p.decided,
            state: review_badge(r.state),
        })
        .collect();
    let mut packages: Vec<(String, String)> = list
        .overview
        .packages
        .iter()
        .map(|p| (p.to_string(), names.package(p.0)))
        .collect();
    packages.sort_by_key(|p| p.1.to_lowercase());
    Ok(ReviewsView {
        shell: who.shell("Access reviews", Section::AdminReviews),
        state: review_state.map(|s| s.to_string()).unwrap_or_default(),
        package: package.map(|p| p.to_string()).unwrap_or_default(),
        package_name: package.map(|p| names.package(p.0)).unwrap_or_default(),
        states: ReviewState::ALL
            .iter()
            .map(|s| (s.as_str(), state_label(s)))
            .collect(),
        packages,
        rows,
        pager: Pager::new(&filtered, &page, list.overview.reviews.next),
        base,
    }
    .into_response())
}

// ---------------------------------------------------------------------------------
// One review

struct ReviewerRow {
    name: String,
    email: String,
    items: i64,
    decided: i64,
    undecided: i64,
    status: Badge,
}

struct ItemRowView {
    holder: String,
    email: String,
    decision: Badge,
    reviewer: String,
    decided_at: String,
    justification: String,
    recommendation: &'static str,
    result: Badge,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/review.html")]
struct ReviewView {
    shell: Shell,
    csrf: String,
    slug: String,
    /// Why the last action was refused (the page is answered with 409).
    problem: String,
    package: String,
    package_href: String,
    policy: String,
    state: Badge,
    period: String,
    due: String,
    settings: String,
    completed: String,
    applied: String,
    reminded: String,
    items: i64,
    decided: i64,
    undecided: i64,
    reviewers: Vec<ReviewerRow>,
    rows: Vec<ItemRowView>,
    pager: Pager,
    auto_apply: bool,
    can_stop: bool,
    can_apply: bool,
    can_remind: bool,
    stop: String,
    apply: String,
    remind: String,
    csv: String,
}

fn if_no_response_text(v: IfNoResponseValue) -> &'static str {
    use IfNoResponseValue::*;
    match v {
        Keep => "unanswered items keep their access",
        Remove => "unanswered items lose their access",
        Recommendation => "unanswered items follow the recommendation",
    }
}

fn review_view(
    who: &AdminCaller,
    d: AdminReview,
    page: &PageRequest,
    problem: Option<String>,
) -> ReviewView {
    let res = &d.results;
    let r = &res.review;
    let n = &d.names;
    let base = who.url(&format!("/admin/reviews/{}", r.id));
    let reviewers = res
        .reviewers
        .iter()
        .map(|p| {
            let status = if p.undecided == 0 {
                Badge {
                    label: "Done".into(),
                    tone: "ok",
                }
            } else if p.decided == 0 {
                Badge {
                    label: "Silent".into(),
                    tone: "bad",
                }
            } else {
                Badge {
                    label: "Deciding".into(),
                    tone: "warn",
                }
            };
            ReviewerRow {
                name: n.user(p.reviewer_id),
                email: n.user_email(p.reviewer_id),
                items: p.items,
                decided: p.decided,
                undecided: p.undecided,
                status,
            }
        })
        .collect();
    let rows = res
        .items
        .items
        .iter()
        .map(|i| ItemRowView {
            holder: n.user(i.target_user_id.0),
            email: n.user_email(i.target_user_id.0),
            decision: Badge::state(i.decision),
            reviewer: i.decided_by.map(|u| n.user(u.0)).unwrap_or_default(),
            decided_at: i.decided_at.map(when).unwrap_or_default(),
            justification: i.justification.clone().unwrap_or_default(),
            recommendation: recommendation_text(i.recommendation),
            result: Badge {
                label: result_text(i.applied_result).into(),
                tone: match i.applied_result {
                    Some(AppliedResult::Removed) => "bad",
                    Some(AppliedResult::Kept) => "ok",
                    _ => "neutral",
                },
            },
        })
        .collect();
    let open = r.state == ReviewState::InProgress;
    let undecided = res.progress.items - res.progress.decided;
    let settings = format!(
        "{}; {}{}",
        if r.auto_apply {
            "results applied automatically at the end"
        } else {
            "results applied by an administrator"
        },
        if_no_response_text(r.if_no_response),
        if r.require_justification {
            "; reviewers must give a reason"
        } else {
            ""
        }
    );
    let completed = match (r.completed_at, r.stopped_early) {
        (Some(t), true) => format!("{} (stopped early)", when(t)),
        (t, _) => when_opt(t),
    };
    ReviewView {
        shell: who
            .shell(
                format!("Access review of {}", n.package(r.package_id.0)),
                Section::AdminReviews,
            )
            .history(&who.caller, Some(r.id.0)),
        csrf: who.csrf.clone(),
        slug: who.slug().to_string(),
        problem: problem.unwrap_or_default(),
        package: n.package(r.package_id.0),
        package_href: who.url(&format!("/admin/packages/{}", r.package_id)),
        policy: n.policy_name(r.policy_id.0),
        state: review_badge(r.state),
        period: period(r.start_at, r.end_at),
        due: when(r.end_at),
        settings,
        completed,
        applied: when_opt(r.applied_at),
        reminded: when_opt(res.last_reminded),
        items: res.progress.items,
        decided: res.progress.decided,
        undecided,
        reviewers,
        rows,
        pager: Pager::new(&base, page, res.items.next),
        auto_apply: r.auto_apply,
        can_stop: res.may_manage && open,
        can_apply: res.may_manage && r.state == ReviewState::Completed,
        can_remind: res.may_manage && open && undecided > 0,
        stop: format!("{base}/stop"),
        apply: format!("{base}/apply"),
        remind: format!("{base}/remind"),
        csv: format!("{base}/results.csv"),
    }
}

async fn show_review(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<AccessReviewId>,
    q: Params,
) -> PageResult {
    let page = q.page()?;
    let d = services::views::reviews::admin_review(state.pool(), &who.caller, id, page).await?;
    Ok(review_view(&who, d, &page, None).into_response())
}

/// After an action: back to the review with `done`, or, when the state of things
/// refused it, the review again with 409 and the reason.
async fn after_action<T>(
    state: &AppState,
    who: &AdminCaller,
    id: AccessReviewId,
    outcome: Result<T, ServiceError>,
    done: impl FnOnce(T) -> String,
) -> PageResult {
    match outcome {
        Ok(v) => Ok(redirect_with_flash(
            state,
            &who.url(&format!("/admin/reviews/{id}")),
            &done(v),
        )),
        Err(ServiceError::Domain(DomainError::Conflict(message))) => {
            let page = PageRequest::first(25);
            let d =
                services::views::reviews::admin_review(state.pool(), &who.caller, id, page).await?;
            let mut response = review_view(who, d, &page, Some(message)).into_response();
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

async fn stop_review(
    State(state): State<AppState>,
    Ids(id): Ids<AccessReviewId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let outcome = services::reviews::stop(state.pool(), &who.caller, id, state.now()).await;
    after_action(&state, &who, id, outcome, |r| {
        if r.state == ReviewState::Applied {
            "The review is stopped and its results are applied.".into()
        } else {
            "The review is stopped. Apply its results when you are ready.".into()
        }
    })
    .await
}

async fn apply_review(
    State(state): State<AppState>,
    Ids(id): Ids<AccessReviewId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let outcome = services::reviews::apply(state.pool(), &who.caller, id, state.now()).await;
    after_action(&state, &who, id, outcome, |_| {
        "The results are applied: denied access has been removed.".into()
    })
    .await
}

async fn remind_reviewers(
    State(state): State<AppState>,
    Ids(id): Ids<AccessReviewId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let outcome = services::reviews::remind_now(state.pool(), &who.caller, id, state.now()).await;
    after_action(&state, &who, id, outcome, |n| {
        if n == 1 {
            "A reminder is on its way to the 1 reviewer with undecided items.".into()
        } else {
            format!("Reminders are on their way to the {n} reviewers with undecided items.")
        }
    })
    .await
}

// ---------------------------------------------------------------------------------
// CSV

/// `Sales Tools (EMEA)` → `sales-tools-emea`, for a file name.
pub(super) fn file_stem(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "package".into()
    } else {
        trimmed.chars().take(60).collect()
    }
}

fn csv_error(e: impl std::fmt::Display) -> PageError {
    ServiceError::Internal(anyhow::anyhow!("writing the review results as CSV: {e}")).into()
}

async fn download_results(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<AccessReviewId>,
) -> Result<Response, PageError> {
    let results = services::views::reviews::exported_results(state.pool(), &who.caller, id).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(RESULT_HEADINGS).map_err(csv_error)?;
    for row in &results.rows {
        w.write_record(row.iter().map(|c| csv_cell(c).into_owned()))
            .map_err(csv_error)?;
    }
    let body = w.into_inner().map_err(csv_error)?;
    let filename = format!(
        "access-review-{}-{}.csv",
        file_stem(&results.package),
        results.review.start_at.format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_plain_letters_and_digits() {
        assert_eq!(file_stem("Sales Tools (EMEA)"), "sales-tools-emea");
        assert_eq!(file_stem("\"; evil\r\n"), "evil");
        assert_eq!(file_stem("Ünïcode"), "n-code");
        assert_eq!(file_stem("***"), "package");
    }
}
