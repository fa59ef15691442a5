//! Plans and applies a configuration document. One walk does both: without a `Work`
//! it only checks and lists the changes (new objects get ids of their own so that
//! what refers to them resolves), with one it makes each change through the same
//! service a person's click would use, all in that one transaction.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::document::{Document, PackageDoc, ResourceDoc, RoleGrantDoc};
use super::export::strip_question_ids;
use super::plan::{Change, ChangeAction};
use super::refs::{for_each_extension, for_each_principal, kind};
use crate::crypto::Keys;
use crate::db::config::{self, Snapshot};
use crate::domain::authz::Role;
use crate::domain::connector::ConnectorType;
use crate::domain::extension::{CallbackOutcome, ExtensionBehavior};
use crate::domain::ids::{
    CatalogId, ExtensionId, GroupId, PackageId, PolicyId, ResourceId, ResourceRoleId,
    RoleAssignmentId, UserId,
};
use crate::domain::policy::PolicySettings;
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};
use crate::services::catalogs::{
    self, CatalogFields, NewConnector, NewLdap, NewResource, NewRole, ResourceKind,
};
use crate::services::extensions::{self, ExtensionInput};
use crate::services::packages::{self, PackageFields, PolicyInput};
use crate::services::roles::{self, NewRoleAssignment, Principal};
use crate::services::tx::Work;
use crate::services::{Caller, ServiceError, ServiceResult};

/// What apply needs besides the document: the keys that seal secrets and whether
/// private addresses may be called (as the server's settings say).
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub keys: &'a Keys,
    pub allow_private: bool,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The names of the fields whose values differ, for a plan's update line.
fn changed(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| *name)
        .collect()
}

/// A role, where it holds, and who holds it.
type Grant = (Role, Option<CatalogId>, Option<UserId>, Option<GroupId>);

/// One run over a document.
pub(super) struct Engine<'a> {
    pub caller: &'a Caller,
    pub env: Env<'a>,
    pub snap: Snapshot,
    pub prune: bool,
    pub errors: FieldErrors,
    pub changes: Vec<Change>,
    users: HashMap<String, UserId>,
    groups: HashMap<String, Vec<GroupId>>,
    catalogs: HashMap<String, CatalogId>,
    /// (catalog, lower-cased resource name) -> resource and its roles by lower-cased name.
    resources: HashMap<(CatalogId, String), (ResourceId, HashMap<String, ResourceRoleId>)>,
    extensions: HashMap<(CatalogId, String), ExtensionId>,
    packages: HashMap<(CatalogId, String), PackageId>,
    /// What the document names, for pruning the rest.
    kept_resources: HashSet<ResourceId>,
    kept_extensions: HashSet<ExtensionId>,
    kept_packages: HashSet<PackageId>,
    kept_policies: HashSet<PolicyId>,
    kept_roles: HashSet<RoleAssignmentId>,
    /// Roles the run grants, to refuse the same grant twice.
    granted: HashSet<Grant>,
    executing: bool,
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A service's refusal, told at the document's path.
fn at_path(path: &str, e: ServiceError, errors: &mut FieldErrors) -> Option<ServiceError> {
    match e {
        ServiceError::Domain(DomainError::Validation(fields)) => {
            for (f, m) in fields.0 {
                errors.add(format!("{path}.{f}"), m);
            }
            None
        }
        ServiceError::Domain(
            DomainError::Conflict(m) | DomainError::Forbidden(m) | DomainError::Stale(m),
        ) => {
            errors.add(path.to_string(), m);
            None
        }
        ServiceError::Domain(DomainError::NotFound(what)) => {
            errors.add(path.to_string(), format!("{what} not found"));
            None
        }
        other => Some(other),
    }
}

impl<'a> Engine<'a> {
    pub async fn new(
        work: &mut Work,
        caller: &'a Caller,
        env: Env<'a>,
        doc: &Document,
        prune: bool,
    ) -> ServiceResult<Self> {
        let tenant = caller.tenant_id();
        let snap = config::snapshot(work.conn(), tenant).await?;
        let (emails, group_names) = names_in(doc);
        let users = crate::db::users::by_emails(work.conn(), tenant, &emails)
            .await?
            .into_iter()
            .map(|u| (u.email.to_lowercase(), u.id))
            .collect();
        let mut groups: HashMap<String, Vec<GroupId>> = HashMap::new();
        for (name, id) in config::groups_by_name(work.conn(), tenant, &group_names).await? {
            groups.entry(name).or_default().push(id);
        }
        Ok(Self {
            caller,
            env,
            snap,
            prune,
            errors: FieldErrors::new(),
            changes: Vec::new(),
            users,
            groups,
            catalogs: HashMap::new(),
            resources: HashMap::new(),
            extensions: HashMap::new(),
            packages: HashMap::new(),
            kept_resources: HashSet::new(),
            kept_extensions: HashSet::new(),
            kept_packages: HashSet::new(),
            kept_policies: HashSet::new(),
            kept_roles: HashSet::new(),
            granted: HashSet::new(),
            executing: false,
        })
    }

