//! The package form: creation in the walkthrough's order (catalog, then basics and
//! resource roles, then a policy; a group can be added to the catalog from the form)
//! and the edit form (basics, resource roles, hidden, incompatible packages and groups),
//! which carries the version it was opened on.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::ids::{CatalogId, GroupId, PackageId, ResourceRoleId};
use crate::services::packages::PackageForm;
use crate::services::packages::{PackageFields, PackageView};
use crate::services::views::packages::PackageFormOptions;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

struct Choice {
    value: String,
    label: String,
    checked: bool,
}

struct RoleGroup {
    resource: String,
    roles: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/package_form.html")]
struct PackageFormPage {
    shell: Shell,
    csrf: String,
    heading: String,
    action: String,
    cancel: String,
    submit: String,
    editing: bool,
    catalog_id: String,
    catalog_name: String,
    errors: Errors,
    display_name: String,
    description: String,
    hidden: bool,
    resources: Vec<RoleGroup>,
    other_packages: Vec<Choice>,
    groups: Vec<Choice>,
    add_group: String,
    /// The version of the package the form edits (empty for a new one).
    version: String,
}

/// What the form shows: the values sent, or the package's current ones.
struct PackageValues {
    display_name: String,
    description: String,
    hidden: bool,
    roles: Vec<ResourceRoleId>,
    packages: Vec<PackageId>,
    groups: Vec<GroupId>,
    add_group: String,
    version: String,
}

impl PackageValues {
    fn from_form(f: &FormData) -> Self {
        Self {
            display_name: f.text("displayName"),
            description: f.text("description"),
            hidden: f.checked("hidden"),
            roles: ids(&f.all("resourceRoleIds")),
            packages: ids(&f.all("incompatiblePackageIds")),
            groups: ids(&f.all("incompatibleGroupIds")),
            add_group: f.text("addIncompatibleGroup"),
            version: f.text("version"),
        }
    }

    fn from_view(v: &PackageView) -> Self {
        Self {
            display_name: v.package.display_name.clone(),
            description: v.package.description.clone(),
            hidden: v.package.hidden,
            roles: v.resource_role_ids.clone(),
            packages: v.incompatible_package_ids.clone(),
            groups: v.incompatible_group_ids.clone(),
            add_group: String::new(),
            version: v.package.version.to_string(),
        }
    }

