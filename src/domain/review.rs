//! Access reviews (DOMAIN.md §9): when each instance of a policy's review runs, who
//! reviews an item, what Portico recommends, the review's state machine and what an
//! item's decision does at the end. Pure functions; the service supplies the facts and
//! `now`.
//!
//! Invariant: instance `n` of a review covers exactly
//! `[startDate + n × recurrence, that + durationDays × 24 h)`, months added as calendar
//! months from the start date (never month by month, so a 31st stays a 31st where the
//! month has one), with no rounding of either end.

use chrono::{DateTime, Datelike, Duration, Months, Utc};
use uuid::Uuid;

use super::error::DomainError;
use super::policy::{IfNoResponse, Recurrence, ReviewSettings, ReviewerKind};
use super::request::Decision;
use super::string_enum;

/// A sign-in older than this makes Portico recommend deny.
pub const INACTIVITY_DAYS: i64 = 30;

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] ReviewState {
    InProgress = "inProgress",
    Completed = "completed",
    Applied = "applied",
});

impl ReviewState {
    /// inProgress → completed (at the end, or stopped early).
    pub fn complete(self) -> Result<Self, DomainError> {
        match self {
            Self::InProgress => Ok(Self::Completed),
            Self::Completed | Self::Applied => Err(DomainError::conflict(
                "This access review has already ended.",
            )),
        }
    }

    /// completed → applied (automatically at the end with `autoApply`, else by an admin).
    pub fn apply(self) -> Result<Self, DomainError> {
        match self {
            Self::Completed => Ok(Self::Applied),
            Self::InProgress => Err(DomainError::conflict(
                "This access review is still in progress; its results can be applied once it has ended (or after stopping it).",
            )),
            Self::Applied => Err(DomainError::conflict(
                "The results of this access review have already been applied.",
            )),
        }
    }
}

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] IfNoResponseValue {
    Keep = "keep",
    Remove = "remove",
    Recommendation = "recommendation",
});

impl From<IfNoResponse> for IfNoResponseValue {
    fn from(v: IfNoResponse) -> Self {
        match v {
            IfNoResponse::Keep => Self::Keep,
            IfNoResponse::Remove => Self::Remove,
            IfNoResponse::Recommendation => Self::Recommendation,
        }
    }
}

impl From<IfNoResponseValue> for IfNoResponse {
    fn from(v: IfNoResponseValue) -> Self {
        match v {
            IfNoResponseValue::Keep => Self::Keep,
            IfNoResponseValue::Remove => Self::Remove,
            IfNoResponseValue::Recommendation => Self::Recommendation,
        }
    }
}

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] ItemDecision {
    NotReviewed = "notReviewed",
    Approve = "approve",
    Deny = "deny",
});

impl From<Decision> for ItemDecision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Approve => Self::Approve,
            Decision::Deny => Self::Deny,
        }
    }
}

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] AppliedResult {
    Kept = "kept",
    Removed = "removed",
    AlreadyEnded = "alreadyEnded",
});

/// One instance's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub index: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn months_per(recurrence: Recurrence) -> Option<u32> {
    match recurrence {
        Recurrence::Weekly => None,
        Recurrence::Monthly => Some(1),
        Recurrence::Quarterly => Some(3),
        Recurrence::SemiAnnual => Some(6),
        Recurrence::Annual => Some(12),
    }
}

/// `startDate + n × recurrence`; `None` for a negative `n` or past the calendar's end.
pub fn period_start(settings: &ReviewSettings, n: i64) -> Option<DateTime<Utc>> {
    if n < 0 {
        return None;
    }
    match months_per(settings.recurrence) {
        None => settings
            .start_date
            .checked_add_signed(Duration::try_weeks(n)?),
        Some(per) => {
            let months = u32::try_from(n).ok()?.checked_mul(per)?;
            settings.start_date.checked_add_months(Months::new(months))
        }
    }
}

/// Instance `n`: its start and its end `durationDays × 24 h` later.
pub fn period(settings: &ReviewSettings, n: i64) -> Option<Period> {
    let start = period_start(settings, n)?;
    let end = start.checked_add_signed(Duration::try_days(settings.duration_days)?)?;
    Some(Period {
        index: n,
        start,
        end,
    })
}

/// The index of the last instance that has started by `now`, if any has.
fn last_started(settings: &ReviewSettings, now: DateTime<Utc>) -> Option<i64> {
    let first = settings.start_date;
    if now < first {
        return None;
    }
    // A close guess, then a step or two to the exact answer.
    let guess = match months_per(settings.recurrence) {
        None => (now - first).num_days() / 7,
        Some(per) => {
            let months = (i64::from(now.year()) - i64::from(first.year())) * 12
                + i64::from(now.month())
                - i64::from(first.month());
            months / i64::from(per)
        }
    };
    let mut n = guess.max(0);
    while n > 0 && period_start(settings, n).is_none_or(|s| s > now) {
        n -= 1;
    }
    while period_start(settings, n + 1).is_some_and(|s| s <= now) {
        n += 1;
    }
    Some(n)
}

