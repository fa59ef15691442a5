//! Delegated administration (DOMAIN.md §3): which role may do what, and where.
//! `Roles::require` is the only way to obtain a `Permit`, the proof value services ask
//! for before they change anything on someone's behalf.

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::ids::CatalogId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    TenantAdmin,
    CatalogCreator,
    CatalogOwner,
    CatalogReader,
    PackageManager,
    AssignmentManager,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::TenantAdmin,
        Role::CatalogCreator,
        Role::CatalogOwner,
        Role::CatalogReader,
        Role::PackageManager,
        Role::AssignmentManager,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantAdmin => "tenantAdmin",
            Self::CatalogCreator => "catalogCreator",
            Self::CatalogOwner => "catalogOwner",
            Self::CatalogReader => "catalogReader",
            Self::PackageManager => "packageManager",
            Self::AssignmentManager => "assignmentManager",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Catalog-scoped roles need a catalog; tenant-scoped ones must not have one.
    pub fn is_catalog_scoped(self) -> bool {
        !matches!(self, Self::TenantAdmin | Self::CatalogCreator)
    }
}

/// One role held by the caller (directly or through a group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleGrant {
    pub role: Role,
    pub catalog: Option<CatalogId>,
}

/// What a caller may attempt. Catalog-scoped actions name their catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Change tenant settings, users, groups and their members.
    ManageDirectory,
    /// Read the whole directory including group members.
    ReadDirectory,
    /// Read the audit log of the whole tenant.
    ReadAudit,
    /// Grant or revoke a role; for catalog roles the catalog is named.
    GrantRole(Role, Option<CatalogId>),
    /// See who holds roles (of this catalog, or tenant-wide when `None`).
    ReadRoles(Option<CatalogId>),
    CreateCatalog,
    ReadCatalog(CatalogId),
    EditCatalog(CatalogId),
    /// Create/edit packages and policies from the catalog's resources.
    ManagePackages(CatalogId),
    /// View, add and remove assignments; view requests.
    ManageAssignments(CatalogId),
}

/// Proof that a role check passed; only `Roles::require` builds one.
#[derive(Clone, Copy, Debug)]
pub struct Permit {
    action: Action,
}

impl Permit {
    pub fn action(&self) -> Action {
        self.action
    }
}

/// Every role the caller holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    grants: Vec<RoleGrant>,
}

impl Roles {
    pub fn new(grants: Vec<RoleGrant>) -> Self {
        Self { grants }
    }

    pub fn grants(&self) -> &[RoleGrant] {
        &self.grants
    }

    pub fn is_tenant_admin(&self) -> bool {
        self.has(Role::TenantAdmin, None)
    }

    fn has(&self, role: Role, catalog: Option<CatalogId>) -> bool {
        self.grants
            .iter()
            .any(|g| g.role == role && (g.catalog == catalog || g.catalog.is_none()))
    }

    fn has_in(&self, catalog: CatalogId, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r, Some(catalog)))
    }

    /// Catalogs where the caller holds any catalog-scoped role.
    pub fn catalogs(&self) -> impl Iterator<Item = CatalogId> + '_ {
        self.grants.iter().filter_map(|g| g.catalog)
    }

    /// Whether the caller has any administrative role at all (else: requester portal only).
    pub fn is_any_admin(&self) -> bool {
        !self.grants.is_empty()
    }

    pub fn allows(&self, action: Action) -> bool {
        use Role::*;
        if self.is_tenant_admin() {
            return true;
        }
        match action {
            Action::ManageDirectory | Action::ReadDirectory | Action::ReadAudit => false,
            Action::GrantRole(role, Some(catalog)) => {
                role.is_catalog_scoped() && self.has_in(catalog, &[CatalogOwner])
            }
            Action::GrantRole(_, None) => false,
            Action::ReadRoles(Some(catalog)) => {
                self.has_in(catalog, &[CatalogOwner, CatalogReader])
            }
            Action::ReadRoles(None) => false,
            Action::CreateCatalog => self.has(CatalogCreator, None),
            Action::ReadCatalog(c) => self.has_in(
                c,
                &[
                    CatalogOwner,
                    CatalogReader,
                    PackageManager,
                    AssignmentManager,
                ],
            ),
            Action::EditCatalog(c) => self.has_in(c, &[CatalogOwner]),
            Action::ManagePackages(c) => self.has_in(c, &[CatalogOwner, PackageManager]),
            Action::ManageAssignments(c) => self.has_in(c, &[CatalogOwner, AssignmentManager]),
        }
    }

    /// The permit for `action`, or 403 with a message naming what is missing.
    pub fn require(&self, action: Action) -> Result<Permit, DomainError> {
        if self.allows(action) {
            Ok(Permit { action })
        } else {
            Err(DomainError::forbidden(describe_refusal(action)))
        }
    }
}

