//! SCIM filter expressions (RFC 7644 §3.4.2.2): `parse` turns the text of a `filter`
//! query parameter into a `Filter` tree, `matches` evaluates one against a resource
//! rendered as JSON. Keywords and attribute names are case-insensitive; paths hold
//! names lowercased. Input length and nesting depth are bounded so hostile input
//! cannot exhaust the stack.

mod eval;
mod lexer;
#[cfg(test)]
mod tests;

pub(crate) use eval::get_ci;
pub use eval::matches;

use serde_json::Value;

use super::error::{ScimError, ScimType};
use lexer::{Lexer, Token, TokenKind};

/// Longest filter text accepted.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    /// `emails[type eq "work"]`: the inner filter's paths name sub-attributes of the
    /// elements of `path`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator's keyword (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

/// An attribute path: `[urn:]attr[.sub]`. `attr` and `sub` are lowercase; `urn` is
/// kept as written (compare it with `eq_ignore_ascii_case`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without URN: `AttrPath::new("emails", Some("value"))`.
    pub fn new(attr: &str, sub: Option<&str>) -> Self {
        Self {
            urn: None,
            attr: attr.to_ascii_lowercase(),
            sub: sub.map(str::to_ascii_lowercase),
        }
    }

    /// Parses `[urn:]attr[.sub]` (the URN is everything up to the last `:`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (urn, rest) = if text.len() >= 4 && text[..4].eq_ignore_ascii_case("urn:") {
            match text.rfind(':') {
                Some(i) if i > 4 => (Some(text[..i].to_string()), &text[i + 1..]),
                _ => return Err(format!("'{text}' is not a valid attribute path")),
            }
        } else {
            (None, text)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        for name in std::iter::once(attr).chain(sub) {
            if !is_attr_name(name) {
                return Err(format!("'{text}' is not a valid attribute path"));
            }
        }
        Ok(Self {
            urn,
            attr: attr.to_ascii_lowercase(),
            sub: sub.map(str::to_ascii_lowercase),
        })
    }

    /// Whether the path names `attr` (and `sub`), ignoring case and any core-schema URN.
    pub fn is(&self, attr: &str, sub: Option<&str>) -> bool {
        self.urn.as_deref().is_none_or(is_core_urn)
            && self.attr.eq_ignore_ascii_case(attr)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&canonical_name(&self.attr))?;
        if let Some(sub) = &self.sub {
            write!(f, ".{}", canonical_name(sub))?;
        }
        Ok(())
    }
}

/// ATTRNAME of RFC 7643 §2.1 (`ALPHA *(nameChar)`), plus `$ref`.
fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The core schemas' URN prefix: a path under it names a top-level attribute.
pub const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";
/// The enterprise User extension.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Whether `urn` is one of the core schemas (`…:core:2.0:User`, `…:Group`).
pub fn is_core_urn(urn: &str) -> bool {
    urn.len() > CORE_URN_PREFIX.len()
        && urn[..CORE_URN_PREFIX.len()].eq_ignore_ascii_case(CORE_URN_PREFIX)
}

/// The spelling of the schemas for a lowercased attribute name (`givenname` →
/// `givenName`), or the name itself when Portico does not know it.
pub fn canonical_name(lower: &str) -> String {
    const KNOWN: &[&str] = &[
        "userName",
        "displayName",
        "nickName",
        "profileUrl",
        "userType",
        "preferredLanguage",
        "externalId",
        "lastModified",
        "resourceType",
        "givenName",
        "familyName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
        "phoneNumbers",
        "streetAddress",
        "postalCode",
        "x509Certificates",
        "employeeNumber",
        "costCenter",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(lower))
        .map_or_else(|| lower.to_string(), |k| (*k).to_string())
}

fn invalid(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

/// Parses a filter (RFC 7644 §3.4.2.2). Errors are 400 `invalidFilter` naming the
/// position (1-based character) and the token that is wrong.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(invalid(format!(
            "the filter is longer than {MAX_FILTER_LEN} characters"
        )));
    }
    let tokens = Lexer::new(input).tokens().map_err(invalid)?;
    let mut parser = Parser { tokens, pos: 0 };
    let filter = parser.or_expr(0)?;
    match parser.peek() {
        None => Ok(filter),
        Some(t) => Err(parser.unexpected(t, "the end of the filter")),
    }
}

/// Parses the inside of a value path's brackets (`type eq "work"`), used by PATCH paths.
pub(crate) fn parse_value_filter(input: &str) -> Result<Filter, ScimError> {
    parse(input)
}

