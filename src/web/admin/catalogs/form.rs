//! The catalog form: create a catalog, edit its fields, enable or disable it, delete
//! it (after a confirmation; only while it holds no access packages).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::authz::Action;
use crate::domain::ids::CatalogId;
use crate::model::catalogs::Catalog;
use crate::services::catalogs::CatalogFields;
use crate::services::{self};
use crate::state::AppState;
use crate::web::admin::confirm::Confirm;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalog_form.html")]
struct CatalogFormPage {
    shell: Shell,
    csrf: String,
    action: String,
    cancel: String,
    heading: String,
    submit: String,
    errors: Errors,
    display_name: String,
    description: String,
    enabled: bool,
    externally_visible: bool,
    /// The version of the catalog the form edits (empty for a new one).
    version: String,
}

fn catalog_form(
    who: &AdminCaller,
    catalog: Option<&Catalog>,
    form: Option<&FormData>,
    errors: Errors,
) -> CatalogFormPage {
    let (action, cancel, heading, submit) = match catalog {
        Some(c) => (
            who.url(&format!("/admin/catalogs/{}/edit", c.id)),
            who.url(&format!("/admin/catalogs/{}", c.id)),
            format!("Edit catalog “{}”", c.display_name),
            "Save changes".to_string(),
        ),
        None => (
            who.url("/admin/catalogs"),
            who.url("/admin/catalogs"),
            "New catalog".to_string(),
            "Create catalog".to_string(),
        ),
    };
    let version = match (form, catalog) {
        (Some(f), _) => f.text("version"),
        (None, Some(c)) => c.version.to_string(),
        (None, None) => String::new(),
    };
    let (display_name, description, enabled, externally_visible) = match (form, catalog) {
        (Some(f), _) => (
            f.text("displayName"),
            f.text("description"),
            f.checked("enabled"),
            f.checked("externallyVisible"),
        ),
        (None, Some(c)) => (
            c.display_name.clone(),
            c.description.clone(),
            c.enabled,
            c.externally_visible,
        ),
        (None, None) => (String::new(), String::new(), true, false),
    };
    CatalogFormPage {
        shell: who.shell(heading.clone(), Section::Catalogs),
        csrf: who.csrf.clone(),
        action,
        cancel,
        heading,
        submit,
        errors,
        display_name,
        description,
        enabled,
        externally_visible,
        version,
    }
}

pub(super) async fn new_catalog(who: AdminCaller) -> PageResult {
    who.caller.require(Action::CreateCatalog)?;
    Ok(catalog_form(&who, None, None, Errors::none()).into_response())
}

fn catalog_fields(form: &FormData) -> CatalogFields {
    CatalogFields {
        display_name: Some(form.text("displayName")),
        description: Some(form.opt("description")),
        enabled: Some(form.checked("enabled")),
        externally_visible: Some(form.checked("externallyVisible")),
        expected_version: form.get("version").and_then(|v| v.parse().ok()),
    }
}

pub(super) async fn create_catalog(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let created = services::catalogs::create(
        state.pool(),
        &who.caller,
        catalog_fields(&form),
        state.now(),
    )
    .await;
    match created {
        Ok(c) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{}", c.id)),
            &format!("Catalog “{}” created.", c.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(catalog_form(&who, None, Some(&form), errors)))
        }
    }
}

pub(super) async fn edit_catalog(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    who.caller.require(Action::EditCatalog(id))?;
    Ok(catalog_form(&who, Some(&catalog), None, Errors::none()).into_response())
}

pub(super) async fn update_catalog(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    match services::catalogs::update(
        state.pool(),
        &who.caller,
        id,
        catalog_fields(&form),
        state.now(),
    )
    .await
    {
        Ok(c) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!("Catalog “{}” saved.", c.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let current = services::catalogs::get(state.pool(), &who.caller, id).await?;
            Ok(invalid(catalog_form(
                &who,
                Some(&current),
                Some(&form),
                errors,
            )))
        }
    }
}

pub(super) async fn toggle_catalog(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let enabled = form.get("enabled") == Some("true");
    let c = services::catalogs::update(
        state.pool(),
        &who.caller,
        id,
        CatalogFields {
            enabled: Some(enabled),
            ..CatalogFields::default()
        },
        state.now(),
    )
    .await?;
    let message = if c.enabled {
        format!(
            "Catalog “{}” enabled: its packages can be requested.",
            c.display_name
        )
    } else {
        format!(
            "Catalog “{}” disabled: its packages cannot be requested; existing assignments stay.",
            c.display_name
        )
    };
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/catalogs/{id}")),
        &message,
    ))
}

pub(super) async fn confirm_delete_catalog(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    let back = who.url(&format!("/admin/catalogs/{id}"));
    Ok(Confirm {
        heading: format!("Delete the catalog “{}”?", catalog.display_name),
        text: vec![
            "The catalog is deleted with its resources and its role holders. This cannot be undone.".into(),
            "A catalog that still holds access packages cannot be deleted: delete or move them first, or disable the catalog to stop new requests.".into(),
        ],
        action: Some(format!("{back}/delete")),
        button: "Delete catalog".into(),
        danger: true,
        back,
        back_label: catalog.display_name,
    }
    .page(&who, Section::Catalogs)
    .into_response())
}

pub(super) async fn delete_catalog(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    services::catalogs::delete(state.pool(), &who.caller, id, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url("/admin/catalogs"),
        &format!("Catalog “{}” deleted.", catalog.display_name),
    ))
}
