//! Times as people read and type them, for pages, emails and messages alike: to the
//! minute on pages and in emails (`when`), to the second where order matters
//! (`when_with_seconds`), and the `datetime-local` inputs of forms (`input_time`,
//! `parse_when`), all in the reader's time zone with its abbreviation
//! (`2027-01-31 18:00 CET`).
//!
//! The zone is the current task's (`ZONE`): a portal request sets it for its signed-in
//! caller (the user's own zone, else the tenant's), an email's rendering for its
//! recipient, a chat message's for its tenant. Outside any of them it is UTC, and the
//! JSON API never reads it (its times are RFC 3339 in UTC). Spawned tasks do not
//! inherit it.
//!
//! Typed times that fall in a gap of the zone (the hour skipped when clocks go
//! forward) are refused with a message naming the zone; typed times that happen twice
//! (the hour repeated when clocks go back) are taken as the earlier instant.

use std::cell::Cell;
use std::future::Future;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

tokio::task_local! {
    /// The time zone of whoever reads what the current task renders.
    static ZONE: Cell<Tz>;
}

/// Runs `fut` with its own zone slot, starting at `zone` (`set_zone` changes it).
pub async fn scoped<F: Future>(zone: Tz, fut: F) -> F::Output {
    ZONE.scope(Cell::new(zone), fut).await
}

/// Runs `f` with `zone` as the current zone.
pub fn in_zone<R>(zone: Tz, f: impl FnOnce() -> R) -> R {
    ZONE.sync_scope(Cell::new(zone), f)
}

/// Sets the current zone for the rest of the task's scope (outside `scoped` there is
/// nothing to set).
pub fn set_zone(zone: Tz) {
    let _ = ZONE.try_with(|z| z.set(zone));
}

/// The current zone: UTC outside any scope.
pub fn zone() -> Tz {
    ZONE.try_with(Cell::get).unwrap_or(Tz::UTC)
}

/// The IANA name of the current zone, for form hints: `Europe/Berlin`.
pub fn zone_name() -> &'static str {
    zone().name()
}

/// An IANA time zone name such as `Europe/Berlin` (exact spelling, or any letter case).
pub fn parse_zone(raw: &str) -> Result<Tz, String> {
    let raw = raw.trim();
    raw.parse::<Tz>()
        .ok()
        .or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .copied()
                .find(|z| z.name().eq_ignore_ascii_case(raw))
        })
        .ok_or_else(|| {
            format!("'{raw}' is not a time zone; use an IANA name such as Europe/Berlin or UTC")
        })
}

/// The zone a person reads times in: their own, else their tenant's, else UTC (a
/// stored name that is no longer known reads as UTC rather than failing a page).
pub fn zone_of(user_zone: Option<&str>, tenant_zone: &str) -> Tz {
    user_zone
        .and_then(|z| z.parse().ok())
        .or_else(|| tenant_zone.parse().ok())
        .unwrap_or(Tz::UTC)
}

/// A time as people read it: `2027-01-31 18:00 CET`.
pub fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone())
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `when`, or "—" for no time.
pub fn when_opt(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".to_string(), when)
}

/// A time to the second: `2027-01-31 18:00:05 CET`.
pub fn when_with_seconds(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone())
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// The value of a `datetime-local` input for a time, in the current zone.
pub fn input_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&zone())
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

/// A `datetime-local` or `date` input, taken in the current zone (a date is its
/// midnight); "" is `None`. An RFC 3339 time with its own offset keeps it.
pub fn parse_when(raw: &str) -> Result<Option<DateTime<Utc>>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let zone = zone();
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, f) {
            return local_to_utc(zone, t).map(Some);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return local_to_utc(zone, t).map(Some);
    }
    Err(format!(
        "'{raw}' is not a date and time such as 2027-01-31T17:00 ({})",
        zone.name()
    ))
}

