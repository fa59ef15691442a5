//! The admin portal through its HTML forms, with a cookie-carrying client as a browser
//! would: sign-in by emailed link (single use, 15 minutes, rate limits), sessions of
//! deactivated users, CSRF and Origin checks, and each admin page: create, edit,
//! validation errors (422 with the message in the page), permissions (403 page),
//! other tenants' ids (404), CSV import.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, ORIGIN};
use serde_json::json;
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::{TestApp, TestTenant};

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

async fn answer(res: reqwest::Response) -> Answer {
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
async fn ask_for_link(b: &Browser, email: &str) -> Answer {
    let page = b.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = input_value(&page.body, "csrf_token").expect("csrf field");
    b.post_raw("/sign-in", &[("csrf_token", &csrf), ("email", email)])
        .await
}

/// Opens the emailed link and presses its button.
async fn use_link(b: &Browser, token: &str) -> Answer {
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

async fn admin_of(app: &TestApp, slug: &str) -> (TestTenant, Browser) {
    let t = app.tenant(slug).await;
    let b = sign_in(app, slug, &t.admin_email).await;
    (t, b)
}

fn id_in(location: &Option<String>) -> Uuid {
    let loc = location.as_deref().expect("a redirect");
    let last = loc.trim_end_matches('/').rsplit('/').next().expect("an id");
    Uuid::parse_str(last).unwrap_or_else(|_| panic!("no id at the end of {loc}"))
}

// ---------------------------------------------------------------------------------
// Sign-in

#[tokio::test]
async fn a_sign_in_link_opens_one_session_and_then_is_used_up() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");

    let before = b.get("/admin").await;
    assert_eq!(before.status, StatusCode::SEE_OTHER);
    assert!(
        before
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/t/acme/sign-in"))
    );

    let sent = ask_for_link(&b, &t.admin_email).await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.body.contains("Check your email"));
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");

    // Opening the link changes nothing (mail scanners open links).
    let confirm = b.get(&format!("/sign-in/{token}")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Sign in"));
    let again = b.get(&format!("/sign-in/{token}")).await;
    assert_eq!(again.status, StatusCode::OK);

    let done = use_link(&b, &token).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Signed in as admin"), "{}", home.body);
    let signed_in: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_sign_in_at from users where id = $1")
            .bind(t.admin_id)
            .fetch_one(&app.pool)
            .await
            .expect("user");
    assert_eq!(signed_in, Some(app.now()));

    // A second use of the same link is refused, in any browser.
    let other = Browser::new(&app, "acme");
    let reused = use_link(&other, &token).await;
    assert_eq!(reused.status, StatusCode::GONE, "{}", reused.body);
    assert!(reused.body.contains("already been used"));
    assert_eq!(other.get("/admin").await.status, StatusCode::SEE_OTHER);

    // Unknown tokens are 404.
    assert_eq!(
        b.get("/sign-in/not-a-real-token").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn asking_for_a_link_never_reveals_whether_the_address_exists() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    let known = ask_for_link(&b, &t.admin_email).await;
    let unknown = ask_for_link(&b, "nobody@acme.test").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(unknown.status, StatusCode::OK);
    let strip = |s: &str, email: &str| s.replace(email, "EMAIL");
    assert_eq!(
        strip(&known.body, &t.admin_email),
        strip(&unknown.body, "nobody@acme.test")
    );
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);

    let bad = ask_for_link(&b, "not an email").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not an email address"));
}

#[tokio::test]
async fn sign_in_links_expire_after_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    ask_for_link(&b, &t.admin_email).await;
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");
    app.clock.advance(chrono::Duration::minutes(15));
    let page = b.get(&format!("/sign-in/{token}")).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.body.contains("expired"));
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);

    // A link used within its 15 minutes works.
    ask_for_link(&b, &t.admin_email).await;
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(use_link(&b, &token).await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_emails_to_one_address_wait_a_cooldown_and_one_client_is_limited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    for _ in 0..5 {
        let asked = ask_for_link(&b, &t.admin_email).await;
        assert_eq!(
            asked.status,
            StatusCode::OK,
            "asking again is never refused"
        );
        assert!(asked.body.contains("Check your email"));
    }
    assert_eq!(
        links_sent(&app, &t.admin_email).await,
        1,
        "one email per address within the cooldown"
    );
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        ask_for_link(&b, &t.admin_email).await.status,
        StatusCode::OK
    );
    assert_eq!(links_sent(&app, &t.admin_email).await, 2);

    // One client asking for many addresses is stopped at 30 within 15 minutes.
    app.clock.advance(chrono::Duration::minutes(16));
    for i in 0..30 {
        let a = ask_for_link(&b, &format!("someone{i}@acme.test")).await;
        assert_eq!(a.status, StatusCode::OK, "attempt {i}");
    }
    let limited = ask_for_link(&b, "one-more@acme.test").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.body.contains("Too many sign-in emails"));
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        ask_for_link(&b, "one-more@acme.test").await.status,
        StatusCode::OK,
        "the client window slides"
    );
}

