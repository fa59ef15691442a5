//! Groups: the list with its search, the create form, and a group's page with its
//! members (with the source of each membership) and owners.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::ids::{GroupId, UserId};
use crate::services::groups::GroupFields;
use crate::services::groups::OwnerChange;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, Pager, form_errors, invalid};

use super::{require_directory, search_url};

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

pub(super) async fn list_groups(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> PageResult {
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

pub(super) async fn new_group(who: AdminCaller) -> PageResult {
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

pub(super) async fn create_group(
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
        shell: who
            .shell(p.group.group.display_name.clone(), Section::Groups)
            .history(&who.caller, Some(gid.0)),
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
                    .directory
                    .then(|| "Identity provider".to_string())
                    .into_iter()
                    .chain(m.sources.iter().map(|s| match s {
                        None => "Direct".to_string(),
                        Some(a) => format!("Assignment of {}", p.names.assignment_package(*a)),
                    }))
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

pub(super) async fn show_group(
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

pub(super) async fn add_member(
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

pub(super) async fn remove_member(
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

pub(super) async fn add_owner(
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

pub(super) async fn remove_owner(
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