    fn change(
        &mut self,
        action: ChangeAction,
        kind: &str,
        name: String,
        path: &str,
        fields: Vec<&str>,
    ) {
        self.changes.push(Change {
            action,
            kind: kind.to_string(),
            name,
            path: (!path.is_empty()).then(|| path.to_string()),
            fields: fields.into_iter().map(str::to_string).collect(),
        });
    }

    /// Turns a service's refusal into errors at `path`; other failures stop the run.
    /// While changes are being made, the first refusal ends the run: the transaction
    /// is rolled back and nothing is kept.
    fn refused(&mut self, path: &str, e: ServiceError) -> ServiceResult<()> {
        match at_path(path, e, &mut self.errors) {
            None if self.executing => {
                Err(DomainError::Validation(std::mem::take(&mut self.errors)).into())
            }
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    fn user(&mut self, path: &str, email: &str) -> Option<UserId> {
        let found = self.users.get(&key(email)).copied();
        if found.is_none() {
            self.errors
                .add(path.to_string(), format!("no user with email {email}"));
        }
        found
    }

    fn group(&mut self, path: &str, name: &str) -> Option<GroupId> {
        match self.groups.get(name).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            Some(many) if many.len() > 1 => {
                self.errors.add(
                    path.to_string(),
                    format!(
                        "{} groups are named {name}; rename all but one to refer to it",
                        many.len()
                    ),
                );
                None
            }
            _ => {
                self.errors
                    .add(path.to_string(), format!("no group named {name}"));
                None
            }
        }
    }

    /// The whole run, in dependency order: catalogs, their resources, extensions and
    /// roles, packages, their incompatibilities and policies, tenant roles, then
    /// (with prune) the deletions, dependents first.
    pub async fn run(&mut self, mut work: Option<&mut Work>, doc: &Document) -> ServiceResult<()> {
        self.executing = work.is_some();
        let mut seen = HashSet::new();
        for (i, c) in doc.catalogs.iter().enumerate() {
            let path = format!("catalogs[{i}]");
            if !seen.insert(key(&c.name)) {
                self.errors.add(
                    format!("{path}.name"),
                    format!("the catalog {} is named twice", c.name),
                );
                continue;
            }
            let Some(catalog) = self.catalog(work.as_deref_mut(), &path, c).await? else {
                continue;
            };
            let mut names = HashSet::new();
            for (j, r) in c.resources.iter().enumerate() {
                let rpath = format!("{path}.resources[{j}]");
                if !names.insert(key(&r.name)) {
                    self.errors.add(
                        format!("{rpath}.name"),
                        format!("the resource {} is named twice in this catalog", r.name),
                    );
                    continue;
                }
                self.resource(work.as_deref_mut(), &rpath, catalog, r)
                    .await?;
            }
            let mut names = HashSet::new();
            for (j, x) in c.extensions.iter().enumerate() {
                let xpath = format!("{path}.extensions[{j}]");
                if !names.insert(key(&x.name)) {
                    self.errors.add(
                        format!("{xpath}.name"),
                        format!("the extension {} is named twice in this catalog", x.name),
                    );
                    continue;
                }
                self.extension(work.as_deref_mut(), &xpath, catalog, x)
                    .await?;
            }
            for (j, g) in c.roles.iter().enumerate() {
                self.role(
                    work.as_deref_mut(),
                    &format!("{path}.roles[{j}]"),
                    Some(catalog),
                    g,
                )
                .await?;
            }
        }
        let mut seen = HashSet::new();
        for (i, p) in doc.packages.iter().enumerate() {
            let path = format!("packages[{i}]");
            if !seen.insert((key(&p.catalog), key(&p.name))) {
                self.errors.add(
                    format!("{path}.name"),
                    format!(
                        "the access package {} is named twice in catalog {}",
                        p.name, p.catalog
                    ),
                );
                continue;
            }
            self.package(work.as_deref_mut(), &path, p).await?;
        }
        for (i, p) in doc.packages.iter().enumerate() {
            self.incompatibilities(work.as_deref_mut(), &format!("packages[{i}]"), p)
                .await?;
        }
        for (i, p) in doc.packages.iter().enumerate() {
            let Some(catalog) = self.catalogs.get(&key(&p.catalog)).copied() else {
                continue;
            };
            let Some(package) = self.packages.get(&(catalog, key(&p.name))).copied() else {
                continue;
            };
            let mut names = HashSet::new();
            for (j, x) in p.policies.iter().enumerate() {
                let path = format!("packages[{i}].policies[{j}]");
                if !names.insert(key(&x.name)) {
                    self.errors.add(
                        format!("{path}.name"),
                        format!("the policy {} is named twice in this package", x.name),
                    );
                    continue;
                }
                self.policy(work.as_deref_mut(), &path, catalog, package, x)
                    .await?;
            }
        }
        for (i, g) in doc.roles.iter().enumerate() {
            self.role(work.as_deref_mut(), &format!("roles[{i}]"), None, g)
                .await?;
        }
        if self.prune {
            self.prune_rest(work, doc).await?;
        }
        Ok(())
    }
}

/// Every email and group name the document uses, to look them up at once.
fn names_in(doc: &Document) -> (Vec<String>, Vec<String>) {
    let mut emails = Vec::new();
    let mut groups = Vec::new();
    let grant = |g: &RoleGrantDoc, emails: &mut Vec<String>, groups: &mut Vec<String>| {
        emails.extend(g.user.iter().map(|e| key(e)));
        groups.extend(g.group.iter().cloned());
    };
    for c in &doc.catalogs {
        for g in &c.roles {
            grant(g, &mut emails, &mut groups);
        }
        for r in c.resources.iter().filter(|r| r.kind == "group") {
            groups.push(r.name.clone());
        }
    }
    for g in &doc.roles {
        grant(g, &mut emails, &mut groups);
    }
    for p in &doc.packages {
        groups.extend(p.incompatible_groups.iter().cloned());
        for x in &p.policies {
            let mut v = Value::Object(x.settings.clone());
            for_each_principal(&mut v, &mut |_, m| {
                if let Some(e) = m.get("email").and_then(Value::as_str) {
                    emails.push(key(e));
                }
                if let Some(g) = m.get("group").and_then(Value::as_str) {
                    groups.push(g.to_string());
                }
            });
        }
    }
    emails.sort();
    emails.dedup();
    groups.sort();
    groups.dedup();
    (emails, groups)
}

/// A connector of a document as a service takes it; `None` with errors added when
/// it does not parse.
pub(super) fn connector_input(
    path: &str,
    v: &Value,
    errors: &mut FieldErrors,
) -> Option<NewConnector> {
    let Value::Object(m) = v else {
        errors.add(
            path.to_string(),
            "a connector is an object with a type (webhook, scim or ldap)",
        );
        return None;
    };
    let allowed = [
        "type",
        "url",
        "secret",
        "baseUrl",
        "token",
        "deactivateOnLastRevoke",
        "startTls",
        "bindDn",
        "bindPassword",
        "baseDn",
        "userFilter",
        "memberAttribute",
    ];
    for k in m.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.add(format!("{path}.{k}"), "unknown field");
    }
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let flag = |k: &str| m.get(k).and_then(Value::as_bool);
    let kind = match text("type").as_deref().and_then(ConnectorType::parse) {
        Some(k) => k,
        None => {
            errors.add(format!("{path}.type"), "choose webhook, scim or ldap");
            return None;
        }
    };
    Some(NewConnector {
        kind,
        url: text("url"),
        secret: text("secret"),
        base_url: text("baseUrl"),
        token: text("token"),
        deactivate_on_last_revoke: flag("deactivateOnLastRevoke"),
        ldap: (kind == ConnectorType::Ldap).then(|| NewLdap {
            start_tls: flag("startTls"),
            bind_dn: text("bindDn"),
            bind_password: text("bindPassword"),
            base_dn: text("baseDn"),
            user_filter: text("userFilter"),
            member_attribute: text("memberAttribute"),
        }),
    })
}

