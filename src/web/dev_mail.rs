//! The demo's dev mailbox pages (mounted only in demo mode), under a path with a
//! random key made for each run and printed at start-up (`/dev/mail/{key}`): the
//! list of the demo tenant's emails kept instead of sent, `/dev/mail/{key}/{id}` one of
//! them with the links of its text part clickable, and `/dev/mail/{key}/{id}/html` its
//! HTML part for a sandboxed iframe, under a CSP of its own that allows the inline
//! styles emails use and no script at all.
//!
//! Invariant: without the key nothing here answers but 404 (the mail holds working
//! sign-in and approval links), and only the demo tenant's mail is ever shown.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use uuid::Uuid;

use crate::paging::PageRequest;
use crate::services::dev_mail::{self as dev_mailbox, DevMessage};
use crate::state::AppState;
use crate::web::shell::Shell;
use crate::web::view::when_with_seconds;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dev/mail/{key}", get(list_mail))
        .route("/dev/mail/{key}/{id}", get(show_mail))
        .route("/dev/mail/{key}/{id}/html", get(show_mail_html))
}

struct Row {
    id: Uuid,
    at: String,
    to: String,
    from: String,
    subject: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dev/mail_list.html")]
struct MailListPage {
    shell: Shell,
    base: String,
    smtp: bool,
    messages: Vec<Row>,
    next: Option<Uuid>,
}

/// A piece of the text part: plain text, or a link.
#[derive(Debug, PartialEq, Eq)]
struct Segment {
    text: String,
    link: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "dev/mail_show.html")]
struct MailShowPage {
    shell: Shell,
    base: String,
    id: Uuid,
    subject: String,
    from: String,
    to: String,
    reply_to: Option<String>,
    message_id: String,
    at: String,
    text: Vec<Segment>,
}

/// Splits text into plain runs and `http(s)://` links (trailing punctuation stays text).
fn linkify(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut plain = String::new();
    while !rest.is_empty() {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(start) = next else {
            plain.push_str(rest);
            break;
        };
        plain.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
        if !plain.is_empty() {
            out.push(Segment {
                text: std::mem::take(&mut plain),
                link: false,
            });
        }
        out.push(Segment {
            text: url.to_string(),
            link: true,
        });
        rest = &tail[url.len()..];
    }
    if !plain.is_empty() {
        out.push(Segment {
            text: plain,
            link: false,
        });
    }
    out
}

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "There is no such email in the dev mailbox.",
    )
        .into_response()
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dev mailbox");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "The dev mailbox could not be read; see the log.",
    )
        .into_response()
}

/// The mailbox's path and the demo tenant, when `key` is this run's key.
fn mailbox(state: &AppState, key: &str) -> Option<(String, String)> {
    let path = state.dev_mail_path()?;
    let tenant = state.demo_tenant()?;
    let expected = path.rsplit('/').next().unwrap_or_default();
    crate::web::session::same_secret(key, expected).then(|| (path, tenant.to_string()))
}

async fn list_mail(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let Some((base, tenant)) = mailbox(&state, &key) else {
        return not_found();
    };
    let before = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match Uuid::parse_str(c) {
            Ok(id) => Some(id),
            Err(_) => {
                return (
                    StatusCode::BAD_REQUEST,
                    "This cursor is not one the list gave.",
                )
                    .into_response();
            }
        },
    };
    let page = PageRequest {
        limit: PageRequest::DEFAULT,
        before,
    };
    match dev_mailbox::list(state.pool(), &tenant, page).await {
        Ok(page) => MailListPage {
            shell: Shell::public("Dev mailbox"),
            base,
            smtp: state.settings().smtp_url.is_some(),
            next: page.next,
            messages: page
                .items
                .into_iter()
                .map(|m| Row {
                    id: m.id,
                    at: when_with_seconds(m.created_at),
                    to: m.to_address,
                    from: m.from_name,
                    subject: m.subject,
                })
                .collect(),
        }
        .into_response(),
        Err(e) => failed(e),
    }
}

async fn load(state: &AppState, key: &str, id: &str) -> Result<(String, DevMessage), Response> {
    let (base, tenant) = mailbox(state, key).ok_or_else(not_found)?;
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    match dev_mailbox::get(state.pool(), &tenant, id).await {
        Ok(Some(m)) => Ok((base, m)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(failed(e)),
    }
}

async fn show_mail(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> Response {
    let (base, m) = match load(&state, &key, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    MailShowPage {
        shell: Shell::public(m.subject.clone()),
        base,
        id: m.id,
        subject: m.subject,
        from: format!("{} <{}>", m.from_name, state.settings().mail_from),
        to: m.to_address,
        reply_to: m.reply_to,
        message_id: m.message_id,
        at: when_with_seconds(m.created_at),
        text: linkify(&m.text_body),
    }
    .into_response()
}

async fn show_mail_html(
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> Response {
    let (_, m) = match load(&state, &key, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut response = m.html_body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Emails style themselves inline and must never run script; only this site may
    // frame it.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox allow-popups allow-top-navigation-by-user-activation; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
        ),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_in_text_become_link_segments() {
        let s = linkify("Approve: https://p.example/links/x/approve\nSee http://a.b/c.");
        assert_eq!(
            s,
            vec![
                Segment {
                    text: "Approve: ".into(),
                    link: false
                },
                Segment {
                    text: "https://p.example/links/x/approve".into(),
                    link: true
                },
                Segment {
                    text: "\nSee ".into(),
                    link: false
                },
                Segment {
                    text: "http://a.b/c".into(),
                    link: true
                },
                Segment {
                    text: ".".into(),
                    link: false
                },
            ]
        );
        assert_eq!(
            linkify("no links"),
            vec![Segment {
                text: "no links".into(),
                link: false
            }]
        );
    }
}
