//! Access packages: the list (search and pagination; htmx live search answers the
//! `_package_rows.html` fragment), creation in the walkthrough's order (catalog, then
//! basics and resource roles, then a policy), the package page and its edit form
//! (basics, resource roles, hidden, incompatible packages and groups), and removing
//! a package after a confirmation: deleted when nothing refers to it, archived when it
//! has history (the list shows archived packages apart, `?archived=1`).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::authz::Action;
use crate::domain::ids::{CatalogId, GroupId, PackageId, PolicyId, ResourceRoleId};
use crate::services::packages::{PackageFields, PackageView};
use crate::services::packages::{PackageForm, Removal};
use crate::services::views::packages::{PackageFormOptions, PackagePage};
use crate::services::{self};
use crate::state::AppState;
use crate::web::admin::confirm::Confirm;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, Pager, form_errors, invalid};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages",
            get(list_packages).post(create_package),
        )
        .route("/t/{slug}/admin/packages/new", get(new_package))
        .route("/t/{slug}/admin/packages/{id}", get(show_package))
        .route(
            "/t/{slug}/admin/packages/{id}/edit",
            get(edit_package).post(update_package),
        )
        .route("/t/{slug}/admin/packages/{id}/remove", get(confirm_removal))
        .route("/t/{slug}/admin/packages/{id}/delete", post(delete_package))
        .route(
            "/t/{slug}/admin/packages/{id}/archive",
            post(archive_package),
        )
        .route(
            "/t/{slug}/admin/packages/{id}/policies/{pid}/delete",
            get(confirm_delete_policy).post(delete_policy),
        )
}

