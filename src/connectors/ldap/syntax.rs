//! The two string syntaxes the LDAP connector writes: search filters (RFC 4515) and
//! distinguished names (RFC 4514).
//!
//! Invariant: a value that comes from outside (a person's email) enters a filter only
//! through `escape_filter_value`, so it can never add a wildcard or another clause; a
//! DN the connector sends (a group's DN, the bind DN, the base DN) has been through
//! `Dn::parse`, so a typo is reported when it is saved, not by the server at 3 a.m.

use std::fmt;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Escapes a value for the assertion part of a search filter (RFC 4515 §3): `*`, `(`,
/// `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c` and `\00`. Every other character,
/// UTF-8 included, stands for itself.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => {
                let b = c as u8;
                out.push('\\');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value for a DN (RFC 4514 §2.4): `"`, `+`, `,`, `;`, `<`, `>`
/// and `\` get a backslash, as do a leading space or `#` and a trailing space; NUL
/// becomes `\00`.
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
    out
}

/// One `type=value` of a relative distinguished name, the value unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ava {
    pub attribute: String,
    pub value: Vec<u8>,
}

/// A syntactically valid, non-empty distinguished name. It keeps the text it was given
/// (servers compare DNs by their own matching rules, so the text is sent as written)
/// and its parsed parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dn {
    text: String,
    rdns: Vec<Vec<Ava>>,
}