/// The instance whose window contains `now`: a start date in the past starts the
/// current period's instance at once, with its scheduled end; periods already over are
/// skipped (no backlog), and between two windows there is none.
pub fn current_period(settings: &ReviewSettings, now: DateTime<Utc>) -> Option<Period> {
    let p = period(settings, last_started(settings, now)?)?;
    (now < p.end).then_some(p)
}

/// When the next instance after `now` starts.
pub fn next_start(settings: &ReviewSettings, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match last_started(settings, now) {
        None => Some(settings.start_date),
        Some(n) => period_start(settings, n + 1),
    }
}

/// When reviewers with undecided items are reminded: once 75 % of the window has
/// passed or one day before the end, whichever is later (never before the start).
pub fn remind_at(start: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
    let three_quarters = start + (end - start) * 3 / 4;
    let day_before = end - Duration::days(1);
    three_quarters.max(day_before).max(start).min(end)
}

/// How long after a reminder an administrator's "Remind now" waits, so reviewers are
/// not emailed twice in a row by a double click or an impatient colleague.
pub const REMIND_AGAIN_AFTER_MINUTES: i64 = 60;

/// Whether reviewers may be reminded again now, given when they last were.
pub fn check_remind_again(
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    match last {
        Some(at) if now < at + Duration::minutes(REMIND_AGAIN_AFTER_MINUTES) => {
            let again = at + Duration::minutes(REMIND_AGAIN_AFTER_MINUTES);
            Err(DomainError::conflict(format!(
                "The reviewers were reminded at {}; you can remind them again from {}.",
                at.format("%Y-%m-%d %H:%M UTC"),
                again.format("%Y-%m-%d %H:%M UTC")
            )))
        }
        _ => Ok(()),
    }
}

/// Deny when the last sign-in is older than 30 days, approve when newer, none when it
/// is unknown.
pub fn recommendation(last_sign_in: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<Decision> {
    let last = last_sign_in?;
    if now - last > Duration::days(INACTIVITY_DAYS) {
        Some(Decision::Deny)
    } else {
        Some(Decision::Approve)
    }
}

/// What applying an item does to its assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Keep,
    Remove,
}

/// The last decision counts; `notReviewed` follows `ifNoResponse`, and
/// `recommendation` without a recommendation keeps access.
pub fn outcome(
    decision: ItemDecision,
    recommendation: Option<Decision>,
    if_no_response: IfNoResponse,
) -> Outcome {
    match decision {
        ItemDecision::Approve => Outcome::Keep,
        ItemDecision::Deny => Outcome::Remove,
        ItemDecision::NotReviewed => match if_no_response {
            IfNoResponse::Keep => Outcome::Keep,
            IfNoResponse::Remove => Outcome::Remove,
            IfNoResponse::Recommendation => match recommendation {
                Some(Decision::Deny) => Outcome::Remove,
                Some(Decision::Approve) | None => Outcome::Keep,
            },
        },
    }
}

