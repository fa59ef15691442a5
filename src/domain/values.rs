//! Parsed inputs: each type can only hold a valid value, so code past the edge never
//! re-checks them.

use super::string_enum;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value did not parse; shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn err(message: impl Into<String>) -> ParseError {
    ParseError(message.into())
}

/// Why text with a control character is refused (PostgreSQL cannot store NUL in text,
/// and the others have no place in what people type).
pub const NO_CONTROL_CHARACTERS: &str = "must not contain control characters (such as NUL)";

/// Whether `text` has a C0 control character or DEL; tab, CR and LF are allowed when
/// `multiline` (free text such as descriptions and justifications).
pub fn has_control_characters(text: &str, multiline: bool) -> bool {
    text.chars()
        .any(|c| c.is_ascii_control() && !(multiline && matches!(c, '\t' | '\r' | '\n')))
}

/// An email address, trimmed; compared case-insensitively by the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(err("an email address is required"));
        }
        if value.len() > 254 {
            return Err(err("an email address has at most 254 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(err(format!("an email address {NO_CONTROL_CHARACTERS}")));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(err(format!(
                "'{value}' is not an email address: it has no '@'"
            )));
        };
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if local.is_empty()
            || local.len() > 64
            || local.contains(char::is_whitespace)
            || local.contains(['<', '>', '"', ',', ';', '@'])
            || !domain_ok
        {
            return Err(err(format!("'{value}' is not an email address")));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A required, single-line name of 1–256 characters (display names of users, groups,
/// catalogs, packages, policies, resources, roles).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(err("a name is required"));
        }
        if value.chars().count() > Self::MAX {
            return Err(err(format!("a name has at most {} characters", Self::MAX)));
        }
        if value.chars().any(char::is_control) {
            return Err(err("a name is a single line without control characters"));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Optional free text (descriptions, department, job title): trimmed, at most `max`
/// characters, tabs and line breaks but no other control characters; empty means absent.
pub fn optional_text(raw: Option<&str>, max: usize) -> Result<Option<String>, ParseError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => {
            Err(err(format!("at most {max} characters are allowed")))
        }
        Some(v) if has_control_characters(v, true) => {
            Err(err(format!("the text {NO_CONTROL_CHARACTERS}")))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// A description: free text up to 4,000 characters; absent means "".
pub fn description(raw: Option<&str>) -> Result<String, ParseError> {
    Ok(optional_text(raw, 4000)?.unwrap_or_default())
}

/// A tenant slug: 1–63 lowercase letters, digits and dashes, not starting with a dash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let value = raw.trim();
        let valid = !value.is_empty()
            && value.len() <= 63
            && !value.starts_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(Self(value.to_string()))
        } else {
            Err(err(format!(
                "'{value}' is not a valid slug: use 1–63 lowercase letters, digits and dashes, not starting with a dash"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_enum! {
    /// Directory user kind: members of the organisation, or guests from outside it.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] UserKind {
        Member = "member",
        Guest = "guest",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_trimmed_and_checked() {
        assert_eq!(
            EmailAddress::parse("  ada@example.com ").map(|e| e.to_string()),
            Ok("ada@example.com".to_string())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@exa..mple",
            "ada\0@example.com",
            "ada@example.com\0",
            "a\u{1b}da@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn display_names_are_single_lines_of_bounded_length() {
        assert!(DisplayName::parse("Windows 11 Testing").is_ok());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("two\nlines").is_err());
        assert!(DisplayName::parse(&"x".repeat(257)).is_err());
        assert!(DisplayName::parse("nul\0byte").is_err());
    }

    #[test]
    fn slugs_are_lowercase_url_safe() {
        assert!(Slug::parse("contoso").is_ok());
        assert!(Slug::parse("contoso-2").is_ok());
        for bad in ["", "Contoso", "-x", "a b", "a_b"] {
            assert!(Slug::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn optional_text_treats_blank_as_absent() {
        assert_eq!(optional_text(Some("  "), 10), Ok(None));
        assert_eq!(optional_text(Some(" IT "), 10), Ok(Some("IT".into())));
        assert!(optional_text(Some("0123456789x"), 10).is_err());
    }

    #[test]
    fn free_text_keeps_tabs_and_line_breaks_but_no_other_controls() {
        assert_eq!(
            optional_text(Some("one\r\ntwo\tthree"), 100),
            Ok(Some("one\r\ntwo\tthree".into()))
        );
        for bad in ["nul\0", "esc\u{1b}[0m", "del\u{7f}", "bell\u{7}"] {
            let e = optional_text(Some(bad), 100).expect_err(bad);
            assert!(e.0.contains("control characters"), "{e}");
        }
        assert!(description(Some("a\0b")).is_err());
        assert!(has_control_characters("a\nb", false));
        assert!(!has_control_characters("a\nb", true));
        assert!(!has_control_characters("café ✓", false));
    }
}
