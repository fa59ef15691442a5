//! Removing a package or a policy after a confirmation: deleted when nothing refers to
//! it, a package archived when it has history.

use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::ids::{PackageId, PolicyId};
use crate::services::packages::Removal;
use crate::services::{self};
use crate::state::AppState;
use crate::web::admin::confirm::Confirm;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, PageError, PageResult, Posted, redirect_with_flash};
use crate::web::shell::Section;

pub(super) async fn confirm_removal(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<PackageId>,
) -> PageResult {
    let package = services::packages::get(state.pool(), &who.caller, id).await?;
    let removal = services::packages::removal(state.pool(), &who.caller, id).await?;
    let name = package.package.display_name;
    let base = who.url(&format!("/admin/packages/{id}"));
    let confirm = match removal {
        Removal::Delete => Confirm {
            heading: format!("Delete “{name}”?"),
            text: vec![
                "Nobody has requested or held this access package, so it can be deleted with its policies. This cannot be undone.".into(),
            ],
            action: Some(format!("{base}/delete")),
            button: "Delete access package".into(),
            danger: true,
            back: base,
            back_label: name,
        },
        Removal::Archive => Confirm {
            heading: format!("Archive “{name}”?"),
            text: vec![
                "This access package has a history (past requests, assignments or reviews), which is kept, so it is archived rather than deleted.".into(),
                "Once archived it is listed nowhere (not in My Access, not in the package lists), cannot be requested or assigned, and it and its policies can no longer be changed. Its history stays readable. Archiving cannot be undone.".into(),
            ],
            action: Some(format!("{base}/archive")),
            button: "Archive access package".into(),
            danger: true,
            back: base,
            back_label: name,
        },
        Removal::Blocked(reason) => Confirm {
            heading: format!("“{name}” cannot be removed now"),
            text: vec![reason],
            action: None,
            button: String::new(),
            danger: false,
            back: base,
            back_label: name,
        },
    };
    Ok(confirm.page(&who, Section::Packages).into_response())
}

pub(super) async fn delete_package(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let package = services::packages::get(state.pool(), &who.caller, id).await?;
    services::packages::delete(state.pool(), &who.caller, id, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url("/admin/packages"),
        &format!("Access package “{}” deleted.", package.package.display_name),
    ))
}

pub(super) async fn archive_package(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let archived = services::packages::archive(state.pool(), &who.caller, id, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/packages/{id}")),
        &format!(
            "Access package “{}” archived.",
            archived.package.display_name
        ),
    ))
}

pub(super) async fn confirm_delete_policy(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids((id, pid)): Ids<(PackageId, PolicyId)>,
) -> PageResult {
    let policy = services::packages::get_policy(state.pool(), &who.caller, pid).await?;
    if policy.package_id != id {
        return Err(PageError::not_found());
    }
    let back = who.url(&format!("/admin/packages/{id}"));
    Ok(Confirm {
        heading: format!("Delete the policy “{}”?", policy.display_name),
        text: vec![
            "Deleting cannot be undone.".into(),
            "A policy with active assignments, open requests or a request history cannot be deleted; to stop new requests under it, turn its requests off in the policy editor instead.".into(),
        ],
        action: Some(format!("{back}/policies/{pid}/delete")),
        button: "Delete policy".into(),
        danger: true,
        back,
        back_label: "The access package".into(),
    }
    .page(&who, Section::Packages)
    .into_response())
}

pub(super) async fn delete_policy(
    State(state): State<AppState>,
    Ids((id, pid)): Ids<(PackageId, PolicyId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let policy = services::packages::get_policy(state.pool(), &who.caller, pid).await?;
    if policy.package_id != id {
        return Err(PageError::not_found());
    }
    services::packages::delete_policy(state.pool(), &who.caller, pid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/packages/{id}")),
        &format!("Policy “{}” deleted.", policy.display_name),
    ))
}
