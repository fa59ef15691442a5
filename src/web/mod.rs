//! The HTTP edge: `router()` assembles the JSON API, the pages and the operational
//! endpoints, with request ids, tracing, metrics and security headers on every answer.
//! Handlers extract, call one service and render; they never run SQL.

pub mod admin;
pub mod api;
pub mod auth;
pub mod chat;
pub mod client_ip;
pub mod csrf;
pub mod dev_mail;
pub mod edge;
pub mod error;
pub mod links;
pub mod oidc;
pub mod pages;
pub mod path;
pub mod portal;
pub mod scim;
pub mod session;
pub mod shell;
pub mod sign_in;
pub mod view;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let mut routes = Router::new()
        .nest("/api/v1", api::router())
        .nest("/scim/v2/{slug}", scim::router(state.clone()))
        .merge(pages::router())
        .merge(links::router())
        .merge(chat::router());
    if state.demo_tenant().is_some() {
        routes = routes.merge(dev_mail::router());
    }
    routes
        .merge(portals(state.clone()))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            edge::request_deadline,
        ))
        .layer(middleware::from_fn(edge::refuse_control_characters))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .layer(middleware::from_fn(record_metrics))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // Never the raw path: emailed links carry their tokens in it.
            let path = edge::loggable_path(req.uri().path());
            tracing::info_span!("http", method = %req.method(), path = %path, request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The browser portals under `/t/{slug}/`: sign-in, My Access and the admin portal (the flash
/// cookie is cleared once a page has shown it; each request has a slot for its tenant, so its
/// error pages link to that tenant's home). A form sent from another site is refused before
/// any extractor runs (no session is looked up for it). Unknown pages answer an HTML 404.
fn portals(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(oidc::router())
        .merge(portal::router())
        .merge(admin::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::refuse_foreign_origin,
        ))
        .fallback(session::not_found_page)
        .method_not_allowed_fallback(session::method_not_allowed_page)
        .layer(middleware::from_fn_with_state(state, session::clear_flash))
        .layer(middleware::from_fn(session::tenant_scope))
        .layer(middleware::from_fn(session::zone_scope))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match crate::services::health::database_ready(state.pool()).await {
        Ok(_) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Prometheus text: requests by route and status, latency histogram, pool gauges.
/// With `PORTICO_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
async fn metrics(State(state): State<AppState>, headers: header::HeaderMap) -> Response {
    if let Some(expected) = &state.settings().metrics_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_digest(sent, expected.expose()) {
            return error::Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Send the metrics token as 'Authorization: Bearer <PORTICO_METRICS_TOKEN>'.",
            )
            .into_response();
        }
    }
    let pool = state.pool();
    metrics::gauge!("portico_db_pool_connections").set(f64::from(pool.size()));
    metrics::gauge!("portico_db_pool_idle_connections").set(pool.num_idle() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(),
    )
        .into_response()
}

/// Compares the SHA-256 digests of two secrets in constant time, so neither where they
/// differ nor the expected length shows in the answer's timing.
fn same_digest(sent: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (
        Sha256::digest(sent.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("portico_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("portico_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Answers only requests addressed to this server by its base URL's name (or an address
/// or `localhost`, or `PORTICO_ALLOWED_HOSTS`): a page whose own domain was made to
/// resolve here (DNS rebinding) can neither read nor drive a local instance.
async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if csrf::host_allowed(req.headers(), state.settings()) {
        next.run(req).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "This server does not answer to that host name. Use the address in PORTICO_BASE_URL.",
        )
            .into_response()
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    response
}