/// A bare value: `true`, `false`, `null` (any case) or a JSON number.
fn literal(word: &str) -> Option<Value> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "null" => Some(Value::Null),
        _ => match serde_json::from_str::<Value>(word) {
            Ok(v @ Value::Number(_)) => Some(v),
            _ => None,
        },
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn unexpected(&self, t: &Token, wanted: &str) -> ScimError {
        invalid(format!(
            "unexpected {} at position {} in the filter, expected {wanted}",
            t.describe(),
            t.at
        ))
    }

    fn end(&self, wanted: &str) -> ScimError {
        invalid(format!("the filter ends too early, expected {wanted}"))
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Word(w), .. }) if w.eq_ignore_ascii_case(word))
    }

    fn or_expr(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.and_expr(depth)?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and_expr(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.unary(depth)?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn deeper(depth: usize) -> Result<usize, ScimError> {
        if depth >= MAX_DEPTH {
            Err(invalid(format!(
                "the filter nests deeper than {MAX_DEPTH} levels"
            )))
        } else {
            Ok(depth + 1)
        }
    }

    fn expect(&mut self, kind: &TokenKind, wanted: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if &t.kind == kind => Ok(()),
            Some(t) => Err(self.unexpected(&t, wanted)),
            None => Err(self.end(wanted)),
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let Some(token) = self.next() else {
            return Err(self.end("an attribute, 'not' or '('"));
        };
        match &token.kind {
            TokenKind::LParen => {
                let inner = self.or_expr(Self::deeper(depth)?)?;
                self.expect(&TokenKind::RParen, "')'")?;
                Ok(inner)
            }
            TokenKind::Word(w)
                if w.eq_ignore_ascii_case("not")
                    && matches!(self.peek(), Some(t) if t.kind == TokenKind::LParen) =>
            {
                self.pos += 1;
                let inner = self.or_expr(Self::deeper(depth)?)?;
                self.expect(&TokenKind::RParen, "')'")?;
                Ok(Filter::Not(Box::new(inner)))
            }
            TokenKind::Word(w) => {
                let path = AttrPath::parse(w)
                    .map_err(|e| invalid(format!("{e} (position {} in the filter)", token.at)))?;
                self.attr_expr(path, depth)
            }
            _ => Err(self.unexpected(&token, "an attribute, 'not' or '('")),
        }
    }

    fn attr_expr(&mut self, path: AttrPath, depth: usize) -> Result<Filter, ScimError> {
        let Some(token) = self.next() else {
            return Err(self.end(&format!("an operator after '{path}'")));
        };
        match &token.kind {
            TokenKind::LBracket => {
                if path.sub.is_some() {
                    return Err(invalid(format!(
                        "a value filter cannot follow the sub-attribute path '{path}' (position {})",
                        token.at
                    )));
                }
                let inner = self.or_expr(Self::deeper(depth)?)?;
                self.expect(&TokenKind::RBracket, "']'")?;
                let filter = match self.peek() {
                    Some(Token {
                        kind: TokenKind::Word(w),
                        ..
                    }) if w.starts_with('.') => {
                        let sub = self.sub_after_bracket(&path, depth)?;
                        Filter::And(Box::new(inner), Box::new(sub))
                    }
                    _ => inner,
                };
                Ok(Filter::ValuePath {
                    path,
                    filter: Box::new(filter),
                })
            }
            TokenKind::Word(w) if w.eq_ignore_ascii_case("pr") => Ok(Filter::Present(path)),
            TokenKind::Word(w) => {
                let Some(op) = CompareOp::parse(w) else {
                    return Err(invalid(format!(
                        "unknown operator '{w}' at position {} in the filter",
                        token.at
                    )));
                };
                let wanted = format!("a value after '{path} {}'", op.as_str());
                let value = match self.next() {
                    Some(Token {
                        kind: TokenKind::Str(v),
                        ..
                    }) => Value::String(v),
                    Some(t) => match &t.kind {
                        TokenKind::Word(w) => literal(w).ok_or_else(|| {
                            self.unexpected(
                                &t,
                                &format!(
                                    "{wanted} (a quoted string, a number, true, false or null)"
                                ),
                            )
                        })?,
                        _ => return Err(self.unexpected(&t, &wanted)),
                    },
                    None => return Err(self.end(&wanted)),
                };
                Ok(Filter::Compare { path, op, value })
            }
            _ => Err(self.unexpected(&token, &format!("an operator after '{path}'"))),
        }
    }

    /// `.value eq "x"` after `emails[type eq "work"]` (the form of PATCH paths, which
    /// some clients also send as a filter): a comparison of the same element's
    /// sub-attribute, so the whole reads "an element of type work whose value is x".
    fn sub_after_bracket(&mut self, outer: &AttrPath, depth: usize) -> Result<Filter, ScimError> {
        let Some(token) = self.next() else {
            return Err(self.end("a sub-attribute"));
        };
        let TokenKind::Word(w) = &token.kind else {
            return Err(self.unexpected(&token, "a sub-attribute"));
        };
        let name = &w[1..];
        if !is_attr_name(name) {
            return Err(invalid(format!(
                "'{w}' after '{outer}[…]' at position {} is not a sub-attribute name",
                token.at
            )));
        }
        if matches!(self.peek(), Some(t) if t.kind == TokenKind::LBracket) {
            return Err(invalid(format!(
                "a value filter cannot follow '{outer}[…]{w}' (position {})",
                token.at
            )));
        }
        self.attr_expr(AttrPath::new(name, None), depth)
    }
}