impl Dn {
    /// Parses a DN in the string form of RFC 4514. Spaces before an attribute type
    /// (`cn=a, ou=b`) are accepted, as most directories do; anything else that the RFC
    /// does not allow is refused with the reason.
    pub fn parse(text: &str) -> Result<Dn, String> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Err(
                "a distinguished name is required, like cn=staff,ou=groups,dc=example,dc=com"
                    .into(),
            );
        }
        let mut parser = Parser {
            bytes: trimmed.as_bytes(),
            at: 0,
        };
        let mut rdns = vec![parser.rdn()?];
        while let Some(b) = parser.peek() {
            match b {
                b',' | b';' => {
                    parser.at += 1;
                    rdns.push(parser.rdn()?);
                }
                _ => return Err(parser.unexpected()),
            }
        }
        Ok(Dn {
            text: trimmed.to_owned(),
            rdns,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The RDNs from the entry itself up to the root.
    pub fn rdns(&self) -> &[Vec<Ava>] {
        &self.rdns
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The text without surrounding whitespace, except an escaped trailing space
/// (`cn=a\ `), which belongs to the value.
fn trim(text: &str) -> &str {
    let start = text.trim_start();
    let end = start.trim_end();
    let backslashes = end.bytes().rev().take_while(|b| *b == b'\\').count();
    if backslashes % 2 == 1 && end.len() < start.len() {
        &start[..end.len() + 1]
    } else {
        end
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn unexpected(&self) -> String {
        match self.peek() {
            None => format!("the name ends too early (after {} characters)", self.at),
            Some(b) if b.is_ascii_graphic() || b == b' ' => format!(
                "unexpected '{}' at position {}; special characters in a value are written with a backslash (\\{})",
                char::from(b),
                self.at + 1,
                char::from(b)
            ),
            Some(_) => format!("unexpected character at position {}", self.at + 1),
        }
    }

    fn rdn(&mut self) -> Result<Vec<Ava>, String> {
        let mut avas = vec![self.ava()?];
        while self.peek() == Some(b'+') {
            self.at += 1;
            avas.push(self.ava()?);
        }
        Ok(avas)
    }

    fn ava(&mut self) -> Result<Ava, String> {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
        let attribute = self.attribute_type()?;
        if self.peek() != Some(b'=') {
            return Err(match self.peek() {
                None | Some(b',') | Some(b'+') | Some(b';') => {
                    format!("'{attribute}' needs '=' and a value (each part is written type=value)")
                }
                _ => self.unexpected(),
            });
        }
        self.at += 1;
        let value = if self.peek() == Some(b'#') {
            self.at += 1;
            self.hex_string()?
        } else {
            self.string_value()?
        };
        Ok(Ava { attribute, value })
    }

    /// `descr` (a letter, then letters, digits and hyphens) or a numeric OID.
    fn attribute_type(&mut self) -> Result<String, String> {
        let start = self.at;
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() => {
                while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'-') {
                    self.at += 1;
                }
            }
            Some(b) if b.is_ascii_digit() => {
                let mut expect_digit = true;
                while let Some(b) = self.peek() {
                    if b.is_ascii_digit() {
                        expect_digit = false;
                    } else if b == b'.' && !expect_digit {
                        expect_digit = true;
                    } else {
                        break;
                    }
                    self.at += 1;
                }
                let oid = &self.bytes[start..self.at];
                if expect_digit || !oid.contains(&b'.') {
                    return Err(format!(
                        "'{}' is not an attribute type (a name like cn, or an OID like 2.5.4.3)",
                        String::from_utf8_lossy(oid)
                    ));
                }
            }
            None | Some(b',' | b';' | b'+') => {
                return Err(format!(
                    "the part at position {} is empty (two commas in a row, or one at the end?)",
                    self.at + 1
                ));
            }
            Some(_) => {
                return Err(format!(
                    "an attribute type (like cn or ou) is expected at position {}",
                    self.at + 1
                ));
            }
        }
        Ok(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned())
    }

    fn hex_digit(&self, at: usize) -> Option<u8> {
        let b = *self.bytes.get(at)?;
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }

    /// `#` followed by the BER encoding in hex pairs.
    fn hex_string(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while let (Some(hi), Some(lo)) = (self.hex_digit(self.at), self.hex_digit(self.at + 1)) {
            out.push((hi << 4) | lo);
            self.at += 2;
        }
        if out.is_empty() || !matches!(self.peek(), None | Some(b',' | b';' | b'+')) {
            return Err(format!(
                "a value starting with '#' is hex pairs (#04024869); write a literal # as \\# (position {})",
                self.at + 1
            ));
        }
        Ok(out)
    }

    fn string_value(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        // Whether the last byte of `out` came from an escape (a trailing space must).
        let mut last_escaped = false;
        let value_start = self.at;
        while let Some(b) = self.peek() {
            match b {
                b',' | b';' | b'+' => break,
                b'\\' => {
                    if let (Some(hi), Some(lo)) =
                        (self.hex_digit(self.at + 1), self.hex_digit(self.at + 2))
                    {
                        out.push((hi << 4) | lo);
                        self.at += 3;
                    } else {
                        match self.bytes.get(self.at + 1) {
                            Some(
                                &c @ (b'\\' | b'"' | b'+' | b',' | b';' | b'<' | b'>' | b' ' | b'#'
                                | b'='),
                            ) => {
                                out.push(c);
                                self.at += 2;
                            }
                            _ => {
                                return Err(format!(
                                    "'\\' at position {} must be followed by a special character or two hex digits",
                                    self.at + 1
                                ));
                            }
                        }
                    }
                    last_escaped = true;
                }
                b'"' | b'<' | b'>' | b'\0' => return Err(self.unexpected()),
                b' ' if self.at == value_start => {
                    return Err(format!(
                        "a value cannot start with a space (position {}); write it as '\\ '",
                        self.at + 1
                    ));
                }
                _ => {
                    out.push(b);
                    self.at += 1;
                    last_escaped = false;
                }
            }
        }
        if out.is_empty() {
            return Err(format!(
                "the value before position {} is empty",
                self.at + 1
            ));
        }
        if out.last() == Some(&b' ') && !last_escaped {
            return Err("a value cannot end with a space; remove it or write it as '\\ '".into());
        }
        if std::str::from_utf8(&out).is_err() {
            return Err("an escaped value is not valid UTF-8".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_escape_the_five_special_characters() {
        assert_eq!(escape_filter_value("ada@example.com"), "ada@example.com");
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("a(b)c"), "a\\28b\\29c");
        assert_eq!(escape_filter_value("back\\slash"), "back\\5cslash");
        assert_eq!(escape_filter_value("nul\0"), "nul\\00");
        assert_eq!(
            escape_filter_value("*)(uid=*"),
            "\\2a\\29\\28uid=\\2a",
            "an injected clause stays part of the value"
        );
        // RFC 4515 §4 examples.
        assert_eq!(
            escape_filter_value("Parens R Us (for all your parenthetical needs)"),
            "Parens R Us \\28for all your parenthetical needs\\29"
        );
        assert_eq!(
            escape_filter_value("Lučić"),
            "Lučić",
            "UTF-8 is written as is"
        );
    }

    #[test]
    fn an_escaped_value_parses_back_as_one_equality_assertion() {
        for hostile in ["*)(uid=*", "x)(|(objectClass=*", "\\", "(", "a*b", "\0"] {
            let filter = format!("(mail={})", escape_filter_value(hostile));
            assert!(
                ldap3::parse_filter(&filter).is_ok(),
                "{filter} should be one valid filter"
            );
            assert!(!filter[1..filter.len() - 1].contains(['(', ')', '*']));
        }
    }

    #[test]
    fn dn_values_escape_per_rfc_4514() {
        assert_eq!(escape_dn_value("Staff"), "Staff");
        assert_eq!(escape_dn_value("Smith, John"), "Smith\\, John");
        assert_eq!(escape_dn_value("a+b=c"), "a\\+b=c");
        assert_eq!(
            escape_dn_value("\"q\" <x>; \\"),
            "\\\"q\\\" \\<x\\>\\; \\\\"
        );
        assert_eq!(escape_dn_value(" lead"), "\\ lead");
        assert_eq!(escape_dn_value("trail "), "trail\\ ");
        assert_eq!(escape_dn_value("#1"), "\\#1");
        assert_eq!(escape_dn_value("a#1"), "a#1");
        assert_eq!(escape_dn_value("nul\0"), "nul\\00");
        assert_eq!(escape_dn_value(" "), "\\ ");
    }

    #[test]
    fn escaped_dn_values_parse_back_to_themselves() {
        for value in [
            "Smith, John",
            " both ",
            "#tag",
            "a+b",
            "<>\";\\",
            "Lučić",
            "x=y",
        ] {
            let dn = Dn::parse(&format!("cn={},dc=example,dc=com", escape_dn_value(value)))
                .unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert_eq!(dn.rdns()[0][0].value, value.as_bytes(), "{value:?}");
            assert_eq!(dn.rdns().len(), 3);
        }
    }

    #[test]
    fn valid_dns_parse() {
        for text in [
            "cn=staff,ou=groups,dc=example,dc=com",
            "CN=Staff Members,OU=Groups,DC=corp,DC=example",
            "cn=staff, ou=groups, dc=example",
            "uid=ada+cn=Ada Lovelace,ou=people,dc=example",
            "2.5.4.3=staff,dc=example",
            "cn=#04024869,dc=example",
            "cn=Lu\\C4\\8Di\\C4\\87,dc=example",
            "cn=a=b,dc=example",
            "dc=example",
        ] {
            assert!(Dn::parse(text).is_ok(), "{text}: {:?}", Dn::parse(text));
        }
        let dn = Dn::parse("uid=ada+cn=Ada,ou=people").expect("valid");
        assert_eq!(dn.rdns()[0].len(), 2);
        assert_eq!(dn.rdns()[0][1].attribute, "cn");
        assert_eq!(dn.as_str(), "uid=ada+cn=Ada,ou=people");
        let hex = Dn::parse("cn=Lu\\C4\\8Di\\C4\\87").expect("valid");
        assert_eq!(hex.rdns()[0][0].value, "Lučić".as_bytes());
        let spaced = Dn::parse("  cn=trail\\  ").expect("an escaped trailing space");
        assert_eq!(spaced.as_str(), "cn=trail\\ ");
        assert_eq!(spaced.rdns()[0][0].value, b"trail ");
    }

    #[test]
    fn invalid_dns_say_why() {
        let cases = [
            ("", "required"),
            ("   ", "required"),
            ("staff", "needs '='"),
            ("cn=", "empty"),
            ("cn=staff,", "empty"),
            ("cn=staff,,dc=x", "empty"),
            ("=staff", "attribute type"),
            ("1cn=staff", "attribute type"),
            ("cn=a<b", "unexpected '<'"),
            ("cn=\"quoted\"", "unexpected '\"'"),
            ("cn=bad\\q", "must be followed"),
            ("cn=trailing\\", "must be followed"),
            ("cn= lead", "start with a space"),
            ("cn=trail ,dc=x", "end with a space"),
            ("cn=a\\\\ ,dc=x", "end with a space"),
            ("cn=#zz", "hex pairs"),
            ("cn=\\ff", "UTF-8"),
            ("cn=a\0b", "unexpected character"),
        ];
        for (text, expected) in cases {
            match Dn::parse(text) {
                Ok(dn) => panic!("{text:?} parsed as {dn:?}"),
                Err(message) => assert!(
                    message.contains(expected),
                    "{text:?}: {message:?} should mention {expected:?}"
                ),
            }
        }
    }
}
