//! The roles of a catalog: granting one to a person or group, revoking one.

use axum::extract::State;

use crate::domain::ids::{CatalogId, RoleAssignmentId};
use crate::services::roles::GrantInput;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, PageResult, Posted, redirect_with_flash};
use crate::web::view::{form_errors, invalid};

use super::detail::catalog_detail;

pub(super) const CATALOG_ROLES: [(&str, &str); 4] = [
    ("catalogOwner", "Catalog owner"),
    ("catalogReader", "Catalog reader"),
    ("packageManager", "Access package manager"),
    ("assignmentManager", "Assignment manager"),
];

pub(super) fn role_title(role: &str) -> String {
    CATALOG_ROLES
        .iter()
        .find(|(k, _)| *k == role)
        .map_or_else(|| role.to_string(), |(_, v)| v.to_string())
}

pub(super) async fn grant_role(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let input = GrantInput {
        role: form.opt("role"),
        principal: form.text("principal"),
    };
    match services::roles::grant_catalog_role(state.pool(), &who.caller, id, input, state.now())
        .await
    {
        Ok(r) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!("{} granted.", role_title(r.role.as_str())),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let page =
                services::views::catalogs::catalog_page(state.pool(), &who.caller, id).await?;
            Ok(invalid(catalog_detail(
                &who,
                page,
                None,
                Some((&form, errors)),
            )))
        }
    }
}

pub(super) async fn revoke_role(
    State(state): State<AppState>,
    Ids((id, rid)): Ids<(CatalogId, RoleAssignmentId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::roles::delete(state.pool(), &who.caller, rid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/catalogs/{id}")),
        "Role revoked.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authz::Role;

    #[test]
    fn the_form_offers_only_catalog_roles() {
        assert!(
            CATALOG_ROLES
                .iter()
                .all(|(r, _)| Role::parse(r).is_some_and(Role::is_catalog_scoped))
        );
    }
}