/// Whether a reviewer may still decide: only while the review is in progress and
/// before its end.
pub fn check_open_for_decisions(
    state: ReviewState,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if state != ReviewState::InProgress || now >= end {
        return Err(DomainError::conflict(format!(
            "This access review ended at {}; decisions are no longer accepted.",
            end.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    Ok(())
}

/// The reviewers a list of resolved references yields for one item: the target user
/// only through `self`, nobody twice, in the policy's order.
pub fn eligible_reviewers(candidates: &[(ReviewerKind, Uuid)], target: Uuid) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = Vec::new();
    for (kind, id) in candidates {
        let allowed = *id != target || *kind == ReviewerKind::Myself;
        if allowed && !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

/// Where the reviewers of an item came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewerSource {
    Reviewers,
    Fallback,
    TenantAdmins,
    Nobody,
}

impl ReviewerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviewers => "reviewers",
            Self::Fallback => "fallbackReviewers",
            Self::TenantAdmins => "tenantAdmins",
            Self::Nobody => "nobody",
        }
    }
}

/// The primary reviewers, else the fallback reviewers, else the tenant admins (never the
/// target user among the admins): an item never waits for a reviewer who does not exist.
pub fn select_reviewers(
    primary: Vec<Uuid>,
    fallback: Vec<Uuid>,
    admins: &[Uuid],
    target: Uuid,
) -> (Vec<Uuid>, ReviewerSource) {
    if !primary.is_empty() {
        return (primary, ReviewerSource::Reviewers);
    }
    if !fallback.is_empty() {
        return (fallback, ReviewerSource::Fallback);
    }
    let admins = eligible_reviewers(
        &admins
            .iter()
            .map(|a| (ReviewerKind::User, *a))
            .collect::<Vec<_>>(),
        target,
    );
    if admins.is_empty() {
        (admins, ReviewerSource::Nobody)
    } else {
        (admins, ReviewerSource::TenantAdmins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reviewers_are_reminded_again_only_an_hour_after_the_last_reminder() {
        let at = t("2027-01-10T09:00:00Z");
        assert!(check_remind_again(None, at).is_ok());
        let refused =
            check_remind_again(Some(at), at + Duration::minutes(59)).expect_err("too soon");
        assert!(
            refused
                .to_string()
                .contains("reminded at 2027-01-10 09:00 UTC; you can remind them again from 2027-01-10 10:00 UTC"),
            "{refused}"
        );
        assert!(check_remind_again(Some(at), at + Duration::minutes(60)).is_ok());
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    fn settings(start: &str, recurrence: &str, days: i64) -> ReviewSettings {
        serde_json::from_value(json!({"startDate": start, "recurrence": recurrence,
            "durationDays": days, "reviewers": [{"type": "self"}], "ifNoResponse": "keep"}))
        .expect("review settings")
    }

    #[test]
    fn months_are_calendar_months_counted_from_the_start_date() {
        let s = settings("2027-01-31T10:30:00Z", "monthly", 7);
        assert_eq!(period_start(&s, 1), Some(t("2027-02-28T10:30:00Z")));
        assert_eq!(
            period_start(&s, 2),
            Some(t("2027-03-31T10:30:00Z")),
            "the 31st comes back where the month has one"
        );
        let q = settings("2027-01-15T00:00:00Z", "quarterly", 14);
        assert_eq!(period_start(&q, 3), Some(t("2027-10-15T00:00:00Z")));
        let h = settings("2027-01-15T00:00:00Z", "semiAnnual", 14);
        assert_eq!(period_start(&h, 1), Some(t("2027-07-15T00:00:00Z")));
        let a = settings("2028-02-29T00:00:00Z", "annual", 14);
        assert_eq!(period_start(&a, 1), Some(t("2029-02-28T00:00:00Z")));
        assert_eq!(period_start(&a, 4), Some(t("2032-02-29T00:00:00Z")));
        let w = settings("2027-01-04T09:00:00Z", "weekly", 3);
        assert_eq!(period_start(&w, 2), Some(t("2027-01-18T09:00:00Z")));
        assert_eq!(period_start(&w, -1), None);
    }

    #[test]
    fn a_window_lasts_exactly_duration_days_of_24_hours() {
        let s = settings("2027-03-20T12:00:00Z", "monthly", 14);
        assert_eq!(
            period(&s, 0),
            Some(Period {
                index: 0,
                start: t("2027-03-20T12:00:00Z"),
                end: t("2027-04-03T12:00:00Z"),
            })
        );
    }

    #[test]
    fn the_current_period_is_the_one_whose_window_holds_now() {
        let s = settings("2026-10-01T00:00:00Z", "monthly", 14);
        assert_eq!(current_period(&s, t("2026-09-30T23:59:59Z")), None);
        assert_eq!(
            current_period(&s, t("2026-10-01T00:00:00Z")).map(|p| p.index),
            Some(0)
        );
        let p = current_period(&s, t("2027-01-04T09:00:00Z")).expect("in a window");
        assert_eq!(p.index, 3, "the earlier periods are over and skipped");
        assert_eq!(p.start, t("2027-01-01T00:00:00Z"));
        assert_eq!(p.end, t("2027-01-15T00:00:00Z"), "keeps its scheduled end");
        assert_eq!(
            current_period(&s, t("2027-01-15T00:00:00Z")),
            None,
            "the end is not part of the window"
        );
        assert_eq!(current_period(&s, t("2027-01-20T00:00:00Z")), None);
        assert_eq!(
            current_period(&s, t("2027-02-01T00:00:00Z")).map(|p| p.index),
            Some(4)
        );
    }

    #[test]
    fn the_current_period_is_found_far_from_the_start() {
        for (rec, days) in [
            ("weekly", 7),
            ("monthly", 28),
            ("quarterly", 30),
            ("semiAnnual", 30),
            ("annual", 30),
        ] {
            let s = settings("2001-01-31T23:00:00Z", rec, days);
            for n in [0, 1, 2, 11, 12, 13, 99, 250] {
                let p = period(&s, n).expect("period");
                assert_eq!(
                    current_period(&s, p.start).map(|c| c.index),
                    Some(n),
                    "{rec} {n}"
                );
                let last = p.end - Duration::seconds(1);
                assert_eq!(
                    current_period(&s, last).map(|c| c.index),
                    Some(n),
                    "{rec} {n}"
                );
                assert_eq!(next_start(&s, p.start), period_start(&s, n + 1));
            }
        }
    }

    #[test]
    fn a_period_as_long_as_the_recurrence_leaves_no_gap() {
        let s = settings("2027-01-04T09:00:00Z", "weekly", 7);
        let p = current_period(&s, t("2027-01-11T09:00:00Z")).expect("period");
        assert_eq!(p.index, 1);
        assert_eq!(
            next_start(&s, t("2027-01-04T08:00:00Z")),
            Some(s.start_date)
        );
    }

    #[test]
    fn reminders_come_at_three_quarters_or_a_day_before_the_end_whichever_is_later() {
        let start = t("2027-01-01T00:00:00Z");
        assert_eq!(
            remind_at(start, start + Duration::days(14)),
            t("2027-01-14T00:00:00Z")
        );
        assert_eq!(
            remind_at(start, start + Duration::days(1)),
            t("2027-01-01T18:00:00Z")
        );
        assert_eq!(
            remind_at(start, start + Duration::days(4)),
            t("2027-01-04T00:00:00Z")
        );
    }

    #[test]
    fn recommendations_follow_the_last_sign_in() {
        let now = t("2027-03-01T00:00:00Z");
        assert_eq!(recommendation(None, now), None);
        assert_eq!(
            recommendation(Some(now - Duration::days(5)), now),
            Some(Decision::Approve)
        );
        assert_eq!(
            recommendation(Some(now - Duration::days(30)), now),
            Some(Decision::Approve)
        );
        assert_eq!(
            recommendation(Some(now - Duration::days(30) - Duration::seconds(1)), now),
            Some(Decision::Deny)
        );
    }

    #[test]
    fn outcomes_follow_the_decision_then_if_no_response() {
        use IfNoResponse::*;
        use ItemDecision::*;
        for rule in [Keep, Remove, Recommendation] {
            assert_eq!(outcome(Approve, Some(Decision::Deny), rule), Outcome::Keep);
            assert_eq!(
                outcome(Deny, Some(Decision::Approve), rule),
                Outcome::Remove
            );
        }
        assert_eq!(
            outcome(NotReviewed, Some(Decision::Deny), Keep),
            Outcome::Keep
        );
        assert_eq!(outcome(NotReviewed, None, Remove), Outcome::Remove);
        assert_eq!(
            outcome(NotReviewed, Some(Decision::Deny), Recommendation),
            Outcome::Remove
        );
        assert_eq!(
            outcome(NotReviewed, Some(Decision::Approve), Recommendation),
            Outcome::Keep
        );
        assert_eq!(
            outcome(NotReviewed, None, Recommendation),
            Outcome::Keep,
            "no recommendation keeps access"
        );
    }

    #[test]
    fn the_state_machine_refuses_illegal_moves() {
        use ReviewState::*;
        assert_eq!(InProgress.complete(), Ok(Completed));
        assert_eq!(Completed.apply(), Ok(Applied));
        assert!(matches!(
            Completed.complete(),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(Applied.complete(), Err(DomainError::Conflict(_))));
        assert!(matches!(InProgress.apply(), Err(DomainError::Conflict(_))));
        assert!(matches!(Applied.apply(), Err(DomainError::Conflict(_))));
    }

    #[test]
    fn decisions_are_accepted_only_before_the_end() {
        let end = t("2027-01-15T00:00:00Z");
        let before = end - Duration::seconds(1);
        assert!(check_open_for_decisions(ReviewState::InProgress, end, before).is_ok());
        assert!(check_open_for_decisions(ReviewState::InProgress, end, end).is_err());
        assert!(check_open_for_decisions(ReviewState::Completed, end, before).is_err());
    }

    #[test]
    fn the_target_reviews_only_through_self_and_fallbacks_apply_in_order() {
        let (me, boss, peer, admin) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        assert_eq!(
            eligible_reviewers(&[(ReviewerKind::Myself, me)], me),
            vec![me]
        );
        assert_eq!(
            eligible_reviewers(
                &[
                    (ReviewerKind::Group, me),
                    (ReviewerKind::Group, peer),
                    (ReviewerKind::Manager, boss),
                    (ReviewerKind::User, peer),
                ],
                me
            ),
            vec![peer, boss]
        );
        assert_eq!(
            select_reviewers(vec![], vec![boss], &[admin], me),
            (vec![boss], ReviewerSource::Fallback)
        );
        assert_eq!(
            select_reviewers(vec![], vec![], &[me, admin], me),
            (vec![admin], ReviewerSource::TenantAdmins)
        );
        assert_eq!(
            select_reviewers(vec![], vec![], &[me], me),
            (vec![], ReviewerSource::Nobody)
        );
    }
}