/// A wall-clock time of `zone` as an instant: a time that happens twice is the
/// earlier one; a time the clocks skip is refused.
fn local_to_utc(zone: Tz, t: NaiveDateTime) -> Result<DateTime<Utc>, String> {
    match zone.from_local_datetime(&t) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{} does not exist in {} (the clocks skip it); choose a time outside that hour",
            t.format("%Y-%m-%d %H:%M"),
            zone.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .expect("an RFC 3339 time")
            .with_timezone(&Utc)
    }

    #[test]
    fn times_are_utc_to_the_minute_or_the_second_outside_any_zone() {
        let t = parse_when("2027-02-01T10:30:05")
            .expect("parses")
            .expect("some");
        assert_eq!(when(t), "2027-02-01 10:30 UTC");
        assert_eq!(when_with_seconds(t), "2027-02-01 10:30:05 UTC");
        assert_eq!(input_time(Some(t)), "2027-02-01T10:30");
        assert_eq!(
            parse_when("2027-02-01T10:30").map(|t| t.map(when)),
            Ok(Some("2027-02-01 10:30 UTC".into()))
        );
        assert_eq!(when_opt(None), "—");
        assert_eq!(parse_when(" "), Ok(None));
        assert!(parse_when("tomorrow").is_err());
    }

    #[test]
    fn times_read_in_the_zone_with_its_abbreviation() {
        let berlin = parse_zone("Europe/Berlin").expect("a zone");
        let winter = utc("2027-01-31T17:00:05Z");
        let summer = utc("2027-07-31T17:00:00Z");
        in_zone(berlin, || {
            assert_eq!(when(winter), "2027-01-31 18:00 CET");
            assert_eq!(when_with_seconds(winter), "2027-01-31 18:00:05 CET");
            assert_eq!(when(summer), "2027-07-31 19:00 CEST");
            assert_eq!(input_time(Some(winter)), "2027-01-31T18:00");
            assert_eq!(zone_name(), "Europe/Berlin");
        });
        let new_york = parse_zone("America/New_York").expect("a zone");
        in_zone(new_york, || {
            assert_eq!(when(winter), "2027-01-31 12:00 EST")
        });
        in_zone(Tz::UTC, || assert_eq!(when(winter), "2027-01-31 17:00 UTC"));
        // Outside the scope the zone is UTC again.
        assert_eq!(when(winter), "2027-01-31 17:00 UTC");
    }

    #[test]
    fn typed_times_are_taken_in_the_zone() {
        let berlin = parse_zone("Europe/Berlin").expect("a zone");
        in_zone(berlin, || {
            assert_eq!(
                parse_when("2027-01-31T18:00"),
                Ok(Some(utc("2027-01-31T17:00:00Z")))
            );
            assert_eq!(
                parse_when("2027-07-31"),
                Ok(Some(utc("2027-07-30T22:00:00Z")))
            );
            // An explicit offset keeps its own meaning.
            assert_eq!(
                parse_when("2027-01-31T18:00:00Z"),
                Ok(Some(utc("2027-01-31T18:00:00Z")))
            );
            let e = parse_when("soon").expect_err("not a time");
            assert!(e.contains("Europe/Berlin"), "{e}");
        });
    }

    #[test]
    fn a_skipped_time_is_refused_and_a_repeated_one_is_the_earlier_instant() {
        let berlin = parse_zone("Europe/Berlin").expect("a zone");
        in_zone(berlin, || {
            // Clocks go from 02:00 CET to 03:00 CEST on 2027-03-28.
            let e = parse_when("2027-03-28T02:30").expect_err("does not exist");
            assert!(
                e.contains("2027-03-28 02:30 does not exist in Europe/Berlin"),
                "{e}"
            );
            assert_eq!(
                parse_when("2027-03-28T03:30"),
                Ok(Some(utc("2027-03-28T01:30:00Z")))
            );
            // Clocks go from 03:00 CEST back to 02:00 CET on 2027-10-31: 02:30 happens
            // twice, at 00:30 UTC (CEST) and at 01:30 UTC (CET).
            let t = parse_when("2027-10-31T02:30")
                .expect("parses")
                .expect("some");
            assert_eq!(t, utc("2027-10-31T00:30:00Z"));
            assert_eq!(when(t), "2027-10-31 02:30 CEST");
            assert_eq!(when(utc("2027-10-31T01:30:00Z")), "2027-10-31 02:30 CET");
        });
    }

    #[test]
    fn zone_names_are_iana_names() {
        assert_eq!(parse_zone("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(parse_zone(" europe/berlin "), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(parse_zone("UTC"), Ok(Tz::UTC));
        let e = parse_zone("Mars/Base").expect_err("unknown");
        assert!(e.contains("'Mars/Base' is not a time zone"), "{e}");
        assert!(parse_zone("").is_err());
        assert_eq!(
            zone_of(Some("Asia/Tokyo"), "Europe/Berlin"),
            chrono_tz::Asia::Tokyo
        );
        assert_eq!(zone_of(None, "Europe/Berlin"), chrono_tz::Europe::Berlin);
        assert_eq!(zone_of(Some("gone"), "also gone"), Tz::UTC);
    }
}
