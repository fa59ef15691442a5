//! Pages outside the portals: the landing page and the embedded static assets.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use super::shell::Shell;
use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/static/{*path}", get(asset))
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct LandingPage {
    shell: Shell,
    demo_tenant: Option<String>,
}

async fn landing(State(state): State<AppState>) -> LandingPage {
    LandingPage {
        shell: Shell::public("Portico"),
        demo_tenant: state.demo_tenant().map(str::to_string),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    match Assets::get(&path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "public, max-age=3600".to_string()),
                ],
                file.data.into_owned(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