    fn empty() -> Self {
        Self {
            display_name: String::new(),
            description: String::new(),
            hidden: false,
            roles: Vec::new(),
            packages: Vec::new(),
            groups: Vec::new(),
            add_group: String::new(),
            version: String::new(),
        }
    }
}

fn ids<T: std::str::FromStr>(raw: &[&str]) -> Vec<T> {
    raw.iter().filter_map(|r| r.parse().ok()).collect()
}

/// Field errors of the lists (`resourceRoleIds[2]`) are shown at the list.
fn list_errors(errors: Errors) -> Errors {
    let mut out = Errors::none();
    for (field, message) in errors.iter() {
        let key = field.split('[').next().unwrap_or(field);
        out.add(key, message.clone());
    }
    out
}

fn package_form(
    who: &AdminCaller,
    options: &PackageFormOptions,
    editing: Option<PackageId>,
    values: PackageValues,
    errors: Errors,
) -> PackageFormPage {
    let catalog = &options.catalog;
    let resources = options
        .resources
        .iter()
        .map(|r| RoleGroup {
            resource: format!("{} ({})", r.resource.display_name, r.resource.kind),
            roles: r
                .roles
                .iter()
                .map(|role| Choice {
                    value: role.id.to_string(),
                    label: role.display_name.clone(),
                    checked: values.roles.contains(&role.id),
                })
                .collect(),
        })
        .collect();
    let other_packages = options
        .other_packages
        .iter()
        .filter(|p| Some(p.package.id) != editing)
        .map(|p| Choice {
            value: p.package.id.to_string(),
            label: p.package.display_name.clone(),
            checked: values.packages.contains(&p.package.id),
        })
        .collect();
    let groups = values
        .groups
        .iter()
        .map(|g| Choice {
            value: g.to_string(),
            label: options.names.group(g.0),
            checked: true,
        })
        .collect();
    let (heading, action, cancel, submit) = match editing {
        Some(id) => (
            format!("Edit “{}”", values.display_name),
            who.url(&format!("/admin/packages/{id}/edit")),
            who.url(&format!("/admin/packages/{id}")),
            "Save changes",
        ),
        None => (
            "New access package".to_string(),
            who.url("/admin/packages"),
            who.url("/admin/packages"),
            "Create access package",
        ),
    };
    PackageFormPage {
        shell: who.shell(heading.clone(), Section::Packages),
        csrf: who.csrf.clone(),
        heading,
        action,
        cancel,
        submit: submit.into(),
        editing: editing.is_some(),
        catalog_id: catalog.id.to_string(),
        catalog_name: catalog.display_name.clone(),
        errors,
        display_name: values.display_name,
        description: values.description,
        hidden: values.hidden,
        resources,
        other_packages,
        groups,
        add_group: values.add_group,
        version: values.version,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/package_catalog.html")]
struct ChooseCatalogPage {
    shell: Shell,
    slug: String,
    catalogs: Vec<(String, String, bool)>,
}

pub(super) async fn new_package(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> PageResult {
    let catalog = match q.id::<CatalogId>("catalog")? {
        Some(c) => c,
        None => {
            let catalogs =
                services::views::catalogs::package_catalogs(state.pool(), &who.caller).await?;
            if catalogs.is_empty() {
                return Err(PageError::forbidden(
                    "You may not create access packages: you are not an owner or access package manager of any catalog.",
                ));
            }
            return Ok(ChooseCatalogPage {
                shell: who.shell("New access package", Section::Packages),
                slug: who.slug().to_string(),
                catalogs: catalogs
                    .iter()
                    .map(|c| {
                        (
                            c.id.to_string(),
                            c.display_name.clone(),
                            c.display_name == "General",
                        )
                    })
                    .collect(),
            }
            .into_response());
        }
    };
    let options =
        services::views::packages::package_form_options(state.pool(), &who.caller, catalog, &[])
            .await?;
    Ok(package_form(&who, &options, None, PackageValues::empty(), Errors::none()).into_response())
}

fn package_fields(form: &FormData, catalog: Option<CatalogId>) -> PackageFields {
    PackageFields {
        catalog_id: catalog,
        display_name: Some(form.text("displayName")),
        description: Some(form.opt("description")),
        hidden: Some(form.checked("hidden")),
        resource_role_ids: Some(ids(&form.all("resourceRoleIds"))),
        incompatible_package_ids: Some(ids(&form.all("incompatiblePackageIds"))),
        incompatible_group_ids: Some(ids(&form.all("incompatibleGroupIds"))),
        expected_version: form.get("version").and_then(|v| v.parse().ok()),
    }
}

pub(super) async fn create_package(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let catalog: Option<CatalogId> = form.get("catalogId").and_then(|c| c.parse().ok());
    if form.get("intent") == Some("addGroup")
        && let Some(catalog) = catalog
    {
        return add_group_to_form(&state, &who, &form, catalog).await;
    }
    let created = services::packages::create(
        state.pool(),
        &who.caller,
        package_fields(&form, catalog),
        state.now(),
    )
    .await;
    match created {
        Ok(v) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/packages/{}", v.package.id)),
            &format!(
                "Access package “{}” created. Next, add a policy: who can request it and who approves.",
                v.package.display_name
            ),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let Some(catalog) = catalog else {
                return Err(PageError::bad_request(
                    "Choose the catalog of the access package first.",
                ));
            };
            let values = PackageValues::from_form(&form);
            let options = services::views::packages::package_form_options(
                state.pool(),
                &who.caller,
                catalog,
                &values.groups,
            )
            .await?;
            Ok(invalid(package_form(
                &who,
                &options,
                None,
                values,
                list_errors(errors),
            )))
        }
    }
}

/// The form's "Add to the catalog" step: the group named is added to the catalog as a
/// resource and the form comes back with its Member role ticked (nothing else is saved).
async fn add_group_to_form(
    state: &AppState,
    who: &AdminCaller,
    form: &FormData,
    catalog: CatalogId,
) -> PageResult {
    let mut values = PackageValues::from_form(form);
    let added = services::catalogs::add_group_by_name(
        state.pool(),
        &who.caller,
        catalog,
        &form.text("addGroupResource"),
        "addGroupResource",
        state.keys(),
        state.now(),
    )
    .await;
    let (errors, status_ok) = match added {
        Ok(r) => {
            // A group's Member role is what a package usually gives; Owner stays a choice.
            let member = r
                .roles
                .iter()
                .find(|role| role.display_name == "Member")
                .or(r.roles.first());
            values.roles.extend(member.map(|role| role.id));
            (Errors::none(), true)
        }
        Err(e) => (form_errors(e)?, false),
    };
    let options = services::views::packages::package_form_options(
        state.pool(),
        &who.caller,
        catalog,
        &values.groups,
    )
    .await?;
    let page = package_form(who, &options, None, values, errors);
    Ok(if status_ok {
        page.into_response()
    } else {
        invalid(page)
    })
}

pub(super) async fn edit_package(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<PackageId>,
) -> PageResult {
    let view = services::packages::get(state.pool(), &who.caller, id).await?;
    let options = services::views::packages::package_form_options(
        state.pool(),
        &who.caller,
        view.package.catalog_id,
        &view.incompatible_group_ids,
    )
    .await?;
    Ok(package_form(
        &who,
        &options,
        Some(id),
        PackageValues::from_view(&view),
        Errors::none(),
    )
    .into_response())
}

pub(super) async fn update_package(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let input = PackageForm {
        fields: package_fields(&form, None),
        add_incompatible_group: form.opt("addIncompatibleGroup"),
    };
    match services::packages::update_package(state.pool(), &who.caller, id, input, state.now())
        .await
    {
        Ok(v) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/packages/{id}")),
            &format!("Access package “{}” saved.", v.package.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let view = services::packages::get(state.pool(), &who.caller, id).await?;
            let values = PackageValues::from_form(&form);
            let options = services::views::packages::package_form_options(
                state.pool(),
                &who.caller,
                view.package.catalog_id,
                &values.groups,
            )
            .await?;
            Ok(invalid(package_form(
                &who,
                &options,
                Some(id),
                values,
                list_errors(errors),
            )))
        }
    }
}
