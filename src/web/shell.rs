//! The page shell that `templates/layout.html` renders around every page: one
//! navigation for both portals (only links to pages that exist, admin links only for
//! the roles that may use them), the signed-in person, the CSRF meta tag and the
//! flash message.

use crate::domain::authz::Action;
use crate::services::Caller;

/// A message shown once, after a redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// `ok` or `error` (a CSS modifier).
    pub kind: &'static str,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct NavLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Clone, Debug)]
pub struct ShellTenant {
    pub slug: String,
    pub display_name: String,
}

/// Everything the layout needs besides the page's own content.
#[derive(Clone, Debug)]
pub struct Shell {
    pub title: String,
    pub version: &'static str,
    pub tenant: Option<ShellTenant>,
    /// Display name of the signed-in person.
    pub user: Option<String>,
    pub portal_nav: Vec<NavLink>,
    pub admin_nav: Vec<NavLink>,
    pub csrf: Option<String>,
    pub flash: Option<Flash>,
    /// The link to the page's object in the audit log (its history), for those who may
    /// read the log.
    pub history: Option<String>,
}

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Home,
    MyPackages,
    MyRequests,
    MyAccess,
    Approvals,
    Reviews,
    Overview,
    Catalogs,
    Packages,
    Requests,
    AdminReviews,
    Reports,
    Users,
    Groups,
    SignIn,
    Chat,
    Config,
    Audit,
    None,
    MySettings,
}

impl Shell {
    /// A page outside any tenant (the landing page).
    pub fn public(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: env!("CARGO_PKG_VERSION"),
            tenant: None,
            user: None,
            portal_nav: Vec::new(),
            admin_nav: Vec::new(),
            csrf: None,
            flash: None,
            history: None,
        }
    }

    /// A page of a tenant for someone not signed in (sign-in pages, errors).
    pub fn tenant(title: impl Into<String>, slug: &str, display_name: &str) -> Self {
        Self {
            tenant: Some(ShellTenant {
                slug: slug.into(),
                display_name: display_name.into(),
            }),
            ..Self::public(title)
        }
    }

    /// A page for a signed-in caller.
    pub fn signed_in(
        title: impl Into<String>,
        caller: &Caller,
        csrf: &str,
        flash: Option<Flash>,
        section: Section,
    ) -> Self {
        let slug = caller.tenant.slug.as_str();
        let link = |label: &'static str, path: &str, s: Section| NavLink {
            label,
            href: format!("/t/{slug}{path}"),
            current: s == section,
        };
        let portal_nav = vec![
            link("Home", "/", Section::Home),
            link("Access packages", "/packages", Section::MyPackages),
            link("Requests", "/requests", Section::MyRequests),
            link("My access", "/access", Section::MyAccess),
            link("Approvals", "/approvals", Section::Approvals),
            link("Access reviews", "/reviews", Section::Reviews),
        ];
        let roles = &caller.roles;
        let mut admin_nav = Vec::new();
        if roles.is_any_admin() {
            admin_nav.push(link("Overview", "/admin", Section::Overview));
            admin_nav.push(link("Catalogs", "/admin/catalogs", Section::Catalogs));
            admin_nav.push(link(
                "Access packages",
                "/admin/packages",
                Section::Packages,
            ));
            if roles.is_tenant_admin() || roles.catalogs().next().is_some() {
                admin_nav.push(link("Requests", "/admin/requests", Section::Requests));
                admin_nav.push(link(
                    "Access reviews",
                    "/admin/reviews",
                    Section::AdminReviews,
                ));
                admin_nav.push(link("Reports", "/admin/reports", Section::Reports));
            }
            if roles.allows(Action::ManageDirectory) {
                admin_nav.push(link("Users", "/admin/users", Section::Users));
                admin_nav.push(link("Groups", "/admin/groups", Section::Groups));
                admin_nav.push(link(
                    "Sign-in and directory",
                    "/admin/sign-in",
                    Section::SignIn,
                ));
                admin_nav.push(link("Slack and Teams", "/admin/chat", Section::Chat));
            }
            if roles.allows(Action::ManageConfiguration) {
                admin_nav.push(link("Configuration", "/admin/config", Section::Config));
            }
            if roles.allows(Action::ReadAudit) {
                admin_nav.push(link("Audit log", "/admin/audit", Section::Audit));
            }
        }
        Self {
            title: title.into(),
            version: env!("CARGO_PKG_VERSION"),
            tenant: Some(ShellTenant {
                slug: slug.into(),
                display_name: caller.tenant.display_name.clone(),
            }),
            user: Some(caller.user.display_name.clone()),
            portal_nav,
            admin_nav,
            csrf: Some(csrf.into()),
            flash,
            history: None,
        }
    }

    /// The shell of an object's page: with a link to the object's history (the audit log
    /// filtered to it) when `caller` may read the log.
    pub fn history(mut self, caller: &Caller, target: Option<uuid::Uuid>) -> Self {
        if let Some(target) = target
            && caller.roles.allows(Action::ReadAudit)
        {
            self.history = Some(format!(
                "/t/{}/admin/audit?target={target}",
                caller.tenant.slug
            ));
        }
        self
    }

    /// The tenant's slug, or "" outside a tenant.
    pub fn slug(&self) -> &str {
        self.tenant.as_ref().map(|t| t.slug.as_str()).unwrap_or("")
    }
}
