//! The portals as a person's browser sees them, without JavaScript: a cookie-carrying
//! client that does not follow redirects, signs in by emailed link and posts forms
//! with the session's CSRF token.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use uuid::Uuid;

use super::{TestApp, TestTenant};
use crate::fixtures;

/// A browser: keeps cookies, does not follow redirects (tests look at them).
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub slug: String,
}

/// What a form post answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub location: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp, slug: &str) -> Self {
        Self::with_headers(app, slug, HeaderMap::new())
    }

    pub fn with_headers(app: &TestApp, slug: &str, headers: HeaderMap) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .expect("client"),
            base: app.address.clone(),
            slug: slug.into(),
        }
    }

    /// `/t/{slug}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/t/{}{path}", self.base, self.slug)
    }

    pub async fn get(&self, path: &str) -> Answer {
        let res = self.client.get(self.url(path)).send().await.expect("get");
        answer(res).await
    }

    /// Posts exactly these fields.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let res = self
            .client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("post");
        answer(res).await
    }

    /// Posts the fields with the session's CSRF token, as the page's form would.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// The session's CSRF token, from the meta tag of the home page.
    pub async fn csrf(&self) -> String {
        let home = self.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "home page: {}", home.body);
        meta(&home.body, "csrf-token").expect("a CSRF meta tag")
    }
}

/// Reads what a request answered.
pub async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = res.text().await.expect("body");
    Answer {
        status,
        body,
        location,
    }
}

/// The `content` of `<meta name="{name}">`.
pub fn meta(html: &str, name: &str) -> Option<String> {
    let pattern = format!("name=\"{name}\" content=\"");
    let at = html.find(&pattern)?;
    let rest = &html[at + pattern.len()..];
    rest.split('"').next().map(str::to_string)
}

/// The value of the first `<input name="{name}" value="…">`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let pattern = format!("name=\"{name}\" value=\"");
    let at = html.find(&pattern)?;
    let rest = &html[at + pattern.len()..];
    rest.split('"').next().map(str::to_string)
}

/// The plain token of the newest sign-in link emailed to `email`: from its outbox
/// row, or from the email once the email job has sent it.
pub async fn sign_in_token(app: &TestApp, email: &str) -> Option<String> {
    let from_outbox: Option<String> = sqlx::query_scalar(
        "select o.payload->'notice'->>'token' from outbox o
           join users u on u.tenant_id = o.tenant_id and u.id = (o.payload->>'to')::uuid
          where o.kind = 'email' and o.payload->'notice'->>'template' = 'signInLink'
            and lower(u.email) = lower($1)
          order by o.id desc limit 1",
    )
    .bind(email)
    .fetch_optional(&app.pool)
    .await
    .expect("outbox")
    .flatten();
    from_outbox.or_else(|| {
        app.mailer
            .sent()
            .iter()
            .rev()
            .filter(|m| m.to.eq_ignore_ascii_case(email))
            .find_map(|m| {
                m.text
                    .split_whitespace()
                    .find(|w| w.contains("/sign-in/"))
                    .and_then(|w| w.rsplit('/').next())
                    .map(str::to_string)
            })
    })
}

/// The number of sign-in emails queued for `email`.
pub async fn links_sent(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from outbox o join users u on u.tenant_id = o.tenant_id and u.id = (o.payload->>'to')::uuid
          where o.payload->'notice'->>'template' = 'signInLink' and lower(u.email) = lower($1)",
    )
    .bind(email)
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

/// Asks for a link on the sign-in page, as a person would.
pub async fn ask_for_link(b: &Browser, email: &str) -> Answer {
    let page = b.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = input_value(&page.body, "csrf_token").expect("csrf field");
    b.post_raw("/sign-in", &[("csrf_token", &csrf), ("email", email)])
        .await
}

/// Opens the emailed link and presses its button.
pub async fn use_link(b: &Browser, token: &str) -> Answer {
    let page = b.get(&format!("/sign-in/{token}")).await;
    if page.status != StatusCode::OK {
        return page;
    }
    let csrf = input_value(&page.body, "csrf_token").expect("csrf field");
    b.post_raw(&format!("/sign-in/{token}"), &[("csrf_token", &csrf)])
        .await
}

/// A browser signed in as `email` through the emailed link.
pub async fn sign_in(app: &TestApp, slug: &str, email: &str) -> Browser {
    let b = Browser::new(app, slug);
    let sent = ask_for_link(&b, email).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let token = sign_in_token(app, email)
        .await
        .expect("a sign-in link was queued");
    let done = use_link(&b, &token).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    b
}

/// A tenant `slug` and a browser signed in as its admin.
pub async fn admin_of(app: &TestApp, slug: &str) -> (TestTenant, Browser) {
    let t = app.tenant(slug).await;
    let b = sign_in(app, slug, &t.admin_email).await;
    (t, b)
}

/// The id at the end of a redirect's location.
pub fn id_in(location: &Option<String>) -> Uuid {
    let loc = location.as_deref().expect("a redirect");
    let last = loc.trim_end_matches('/').rsplit('/').next().expect("an id");
    Uuid::parse_str(last).unwrap_or_else(|_| panic!("no id at the end of {loc}"))
}

/// The number of catalogs of tenant `t`.
pub async fn catalog_count(app: &TestApp, t: &TestTenant) -> i64 {
    sqlx::query_scalar("select count(*) from catalogs where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// An admin's browser on tenant acme, with a group resource in catalog General.
pub struct Setup {
    pub t: TestTenant,
    pub b: Browser,
    pub general: Uuid,
    pub group: Uuid,
    pub member_role: Uuid,
}

pub async fn setup(app: &TestApp) -> Setup {
    let (t, b) = admin_of(app, "acme").await;
    let general = app.general_catalog(&t).await;
    let group = fixtures::group(app, &t, "Windows 11 Testing").await;
    let (_, member_role, _) = fixtures::group_resource(app, &t, general, group).await;
    Setup {
        t,
        b,
        general,
        group,
        member_role,
    }
}
