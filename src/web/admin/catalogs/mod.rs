//! Catalogs, one page a file: `list` (the catalogs an admin sees), `form` (create,
//! edit, enable/disable), `detail` (a catalog with its resources, packages and role
//! holders), `roles` (granting and revoking catalog roles) and `resources` (groups
//! picked from the directory; applications, sites and custom resources with their
//! roles and an optional webhook, SCIM or LDAP connector, and a resource's Delivery
//! page: its connector form, health and connection test) and `extensions` (its custom
//! extensions: add, edit, delete).

mod detail;
mod extensions;
mod form;
mod list;
mod resources;
mod roles;

use axum::Router;
use axum::routing::{get, post};

use crate::model::catalogs::Catalog;
use crate::state::AppState;
use crate::web::view::Badge;

use detail::show_catalog;
use extensions::{
    add_extension, delete_extension, edit_extension, new_extension, update_extension,
};
use form::{
    confirm_delete_catalog, create_catalog, delete_catalog, edit_catalog, new_catalog,
    toggle_catalog, update_catalog,
};
use list::list_catalogs;
use resources::{
    add_resource, edit_connector, new_resource, remove_resource, test_connector, update_connector,
};
use roles::{grant_role, revoke_role};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/catalogs",
            get(list_catalogs).post(create_catalog),
        )
        .route("/t/{slug}/admin/catalogs/new", get(new_catalog))
        .route("/t/{slug}/admin/catalogs/{id}", get(show_catalog))
        .route(
            "/t/{slug}/admin/catalogs/{id}/edit",
            get(edit_catalog).post(update_catalog),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/enabled",
            post(toggle_catalog),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/delete",
            get(confirm_delete_catalog).post(delete_catalog),
        )
        .route("/t/{slug}/admin/catalogs/{id}/roles", post(grant_role))
        .route(
            "/t/{slug}/admin/catalogs/{id}/roles/{rid}/revoke",
            post(revoke_role),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/extensions/new",
            get(new_extension),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/extensions",
            post(add_extension),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/extensions/{eid}/edit",
            get(edit_extension).post(update_extension),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/extensions/{eid}/delete",
            post(delete_extension),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources/new",
            get(new_resource),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources",
            post(add_resource),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources/{rid}/remove",
            post(remove_resource),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources/{rid}/connector",
            get(edit_connector).post(update_connector),
        )
        .route(
            "/t/{slug}/admin/catalogs/{id}/resources/{rid}/connector/test",
            post(test_connector),
        )
}

fn enabled_badge(c: &Catalog) -> Badge {
    if c.enabled {
        Badge::state("enabled")
    } else {
        Badge::state("disabled")
    }
}
