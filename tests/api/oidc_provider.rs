//! Self-tests of the test identity provider (`helpers::oidc::TestIdp`): discovery, a
//! full authorization-code + PKCE exchange done by hand, key rotation, and tampered ID
//! tokens. No Portico involved: these prove the tool the sign-in tests rely on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::helpers::oidc::{IdpClient, Tamper, TestIdp};

const REDIRECT: &str = "http://127.0.0.1:9/t/acme/oidc/callback";

fn client() -> IdpClient {
    IdpClient::new("portico-test", "a-client-secret", REDIRECT)
}

async fn idp_with_ann() -> TestIdp {
    let idp = TestIdp::start(vec![client()]).await;
    idp.add_account("ann@example.com", true, "Ann Example")
        .await;
    idp
}

/// One authorization request's secrets.
struct Pkce {
    verifier: String,
    state: String,
    nonce: String,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Pkce {
    fn new() -> Self {
        Pkce {
            verifier: random_token(),
            state: random_token(),
            nonce: random_token(),
        }
    }

    fn authorize_url(&self, idp: &TestIdp) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()));
        let mut url = Url::parse(&idp.url("/auth")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", "portico-test")
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email profile")
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    }
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The header and claims of a JWT (not verified: the tests compare them).
fn jwt_parts(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form: {jwt}");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    (decode(parts[0]), decode(parts[1]))
}

/// Signs in as `email` and redeems the code: the token endpoint's JSON answer.
async fn sign_in_and_redeem(idp: &TestIdp, email: &str, pkce: &Pkce) -> Value {
    let browser = TestIdp::http_client();
    let callback = idp
        .sign_in_over_http(&browser, &pkce.authorize_url(idp), email)
        .await;
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let params = query(&callback);
    assert_eq!(params.get("state"), Some(&pkce.state), "{callback}");
    assert_eq!(params.get("iss"), Some(&idp.issuer), "{callback}");
    let code = params.get("code").expect("a code");
    let response = reqwest::Client::new()
        .post(idp.url("/token"))
        .basic_auth("portico-test", Some("a-client-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn id_token(idp: &TestIdp, email: &str) -> (Value, Value, Pkce) {
    let pkce = Pkce::new();
    let tokens = sign_in_and_redeem(idp, email, &pkce).await;
    let (header, claims) = jwt_parts(tokens["id_token"].as_str().expect("an id_token"));
    (header, claims, pkce)
}

#[tokio::test]
async fn discovery_document_names_the_issuer() {
    let idp = TestIdp::start(vec![client()]).await;
    assert_eq!(idp.issuer, format!("http://127.0.0.1:{}", idp.port));
    let doc: Value = reqwest::get(idp.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], idp.issuer.as_str());
    assert_eq!(doc["jwks_uri"], idp.url("/jwks"));
    assert_eq!(doc["token_endpoint"], idp.url("/token"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let scopes = doc["scopes_supported"].as_array().unwrap();
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }
    assert_eq!(idp.jwks_kids().await.len(), 1);
}

#[tokio::test]
async fn code_flow_with_pkce_gives_an_id_token_signed_with_a_published_key() {
    let idp = idp_with_ann().await;
    let (header, claims, pkce) = id_token(&idp, "ANN@example.com").await;

    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().expect("a kid");
    assert_eq!(idp.jwks_kids().await, vec![kid.to_owned()]);
    assert_eq!(claims["iss"], idp.issuer.as_str());
    assert_eq!(claims["aud"], "portico-test");
    assert_eq!(claims["nonce"], pkce.nonce.as_str());
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Ann Example");
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

    let asked = idp.last_authorization().await;
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["state"], pkce.state.as_str());
    assert_eq!(asked["nonce"], pkce.nonce.as_str());
    assert_eq!(asked["scope"], "openid email profile");
}

#[tokio::test]
async fn an_account_added_later_signs_in_with_its_claims() {
    let idp = TestIdp::start(vec![client()]).await;
    let sub = idp.add_account("bob@example.com", false, "Bob").await;
    let (_, claims, _) = id_token(&idp, "bob@example.com").await;
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["name"], "Bob");
}

