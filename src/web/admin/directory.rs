//! The directory (tenant admins): users (create, edit department, job title and
//! manager, deactivate, import from CSV with a per-row report and nothing half
//! imported), groups (members with the source of each membership, owners), and the
//! audit log with its filters.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use uuid::Uuid;

use crate::domain::audit::ActorType;
use crate::domain::authz::Action;
use crate::domain::ids::{GroupId, UserId};
use crate::model::users::User;
use crate::services::groups::GroupFields;
use crate::services::groups::OwnerChange;
use crate::services::users::UserForm;
use crate::services::users::{ImportOutcome, RowError};
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Errors, Pager, form_errors, invalid, parse_when, when, when_opt};

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

// ---------------------------------------------------------------------------------
// Users

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

async fn list_users(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
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
    last_sign_in: String,
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
    let heading = match user {
        Some((u, _)) => u.display_name.clone(),
        None => "New user".to_string(),
    };
    UserFormPage {
        shell: who.shell(heading.clone(), Section::Users),
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
        base,
    }
}

async fn new_user(who: AdminCaller) -> PageResult {
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
    }
}

async fn create_user(
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

async fn edit_user(
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

async fn update_user(
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

async fn deactivate_user(
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

#[derive(Template, WebTemplate)]
#[template(path = "admin/import.html")]
struct ImportPage {
    shell: Shell,
    csrf: String,
    base: String,
    csv: String,
    rejected: Vec<RowError>,
}

async fn import_form(who: AdminCaller) -> PageResult {
    require_directory(&who)?;
    Ok(ImportPage {
        shell: who.shell("Import users", Section::Users),
        csrf: who.csrf.clone(),
        base: who.url("/admin/users"),
        csv: String::new(),
        rejected: Vec::new(),
    }
    .into_response())
}

async fn import_users(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let csv = form.text("csv");
    let outcome = services::users::import_csv(state.pool(), &who.caller, &csv, state.now()).await?;
    match outcome {
        ImportOutcome::Imported(users) => Ok(redirect_with_flash(
            &state,
            &who.url("/admin/users"),
            &format!("{} users imported.", users.len()),
        )),
        ImportOutcome::Rejected(rejected) => Ok(invalid(ImportPage {
            shell: who.shell("Import users", Section::Users),
            csrf: who.csrf.clone(),
            base: who.url("/admin/users"),
            csv,
            rejected,
        })),
    }
}

// ---------------------------------------------------------------------------------
// Groups

struct GroupRow {
    href: String,
    name: String,
    description: String,
    owners: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    shell: Shell,
    base: String,
    query: String,
    rows: Vec<GroupRow>,
    pager: Pager,
}

async fn list_groups(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    require_directory(&who)?;
    let page = q.page()?;
    let query = q.get("q").unwrap_or_default();
    let list =
        services::groups::list(state.pool(), &who.caller, Some(query.as_str()), page).await?;
    let base = who.url("/admin/groups");
    Ok(GroupsPage {
        shell: who.shell("Groups", Section::Groups),
        pager: Pager::new(&search_url(&base, &query), &page, list.next),
        rows: list
            .items
            .iter()
            .map(|g| GroupRow {
                href: format!("{base}/{}", g.group.id),
                name: g.group.display_name.clone(),
                description: g.group.description.clone(),
                owners: g.owner_ids.len(),
            })
            .collect(),
        query,
        base,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/group_form.html")]
struct GroupFormPage {
    shell: Shell,
    csrf: String,
    base: String,
    errors: Errors,
    display_name: String,
    description: String,
}

async fn new_group(who: AdminCaller) -> PageResult {
    require_directory(&who)?;
    Ok(GroupFormPage {
        shell: who.shell("New group", Section::Groups),
        csrf: who.csrf.clone(),
        base: who.url("/admin/groups"),
        errors: Errors::none(),
        display_name: String::new(),
        description: String::new(),
    }
    .into_response())
}

async fn create_group(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let fields = GroupFields {
        display_name: Some(form.text("displayName")),
        description: Some(form.opt("description")),
        owner_ids: None,
    };
    match services::groups::create(state.pool(), &who.caller, fields, state.now()).await {
        Ok(g) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/groups/{}", g.group.id)),
            &format!("Group “{}” created.", g.group.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(GroupFormPage {
                shell: who.shell("New group", Section::Groups),
                csrf: who.csrf.clone(),
                base: who.url("/admin/groups"),
                errors,
                display_name: form.text("displayName"),
                description: form.text("description"),
            }))
        }
    }
}

struct MemberRow {
    name: String,
    email: String,
    sources: Vec<String>,
    direct: bool,
    remove: String,
}

struct OwnerRow {
    name: String,
    remove: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/group.html")]
struct GroupPage {
    shell: Shell,
    csrf: String,
    base: String,
    list: String,
    name: String,
    description: String,
    members: Vec<MemberRow>,
    owners: Vec<OwnerRow>,
    pager: Pager,
    errors: Errors,
    email: String,
    owner_email: String,
}

async fn group_page(
    state: &AppState,
    who: &AdminCaller,
    gid: GroupId,
    page: crate::paging::PageRequest,
    form: Option<&FormData>,
    errors: Errors,
) -> Result<GroupPage, PageError> {
    require_directory(who)?;
    let p = services::views::directory::group_page(state.pool(), &who.caller, gid, page).await?;
    let base = who.url(&format!("/admin/groups/{gid}"));
    Ok(GroupPage {
        shell: who.shell(p.group.group.display_name.clone(), Section::Groups),
        csrf: who.csrf.clone(),
        list: who.url("/admin/groups"),
        name: p.group.group.display_name.clone(),
        description: p.group.group.description.clone(),
        members: p
            .members
            .items
            .iter()
            .map(|m| MemberRow {
                name: p.names.user(m.user_id.0),
                email: p.names.user_email(m.user_id.0),
                sources: m
                    .sources
                    .iter()
                    .map(|s| match s {
                        None => "Direct".to_string(),
                        Some(a) => format!("Assignment of {}", p.names.assignment_package(*a)),
                    })
                    .collect(),
                direct: m.sources.iter().any(Option::is_none),
                remove: format!("{base}/members/{}/remove", m.user_id),
            })
            .collect(),
        owners: p
            .group
            .owner_ids
            .iter()
            .map(|o| OwnerRow {
                name: format!("{} ({})", p.names.user(o.0), p.names.user_email(o.0)),
                remove: format!("{base}/owners/{o}/remove"),
            })
            .collect(),
        pager: Pager::new(&base, &page, p.members.next),
        errors,
        email: form.map(|f| f.text("email")).unwrap_or_default(),
        owner_email: form.map(|f| f.text("ownerEmail")).unwrap_or_default(),
        base,
    })
}

async fn show_group(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(gid): Ids<GroupId>,
    q: Params,
) -> PageResult {
    let page = q.page()?;
    Ok(group_page(&state, &who, gid, page, None, Errors::none())
        .await?
        .into_response())
}

async fn add_member(
    State(state): State<AppState>,
    Ids(gid): Ids<GroupId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let email = form.text("email");
    match services::groups::add_group_member(state.pool(), &who.caller, gid, &email, state.now())
        .await
    {
        Ok(added) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/groups/{gid}")),
            &if added {
                format!("{} added as a direct member.", email.trim())
            } else {
                format!("{} already was a direct member.", email.trim())
            },
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let page = crate::paging::PageRequest::first(25);
            Ok(invalid(
                group_page(&state, &who, gid, page, Some(&form), errors).await?,
            ))
        }
    }
}

async fn remove_member(
    State(state): State<AppState>,
    Ids((gid, uid)): Ids<(GroupId, UserId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::groups::remove_member(state.pool(), &who.caller, gid, uid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/groups/{gid}")),
        "Direct membership removed (memberships delivered by assignments stay).",
    ))
}

async fn add_owner(
    State(state): State<AppState>,
    Ids(gid): Ids<GroupId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let change = OwnerChange::Add(form.text("ownerEmail"));
    match services::groups::change_group_owner(state.pool(), &who.caller, gid, change, state.now())
        .await
    {
        Ok(_) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/groups/{gid}")),
            "Owner added.",
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let page = crate::paging::PageRequest::first(25);
            Ok(invalid(
                group_page(&state, &who, gid, page, Some(&form), errors).await?,
            ))
        }
    }
}

async fn remove_owner(
    State(state): State<AppState>,
    Ids((gid, uid)): Ids<(GroupId, UserId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::groups::change_group_owner(
        state.pool(),
        &who.caller,
        gid,
        OwnerChange::Remove(uid),
        state.now(),
    )
    .await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/groups/{gid}")),
        "Owner removed.",
    ))
}

// ---------------------------------------------------------------------------------
// Audit log

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    target_href: String,
    details: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    shell: Shell,
    base: String,
    target: String,
    after: String,
    errors: Errors,
    rows: Vec<EventRow>,
    pager: Pager,
}

async fn audit_log(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let base = who.url("/admin/audit");
    let target_raw = q.get("target").unwrap_or_default();
    let after_raw = q.get("after").unwrap_or_default();
    let mut errors = Errors::none();
    let target = if target_raw.is_empty() {
        None
    } else {
        match Uuid::parse_str(&target_raw) {
            Ok(t) => Some(t),
            Err(_) => {
                errors.add("target", "enter the id of an object (a UUID)");
                None
            }
        }
    };
    let after = parse_when(&after_raw).unwrap_or_else(|m| {
        errors.add("after", m);
        None
    });
    let mut query = Vec::new();
    if target.is_some() {
        query.push(format!("target={target_raw}"));
    }
    if after.is_some() {
        query.push(format!(
            "after={}",
            url::form_urlencoded::byte_serialize(after_raw.as_bytes()).collect::<String>()
        ));
    }
    let filtered = if query.is_empty() {
        base.clone()
    } else {
        format!("{base}?{}", query.join("&"))
    };
    let p =
        services::views::audit::audit_page(state.pool(), &who.caller, target, after, page).await?;
    let rows = p
        .events
        .items
        .iter()
        .map(|e| EventRow {
            at: when(e.at),
            actor: match (e.actor_type, e.actor_id) {
                (ActorType::System, _) => "Portico".to_string(),
                (ActorType::Token, Some(id)) => format!("{} (API token)", p.names.user(id)),
                (ActorType::User, Some(id)) => p.names.user(id),
                (kind, None) => kind.to_string(),
            },
            action: e.action.to_string(),
            target: match e.target_id {
                Some(t) => format!("{} {t}", e.target_type),
                None => e.target_type.to_string(),
            },
            target_href: e
                .target_id
                .map(|t| format!("{base}?target={t}"))
                .unwrap_or_default(),
            details: serde_json::to_string_pretty(&e.details).unwrap_or_default(),
        })
        .collect();
    let view = AuditPage {
        shell: who.shell("Audit log", Section::Audit),
        pager: Pager::new(&filtered, &page, p.events.next),
        target: target_raw,
        after: after_raw,
        rows,
        base,
        errors: errors.clone(),
    };
    Ok(if errors.is_empty() {
        view.into_response()
    } else {
        invalid(view)
    })
}
