//! Mail and link-page helpers for the tests: a tiny SMTP server on 127.0.0.1:0 that
//! keeps every raw message, a MIME reader (multipart, quoted-printable, base64) and the
//! steps a person takes with an emailed link: open it, read the form, send it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use portico::email::{Email, RecordingMailer};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::fixtures::{self, group_package, open_policy};
use crate::helpers::{TestApp, TestTenant};

/// An SMTP server that accepts everything: 220, EHLO/HELO 250, MAIL/RCPT 250, DATA 354
/// then the message up to `<CRLF>.<CRLF>`, QUIT 221.
#[derive(Clone)]
pub struct SmtpCatcher {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpCatcher {
    pub async fn start() -> SmtpCatcher {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, kept).await;
                });
            }
        });
        SmtpCatcher { port, messages }
    }

    /// `PORTICO_SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("lock").clone()
    }

    /// The first raw message that `pred` accepts, waiting up to 15 seconds.
    pub async fn wait_for(&self, pred: impl Fn(&Mime) -> bool) -> (String, Mime) {
        for _ in 0..300 {
            for raw in self.messages() {
                let mime = Mime::parse(&raw);
                if pred(&mime) {
                    return (raw, mime);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no such message arrived; got {:#?}", self.messages());
    }
}

async fn converse(
    stream: tokio::net::TcpStream,
    kept: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 catcher ESMTP ready\r\n").await?;
    loop {
        let mut line = Vec::new();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line)
            .trim_end()
            .to_ascii_uppercase();
        let verb = command.split_whitespace().next().unwrap_or("").to_string();
        match verb.as_str() {
            "EHLO" => write.write_all(b"250-catcher\r\n250 8BITMIME\r\n").await?,
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => write.write_all(b"250 OK\r\n").await?,
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut message = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if read.read_until(b'\n', &mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    // Undo dot-stuffing.
                    if l.starts_with(b"..") {
                        l.remove(0);
                    }
                    message.extend_from_slice(&l);
                }
                kept.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&message).into_owned());
                write.write_all(b"250 OK queued\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"502 not implemented\r\n").await?,
        }
    }
}

/// A received message: unfolded headers and the decoded text and HTML parts.
#[derive(Clone, Debug, Default)]
pub struct Mime {
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
}

fn split_head(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""))
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Decodes quoted-printable (soft line breaks and `=XX`).
pub fn decode_qp(body: &str) -> String {
    let bytes = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = bytes.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_part(headers: &[(String, String)], body: &str) -> String {
    let text = match header(headers, "content-transfer-encoding")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("quoted-printable") => decode_qp(body),
        Some("base64") => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 part");
            String::from_utf8(bytes).expect("utf-8 part")
        }
        _ => body.to_string(),
    };
    text.replace("\r\n", "\n")
}

impl Mime {
    pub fn parse(raw: &str) -> Mime {
        let (head, body) = split_head(raw);
        let headers = parse_headers(head);
        let mut mime = Mime {
            headers: headers.clone(),
            ..Mime::default()
        };
        let content_type = header(&headers, "content-type").unwrap_or("text/plain");
        if let Some(boundary) = content_type
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
        {
            let boundary = format!("--{}", boundary.trim_matches('"'));
            for part in body.split(&boundary).skip(1) {
                if part.starts_with("--") {
                    break;
                }
                let part = part.trim_start_matches("\r\n");
                let (part_head, part_body) = split_head(part);
                let part_headers = parse_headers(part_head);
                let part_body = part_body.strip_suffix("\r\n").unwrap_or(part_body);
                let ty = header(&part_headers, "content-type").unwrap_or("");
                if ty.starts_with("text/plain") {
                    mime.text = decode_part(&part_headers, part_body);
                } else if ty.starts_with("text/html") {
                    mime.html = decode_part(&part_headers, part_body);
                }
            }
        } else {
            mime.text = decode_part(&headers, body);
        }
        mime
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, &name.to_ascii_lowercase())
    }
}

/// The URL of the line that starts with `prefix` (e.g. "Approve: ").
pub fn line_url(text: &str, prefix: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(lines.len(), 1, "exactly one '{prefix}' line in:\n{text}");
    let url = &lines[0][prefix.len()..];
    assert!(
        !url.contains(' ') && !url.starts_with('<') && url.starts_with("http"),
        "a bare URL: {url:?}"
    );
    url.to_string()
}

