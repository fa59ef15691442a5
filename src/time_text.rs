//! Times as people read and type them, for pages, emails and messages alike: always UTC, to the minute on pages and in
//! emails (`when`), to the second where order matters (`when_with_seconds`), and the
//! `datetime-local` inputs of forms (`input_time`, `parse_when`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A time as people read it: `2027-01-31 17:00 UTC`.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `when`, or "—" for no time.
pub fn when_opt(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".to_string(), when)
}

/// A time to the second: `2027-01-31 17:00:05 UTC`.
pub fn when_with_seconds(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The value of a `datetime-local` input for a time.
pub fn input_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// A `datetime-local` or `date` input (taken as UTC); "" is `None`.
pub fn parse_when(raw: &str) -> Result<Option<DateTime<Utc>>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, f) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(format!(
        "'{raw}' is not a date and time such as 2027-01-31T17:00 (UTC)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_minute_or_the_second() {
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
}
