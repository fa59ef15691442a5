//! Splits filter text into tokens: brackets, bare words (attribute paths, keywords,
//! operators, numbers, `true`/`false`/`null`) and JSON strings (escapes decoded).

/// One token and the 1-based character position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub at: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum TokenKind {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

impl Token {
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::LBracket => "'['".into(),
            TokenKind::RBracket => "']'".into(),
            TokenKind::Word(w) => format!("'{w}'"),
            TokenKind::Str(s) => format!("string {}", serde_json::Value::from(s.as_str())),
        }
    }
}

pub(super) struct Lexer<'a> {
    input: &'a str,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '$' | '+')
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Self {
        Self { input }
    }

    pub fn tokens(self) -> Result<Vec<Token>, String> {
        let mut tokens = Vec::new();
        let mut chars = self.input.char_indices().peekable();
        let position = |byte: usize| self.input[..byte].chars().count() + 1;
        while let Some(&(i, c)) = chars.peek() {
            let at = position(i);
            let single = match c {
                '(' => Some(TokenKind::LParen),
                ')' => Some(TokenKind::RParen),
                '[' => Some(TokenKind::LBracket),
                ']' => Some(TokenKind::RBracket),
                _ => None,
            };
            if let Some(kind) = single {
                chars.next();
                tokens.push(Token { kind, at });
            } else if c.is_whitespace() {
                chars.next();
            } else if c == '"' {
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let Some(end) = end else {
                    return Err(format!(
                        "the string starting at position {at} in the filter is not terminated"
                    ));
                };
                let text = serde_json::from_str::<String>(&self.input[i..=end]).map_err(|_| {
                    format!(
                        "the string starting at position {at} in the filter has an invalid escape"
                    )
                })?;
                tokens.push(Token {
                    kind: TokenKind::Str(text),
                    at,
                });
            } else if is_word_char(c) {
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if !is_word_char(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                tokens.push(Token {
                    kind: TokenKind::Word(self.input[i..end].to_string()),
                    at,
                });
            } else {
                return Err(format!(
                    "unexpected character '{c}' at position {at} in the filter"
                ));
            }
        }
        Ok(tokens)
    }
}