fn describe_refusal(action: Action) -> String {
    let what = match action {
        Action::ManageDirectory => "change the directory or tenant settings (tenant admins only)",
        Action::ReadDirectory => "read group members (tenant admins and the group's owners only)",
        Action::ReadAudit => "read the audit log (tenant admins only)",
        Action::GrantRole(_, None) => "grant tenant-wide roles (tenant admins only)",
        Action::GrantRole(_, Some(_)) => {
            "grant roles in this catalog (tenant admins and the catalog's owners only)"
        }
        Action::ReadRoles(_) => "see role holders here",
        Action::CreateCatalog => "create catalogs (tenant admins and catalog creators only)",
        Action::ReadCatalog(_) => "read this catalog (you hold no role in it)",
        Action::EditCatalog(_) => "edit this catalog (tenant admins and catalog owners only)",
        Action::ManagePackages(_) => {
            "manage access packages in this catalog (catalog owners and access package managers only)"
        }
        Action::ManageAssignments(_) => {
            "manage assignments in this catalog (catalog owners and assignment managers only)"
        }
    };
    format!("You may not {what}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn catalog() -> CatalogId {
        CatalogId(Uuid::now_v7())
    }

    fn roles(grants: &[(Role, Option<CatalogId>)]) -> Roles {
        Roles::new(
            grants
                .iter()
                .map(|(role, catalog)| RoleGrant {
                    role: *role,
                    catalog: *catalog,
                })
                .collect(),
        )
    }

    #[test]
    fn tenant_admins_may_do_everything() {
        let r = roles(&[(Role::TenantAdmin, None)]);
        let c = catalog();
        for a in [
            Action::ManageDirectory,
            Action::CreateCatalog,
            Action::EditCatalog(c),
            Action::ManagePackages(c),
            Action::GrantRole(Role::TenantAdmin, None),
        ] {
            assert!(r.allows(a), "{a:?}");
        }
    }

    #[test]
    fn catalog_roles_stay_in_their_catalog() {
        let (mine, other) = (catalog(), catalog());
        let owner = roles(&[(Role::CatalogOwner, Some(mine))]);
        assert!(owner.allows(Action::EditCatalog(mine)));
        assert!(owner.allows(Action::ManagePackages(mine)));
        assert!(owner.allows(Action::GrantRole(Role::PackageManager, Some(mine))));
        assert!(!owner.allows(Action::EditCatalog(other)));
        assert!(!owner.allows(Action::ManagePackages(other)));
        assert!(!owner.allows(Action::GrantRole(Role::CatalogOwner, Some(other))));
        assert!(!owner.allows(Action::GrantRole(Role::TenantAdmin, None)));
        assert!(!owner.allows(Action::ManageDirectory));
    }

    #[test]
    fn each_catalog_role_may_do_only_its_part() {
        let c = catalog();
        let reader = roles(&[(Role::CatalogReader, Some(c))]);
        assert!(reader.allows(Action::ReadCatalog(c)));
        assert!(!reader.allows(Action::ManagePackages(c)));
        assert!(!reader.allows(Action::ManageAssignments(c)));

        let pm = roles(&[(Role::PackageManager, Some(c))]);
        assert!(pm.allows(Action::ManagePackages(c)));
        assert!(!pm.allows(Action::EditCatalog(c)));
        assert!(!pm.allows(Action::ManageAssignments(c)));

        let am = roles(&[(Role::AssignmentManager, Some(c))]);
        assert!(am.allows(Action::ManageAssignments(c)));
        assert!(!am.allows(Action::ManagePackages(c)));
    }

    #[test]
    fn catalog_creators_create_but_do_not_edit_others() {
        let r = roles(&[(Role::CatalogCreator, None)]);
        assert!(r.allows(Action::CreateCatalog));
        assert!(!r.allows(Action::EditCatalog(catalog())));
    }

    #[test]
    fn no_role_means_requester_portal_only() {
        let r = Roles::default();
        assert!(!r.is_any_admin());
        assert!(r.require(Action::CreateCatalog).is_err());
    }
}
