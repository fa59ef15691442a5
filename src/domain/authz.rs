//! Delegated administration (DOMAIN.md §3): which role may do what, and where.
//! `Roles::require` is the only way to obtain a `Permit`, the proof value services ask
//! for before they change anything on someone's behalf. Directory groups that carry
//! power (a role, or approving for another catalog) enter catalogs only by a tenant
//! admin's hand, and delivery puts nobody into them through a resource that hand did
//! not add: otherwise a catalog owner could package the admins' group and assign it to
//! themselves.

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::ids::{CatalogId, GroupId, UserId};
use super::policy::PolicySettings;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Export and apply the tenant's whole configuration (configuration as code).
    ManageConfiguration,
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
            Action::ManageDirectory
            | Action::ReadDirectory
            | Action::ReadAudit
            | Action::ManageConfiguration => false,
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

/// What makes a directory group worth more than its membership: whoever is put into it
/// gains these powers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupPrivilege {
    /// The group holds a role assignment, tenant-wide or in any catalog.
    pub holds_role: bool,
    /// The group approves or reviews under a policy of a catalog other than the one it
    /// is (to be) a resource of.
    pub decides_elsewhere: bool,
}

impl GroupPrivilege {
    /// The privilege of `group` seen from `catalog`, given the groups that hold a role
    /// assignment and the policies (with their package's catalog) that may name it.
    pub fn assess(
        group: GroupId,
        catalog: CatalogId,
        holding_roles: &[GroupId],
        policies: &[(CatalogId, &PolicySettings)],
    ) -> Self {
        Self {
            holds_role: holding_roles.contains(&group),
            decides_elsewhere: policies
                .iter()
                .filter(|(c, _)| *c != catalog)
                .any(|(_, p)| p.decider_groups().contains(&group.0)),
        }
    }

    pub fn is_privileged(self) -> bool {
        self.holds_role || self.decides_elsewhere
    }

    fn what(self) -> &'static str {
        match (self.holds_role, self.decides_elsewhere) {
            (true, true) => "holds a role and approves or reviews for another catalog",
            (true, false) => "holds a role",
            (false, _) => "approves or reviews for another catalog",
        }
    }
}

/// The refusal when someone who is neither a tenant admin nor an owner of the group
/// adds it to a catalog.
pub const ADD_GROUP_NOT_OWNER: &str = "Only a tenant admin or an owner of the group may add it to a catalog; ask a tenant admin or one of its owners.";

impl Roles {
    /// Entra's rule for adding a directory group to a catalog (on top of editing the
    /// catalog): a tenant admin may add any group; an owner of the group may add it
    /// unless it is privileged, since its members would gain its powers from whoever
    /// manages the catalog.
    pub fn may_add_group(
        &self,
        owns_group: bool,
        privilege: GroupPrivilege,
    ) -> Result<(), DomainError> {
        if self.is_tenant_admin() {
            Ok(())
        } else if privilege.is_privileged() {
            Err(DomainError::forbidden(format!(
                "This group {}; whoever is put into it gains that power, so only a tenant admin may add it to a catalog.",
                privilege.what()
            )))
        } else if !owns_group {
            Err(DomainError::forbidden(ADD_GROUP_NOT_OWNER))
        } else {
            Ok(())
        }
    }
}

/// Whether delivery may put someone into a group (as member or owner) through a
/// resource of a catalog: a privileged group only through a resource a tenant admin
/// added. Checked at every delivery, because a group can gain a role after a catalog
/// owner added it. The error is the reason recorded on the failed grant.
pub fn may_deliver_into_group(
    group_name: &str,
    added_by_tenant_admin: bool,
    privilege: GroupPrivilege,
) -> Result<(), String> {
    if added_by_tenant_admin || !privilege.is_privileged() {
        return Ok(());
    }
    Err(format!(
        "the group '{group_name}' {} and was not added to the catalog by a tenant admin, so it is not delivered \
         through this catalog (a tenant admin may add the group to a catalog and package it there)",
        privilege.what()
    ))
}