#[tokio::test]
async fn the_code_is_refused_without_the_right_verifier() {
    let idp = idp_with_ann().await;
    let pkce = Pkce::new();
    let callback = idp
        .sign_in_over_http(
            &TestIdp::http_client(),
            &pkce.authorize_url(&idp),
            "ann@example.com",
        )
        .await;
    let code = query(&callback)["code"].clone();
    let response = reqwest::Client::new()
        .post(idp.url("/token"))
        .basic_auth("portico-test", Some("a-client-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &random_token()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

#[tokio::test]
async fn an_authorization_request_without_pkce_is_refused() {
    let idp = idp_with_ann().await;
    let mut url = Url::parse(&idp.url("/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "portico-test")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "s1")
        .append_pair("nonce", "n1");
    let callback = idp
        .sign_in_over_http(&TestIdp::http_client(), url.as_str(), "ann@example.com")
        .await;
    let params = query(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_request"),
        "{callback}"
    );
    assert_eq!(params.get("state").map(String::as_str), Some("s1"));
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn after_rotate_keys_the_next_id_token_has_the_new_kid_alone_in_jwks() {
    let idp = idp_with_ann().await;
    let (before, _, _) = id_token(&idp, "ann@example.com").await;
    let old_kid = before["kid"].as_str().unwrap().to_owned();

    let new_kid = idp.rotate_keys().await;
    assert_ne!(new_kid, old_kid);
    assert_eq!(idp.jwks_kids().await, vec![new_kid.clone()]);

    let (after, claims, pkce) = id_token(&idp, "ann@example.com").await;
    assert_eq!(after["kid"], new_kid.as_str());
    assert_eq!(claims["nonce"], pkce.nonce.as_str());
}

#[tokio::test]
async fn tamper_wrong_audience_changes_aud_of_the_next_id_token_only() {
    let idp = idp_with_ann().await;
    idp.tamper(Tamper::WrongAudience).await;
    let (header, claims, pkce) = id_token(&idp, "ann@example.com").await;
    assert_eq!(claims["aud"], "someone-else");
    assert_eq!(claims["nonce"], pkce.nonce.as_str());
    assert_eq!(claims["iss"], idp.issuer.as_str());
    assert_eq!(
        idp.jwks_kids().await,
        vec![header["kid"].as_str().unwrap().to_owned()]
    );

    let (_, claims, _) = id_token(&idp, "ann@example.com").await;
    assert_eq!(claims["aud"], "portico-test");
}

#[tokio::test]
async fn every_tamper_mode_alters_what_it_says() {
    let idp = idp_with_ann().await;
    let published = idp.jwks_kids().await;

    idp.tamper(Tamper::UnknownKey).await;
    let (header, claims, _) = id_token(&idp, "ann@example.com").await;
    assert!(!published.contains(&header["kid"].as_str().unwrap().to_owned()));
    assert_eq!(claims["aud"], "portico-test");

    idp.tamper(Tamper::Expired).await;
    let (_, claims, _) = id_token(&idp, "ann@example.com").await;
    let now = chrono::Utc::now().timestamp();
    assert!(claims["exp"].as_i64().unwrap() < now - 3000, "{claims}");

    idp.tamper(Tamper::WrongIssuer).await;
    let (_, claims, _) = id_token(&idp, "ann@example.com").await;
    assert_ne!(claims["iss"], idp.issuer.as_str());

    idp.tamper(Tamper::BadNonce).await;
    let (_, claims, pkce) = id_token(&idp, "ann@example.com").await;
    assert_ne!(claims["nonce"], pkce.nonce.as_str());

    idp.tamper(Tamper::WrongAudience).await;
    idp.tamper(Tamper::None).await;
    let (header, claims, pkce) = id_token(&idp, "ann@example.com").await;
    assert_eq!(claims["aud"], "portico-test");
    assert_eq!(claims["nonce"], pkce.nonce.as_str());
    assert_eq!(published, vec![header["kid"].as_str().unwrap().to_owned()]);
}

#[tokio::test]
async fn bad_control_requests_are_refused_with_a_reason() {
    let idp = TestIdp::start(vec![client()]).await;
    let http = reqwest::Client::new();
    let r = http
        .post(idp.url("/__test/tamper"))
        .json(&serde_json::json!({"mode": "sideways"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("wrong-audience"),
        "{body}"
    );
    let r = http
        .post(idp.url("/__test/accounts"))
        .json(&serde_json::json!({"name": "no email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
