//! Users: the list with its search, the create and edit form, deactivation.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::ids::UserId;
use crate::model::users::User;
use crate::services::users::UserForm;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult, Params, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Errors, Pager, form_errors, invalid, when_opt};

use super::{require_directory, search_url};

struct UserRow {
    href: String,
    name: String,
    email: String,
    department: String,
    job_title: String,
    status: Badge,
    guest: bool,
    last_sign_in: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
struct UsersPage {
    shell: Shell,
    base: String,
    query: String,
    rows: Vec<UserRow>,
    pager: Pager,
}

pub(super) async fn list_users(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> PageResult {
    require_directory(&who)?;
    let page = q.page()?;
    let query = q.get("q").unwrap_or_default();
    let list = services::users::list(state.pool(), &who.caller, Some(query.as_str()), page).await?;
    let base = who.url("/admin/users");
    Ok(UsersPage {
        shell: who.shell("Users", Section::Users),
        pager: Pager::new(&search_url(&base, &query), &page, list.next),
        rows: list
            .items
            .iter()
            .map(|u| UserRow {
                href: format!("{base}/{}", u.id),
                name: u.display_name.clone(),
                email: u.email.clone(),
                department: u.department.clone().unwrap_or_default(),
                job_title: u.job_title.clone().unwrap_or_default(),
                status: if u.active {
                    Badge::state("active")
                } else {
                    Badge::state("deactivated")
                },
                guest: u.is_guest(),
                last_sign_in: when_opt(u.last_sign_in_at),
            })
            .collect(),
        query,
        base,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user_form.html")]
struct UserFormPage {
    shell: Shell,
    csrf: String,
    base: String,
    action: String,
    heading: String,
    editing: bool,
    active: bool,
    deactivate: String,
    errors: Errors,
    email: String,
    display_name: String,
    department: String,
    job_title: String,
    manager_email: String,
    guest: bool,
    /// The person's own zone; "" is the tenant's.
    time_zone: String,
    tenant_zone: String,
    last_sign_in: String,
    /// The directory (SCIM) owns the fields: shown read-only, no form to save.
    directory_managed: bool,
}

fn user_form(
    who: &AdminCaller,
    user: Option<(&User, Option<&User>)>,
    form: Option<&FormData>,
    errors: Errors,
) -> UserFormPage {
    let base = who.url("/admin/users");
    let (email, display_name, department, job_title, manager_email, guest) = match (form, user) {
        (Some(f), _) => (
            f.text("email"),
            f.text("displayName"),
            f.text("department"),
            f.text("jobTitle"),
            f.text("managerEmail"),
            f.checked("guest"),
        ),
        (None, Some((u, m))) => (
            u.email.clone(),
            u.display_name.clone(),
            u.department.clone().unwrap_or_default(),
            u.job_title.clone().unwrap_or_default(),
            m.map(|m| m.email.clone()).unwrap_or_default(),
            u.is_guest(),
        ),
        (None, None) => Default::default(),
    };
    let time_zone = match (form, user) {
        (Some(f), _) => f.text("timeZone"),
        (None, Some((u, _))) => u.time_zone.clone().unwrap_or_default(),
        (None, None) => String::new(),
    };
    let heading = match user {
        Some((u, _)) => u.display_name.clone(),
        None => "New user".to_string(),
    };
    UserFormPage {
        shell: who
            .shell(heading.clone(), Section::Users)
            .history(&who.caller, user.map(|(u, _)| u.id.0)),
        csrf: who.csrf.clone(),
        action: user.map_or_else(|| base.clone(), |(u, _)| format!("{base}/{}", u.id)),
        deactivate: user.map_or_else(String::new, |(u, _)| format!("{base}/{}/deactivate", u.id)),
        editing: user.is_some(),
        active: user.is_none_or(|(u, _)| u.active),
        last_sign_in: user.map_or_else(String::new, |(u, _)| when_opt(u.last_sign_in_at)),
        heading,
        errors,
        email,
        display_name,
        department,
        job_title,
        manager_email,
        guest,
        time_zone,
        tenant_zone: who.caller.tenant.time_zone.clone(),
        base,
        directory_managed: user.is_some_and(|(u, _)| u.directory_managed),
    }
}

pub(super) async fn new_user(who: AdminCaller) -> PageResult {
    require_directory(&who)?;
    Ok(user_form(&who, None, None, Errors::none()).into_response())
}

fn user_input(form: &FormData) -> UserForm {
    UserForm {
        email: Some(form.text("email")),
        display_name: Some(form.text("displayName")),
        department: form.opt("department"),
        job_title: form.opt("jobTitle"),
        manager_email: form.opt("managerEmail"),
        guest: form.checked("guest"),
        time_zone: form.opt("timeZone"),
    }
}

pub(super) async fn create_user(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    match services::users::create_user(state.pool(), &who.caller, user_input(&form), state.now())
        .await
    {
        Ok(u) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/users/{}", u.id)),
            &format!("User {} created.", u.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(user_form(&who, None, Some(&form), errors)))
        }
    }
}

pub(super) async fn edit_user(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(uid): Ids<UserId>,
) -> PageResult {
    let p = services::views::directory::user_page(state.pool(), &who.caller, uid).await?;
    Ok(user_form(
        &who,
        Some((&p.user, p.manager.as_ref())),
        None,
        Errors::none(),
    )
    .into_response())
}

pub(super) async fn update_user(
    State(state): State<AppState>,
    Ids(uid): Ids<UserId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    match services::users::update_user(
        state.pool(),
        &who.caller,
        uid,
        user_input(&form),
        state.now(),
    )
    .await
    {
        Ok(u) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/users/{uid}")),
            &format!("User {} saved.", u.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let p = services::views::directory::user_page(state.pool(), &who.caller, uid).await?;
            Ok(invalid(user_form(
                &who,
                Some((&p.user, p.manager.as_ref())),
                Some(&form),
                errors,
            )))
        }
    }
}

pub(super) async fn deactivate_user(
    State(state): State<AppState>,
    Ids(uid): Ids<UserId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let u = services::users::deactivate(state.pool(), &who.caller, uid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/users/{uid}")),
        &format!(
            "{} is deactivated: their assignments, open requests, sessions and tokens have ended.",
            u.display_name
        ),
    ))
}