fn describe_refusal(action: Action) -> String {
    let what = match action {
        Action::ManageDirectory => "change the directory or tenant settings (tenant admins only)",
        Action::ReadDirectory => "read group members (tenant admins and the group's owners only)",
        Action::ReadAudit => "read the audit log (tenant admins only)",
        Action::ManageConfiguration => {
            "export or apply the tenant's configuration (tenant admins only)"
        }
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
            Action::ManageConfiguration,
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

    fn group() -> GroupId {
        GroupId(Uuid::now_v7())
    }

    const PLAIN: GroupPrivilege = GroupPrivilege {
        holds_role: false,
        decides_elsewhere: false,
    };
    const HOLDS_ROLE: GroupPrivilege = GroupPrivilege {
        holds_role: true,
        decides_elsewhere: false,
    };
    const DECIDES: GroupPrivilege = GroupPrivilege {
        holds_role: false,
        decides_elsewhere: true,
    };

    fn refusal(r: Result<(), DomainError>) -> String {
        match r {
            Err(DomainError::Forbidden(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_tenant_admin_may_add_any_group() {
        let admin = roles(&[(Role::TenantAdmin, None)]);
        for p in [PLAIN, HOLDS_ROLE, DECIDES] {
            assert_eq!(admin.may_add_group(false, p), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn an_owner_of_the_group_may_add_it_unless_it_is_privileged() {
        let owner = roles(&[(Role::CatalogOwner, Some(catalog()))]);
        assert_eq!(owner.may_add_group(true, PLAIN), Ok(()));
        let m = refusal(owner.may_add_group(true, HOLDS_ROLE));
        assert!(m.contains("holds a role"), "{m}");
        assert!(
            m.contains("only a tenant admin may add it to a catalog"),
            "{m}"
        );
        let m = refusal(owner.may_add_group(true, DECIDES));
        assert!(m.contains("approves or reviews for another catalog"), "{m}");
        assert!(
            m.contains("only a tenant admin may add it to a catalog"),
            "{m}"
        );
    }

    #[test]
    fn someone_who_does_not_own_the_group_may_not_add_it() {
        for r in [
            roles(&[(Role::CatalogOwner, Some(catalog()))]),
            roles(&[(Role::CatalogCreator, None)]),
        ] {
            assert_eq!(refusal(r.may_add_group(false, PLAIN)), ADD_GROUP_NOT_OWNER);
            let m = refusal(r.may_add_group(false, HOLDS_ROLE));
            assert!(m.contains("only a tenant admin"), "{m}");
        }
    }

    #[test]
    fn a_group_is_privileged_by_a_role_or_by_deciding_for_another_catalog() {
        let (g, other_group) = (group(), group());
        let (here, there) = (catalog(), catalog());
        let approving: PolicySettings = serde_json::from_value(serde_json::json!({
            "requestors": {"scope": "specific", "principals": [{"type": "group", "id": other_group.0}]},
            "approval": {"stages": [{"approvers": [{"type": "group", "id": g.0}]}]}}))
        .expect("policy");
        assert_eq!(GroupPrivilege::assess(g, here, &[], &[]), PLAIN);
        assert_eq!(GroupPrivilege::assess(g, here, &[g], &[]), HOLDS_ROLE);
        assert_eq!(
            GroupPrivilege::assess(g, here, &[other_group], &[(there, &approving)]),
            DECIDES
        );
        assert_eq!(
            GroupPrivilege::assess(g, here, &[], &[(here, &approving)]),
            PLAIN,
            "approving in the same catalog adds nothing its managers lack"
        );
        assert_eq!(
            GroupPrivilege::assess(other_group, here, &[], &[(there, &approving)]),
            PLAIN,
            "requestors only ask"
        );
    }

    #[test]
    fn delivery_into_a_privileged_group_needs_a_resource_a_tenant_admin_added() {
        assert_eq!(may_deliver_into_group("Team", false, PLAIN), Ok(()));
        assert_eq!(may_deliver_into_group("Admins", true, HOLDS_ROLE), Ok(()));
        assert_eq!(may_deliver_into_group("Approvers", true, DECIDES), Ok(()));
        for p in [HOLDS_ROLE, DECIDES] {
            let reason = may_deliver_into_group("Team", false, p).expect_err("refused");
            assert!(reason.contains("'Team'"), "{reason}");
            assert!(
                reason.contains("not added to the catalog by a tenant admin"),
                "{reason}"
            );
        }
    }

    #[test]
    fn no_role_means_requester_portal_only() {
        let r = Roles::default();
        assert!(!r.is_any_admin());
        assert!(r.require(Action::CreateCatalog).is_err());
    }
}

/// A tenant always keeps an active admin: `leaving` (deactivated, or losing the role)
/// may go only when another active tenant admin remains. `doing` says what was refused
/// ("deactivating them", "removing it").
pub fn an_admin_remains(
    active_admins: &[UserId],
    leaving: UserId,
    doing: &str,
) -> Result<(), DomainError> {
    if active_admins.contains(&leaving) && active_admins.iter().all(|a| *a == leaving) {
        return Err(DomainError::conflict(format!(
            "This is the last tenant admin; grant the role to someone else before {doing}."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod admin_tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_last_active_admin_stays() {
        let (a, b) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        assert!(an_admin_remains(&[a], a, "removing it").is_err());
        assert!(an_admin_remains(&[a, b], a, "removing it").is_ok());
        // Someone who is not an active admin can always go.
        assert!(an_admin_remains(&[b], a, "removing it").is_ok());
    }
}
