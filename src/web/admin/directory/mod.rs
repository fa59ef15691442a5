//! The directory (tenant admins), one page a file: `users` (create, edit department,
//! job title and manager, deactivate), `import` (users from CSV with a per-row report
//! and nothing half imported), `groups` (members with the source of each membership,
//! owners) and `audit` (the audit log with its filters).

mod audit;
mod audit_stream;
mod groups;
mod import;
mod users;

use axum::Router;
use axum::routing::{get, post};

use crate::domain::authz::Action;
use crate::state::AppState;
use crate::web::session::{AdminCaller, PageError};

use audit::{audit_csv, audit_log};
use audit_stream::{save_audit_stream, show_audit_stream};
use groups::{
    add_member, add_owner, create_group, list_groups, new_group, remove_member, remove_owner,
    show_group,
};
use import::{import_form, import_users};
use users::{create_user, deactivate_user, edit_user, list_users, new_user, update_user};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/users", get(list_users).post(create_user))
        .route("/t/{slug}/admin/users/new", get(new_user))
        .route(
            "/t/{slug}/admin/users/import",
            get(import_form).post(import_users),
        )
        .route(
            "/t/{slug}/admin/users/{uid}",
            get(edit_user).post(update_user),
        )
        .route(
            "/t/{slug}/admin/users/{uid}/deactivate",
            post(deactivate_user),
        )
        .route(
            "/t/{slug}/admin/groups",
            get(list_groups).post(create_group),
        )
        .route("/t/{slug}/admin/groups/new", get(new_group))
        .route("/t/{slug}/admin/groups/{gid}", get(show_group))
        .route("/t/{slug}/admin/groups/{gid}/members", post(add_member))
        .route(
            "/t/{slug}/admin/groups/{gid}/members/{uid}/remove",
            post(remove_member),
        )
        .route("/t/{slug}/admin/groups/{gid}/owners", post(add_owner))
        .route(
            "/t/{slug}/admin/groups/{gid}/owners/{uid}/remove",
            post(remove_owner),
        )
        .route("/t/{slug}/admin/audit", get(audit_log))
        .route("/t/{slug}/admin/audit.csv", get(audit_csv))
        .route(
            "/t/{slug}/admin/audit/stream",
            get(show_audit_stream).post(save_audit_stream),
        )
}

fn require_directory(who: &AdminCaller) -> Result<(), PageError> {
    who.caller.require(Action::ManageDirectory)?;
    Ok(())
}

fn search_url(base: &str, q: &str) -> String {
    if q.is_empty() {
        base.to_string()
    } else {
        format!(
            "{base}?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    }
}
