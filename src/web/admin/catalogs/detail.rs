//! A catalog's page: its resources, its access packages and (for those who may see
//! them) its role holders with the form to grant one more.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::domain::connector::Connector;
use crate::domain::extension::{CallbackOutcome, ExtensionBehavior};
use crate::domain::ids::CatalogId;
use crate::services::views::catalogs::CatalogPage;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Errors};

use super::enabled_badge;
use super::roles::{CATALOG_ROLES, role_title};

struct ResourceRow {
    name: String,
    kind: String,
    roles: String,
    connector: String,
    /// The connector form (resources other than groups).
    delivery: Option<String>,
    remove: String,
}

struct ExtensionRow {
    name: String,
    behavior: String,
    url: String,
    edit: String,
    delete: String,
}

struct PackageRow {
    href: String,
    name: String,
    hidden: bool,
}

struct HolderRow {
    role: String,
    who: String,
    revoke: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/catalog.html")]
pub(super) struct CatalogDetailPage {
    shell: Shell,
    csrf: String,
    slug: String,
    base: String,
    id: String,
    alert: Option<String>,
    name: String,
    description: String,
    enabled: bool,
    status: Badge,
    externally_visible: bool,
    resources: Vec<ResourceRow>,
    extensions: Vec<ExtensionRow>,
    packages: Vec<PackageRow>,
    holders: Option<Vec<HolderRow>>,
    can_edit: bool,
    can_grant: bool,
    can_manage_packages: bool,
    grant_errors: Errors,
    grant_role: String,
    grant_principal: String,
    role_choices: Vec<(&'static str, &'static str)>,
}

pub(super) fn catalog_detail(
    who: &AdminCaller,
    p: CatalogPage,
    alert: Option<String>,
    grant: Option<(&FormData, Errors)>,
) -> CatalogDetailPage {
    let base = who.url(&format!("/admin/catalogs/{}", p.catalog.id));
    let resources = p
        .resources
        .iter()
        .map(|r| ResourceRow {
            name: r.resource.display_name.clone(),
            kind: r.resource.kind.clone(),
            roles: r
                .roles
                .iter()
                .map(|x| x.display_name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            connector: match &r.resource.connector {
                None => String::new(),
                Some(Connector::Webhook { url }) => format!("Webhook: {url}"),
                Some(Connector::Scim { base_url, .. }) => format!("SCIM: {base_url}"),
                Some(Connector::Ldap { url, .. }) => format!("LDAP: {url}"),
            },
            delivery: r
                .resource
                .group_id
                .is_none()
                .then(|| format!("{base}/resources/{}/connector", r.resource.id)),
            remove: format!("{base}/resources/{}/remove", r.resource.id),
        })
        .collect();
    let extensions = p
        .extensions
        .iter()
        .map(|e| ExtensionRow {
            name: e.display_name.clone(),
            behavior: match e.behavior {
                ExtensionBehavior::FireAndForget => "Told, not waited for".to_string(),
                ExtensionBehavior::WaitForCallback => format!(
                    "Waits up to {} min, then {}",
                    e.timeout_minutes,
                    match e.on_timeout {
                        CallbackOutcome::Continue => "continues",
                        CallbackOutcome::Deny => "denies",
                    }
                ),
            },
            url: e.url.clone(),
            edit: format!("{base}/extensions/{}/edit", e.id),
            delete: format!("{base}/extensions/{}/delete", e.id),
        })
        .collect();
    let packages = p
        .packages
        .iter()
        .map(|v| PackageRow {
            href: who.url(&format!("/admin/packages/{}", v.package.id)),
            name: v.package.display_name.clone(),
            hidden: v.package.hidden,
        })
        .collect();
    let holders = p.role_holders.as_ref().map(|list| {
        list.iter()
            .map(|r| HolderRow {
                role: role_title(r.role.as_str()),
                who: match (r.user_id, r.group_id) {
                    (Some(u), _) => format!("{} ({})", p.names.user(u.0), p.names.user_email(u.0)),
                    (None, Some(g)) => format!("Group: {}", p.names.group(g.0)),
                    _ => "—".into(),
                },
                revoke: format!("{base}/roles/{}/revoke", r.id),
            })
            .collect()
    });
    let (grant_role, grant_principal, grant_errors) = match grant {
        Some((f, e)) => (f.text("role"), f.text("principal"), e),
        None => (String::new(), String::new(), Errors::none()),
    };
    CatalogDetailPage {
        shell: who
            .shell(p.catalog.display_name.clone(), Section::Catalogs)
            .history(&who.caller, Some(p.catalog.id.0)),
        csrf: who.csrf.clone(),
        slug: who.slug().to_string(),
        alert,
        id: p.catalog.id.to_string(),
        name: p.catalog.display_name.clone(),
        description: p.catalog.description.clone(),
        enabled: p.catalog.enabled,
        status: enabled_badge(&p.catalog),
        externally_visible: p.catalog.externally_visible,
        resources,
        extensions,
        packages,
        holders,
        can_edit: p.can_edit,
        can_grant: p.can_grant,
        can_manage_packages: p.can_manage_packages,
        grant_errors,
        grant_role,
        grant_principal,
        role_choices: CATALOG_ROLES.to_vec(),
        base,
    }
}

pub(super) async fn show_catalog(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
) -> PageResult {
    let page = services::views::catalogs::catalog_page(state.pool(), &who.caller, id).await?;
    Ok(catalog_detail(&who, page, None, None).into_response())
}