/// The first email that `pred` accepts, waiting for the scheduler to send it.
pub async fn wait_for_email(mailer: &RecordingMailer, pred: impl Fn(&Email) -> bool) -> Email {
    for _ in 0..300 {
        if let Some(e) = mailer.sent().into_iter().find(|e| pred(e)) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no such email was sent; sent: {:#?}",
        mailer
            .sent()
            .iter()
            .map(|e| (&e.to, &e.subject))
            .collect::<Vec<_>>()
    );
}

/// A link page as a browser got it.
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    /// `portico_csrf=…` from Set-Cookie, if any.
    pub cookie: Option<String>,
    pub set_cookie: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The value of the hidden field whose name contains `csrf`.
    pub fn csrf(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf")
            .unwrap_or_else(|| panic!("no csrf field in:\n{}", self.html));
        let input_start = self.html[..at].rfind("<input").expect("an input");
        let input_end = at + self.html[at..].find('>').expect("end of input");
        let input = &self.html[input_start..input_end];
        assert!(input.contains("type=\"hidden\""), "{input}");
        let v = input.find("value=\"").expect("a value") + 7;
        let len = input[v..].find('"').expect("end of value");
        input[v..v + len].to_string()
    }

    /// How many forms the page holds.
    pub fn forms(&self) -> usize {
        self.html.matches("<form").count()
    }
}

/// GET as a browser would.
pub async fn open(app: &TestApp, url: &str, cookie: Option<&str>) -> Page {
    let mut req = app.client.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    page(req.send().await.expect("get link")).await
}

async fn page(res: reqwest::Response) -> Page {
    let status = res.status();
    let headers = res.headers().clone();
    let set_cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cookie = set_cookie
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(str::to_string);
    Page {
        status,
        html: res.text().await.expect("body"),
        cookie,
        set_cookie,
        headers,
    }
}

/// POSTs the confirmation form: `fields` as sent, `cookie` and `origin` as headers.
pub async fn submit(
    app: &TestApp,
    url: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> Page {
    let mut req = app.client.post(url).form(fields);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    page(req.send().await.expect("post link")).await
}

/// Opens `url` and sends its form with `justification`, as a person would.
pub async fn confirm(app: &TestApp, url: &str, justification: &str) -> (Page, Page) {
    let shown = open(app, url, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
    let cookie = shown.cookie.clone().expect("a csrf cookie");
    let csrf = shown.csrf();
    let sent = submit(
        app,
        url,
        Some(&cookie),
        Some(&app.address),
        &[("justification", justification), ("csrf_token", &csrf)],
    )
    .await;
    (shown, sent)
}

/// A tenant where Adele Vance (reporting to Megan Bowen) requested "Windows 11
/// Testing", which waits for her manager.
pub struct Pending {
    pub t: TestTenant,
    pub manager: (Uuid, String),
    pub employee: (Uuid, String),
    pub manager_email: String,
    pub package: Uuid,
    pub request: serde_json::Value,
}

impl Pending {
    pub fn request_id(&self) -> String {
        self.request["id"].as_str().expect("id").to_string()
    }
}

/// Sets up a pending request in tenant `slug`; `stage` adds to (or replaces parts of)
/// the manager stage.
pub async fn pending_request(
    app: &TestApp,
    slug: &str,
    stage: impl FnOnce(&TestTenant) -> serde_json::Value,
) -> Pending {
    let t = app.tenant(slug).await;
    let stage = stage(&t);
    let manager_email = format!("megan@{slug}.test");
    let manager = app
        .user(&t, &manager_email, json!({"displayName": "Megan Bowen"}))
        .await;
    let employee = app
        .user(
            &t,
            &format!("adele@{slug}.test"),
            json!({"displayName": "Adele Vance", "managerId": manager.0}),
        )
        .await;
    let mut stage_body =
        json!({"approvers": [{"type": "manager"}], "decision": "anyOne", "timeoutDays": 7});
    if let (Some(s), Some(extra)) = (stage_body.as_object_mut(), stage.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    let settings = open_policy(json!({
        "requireJustification": true,
        "questions": [{"text": "Which device?", "kind": "shortText", "required": true}],
        "approval": {"stages": [stage_body]},
        "expiration": {"type": "afterDays", "days": 30}
    }));
    let pkg = group_package(app, &t, "Windows 11 Testing", settings).await;
    let question: String = sqlx::query_scalar(
        "select settings -> 'questions' -> 0 ->> 'id' from policies where id = $1",
    )
    .bind(pkg.policy)
    .fetch_one(&app.pool)
    .await
    .expect("question id");
    let (status, request) = fixtures::request(
        app,
        &employee.1,
        pkg.package,
        json!({"justification": "Beta testing", "answers": [{"questionId": question, "value": "Laptop 42"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    assert_eq!(request["state"], "pendingApproval", "{request}");
    Pending {
        t,
        manager,
        employee,
        manager_email,
        package: pkg.package,
        request,
    }
}

/// The request as its requestor sees it now.
pub async fn request_now(app: &TestApp, p: &Pending) -> serde_json::Value {
    let (status, r) = app
        .get(
            &p.employee.1,
            &format!("/api/v1/assignmentRequests/{}", p.request_id()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}
