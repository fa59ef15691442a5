//! The catalogs an admin sees, a page at a time.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::authz::Action;
use crate::services::{self};
use crate::state::AppState;
use crate::web::session::{AdminCaller, PageResult, Params};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Pager};

use super::enabled_badge;

struct CatalogRow {
    href: String,
    name: String,
    description: String,
    status: Badge,
    external: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalogs.html")]
struct CatalogsPage {
    shell: Shell,
    slug: String,
    rows: Vec<CatalogRow>,
    pager: Pager,
    can_create: bool,
}

pub(super) async fn list_catalogs(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> PageResult {
    let page = q.page()?;
    let list = services::catalogs::list(state.pool(), &who.caller, page).await?;
    let base = who.url("/admin/catalogs");
    Ok(CatalogsPage {
        shell: who.shell("Catalogs", Section::Catalogs),
        slug: who.slug().to_string(),
        pager: Pager::new(&base, &page, list.next),
        rows: list
            .items
            .iter()
            .map(|c| CatalogRow {
                href: format!("{base}/{}", c.id),
                name: c.display_name.clone(),
                description: c.description.clone(),
                status: enabled_badge(c),
                external: c.externally_visible,
            })
            .collect(),
        can_create: who.caller.roles.allows(Action::CreateCatalog),
    }
    .into_response())
}
