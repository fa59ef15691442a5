//! When access starts and ends: the schedule a request asks for, checked against the
//! policy, and the new end of an extension.

use chrono::{DateTime, Duration, Utc};

use crate::domain::error::{DomainError, FieldErrors};
use crate::domain::policy::{Expiration, PolicySettings};

/// The start and end of the access a request asks for, checked against the policy.
pub fn resolve_schedule(
    policy: &PolicySettings,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    errors: &mut FieldErrors,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), DomainError> {
    if let Expiration::OnDate { date } = policy.expiration
        && date <= now
    {
        return Err(DomainError::conflict(format!(
            "Access under this policy ended on {}; ask an admin to update the policy.",
            date.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    if !policy.allow_custom_schedule && (start.is_some() || end.is_some()) {
        errors.add(
            "schedule",
            "this policy does not let requestors choose a start or end; leave the schedule out",
        );
        return Ok((now, policy.expiration.end_for(now)));
    }
    let start = match start {
        Some(s) if s < now - Duration::minutes(5) => {
            errors.add("schedule.startDateTime", "the start cannot be in the past");
            now
        }
        Some(s) if s < now => now,
        Some(s) => s,
        None => now,
    };
    let policy_end = policy.expiration.end_for(start);
    if let Some(limit) = policy_end
        && start >= limit
    {
        errors.add(
            "schedule.startDateTime",
            format!(
                "the start must be before the policy's end ({})",
                limit.format("%Y-%m-%d %H:%M UTC")
            ),
        );
    }
    let end = match end {
        Some(e) if e <= start => {
            errors.add("schedule.endDateTime", "the end must be after the start");
            policy_end
        }
        Some(e) => match policy_end {
            Some(limit) if e > limit => {
                errors.add(
                    "schedule.endDateTime",
                    format!(
                        "the policy allows access until {} at the latest",
                        limit.format("%Y-%m-%d %H:%M UTC")
                    ),
                );
                policy_end
            }
            _ => Some(e),
        },
        None => policy_end,
    };
    Ok((start, end))
}

/// Whether a request's end is the policy's duration (`afterDays`, `afterHours`) rather
/// than a date: then access lasts that long from the start of the assignment, whenever
/// approval delivers it (DOMAIN.md §5), and `end_at_start` counts it again then. An end
/// the requestor chose, a fixed date and "never" stay as they are.
pub fn end_follows_start(policy: &PolicySettings, chosen_end: Option<DateTime<Utc>>) -> bool {
    chosen_end.is_none()
        && matches!(
            policy.expiration,
            Expiration::AfterDays { .. } | Expiration::AfterHours { .. }
        )
}

/// The end of access that starts at `start`: the policy's duration counted from it when
/// the request's end follows its start, else the end the request already has.
pub fn end_at_start(
    policy: &PolicySettings,
    follows_start: bool,
    requested_end: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if follows_start {
        policy.expiration.end_for(start)
    } else {
        requested_end
    }
}

/// How long before the end a holder may ask to extend.
pub const EXTENSION_WINDOW_DAYS: i64 = 14;

/// When a holder may start asking to extend access that ends at `end`.
pub fn extension_window_opens(end: DateTime<Utc>) -> DateTime<Utc> {
    end - Duration::days(EXTENSION_WINDOW_DAYS)
}

/// The new end of an extended assignment (DOMAIN.md §5 `extension`).
pub fn extended_end(
    policy: &PolicySettings,
    current_end: Option<DateTime<Utc>>,
    requested_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    if !policy.extension.allowed {
        return Err(DomainError::conflict(
            "This policy does not allow extending access.",
        ));
    }
    let Some(end) = current_end else {
        return Err(DomainError::conflict(
            "This access never expires, so there is nothing to extend.",
        ));
    };
    if now < extension_window_opens(end) {
        return Err(DomainError::conflict(format!(
            "Access can be extended in the last {EXTENSION_WINDOW_DAYS} days before it ends ({}); try again from {}.",
            end.format("%Y-%m-%d"),
            extension_window_opens(end).format("%Y-%m-%d")
        )));
    }
    let mut new_end = match policy.expiration {
        Expiration::Never => {
            return Err(DomainError::conflict("This policy's access never expires."));
        }
        Expiration::AfterDays { days } => end + Duration::days(days),
        Expiration::AfterHours { hours } => end + Duration::hours(hours),
        Expiration::OnDate { date } => date,
    };
    if let Expiration::OnDate { date } = policy.expiration {
        new_end = new_end.min(date);
    }
    if let Some(requested) = requested_end {
        if requested <= end {
            return Err(DomainError::field(
                "schedule.endDateTime",
                "the new end must be after the current end",
            ));
        }
        new_end = new_end.min(requested);
    }
    if new_end <= end {
        return Err(DomainError::conflict(
            "This access already ends on the policy's fixed end date and cannot be extended past it.",
        ));
    }
    Ok(new_end)
}