pub struct PackageRow {
    pub href: String,
    pub name: String,
    pub description: String,
    pub catalog: String,
    pub hidden: bool,
    pub roles: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/packages.html")]
struct PackagesPage {
    shell: Shell,
    slug: String,
    query: String,
    rows: Vec<PackageRow>,
    pager: Pager,
    can_create: bool,
    archived: bool,
}

/// The rows of the package list alone (htmx live search).
#[derive(Template, WebTemplate)]
#[template(path = "admin/_package_rows.html")]
struct PackageRowsFragment {
    query: String,
    rows: Vec<PackageRow>,
    pager: Pager,
}

async fn list_packages(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let query = q.get("q").unwrap_or_default();
    let archived = q.get("archived").is_some_and(|v| !v.is_empty());
    let (list, names) = services::views::packages::package_list(
        state.pool(),
        &who.caller,
        None,
        Some(query.as_str()),
        archived,
        page,
    )
    .await?;
    let base = who.url("/admin/packages");
    let mut filters = Vec::new();
    if archived {
        filters.push("archived=1".to_string());
    }
    if !query.is_empty() {
        filters.push(format!(
            "q={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        ));
    }
    let filtered = if filters.is_empty() {
        base.clone()
    } else {
        format!("{base}?{}", filters.join("&"))
    };
    let rows = list
        .items
        .iter()
        .map(|v| PackageRow {
            href: format!("{base}/{}", v.package.id),
            name: v.package.display_name.clone(),
            description: v.package.description.clone(),
            catalog: names.catalog(v.package.catalog_id.0),
            hidden: v.package.hidden,
            roles: v.resource_role_ids.len(),
        })
        .collect();
    let pager = Pager::new(&filtered, &page, list.next);
    if who.htmx_target.as_deref() == Some("package-results") {
        return Ok(PackageRowsFragment { query, rows, pager }.into_response());
    }
    let roles = &who.caller.roles;
    Ok(PackagesPage {
        shell: who.shell(
            if archived {
                "Archived access packages"
            } else {
                "Access packages"
            },
            Section::Packages,
        ),
        archived,
        slug: who.slug().to_string(),
        query,
        rows,
        pager,
        can_create: roles.is_tenant_admin()
            || roles
                .catalogs()
                .any(|c| roles.allows(Action::ManagePackages(c))),
    }
    .into_response())
}

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

async fn new_package(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
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

async fn create_package(
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

struct PolicyRow {
    href: String,
    delete: String,
    name: String,
    requestors: String,
    stages: usize,
    enabled: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/package.html")]
struct PackageDetailPage {
    shell: Shell,
    slug: String,
    base: String,
    id: String,
    name: String,
    description: String,
    catalog_href: String,
    catalog_name: String,
    hidden: bool,
    roles: Vec<String>,
    incompatible_packages: Vec<String>,
    incompatible_groups: Vec<String>,
    policies: Vec<PolicyRow>,
    can_manage: bool,
    can_assign: bool,
    archived_on: Option<String>,
    can_remove: bool,
    my_access_link: String,
    requestable: bool,
}

pub fn requestors_label(s: &crate::domain::policy::PolicySettings) -> String {
    use crate::domain::policy::RequestorScope;
    match s.requestors.scope {
        RequestorScope::None => "Nobody (administrators assign directly)".into(),
        RequestorScope::Specific => format!(
            "Specific users and groups ({})",
            s.requestors.principals.len()
        ),
        RequestorScope::AllMembers => "All members (not guests)".into(),
        RequestorScope::AllUsers => "All users, guests included".into(),
    }
}

/// The address of the package in My Access, to share with those who may request it
/// (a hidden package is requestable only through it).
fn my_access_link(state: &AppState, slug: &str, id: PackageId) -> String {
    let path = format!("t/{slug}/packages/{id}");
    match &state.settings().base_url {
        Some(base) => base
            .join(&path)
            .map_or_else(|_| format!("/{path}"), |u| u.to_string()),
        None => format!("/{path}"),
    }
}

fn package_detail(state: &AppState, who: &AdminCaller, p: PackagePage) -> PackageDetailPage {
    let id = p.package.package.id;
    let base = who.url(&format!("/admin/packages/{id}"));
    PackageDetailPage {
        shell: who.shell(p.package.package.display_name.clone(), Section::Packages),
        slug: who.slug().to_string(),
        name: p.package.package.display_name.clone(),
        description: p.package.package.description.clone(),
        catalog_href: who.url(&format!("/admin/catalogs/{}", p.catalog.id)),
        catalog_name: p.catalog.display_name.clone(),
        hidden: p.package.package.hidden,
        roles: p
            .package
            .resource_role_ids
            .iter()
            .map(|r| p.names.role(r.0))
            .collect(),
        incompatible_packages: p
            .package
            .incompatible_package_ids
            .iter()
            .map(|x| p.names.package(x.0))
            .collect(),
        incompatible_groups: p
            .package
            .incompatible_group_ids
            .iter()
            .map(|x| p.names.group(x.0))
            .collect(),
        policies: p
            .policies
            .iter()
            .map(|pol| PolicyRow {
                href: format!("{base}/policies/{}", pol.id),
                delete: format!("{base}/policies/{}/delete", pol.id),
                name: pol.display_name.clone(),
                requestors: requestors_label(&pol.settings.0),
                stages: pol.settings.0.approval.stages.len(),
                enabled: pol.settings.0.requests_enabled,
            })
            .collect(),
        can_manage: p.can_manage,
        can_assign: p.can_assign,
        archived_on: p
            .package
            .package
            .archived_at
            .map(|at| at.format("%Y-%m-%d").to_string()),
        can_remove: p.can_manage,
        my_access_link: my_access_link(state, who.slug(), id),
        requestable: p.package.package.archived_at.is_none()
            && p.policies.iter().any(|pol| {
                pol.settings.0.requests_enabled
                    && pol.settings.0.requestors.scope
                        != crate::domain::policy::RequestorScope::None
            }),
        id: id.to_string(),
        base,
    }
}

async fn show_package(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<PackageId>,
) -> PageResult {
    let page = services::views::packages::package_page(state.pool(), &who.caller, id).await?;
    Ok(package_detail(&state, &who, page).into_response())
}

async fn edit_package(
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

async fn update_package(
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

async fn confirm_removal(
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

async fn delete_package(
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

async fn archive_package(
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

async fn confirm_delete_policy(
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

async fn delete_policy(
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