/// A connector without its secrets, to compare with a stored one.
fn without_secrets(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        for k in ["secret", "token", "bindPassword"] {
            m.remove(k);
        }
    }
    v
}

/// Settings as stored: defaults filled in, question ids left out.
fn normalized(settings: &PolicySettings) -> Value {
    let mut v = serde_json::to_value(settings).unwrap_or_default();
    strip_question_ids(&mut v);
    v
}

fn policy_settings_value(m: &Map<String, Value>) -> Value {
    Value::Object(m.clone())
}

mod steps;

impl Engine<'_> {
    /// How many objects of the tenant the document leaves out (what prune would delete).
    pub fn not_in_document(&self) -> usize {
        if self.prune {
            return 0;
        }
        let kept_catalogs: HashSet<CatalogId> = self.catalogs.values().copied().collect();
        let s = &self.snap;
        s.catalogs
            .iter()
            .filter(|c| !kept_catalogs.contains(&c.id))
            .count()
            + s.resources
                .iter()
                .filter(|r| {
                    kept_catalogs.contains(&r.catalog_id) && !self.kept_resources.contains(&r.id)
                })
                .count()
            + s.extensions
                .iter()
                .filter(|e| !self.kept_extensions.contains(&e.id))
                .count()
            + s.packages
                .iter()
                .filter(|p| !self.kept_packages.contains(&p.id))
                .count()
            + s.policies
                .iter()
                .filter(|p| {
                    self.kept_packages.contains(&p.package_id)
                        && !self.kept_policies.contains(&p.id)
                })
                .count()
            + s.role_assignments
                .iter()
                .filter(|r| !self.kept_roles.contains(&r.id))
                .count()
    }
}
mod package_steps;
mod policies;