#[tokio::test]
async fn a_deactivated_users_session_ends_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let catalog = app.general_catalog(&t).await;
    let (ada, _) = app
        .user_with_role(&t, "ada@acme.test", "catalogOwner", Some(catalog))
        .await;
    let ada_browser = sign_in(&app, "acme", "ada@acme.test").await;
    assert_eq!(ada_browser.get("/admin").await.status, StatusCode::OK);

    let admin = sign_in(&app, "acme", &t.admin_email).await;
    let done = admin
        .post(&format!("/admin/users/{ada}/deactivate"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    let after = ada_browser.get("/admin").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    let revoked: i64 = sqlx::query_scalar(
        "select count(*) from sessions where user_id = $1 and revoked_at is not null",
    )
    .bind(ada)
    .fetch_one(&app.pool)
    .await
    .expect("sessions");
    assert_eq!(revoked, 1);
    // A deactivated user gets no new link either.
    let b = Browser::new(&app, "acme");
    ask_for_link(&b, "ada@acme.test").await;
    assert_eq!(links_sent(&app, "ada@acme.test").await, 1);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;
    let out = b.post("/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn dev_sign_in_exists_only_in_demo_mode() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    assert_eq!(b.get("/dev/sign-in").await.status, StatusCode::NOT_FOUND);

    let demo = TestApp::spawn_demo("contoso").await;
    let t = demo.tenant("contoso").await;
    let b = Browser::new(&demo, "contoso");
    let page = b.get("/dev/sign-in?next=/t/contoso/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign in as admin"));
    let csrf = input_value(&page.body, "csrf_token").expect("csrf");
    let admin_id = t.admin_id.to_string();
    let done = b
        .post_raw(
            "/dev/sign-in",
            &[
                ("csrf_token", &csrf),
                ("userId", &admin_id),
                ("next", "/t/contoso/admin"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location.as_deref(), Some("/t/contoso/admin"));
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
}

#[tokio::test]
async fn session_cookies_are_http_only_and_lax() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    ask_for_link(&b, &t.admin_email).await;
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");
    let page = b.get(&format!("/sign-in/{token}")).await;
    let csrf = input_value(&page.body, "csrf_token").expect("csrf");
    let res = b
        .client
        .post(b.url(&format!("/sign-in/{token}")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("post");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("portico_session="))
        .expect("a session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    // The test server's base URL is http://, so the cookie is not Secure.
    assert!(!cookie.contains("Secure"));
}

// ---------------------------------------------------------------------------------
// CSRF and Origin

async fn catalog_count(app: &TestApp, t: &TestTenant) -> i64 {
    sqlx::query_scalar("select count(*) from catalogs where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let before = catalog_count(&app, &t).await;

    let missing = b
        .post_raw("/admin/catalogs", &[("displayName", "Sneaky")])
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("This form has expired"));

    let wrong = b
        .post_raw(
            "/admin/catalogs",
            &[
                ("csrf_token", "x".repeat(43).as_str()),
                ("displayName", "Sneaky"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(catalog_count(&app, &t).await, before);

    // Sign-in forms need the pre-session cookie's token.
    let anon = Browser::new(&app, "acme");
    let refused = anon
        .post_raw("/sign-in", &[("email", t.admin_email.as_str())])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);

    // The right token works.
    let ok = b.post("/admin/catalogs", &[("displayName", "Legit")]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(catalog_count(&app, &t).await, before + 1);
}

#[tokio::test]
async fn a_form_sent_from_another_origin_is_refused() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let before = catalog_count(&app, &t).await;
    let csrf = b.csrf().await;
    let post = |origin: &'static str| {
        b.client
            .post(b.url("/admin/catalogs"))
            .header(ORIGIN, origin)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("displayName", "From elsewhere"),
            ])
            .send()
    };
    let refused = post("https://evil.example").await.expect("post");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("from another site")
    );
    assert_eq!(
        post("null").await.expect("post").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(catalog_count(&app, &t).await, before);
    // The site's own origin (its base URL, or the host it was reached at) is fine.
    let ok = post("http://portico.test").await.expect("post");
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(catalog_count(&app, &t).await, before + 1);

    // Sign-in forms too.
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
    let evil = Browser::with_headers(&app, "acme", headers);
    let page = evil.get("/sign-in").await;
    let pre = input_value(&page.body, "csrf_token").expect("csrf");
    let refused = evil
        .post_raw(
            "/sign-in",
            &[("csrf_token", &pre), ("email", t.admin_email.as_str())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);
}

// ---------------------------------------------------------------------------------
// Permissions and tenancy

#[tokio::test]
async fn people_without_an_admin_role_get_a_403_page() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.user(&t, "bob@acme.test", json!({})).await;
    let bob = sign_in(&app, "acme", "bob@acme.test").await;
    let home = bob.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains("/admin\""), "no admin links for bob");
    let admin = bob.get("/admin").await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    assert!(admin.body.contains("administrative role"));
    let post = bob
        .post("/admin/catalogs", &[("displayName", "Mine")])
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_role_sees_and_changes_only_what_it_may() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    app.user_with_role(&t, "reader@acme.test", "catalogReader", Some(general))
        .await;
    let reader = sign_in(&app, "acme", "reader@acme.test").await;

    let nav = reader.get("/admin").await;
    assert_eq!(nav.status, StatusCode::OK);
    assert!(!nav.body.contains("Audit log"), "readers see no audit log");
    assert!(!nav.body.contains("/admin/users\""), "readers see no users");
    assert_eq!(
        reader.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reader.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );

    let catalog = reader.get(&format!("/admin/catalogs/{general}")).await;
    assert_eq!(catalog.status, StatusCode::OK);
    assert!(!catalog.body.contains("Add resource"));
    let edit = reader
        .post(
            &format!("/admin/catalogs/{general}/edit"),
            &[("displayName", "Renamed")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert!(edit.body.contains("You may not edit this catalog"));
    let package = reader
        .post(
            "/admin/packages",
            &[("catalogId", &general.to_string()), ("displayName", "P")],
        )
        .await;
    assert_eq!(package.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_tenants_ids_answer_404() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let (_, beta) = admin_of(&app, "beta").await;
    let alpha_catalog = app.general_catalog(&a).await;
    let group = fixtures::group(&app, &a, "Alpha group").await;
    let page = beta.get(&format!("/admin/catalogs/{alpha_catalog}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("not found"));
    assert_eq!(
        beta.get(&format!("/admin/groups/{group}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        beta.get(&format!("/admin/users/{}", a.admin_id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let edit = beta
        .post(
            &format!("/admin/catalogs/{alpha_catalog}/edit"),
            &[("displayName", "Mine now")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    assert_eq!(
        beta.get("/admin/catalogs/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    let gone = beta.get("/admin/no-such-page").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.body.contains("There is nothing at this address"));
    let wrong_method = beta.get("/sign-out").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    // A session of one tenant does not open another.
    let other = Browser {
        slug: "alpha".into(),
        ..beta
    };
    assert_eq!(other.get("/admin").await.status, StatusCode::SEE_OTHER);
    // An unknown tenant is 404.
    let nowhere = Browser::new(&app, "nowhere");
    assert_eq!(nowhere.get("/sign-in").await.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.get("/admin").await.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------
// Catalogs and resources

#[tokio::test]
async fn admins_create_edit_and_disable_catalogs() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    assert_eq!(b.get("/admin/catalogs/new").await.status, StatusCode::OK);
    let created = b
        .post(
            "/admin/catalogs",
            &[
                ("displayName", "Operating systems"),
                ("description", "Beta programmes"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = id_in(&created.location);
    let page = b.get(&format!("/admin/catalogs/{id}")).await;
    assert!(page.body.contains("Operating systems"));
    assert!(page.body.contains("Catalog “Operating systems” created."));
    // The flash shows once.
    let again = b.get(&format!("/admin/catalogs/{id}")).await;
    assert!(!again.body.contains("created."));

    let edited = b
        .post(
            &format!("/admin/catalogs/{id}/edit"),
            &[
                ("displayName", "Operating systems (beta)"),
                ("description", "Beta programmes"),
                ("enabled", "true"),
                ("externallyVisible", "true"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let disabled = b
        .post(
            &format!("/admin/catalogs/{id}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER);
    let row: (String, bool, bool) = sqlx::query_as(
        "select display_name, enabled, externally_visible from catalogs where tenant_id = $1 and id = $2",
    )
    .bind(t.id)
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("catalog");
    assert_eq!(row, ("Operating systems (beta)".to_string(), false, true));
    let list = b.get("/admin/catalogs").await;
    assert!(list.body.contains("Operating systems (beta)"));
    assert!(list.body.contains("Disabled"));
}

#[tokio::test]
async fn a_catalog_without_a_name_is_refused_with_the_message_at_its_field() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let before = catalog_count(&app, &t).await;
    let refused = b
        .post(
            "/admin/catalogs",
            &[("displayName", "   "), ("description", "kept")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("a name is required"));
    assert!(refused.body.contains("id=\"f-displayName-error\""));
    assert!(refused.body.contains(">kept</textarea>"), "input is kept");
    assert_eq!(catalog_count(&app, &t).await, before);
}

#[tokio::test]
async fn catalog_owners_grant_and_revoke_roles_by_email() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let general = app.general_catalog(&t).await;
    app.user(&t, "pm@acme.test", json!({})).await;
    let granted = b
        .post(
            &format!("/admin/catalogs/{general}/roles"),
            &[("role", "packageManager"), ("principal", "pm@acme.test")],
        )
        .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let page = b.get(&format!("/admin/catalogs/{general}")).await;
    assert!(page.body.contains("Access package manager"));
    assert!(page.body.contains("pm@acme.test"));

    let unknown = b
        .post(
            &format!("/admin/catalogs/{general}/roles"),
            &[("role", "catalogReader"), ("principal", "ghost@acme.test")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("there is no user with the email address ghost@acme.test")
    );

    let rid: Uuid = sqlx::query_scalar(
        "select id from role_assignments where tenant_id = $1 and role = 'packageManager'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("role");
    let revoked = b
        .post(
            &format!("/admin/catalogs/{general}/roles/{rid}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar("select count(*) from role_assignments where id = $1")
        .bind(rid)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

#[tokio::test]
async fn resources_are_added_from_the_directory_and_removed_unless_in_use() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let general = app.general_catalog(&t).await;
    let group = fixtures::group(&app, &t, "Windows 11 Testing").await;

    let picker = b
        .get(&format!(
            "/admin/catalogs/{general}/resources/new?kind=group&q=windows"
        ))
        .await;
    assert_eq!(picker.status, StatusCode::OK);
    assert!(picker.body.contains("Windows 11 Testing"));
    let added = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[("kind", "group"), ("groupId", &group.to_string())],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);

    // An application with roles and a webhook connector; its secret never comes back.
    let secret = "s3cret-s3cret-s3cret";
    let app_added = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[
                ("kind", "application"),
                ("displayName", "Ticketing"),
                ("roles", "Reader\nAgent"),
                ("webhook", "true"),
                ("connector.url", "http://127.0.0.1:9/hook"),
                ("connector.secret", secret),
            ],
        )
        .await;
    assert_eq!(
        app_added.status,
        StatusCode::SEE_OTHER,
        "{}",
        app_added.body
    );
    let page = b.get(&format!("/admin/catalogs/{general}")).await;
    assert!(page.body.contains("Ticketing"));
    assert!(page.body.contains("Reader, Agent"));
    assert!(!page.body.contains(secret));

    // Validation: a short secret and a duplicate role, each at its field.
    let refused = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[
                ("kind", "site"),
                ("displayName", "Wiki"),
                ("roles", "Editor\neditor"),
                ("webhook", "true"),
                ("connector.url", "http://127.0.0.1:9/hook"),
                ("connector.secret", "short"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("the secret must have at least 16 characters")
    );
    assert!(refused.body.contains("is named twice"));
    assert!(
        !refused.body.contains("value=\"short\""),
        "the secret is not echoed"
    );

    // A resource used by a package cannot be removed: 409 with the reason.
    let (resource, role): (Uuid, Uuid) = sqlx::query_as(
        "select r.id, rr.id from resources r join resource_roles rr on rr.tenant_id = r.tenant_id and rr.resource_id = r.id
          where r.tenant_id = $1 and r.group_id = $2 and rr.display_name = 'Member'",
    )
    .bind(t.id)
    .bind(group)
    .fetch_one(&app.pool)
    .await
    .expect("resource");
    fixtures::package(&app, &t, general, "Uses it", &[role]).await;
    let blocked = b
        .post(
            &format!("/admin/catalogs/{general}/resources/{resource}/remove"),
            &[],
        )
        .await;
    assert_eq!(blocked.status, StatusCode::CONFLICT);
    assert!(
        blocked
            .body
            .contains("Access packages use roles of this resource")
    );
    let ticketing: Uuid = sqlx::query_scalar(
        "select id from resources where tenant_id = $1 and display_name = 'Ticketing'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("ticketing");
    let removed = b
        .post(
            &format!("/admin/catalogs/{general}/resources/{ticketing}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
}

// ---------------------------------------------------------------------------------
// Packages, policies, assignments, requests

struct Setup {
    t: TestTenant,
    b: Browser,
    general: Uuid,
    group: Uuid,
    member_role: Uuid,
}

async fn setup(app: &TestApp) -> Setup {
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

#[tokio::test]
async fn packages_are_created_edited_listed_and_searched() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let choose = b.get("/admin/packages/new").await;
    assert_eq!(choose.status, StatusCode::OK);
    assert!(choose.body.contains("General"));
    let form = b
        .get(&format!("/admin/packages/new?catalog={}", s.general))
        .await;
    assert!(form.body.contains("Windows 11 Testing (group)"));

    let role = s.member_role.to_string();
    let created = b
        .post(
            "/admin/packages",
            &[
                ("catalogId", &s.general.to_string()),
                ("displayName", "Windows 11 Testing"),
                ("description", "Upgrade to Windows 11."),
                ("resourceRoleIds", &role),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = id_in(&created.location);
    let page = b.get(&format!("/admin/packages/{id}")).await;
    assert!(page.body.contains("Windows 11 Testing — Member"));
    assert!(page.body.contains("No policy yet"));

    let edited = b
        .post(
            &format!("/admin/packages/{id}/edit"),
            &[
                ("displayName", "Windows 11 Testing"),
                ("description", "Changed"),
                ("hidden", "true"),
                ("resourceRoleIds", &role),
                ("addIncompatibleGroup", "Windows 11 Testing"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let page = b.get(&format!("/admin/packages/{id}")).await;
    assert!(page.body.contains("Hidden"));
    assert!(
        page.body
            .contains("Incompatible with membership of Windows 11 Testing")
    );

    let invalid = b
        .post(
            &format!("/admin/packages/{id}/edit"),
            &[("displayName", ""), ("resourceRoleIds", &role)],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("a name is required"));

    for i in 0..3 {
        fixtures::package(&app, &s.t, s.general, &format!("Other {i}"), &[]).await;
    }
    let list = b.get("/admin/packages?q=windows").await;
    assert!(list.body.contains("Windows 11 Testing"));
    assert!(!list.body.contains("Other 1"));
    // htmx live search gets the rows alone.
    let fragment = b
        .client
        .get(b.url("/admin/packages?q=other"))
        .header("HX-Request", "true")
        .header("HX-Target", "package-results")
        .send()
        .await
        .expect("fragment");
    let fragment = fragment.text().await.expect("text");
    assert!(fragment.starts_with("<div id=\"package-results\">"));
    assert!(!fragment.contains("<html"));
    assert!(fragment.contains("Other 2"));
}

fn policy_fields(approver: &str, timeout: &str) -> Vec<(String, String)> {
    [
        ("op", "save"),
        ("displayName", "Initial policy"),
        ("scope", "allMembers"),
        ("requestsEnabled", "true"),
        ("stageCount", "2"),
        ("s0.approvers", "manager"),
        ("s0.decision", "anyOne"),
        ("s0.timeoutDays", "14"),
        ("s1.approvers", approver),
        ("s1.decision", "anyOne"),
        ("s1.timeoutDays", timeout),
        ("questionCount", "1"),
        ("q0.text", "Which device?"),
        ("q0.kind", "choice"),
        ("q0.options", "Laptop\nDesktop"),
        ("q0.required", "true"),
        ("expiration", "afterDays"),
        ("expiration.days", "90"),
        ("extension.allowed", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn post_owned(b: &Browser, path: &str, fields: &[(String, String)]) -> Answer {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post(path, &pairs).await
}

async fn policies_of(app: &TestApp, package: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from policies where package_id = $1")
        .bind(package)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn the_policy_editor_builds_a_two_stage_policy_and_shows_validation_errors() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    let (megan, _) = app
        .user(
            &s.t,
            "megan@acme.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let path = format!("/admin/packages/{package}/policies/new");
    let editor = b.get(&path).await;
    assert_eq!(editor.status, StatusCode::OK);
    assert!(editor.body.contains("Review + create"));

    // Draft buttons: add a stage, add the manager, search and pick a user.
    let added = post_owned(
        b,
        &path,
        &[
            ("op".into(), "add-stage".into()),
            ("scope".into(), "allMembers".into()),
        ],
    )
    .await;
    assert_eq!(added.status, StatusCode::OK);
    assert!(added.body.contains("Stage 1"));
    let found = post_owned(
        b,
        &path,
        &[
            ("op".into(), "find:s0.approvers".into()),
            ("stageCount".into(), "1".into()),
            ("find:s0.approvers".into(), "megan".into()),
        ],
    )
    .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found
            .body
            .contains(&format!("pick:s0.approvers:user:{megan}"))
    );
    let picked = post_owned(
        b,
        &path,
        &[
            ("op".into(), format!("pick:s0.approvers:user:{megan}")),
            ("stageCount".into(), "1".into()),
        ],
    )
    .await;
    assert!(picked.body.contains(&format!("value=\"user:{megan}\"")));
    assert!(picked.body.contains("Megan Bowen"));

    // A timeout of 30 days is refused at its field with 422; nothing is saved.
    let user = format!("user:{megan}");
    let refused = post_owned(b, &path, &policy_fields(&user, "30")).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("a stage times out after 1 to 14 days")
    );
    assert!(refused.body.contains("id=\"s1-timeout-error\""));
    assert!(refused.body.contains("Approval stage 2 timeout days"));
    assert_eq!(policies_of(&app, package).await, 0);
    // Not a number at all: the same place.
    let nan = post_owned(b, &path, &policy_fields(&user, "soon")).await;
    assert_eq!(nan.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nan.body
            .contains("enter the timeout in days as a whole number")
    );

    let saved = post_owned(b, &path, &policy_fields(&user, "7")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings: serde_json::Value =
        sqlx::query_scalar("select settings from policies where package_id = $1")
            .bind(package)
            .fetch_one(&app.pool)
            .await
            .expect("policy");
    assert_eq!(
        settings["approval"]["stages"][0]["approvers"][0]["type"],
        "manager"
    );
    assert_eq!(
        settings["approval"]["stages"][1]["approvers"][0]["id"],
        megan.to_string()
    );
    assert_eq!(settings["approval"]["stages"][1]["timeoutDays"], 7);
    assert_eq!(settings["questions"][0]["options"][1], "Desktop");
    assert_eq!(settings["expiration"]["days"], 90);

    // Editing shows the saved policy again.
    let pid: Uuid = sqlx::query_scalar("select id from policies where package_id = $1")
        .bind(package)
        .fetch_one(&app.pool)
        .await
        .expect("id");
    let edit = b
        .get(&format!("/admin/packages/{package}/policies/{pid}"))
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("Megan Bowen"));
    assert!(edit.body.contains("Which device?"));
    assert!(edit.body.contains("Stage 2: Megan Bowen"));
}

#[tokio::test]
async fn the_policy_editor_refuses_a_decision_rule_it_does_not_know() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let package = fixtures::package(&app, &s.t, s.general, "Windows 11 Testing", &[]).await;
    let path = format!("/admin/packages/{package}/policies/new");
    let mut fields = policy_fields("manager", "7");
    for (k, v) in &mut fields {
        if k == "s1.decision" {
            *v = "majority".into();
        }
    }
    let refused = post_owned(&s.b, &path, &fields).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unknown rule is never read as anyOne: {}",
        refused.body
    );
    assert!(refused.body.contains("Approval stage 2 decision"));
    assert_eq!(policies_of(&app, package).await, 0);
}

#[tokio::test]
async fn admins_assign_directly_filter_remove_and_follow_requests() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    fixtures::policy(&app, &s.t, package, fixtures::open_policy(json!({}))).await;
    let (ada, _) = app
        .user(&s.t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    let path = format!("/admin/packages/{package}/assignments");

    let unknown = b.post(&path, &[("email", "ghost@acme.test")]).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("there is no user with the email address ghost@acme.test")
    );

    let added = b.post(&path, &[("email", "ada@acme.test")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(fixtures::sources(&app, s.group, ada).await.len(), 1);
    let list = b.get(&path).await;
    assert!(list.body.contains("Ada"));
    assert!(list.body.contains("Delivered"));
    let again = b.post(&path, &[("email", "ada@acme.test")]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);

    let removed_filter = b.get(&format!("{path}?state=removed")).await;
    assert!(!removed_filter.body.contains("ada@acme.test"));
    assert_eq!(
        b.get(&format!("{path}?state=bogus")).await.status,
        StatusCode::BAD_REQUEST
    );

    let assignment: Uuid =
        sqlx::query_scalar("select id from assignments where target_user_id = $1")
            .bind(ada)
            .fetch_one(&app.pool)
            .await
            .expect("assignment");
    let removed = b
        .post(&format!("/admin/assignments/{assignment}/remove"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(fixtures::sources(&app, s.group, ada).await.is_empty());
    let removed_filter = b.get(&format!("{path}?state=removed")).await;
    assert!(removed_filter.body.contains("ada@acme.test"));

    let requests = b.get(&format!("/admin/requests?package={package}")).await;
    assert_eq!(requests.status, StatusCode::OK);
    assert!(requests.body.contains("Admin add"));
    assert!(requests.body.contains("Admin remove"));
    let rid: Uuid = sqlx::query_scalar(
        "select id from assignment_requests where target_user_id = $1 and request_type = 'adminAdd'",
    )
    .bind(ada)
    .fetch_one(&app.pool)
    .await
    .expect("request");
    let detail = b.get(&format!("/admin/requests/{rid}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("This request needed no approval"));
}

#[tokio::test]
async fn a_request_shows_its_stages_and_decisions() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (megan, megan_token) = app
        .user(
            &s.t,
            "megan@acme.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let (_, adele_token) = app
        .user(
            &s.t,
            "adele@acme.test",
            json!({"displayName": "Adele Vance", "managerId": megan}),
        )
        .await;
    let gp = fixtures::group_package(
        &app,
        &s.t,
        "Beta",
        fixtures::open_policy(json!({"approval": {"stages": [
            {"approvers": [{"type": "manager"}]},
            {"approvers": [{"type": "user", "id": s.t.admin_id}]}
        ]}})),
    )
    .await;
    let (_, request) = fixtures::request(&app, &adele_token, gp.package, json!({})).await;
    let (status, _) =
        fixtures::decide(&app, &megan_token, &request, "approve", Some("fine by me")).await;
    assert_eq!(status, StatusCode::OK);
    let rid = request["id"].as_str().expect("id");
    let page = s.b.get(&format!("/admin/requests/{rid}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Stage 1"));
    assert!(page.body.contains("Stage 2"));
    assert!(page.body.contains("Megan Bowen"));
    assert!(page.body.contains("fine by me"));
    assert!(page.body.contains("Pending approval"));
    let list = s.b.get("/admin/requests?state=pendingApproval").await;
    assert!(list.body.contains("Adele Vance"));
}

// ---------------------------------------------------------------------------------
// Directory and audit

#[tokio::test]
async fn admins_create_and_edit_users_with_their_managers() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let created = b
        .post(
            "/admin/users",
            &[
                ("email", "megan@acme.test"),
                ("displayName", "Megan Bowen"),
                ("department", "Engineering"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let megan = id_in(&created.location);
    let adele = b
        .post(
            "/admin/users",
            &[
                ("email", "adele@acme.test"),
                ("displayName", "Adele Vance"),
                ("managerEmail", "megan@acme.test"),
            ],
        )
        .await;
    let adele = id_in(&adele.location);
    let manager: Option<Uuid> = sqlx::query_scalar("select manager_id from users where id = $1")
        .bind(adele)
        .fetch_one(&app.pool)
        .await
        .expect("user");
    assert_eq!(manager, Some(megan));

    let loop_ = b
        .post(
            &format!("/admin/users/{megan}"),
            &[
                ("email", "megan@acme.test"),
                ("displayName", "Megan Bowen"),
                ("managerEmail", "adele@acme.test"),
            ],
        )
        .await;
    assert_eq!(loop_.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(loop_.body.contains("that would make a loop"));
    let duplicate = b
        .post(
            "/admin/users",
            &[("email", "MEGAN@acme.test"), ("displayName", "Another")],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(duplicate.body.contains("already exists"));

    let edited = b
        .post(
            &format!("/admin/users/{adele}"),
            &[
                ("email", "adele@acme.test"),
                ("displayName", "Adele Vance"),
                ("department", "Sales"),
                ("jobTitle", "Account manager"),
                ("managerEmail", ""),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let (department, manager): (Option<String>, Option<Uuid>) =
        sqlx::query_as("select department, manager_id from users where id = $1")
            .bind(adele)
            .fetch_one(&app.pool)
            .await
            .expect("user");
    assert_eq!(department.as_deref(), Some("Sales"));
    assert_eq!(manager, None);
    let list = b.get("/admin/users?q=vance").await;
    assert!(list.body.contains("Adele Vance"));
    assert!(!list.body.contains("Megan Bowen"));
    assert!(t.admin_email.contains('@'));
}

#[tokio::test]
async fn a_csv_import_with_one_bad_row_imports_nothing_and_names_the_row() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from users where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .expect("count")
    };
    let before = count().await;
    let bad = "email,displayName,department,jobTitle,managerEmail\n\
               megan@acme.test,Megan Bowen,Engineering,Manager,\n\
               adele@acme.test,\"Vance, Adele\",Engineering,Engineer,megan@acme.test\n\
               not-an-email,Broken,,,\n";
    let refused = b.post("/admin/users/import", &[("csv", bad)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Nothing was imported"));
    assert!(refused.body.contains("<td>4</td>"), "{}", refused.body);
    assert!(refused.body.contains("is not an email address"));
    assert_eq!(count().await, before);

    let good = bad.replace("not-an-email,Broken,,,\n", "");
    let imported = b.post("/admin/users/import", &[("csv", &good)]).await;
    assert_eq!(imported.status, StatusCode::SEE_OTHER, "{}", imported.body);
    assert_eq!(count().await, before + 2);
    let (name, manager): (String, Option<String>) = sqlx::query_as(
        "select u.display_name, m.email from users u left join users m on m.tenant_id = u.tenant_id and m.id = u.manager_id
          where u.email = 'adele@acme.test'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("adele");
    assert_eq!(name, "Vance, Adele");
    assert_eq!(manager.as_deref(), Some("megan@acme.test"));
    // The same file again: every row already exists, nothing changes.
    let twice = b.post("/admin/users/import", &[("csv", &good)]).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("already exists"));
    assert_eq!(count().await, before + 2);
}

#[tokio::test]
async fn groups_show_members_with_their_sources_and_owners() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let (ada, _) = app
        .user(&s.t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    let created = b
        .post(
            "/admin/groups",
            &[("displayName", "Testers"), ("description", "QA")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let testers = id_in(&created.location);
    let empty = b.post("/admin/groups", &[("displayName", "")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let member = b
        .post(
            &format!("/admin/groups/{testers}/members"),
            &[("email", "ada@acme.test")],
        )
        .await;
    assert_eq!(member.status, StatusCode::SEE_OTHER);
    let owner = b
        .post(
            &format!("/admin/groups/{testers}/owners"),
            &[("ownerEmail", "ada@acme.test")],
        )
        .await;
    assert_eq!(owner.status, StatusCode::SEE_OTHER, "{}", owner.body);
    let page = b.get(&format!("/admin/groups/{testers}")).await;
    assert!(page.body.contains("Direct"));
    assert!(page.body.contains("Remove owner Ada"));

    // A membership delivered by an assignment names its package.
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    fixtures::policy(&app, &s.t, package, fixtures::open_policy(json!({}))).await;
    b.post(
        &format!("/admin/packages/{package}/assignments"),
        &[("email", "ada@acme.test")],
    )
    .await;
    let page = b.get(&format!("/admin/groups/{}", s.group)).await;
    assert!(page.body.contains("Assignment of Windows 11 Testing"));
    let removed = b
        .post(
            &format!("/admin/groups/{testers}/members/{ada}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_audit_log_filters_by_target_and_time() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;
    let created = b
        .post("/admin/catalogs", &[("displayName", "Audited")])
        .await;
    let id = id_in(&created.location);
    let page = b.get(&format!("/admin/audit?target={id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("catalog.created"));
    assert!(!page.body.contains("session.created"));
    let later = b.get("/admin/audit?after=2030-01-01T00:00").await;
    assert!(later.body.contains("No events match"));
    let bad = b.get("/admin/audit?target=nope").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("enter the id of an object"));
}

#[tokio::test]
async fn pages_are_html_with_one_navigation_and_no_inline_script() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;
    for path in [
        "/",
        "/admin",
        "/admin/catalogs",
        "/admin/packages",
        "/admin/requests",
        "/admin/users",
        "/admin/groups",
        "/admin/audit",
        "/admin/users/import",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("aria-label=\"Main\""), "{path}");
        assert!(page.body.contains("name=\"csrf-token\""), "{path}");
        assert!(
            page.body.contains("/static/vendor/htmx-2.0.4.min.js"),
            "{path}"
        );
        assert!(!page.body.contains("<script>"), "{path}: no inline script");
        assert!(!page.body.contains("style=\""), "{path}: no inline style");
    }
    let js = b
        .client
        .get(format!("{}/static/vendor/htmx-2.0.4.min.js", b.base))
        .send()
        .await
        .expect("htmx");
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.expect("js").contains("htmx"));
}
