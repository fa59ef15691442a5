//! The tenant's own pages (tenant admins): its settings (display name, Reply-To of
//! emails, whether emailed approval links need a sign-in, the time zone its pages and
//! emails show times in) and its tenant-wide role
//! grants (tenant admins, catalog creators), granted by email or group name and
//! revoked; the last tenant admin cannot be removed (409 from the service).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::authz::Role;
use crate::domain::ids::RoleAssignmentId;
use crate::model::tenants::Tenant;
use crate::services::roles::GrantInput;
use crate::services::tenants::TenantPatch;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/settings",
            get(show_settings).post(save_settings),
        )
        .route("/t/{slug}/admin/roles", get(list_roles).post(grant_role))
        .route("/t/{slug}/admin/roles/{rid}/revoke", post(revoke_role))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    shell: Shell,
    csrf: String,
    action: String,
    errors: Errors,
    display_name: String,
    reply_to: String,
    approval_links_require_sign_in: bool,
    time_zone: String,
}

fn settings_page(
    who: &AdminCaller,
    tenant: &Tenant,
    form: Option<&FormData>,
    errors: Errors,
) -> SettingsPage {
    let (display_name, reply_to, sign_in, time_zone) = match form {
        Some(f) => (
            f.text("displayName"),
            f.text("replyTo"),
            f.checked("approvalLinksRequireSignIn"),
            f.text("timeZone"),
        ),
        None => (
            tenant.display_name.clone(),
            tenant.reply_to.clone().unwrap_or_default(),
            tenant.approval_links_require_sign_in,
            tenant.time_zone.clone(),
        ),
    };
    SettingsPage {
        shell: who
            .shell("Tenant settings", Section::Overview)
            .history(&who.caller, Some(tenant.id.0)),
        csrf: who.csrf.clone(),
        action: who.url("/admin/settings"),
        errors,
        display_name,
        reply_to,
        approval_links_require_sign_in: sign_in,
        time_zone,
    }
}

async fn show_settings(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    let tenant = services::tenants::settings(state.pool(), &who.caller).await?;
    Ok(settings_page(&who, &tenant, None, Errors::none()).into_response())
}

async fn save_settings(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let patch = TenantPatch {
        display_name: Some(form.text("displayName")),
        reply_to: Some(form.opt("replyTo")),
        approval_links_require_sign_in: Some(form.checked("approvalLinksRequireSignIn")),
        time_zone: Some(form.opt("timeZone").unwrap_or_else(|| "UTC".into())),
    };
    match services::tenants::update(state.pool(), &who.caller, patch, state.now()).await {
        Ok(_) => Ok(redirect_with_flash(
            &state,
            &who.url("/admin/settings"),
            "Settings saved.",
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let tenant = services::tenants::settings(state.pool(), &who.caller).await?;
            Ok(invalid(settings_page(&who, &tenant, Some(&form), errors)))
        }
    }
}

const TENANT_ROLES: [(&str, &str); 2] = [
    ("tenantAdmin", "Tenant admin"),
    ("catalogCreator", "Catalog creator"),
];

fn role_title(role: Role) -> &'static str {
    match role {
        Role::TenantAdmin => "Tenant admin",
        Role::CatalogCreator => "Catalog creator",
        _ => "Catalog role",
    }
}

struct GrantRow {
    role: &'static str,
    who: String,
    revoke: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    shell: Shell,
    csrf: String,
    base: String,
    rows: Vec<GrantRow>,
    errors: Errors,
    role: String,
    principal: String,
    role_choices: Vec<(&'static str, &'static str)>,
}

async fn roles_page(
    state: &AppState,
    who: &AdminCaller,
    form: Option<&FormData>,
    errors: Errors,
) -> Result<RolesPage, crate::web::session::PageError> {
    let (grants, names) = services::roles::tenant_grants(state.pool(), &who.caller).await?;
    let base = who.url("/admin/roles");
    let rows = grants
        .iter()
        .map(|r| GrantRow {
            role: role_title(r.role),
            who: match (r.user_id, r.group_id) {
                (Some(u), _) => format!("{} ({})", names.user(u.0), names.user_email(u.0)),
                (None, Some(g)) => format!("Group: {}", names.group(g.0)),
                _ => "—".into(),
            },
            revoke: format!("{base}/{}/revoke", r.id),
        })
        .collect();
    Ok(RolesPage {
        shell: who.shell("Tenant roles", Section::Overview),
        csrf: who.csrf.clone(),
        base,
        rows,
        errors,
        role: form.map_or_else(|| "tenantAdmin".to_string(), |f| f.text("role")),
        principal: form.map(|f| f.text("principal")).unwrap_or_default(),
        role_choices: TENANT_ROLES.to_vec(),
    })
}

async fn list_roles(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    Ok(roles_page(&state, &who, None, Errors::none())
        .await?
        .into_response())
}

async fn grant_role(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let input = GrantInput {
        role: form.opt("role"),
        principal: form.text("principal"),
    };
    match services::roles::grant_tenant_role(state.pool(), &who.caller, input, state.now()).await {
        Ok(r) => Ok(redirect_with_flash(
            &state,
            &who.url("/admin/roles"),
            &format!("{} granted.", role_title(r.role)),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(
                roles_page(&state, &who, Some(&form), errors).await?,
            ))
        }
    }
}

async fn revoke_role(
    State(state): State<AppState>,
    Ids(rid): Ids<RoleAssignmentId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::roles::delete(state.pool(), &who.caller, rid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url("/admin/roles"),
        "Role revoked.",
    ))
}
