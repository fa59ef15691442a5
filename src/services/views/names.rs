//! The one display-name resolver of the read models: a page collects the ids it
//! mentions in a `Wanted`, which resolves them with one query per kind, and reads the
//! names from the `Names` it gets back.
//!
//! One rule everywhere: a person is shown by display name, else by email address; an
//! id that no longer resolves is shown as "unknown user …" (or group, access package,
//! …) with the id, so it can still be traced.

use std::collections::HashMap;

use uuid::Uuid;

use crate::db::packages::Policy;
use crate::db::users::User;
use crate::db::{self, Conn};
use crate::domain::ids::{AssignmentId, GroupId, PackageId, PolicyId, TenantId, UserId};
use crate::domain::policy::{PolicySettings, PrincipalKind};
use crate::services::ServiceResult;
use crate::services::catalogs::ResourceView;

/// How a person is shown: their display name, else their email address.
pub fn person(user: &User) -> String {
    if user.display_name.trim().is_empty() {
        user.email.clone()
    } else {
        user.display_name.clone()
    }
}

/// How a person whose id did not resolve is shown.
pub fn unknown_person(id: Uuid) -> String {
    format!("unknown user {id}")
}

/// Display names of the people, groups, packages, resource roles, policies, catalogs
/// and assignments a page mentions.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// (shown name, email address)
    users: HashMap<Uuid, (String, String)>,
    groups: HashMap<Uuid, String>,
    packages: HashMap<Uuid, String>,
    roles: HashMap<Uuid, String>,
    policies: HashMap<Uuid, Policy>,
    catalogs: HashMap<Uuid, String>,
    /// Assignment id → id of its access package.
    assignments: HashMap<Uuid, Uuid>,
}

impl Names {
    /// The names of people already loaded.
    pub fn of_users<'a>(users: impl IntoIterator<Item = &'a User>) -> Self {
        let mut names = Self::default();
        for u in users {
            names.add_user(u);
        }
        names
    }

    pub fn user(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .map_or_else(|| unknown_person(id), |(n, _)| n.clone())
    }

    pub fn user_email(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .map(|(_, e)| e.clone())
            .unwrap_or_default()
    }

    pub fn group(&self, id: Uuid) -> String {
        self.groups
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("unknown group {id}"))
    }

    pub fn package(&self, id: Uuid) -> String {
        self.packages
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("access package {id}"))
    }

    pub fn role(&self, id: Uuid) -> String {
        self.roles
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("resource role {id}"))
    }

    /// The policy itself, when the page loaded it.
    pub fn policy(&self, id: PolicyId) -> Option<&Policy> {
        self.policies.get(&id.0)
    }

    pub fn policy_name(&self, id: Uuid) -> String {
        self.policies
            .get(&id)
            .map_or_else(|| format!("policy {id}"), |p| p.display_name.clone())
    }

    pub fn catalog(&self, id: Uuid) -> String {
        self.catalogs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("catalog {id}"))
    }

    /// The name of the access package an assignment is of.
    pub fn assignment_package(&self, id: Uuid) -> String {
        self.assignments
            .get(&id)
            .map_or_else(|| format!("assignment {id}"), |p| self.package(*p))
    }

    fn add_user(&mut self, u: &User) {
        self.users.insert(u.id.0, (person(u), u.email.clone()));
    }

    pub fn add_catalog(&mut self, id: Uuid, label: String) {
        self.catalogs.insert(id, label);
    }

    pub fn add_policy(&mut self, policy: Policy) {
        self.policies.insert(policy.id.0, policy);
    }

    /// "Resource — Role" labels of the roles of `resources`.
    pub fn add_role_labels(&mut self, resources: &[ResourceView]) {
        for r in resources {
            for role in &r.roles {
                self.roles.insert(
                    role.id.0,
                    format!("{} — {}", r.resource.display_name, role.display_name),
                );
            }
        }
    }

    /// Adds the names of `other` (theirs win).
    pub fn extend(&mut self, other: Self) {
        self.users.extend(other.users);
        self.groups.extend(other.groups);
        self.packages.extend(other.packages);
        self.roles.extend(other.roles);
        self.policies.extend(other.policies);
        self.catalogs.extend(other.catalogs);
        self.assignments.extend(other.assignments);
    }
}

/// Collects ids to resolve, then resolves them with one query per kind (policies and
/// assignments, which have no batch query, one query each).
#[derive(Default)]
pub struct Wanted {
    users: Vec<UserId>,
    groups: Vec<GroupId>,
    packages: Vec<PackageId>,
    policies: Vec<PolicyId>,
    assignments: Vec<AssignmentId>,
}

fn push<T: PartialEq>(ids: &mut Vec<T>, id: T) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

impl Wanted {
    pub fn user(&mut self, id: Uuid) {
        push(&mut self.users, UserId(id));
    }

    pub fn group(&mut self, id: Uuid) {
        push(&mut self.groups, GroupId(id));
    }

    pub fn package(&mut self, id: Uuid) {
        push(&mut self.packages, PackageId(id));
    }

    /// The policy itself (for `Names::policy`).
    pub fn policy(&mut self, id: PolicyId) {
        push(&mut self.policies, id);
    }

    /// The package an assignment is of (for `Names::assignment_package`).
    pub fn assignment(&mut self, id: AssignmentId) {
        push(&mut self.assignments, id);
    }

    /// Every user and group a policy names.
    pub fn principals_of(&mut self, s: &PolicySettings) {
        for (_, kind, id) in s.referenced_principals() {
            match kind {
                PrincipalKind::User => self.user(id),
                PrincipalKind::Group => self.group(id),
            }
        }
    }

    pub async fn resolve(mut self, conn: &mut Conn, tenant: TenantId) -> ServiceResult<Names> {
        let mut names = Names::default();
        for a in &self.assignments {
            if let Some(row) = db::assignments::get(conn, tenant, *a).await? {
                names.assignments.insert(a.0, row.package_id.0);
                push(&mut self.packages, row.package_id);
            }
        }
        if !self.users.is_empty() {
            for u in db::users::get_many(conn, tenant, &self.users).await? {
                names.add_user(&u);
            }
        }
        if !self.groups.is_empty() {
            for g in db::groups::get_many(conn, tenant, &self.groups).await? {
                names.groups.insert(g.id.0, g.display_name);
            }
        }
        if !self.packages.is_empty() {
            for p in db::packages::get_many(conn, tenant, &self.packages).await? {
                names.packages.insert(p.id.0, p.display_name);
            }
        }
        for id in self.policies {
            if let Some(p) = db::packages::get_policy(conn, tenant, id).await? {
                names.add_policy(p);
            }
        }
        Ok(names)
    }
}
