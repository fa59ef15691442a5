//! The steps of a run, one per kind of object.

use super::*;

impl Engine<'_> {
    pub(super) async fn catalog(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        c: &super::super::document::CatalogDoc,
    ) -> ServiceResult<Option<CatalogId>> {
        let mut ok = true;
        if let Err(e) = DisplayName::parse(&c.name) {
            self.errors.add(format!("{path}.name"), e.to_string());
            ok = false;
        }
        if let Err(e) = description(Some(&c.description)) {
            self.errors
                .add(format!("{path}.description"), e.to_string());
            ok = false;
        }
        if !ok {
            return Ok(None);
        }
        let fields = CatalogFields {
            display_name: Some(c.name.clone()),
            description: Some(Some(c.description.clone())),
            enabled: Some(c.enabled),
            externally_visible: Some(c.externally_visible),
            expected_version: None,
        };
        let existing = self
            .snap
            .catalogs
            .iter()
            .find(|x| key(&x.display_name) == key(&c.name))
            .cloned();
        let id = match existing {
            Some(x) => {
                let mut changed = Vec::new();
                if x.display_name != c.name.trim() {
                    changed.push("name");
                }
                if x.description != c.description {
                    changed.push("description");
                }
                if x.enabled != c.enabled {
                    changed.push("enabled");
                }
                if x.externally_visible != c.externally_visible {
                    changed.push("externallyVisible");
                }
                if !changed.is_empty() {
                    self.change(
                        ChangeAction::Update,
                        "catalog",
                        c.name.clone(),
                        path,
                        changed,
                    );
                    if let Some(w) = work
                        && let Err(e) = catalogs::update_in(w, self.caller, x.id, fields).await
                    {
                        self.refused(path, e)?;
                    }
                }
                x.id
            }
            None => {
                self.change(
                    ChangeAction::Create,
                    "catalog",
                    c.name.clone(),
                    path,
                    Vec::new(),
                );
                match work {
                    None => CatalogId::new(),
                    Some(w) => match catalogs::create_in(w, self.caller, fields).await {
                        Ok((catalog, _)) => catalog.id,
                        Err(e) => {
                            self.refused(path, e)?;
                            return Ok(None);
                        }
                    },
                }
            }
        };
        self.catalogs.insert(key(&c.name), id);
        Ok(Some(id))
    }

    pub(super) async fn resource(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        catalog: CatalogId,
        r: &ResourceDoc,
    ) -> ServiceResult<()> {
        let kind = match r.kind.as_str() {
            "group" => ResourceKind::Group,
            "application" => ResourceKind::Application,
            "site" => ResourceKind::Site,
            "custom" => ResourceKind::Custom,
            _ => {
                self.errors.add(
                    format!("{path}.type"),
                    "choose group, application, site or custom",
                );
                return Ok(());
            }
        };
        let group = if kind == ResourceKind::Group {
            if !r.roles.is_empty() {
                self.errors.add(
                    format!("{path}.roles"),
                    "group resources always have the roles Member and Owner; leave roles out",
                );
            }
            match self.group(&format!("{path}.name"), &r.name) {
                Some(g) => Some(g),
                None => return Ok(()),
            }
        } else {
            None
        };
        let connector = match &r.connector {
            None => None,
            Some(v) => match connector_input(&format!("{path}.connector"), v, &mut self.errors) {
                Some(c) => Some(c),
                None => return Ok(()),
            },
        };
        let existing = self
            .snap
            .resources
            .iter()
            .find(|x| {
                x.catalog_id == catalog
                    && match group {
                        Some(g) => x.group_id == Some(g),
                        None => x.group_id.is_none() && key(&x.display_name) == key(&r.name),
                    }
            })
            .cloned();
        let name = r.name.clone();
        match existing {
            Some(x) => {
                self.kept_resources.insert(x.id);
                let roles: Vec<_> = self
                    .snap
                    .resource_roles
                    .iter()
                    .filter(|role| role.resource_id == x.id)
                    .cloned()
                    .collect();
                if group.is_none() {
                    let stored: Vec<(String, String)> = roles
                        .iter()
                        .map(|role| {
                            (
                                role.display_name.clone(),
                                role.connector_value
                                    .clone()
                                    .unwrap_or_else(|| role.display_name.clone()),
                            )
                        })
                        .collect();
                    let wanted: Vec<(String, String)> = r
                        .roles
                        .iter()
                        .map(|role| {
                            (
                                role.name.clone(),
                                role.value.clone().unwrap_or_else(|| role.name.clone()),
                            )
                        })
                        .collect();
                    if stored != wanted {
                        self.errors.add(
                            format!("{path}.roles"),
                            "the roles of an existing resource stay as they are; add a new resource for other roles",
                        );
                    }
                    if x.description != r.description {
                        self.errors.add(
                            format!("{path}.description"),
                            "the description of an existing resource stays as it is",
                        );
                    }
                }
                let stored = x
                    .connector
                    .as_ref()
                    .and_then(|c| serde_json::to_value(c).ok());
                let wanted = r.connector.as_ref().map(without_secrets);
                if stored != wanted {
                    self.change(
                        ChangeAction::Update,
                        "resource",
                        name,
                        path,
                        vec!["connector"],
                    );
                    if let Some(w) = work
                        && let Err(e) = catalogs::update_connector_in(
                            w,
                            self.caller,
                            catalog,
                            x.id,
                            connector,
                            self.env.allow_private,
                            self.env.keys,
                        )
                        .await
                    {
                        self.refused(path, e)?;
                    }
                }
                let by_name = roles
                    .iter()
                    .map(|role| (key(&role.display_name), role.id))
                    .collect();
                self.resources
                    .insert((catalog, key(&r.name)), (x.id, by_name));
            }
            None => {
                self.change(ChangeAction::Create, "resource", name, path, Vec::new());
                let input = NewResource {
                    kind: Some(kind),
                    group_id: group,
                    display_name: (kind != ResourceKind::Group).then(|| r.name.clone()),
                    description: Some(r.description.clone()),
                    roles: (kind != ResourceKind::Group).then(|| {
                        r.roles
                            .iter()
                            .map(|role| NewRole::Mapped {
                                display_name: Some(role.name.clone()),
                                connector_value: role.value.clone(),
                            })
                            .collect()
                    }),
                    connector,
                };
                let (id, by_name) = match work {
                    None => {
                        let mut errors = FieldErrors::new();
                        check_new_resource(&input, self.env.allow_private, &mut errors).await;
                        for (f, m) in errors.0 {
                            self.errors.add(format!("{path}.{f}"), m);
                        }
                        let names: Vec<String> = if kind == ResourceKind::Group {
                            vec!["member".into(), "owner".into()]
                        } else {
                            r.roles.iter().map(|role| key(&role.name)).collect()
                        };
                        (
                            ResourceId::new(),
                            names
                                .into_iter()
                                .map(|n| (n, ResourceRoleId::new()))
                                .collect(),
                        )
                    }
                    Some(w) => match catalogs::add_resource_in(
                        w,
                        self.caller,
                        catalog,
                        input,
                        self.env.allow_private,
                        self.env.keys,
                    )
                    .await
                    {
                        Ok((view, _)) => (
                            view.resource.id,
                            view.roles
                                .iter()
                                .map(|role| (key(&role.display_name), role.id))
                                .collect(),
                        ),
                        Err(e) => return self.refused(path, e),
                    },
                };
                self.kept_resources.insert(id);
                self.resources
                    .insert((catalog, key(&r.name)), (id, by_name));
            }
        }
        Ok(())
    }

    pub(super) async fn extension(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        catalog: CatalogId,
        x: &super::super::document::ExtensionDoc,
    ) -> ServiceResult<()> {
        let behavior = ExtensionBehavior::parse(&x.behavior);
        if behavior.is_none() {
            self.errors.add(
                format!("{path}.behavior"),
                "choose fireAndForget or waitForCallback",
            );
        }
        let on_timeout = CallbackOutcome::parse(&x.on_timeout);
        if on_timeout.is_none() {
            self.errors
                .add(format!("{path}.onTimeout"), "choose continue or deny");
        }
        let (Some(behavior), Some(on_timeout)) = (behavior, on_timeout) else {
            return Ok(());
        };
        let existing = self
            .snap
            .extensions
            .iter()
            .find(|e| e.catalog_id == catalog && key(&e.display_name) == key(&x.name))
            .cloned();
        let mut input = ExtensionInput {
            display_name: Some(x.name.clone()),
            url: Some(x.url.clone()),
            secret: x.secret.clone(),
            behavior: Some(behavior),
            timeout_minutes: Some(x.timeout_minutes),
            on_timeout: Some(on_timeout),
        };
        let id = match existing {
            Some(e) => {
                // A secret in the document is for creating; the stored one is kept.
                input.secret = None;
                let mut changed = Vec::new();
                if e.display_name != x.name.trim() {
                    changed.push("name");
                }
                if e.url != x.url {
                    changed.push("url");
                }
                if e.behavior != behavior {
                    changed.push("behavior");
                }
                if i64::from(e.timeout_minutes) != x.timeout_minutes {
                    changed.push("timeoutMinutes");
                }
                if e.on_timeout != on_timeout {
                    changed.push("onTimeout");
                }
                if !changed.is_empty() {
                    self.change(
                        ChangeAction::Update,
                        "customExtension",
                        x.name.clone(),
                        path,
                        changed,
                    );
                    match work {
                        Some(w) => {
                            if let Err(err) = extensions::update_in(
                                w,
                                self.caller,
                                e.id,
                                input,
                                self.env.allow_private,
                                self.env.keys,
                            )
                            .await
                            {
                                self.refused(path, err)?;
                            }
                        }
                        None => self.check_extension(path, &input, false).await,
                    }
                }
                e.id
            }
            None => {
                self.change(
                    ChangeAction::Create,
                    "customExtension",
                    x.name.clone(),
                    path,
                    Vec::new(),
                );
                match work {
                    None => {
                        self.check_extension(path, &input, true).await;
                        ExtensionId::new()
                    }
                    Some(w) => match extensions::create_in(
                        w,
                        self.caller,
                        catalog,
                        input,
                        self.env.allow_private,
                        self.env.keys,
                    )
                    .await
                    {
                        Ok((e, _)) => e.id,
                        Err(err) => return self.refused(path, err),
                    },
                }
            }
        };
        self.kept_extensions.insert(id);
        self.extensions.insert((catalog, key(&x.name)), id);
        Ok(())
    }

    async fn check_extension(&mut self, path: &str, input: &ExtensionInput, creating: bool) {
        let mut errors = FieldErrors::new();
        extensions::check_input(input, creating, self.env.allow_private, &mut errors).await;
        for (f, m) in errors.0 {
            self.errors.add(format!("{path}.{f}"), m);
        }
    }

    pub(super) async fn role(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        catalog: Option<CatalogId>,
        g: &RoleGrantDoc,
    ) -> ServiceResult<()> {
        let Some(role) = Role::parse(&g.role) else {
            self.errors.add(format!("{path}.role"), "no such role");
            return Ok(());
        };
        if role.is_catalog_scoped() != catalog.is_some() {
            let where_ = if catalog.is_some() {
                "a catalog's roles"
            } else {
                "the tenant's roles"
            };
            self.errors.add(
                format!("{path}.role"),
                format!("{} is not one of {where_}", g.role),
            );
            return Ok(());
        }
        let principal = match (&g.user, &g.group) {
            (Some(email), None) => self
                .user(&format!("{path}.user"), email)
                .map(Principal::User),
            (None, Some(name)) => self
                .group(&format!("{path}.group"), name)
                .map(Principal::Group),
            _ => {
                self.errors
                    .add(path.to_string(), "name either a user (email) or a group");
                None
            }
        };
        let Some(principal) = principal else {
            return Ok(());
        };
        let (user, group) = match principal {
            Principal::User(u) => (Some(u), None),
            Principal::Group(g) => (None, Some(g)),
        };
        let existing = self
            .snap
            .role_assignments
            .iter()
            .find(|r| {
                r.role == role
                    && r.catalog_id == catalog
                    && r.user_id == user
                    && r.group_id == group
            })
            .map(|r| r.id);
        let name = format!(
            "{} {}",
            g.role,
            g.user
                .clone()
                .or_else(|| g.group.clone())
                .unwrap_or_default()
        );
        match existing {
            Some(id) => {
                self.kept_roles.insert(id);
            }
            None => {
                if !self.granted.insert((role, catalog, user, group)) {
                    self.errors.add(
                        path.to_string(),
                        "this role is granted twice in the document",
                    );
                    return Ok(());
                }
                self.change(
                    ChangeAction::Create,
                    "roleAssignment",
                    name,
                    path,
                    Vec::new(),
                );
                if let Some(w) = work {
                    let input = NewRoleAssignment {
                        role,
                        principal,
                        catalog_id: catalog,
                    };
                    if let Err(e) = roles::create_in(w, self.caller, input).await {
                        self.refused(path, e)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) async fn package(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        p: &PackageDoc,
    ) -> ServiceResult<()> {
        let Some(catalog) = self.catalog_named(&format!("{path}.catalog"), &p.catalog) else {
            return Ok(());
        };
        if let Err(e) = DisplayName::parse(&p.name) {
            self.errors.add(format!("{path}.name"), e.to_string());
            return Ok(());
        }
        let mut role_ids = Vec::new();
        for (j, r) in p.roles.iter().enumerate() {
            match self.resources.get(&(catalog, key(&r.resource))) {
                None => self.errors.add(
                    format!("{path}.roles[{j}].resource"),
                    format!("catalog {} has no resource named {}", p.catalog, r.resource),
                ),
                Some((_, roles)) => match roles.get(&key(&r.role)) {
                    None => self.errors.add(
                        format!("{path}.roles[{j}].role"),
                        format!("resource {} has no role named {}", r.resource, r.role),
                    ),
                    Some(id) => role_ids.push(*id),
                },
            }
        }
        let existing = self
            .snap
            .packages
            .iter()
            .find(|x| x.catalog_id == catalog && key(&x.display_name) == key(&p.name))
            .cloned();
        let fields = PackageFields {
            catalog_id: Some(catalog),
            display_name: Some(p.name.clone()),
            description: Some(Some(p.description.clone())),
            hidden: Some(p.hidden),
            resource_role_ids: Some(role_ids.clone()),
            incompatible_package_ids: None,
            incompatible_group_ids: None,
            expected_version: None,
        };
        let label = format!("{} / {}", p.catalog, p.name);
        let id = match existing {
            Some(x) => {
                let mut changed = Vec::new();
                if x.display_name != p.name.trim() {
                    changed.push("name");
                }
                if x.description != p.description {
                    changed.push("description");
                }
                if x.hidden != p.hidden {
                    changed.push("hidden");
                }
                let stored: HashSet<ResourceRoleId> = self
                    .snap
                    .package_roles
                    .iter()
                    .filter(|(pk, _)| *pk == x.id)
                    .map(|(_, r)| *r)
                    .collect();
                if stored != role_ids.iter().copied().collect() {
                    changed.push("roles");
                }
                if !changed.is_empty() {
                    self.change(ChangeAction::Update, "accessPackage", label, path, changed);
                    if let Some(w) = work
                        && let Err(e) = packages::update_in(w, self.caller, x.id, fields).await
                    {
                        self.refused(path, e)?;
                    }
                }
                x.id
            }
            None => {
                self.change(
                    ChangeAction::Create,
                    "accessPackage",
                    label,
                    path,
                    Vec::new(),
                );
                match work {
                    None => PackageId::new(),
                    Some(w) => match packages::create_in(w, self.caller, fields).await {
                        Ok((view, _)) => view.package.id,
                        Err(e) => return self.refused(path, e),
                    },
                }
            }
        };
        self.kept_packages.insert(id);
        self.packages.insert((catalog, key(&p.name)), id);
        Ok(())
    }

    fn catalog_named(&mut self, path: &str, name: &str) -> Option<CatalogId> {
        if let Some(id) = self.catalogs.get(&key(name)) {
            return Some(*id);
        }
        match self
            .snap
            .catalogs
            .iter()
            .find(|c| key(&c.display_name) == key(name))
        {
            Some(c) => {
                self.catalogs.insert(key(name), c.id);
                Some(c.id)
            }
            None => {
                self.errors
                    .add(path.to_string(), format!("no catalog named {name}"));
                None
            }
        }
    }

    pub(super) async fn incompatibilities(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        p: &PackageDoc,
    ) -> ServiceResult<()> {
        let Some(catalog) = self.catalogs.get(&key(&p.catalog)).copied() else {
            return Ok(());
        };
        let Some(id) = self.packages.get(&(catalog, key(&p.name))).copied() else {
            return Ok(());
        };
        let mut others = Vec::new();
        for (j, r) in p.incompatible_packages.iter().enumerate() {
            let found = self
                .catalogs
                .get(&key(&r.catalog))
                .copied()
                .or_else(|| {
                    self.snap
                        .catalogs
                        .iter()
                        .find(|c| key(&c.display_name) == key(&r.catalog))
                        .map(|c| c.id)
                })
                .and_then(|c| {
                    self.packages
                        .get(&(c, key(&r.package)))
                        .copied()
                        .or_else(|| {
                            self.snap
                                .packages
                                .iter()
                                .find(|x| {
                                    x.catalog_id == c && key(&x.display_name) == key(&r.package)
                                })
                                .map(|x| x.id)
                        })
                });
            match found {
                Some(other) => others.push(other),
                None => self.errors.add(
                    format!("{path}.incompatiblePackages[{j}]"),
                    format!("no access package {} in catalog {}", r.package, r.catalog),
                ),
            }
        }
        let mut groups = Vec::new();
        for (j, g) in p.incompatible_groups.iter().enumerate() {
            if let Some(g) = self.group(&format!("{path}.incompatibleGroups[{j}]"), g) {
                groups.push(g);
            }
        }
        let stored_packages: HashSet<PackageId> = self
            .snap
            .incompatible_packages
            .iter()
            .filter(|(pk, _)| *pk == id)
            .map(|(_, o)| *o)
            .collect();
        let stored_groups: HashSet<GroupId> = self
            .snap
            .incompatible_groups
            .iter()
            .filter(|(pk, _)| *pk == id)
            .map(|(_, g)| *g)
            .collect();
        let packages_differ = stored_packages != others.iter().copied().collect();
        let groups_differ = stored_groups != groups.iter().copied().collect();
        if !packages_differ && !groups_differ {
            return Ok(());
        }
        let label = format!("{} / {}", p.catalog, p.name);
        let created = self.changes.iter().any(|c| {
            c.kind == "accessPackage" && c.action == ChangeAction::Create && c.name == label
        });
        if !created {
            let mut fields = Vec::new();
            if packages_differ {
                fields.push("incompatiblePackages");
            }
            if groups_differ {
                fields.push("incompatibleGroups");
            }
            match self
                .changes
                .iter_mut()
                .find(|c| c.kind == "accessPackage" && c.name == label)
            {
                Some(c) => c.fields.extend(fields.into_iter().map(str::to_string)),
                None => self.change(ChangeAction::Update, "accessPackage", label, path, fields),
            }
        }
        if let Some(w) = work {
            let fields = PackageFields {
                incompatible_package_ids: Some(others),
                incompatible_group_ids: Some(groups),
                ..PackageFields::default()
            };
            if let Err(e) = packages::update_in(w, self.caller, id, fields).await {
                self.refused(path, e)?;
            }
        }
        Ok(())
    }
}

/// The checks a new resource gets before anything is written (a run without work).
async fn check_new_resource(input: &NewResource, allow_private: bool, errors: &mut FieldErrors) {
    if let Some(n) = &input.display_name
        && let Err(e) = DisplayName::parse(n)
    {
        errors.add("name", e.to_string());
    }
    if let Err(e) = description(input.description.as_deref()) {
        errors.add("description", e.to_string());
    }
    if let Some(c) = &input.connector {
        catalogs::check_connector(c, allow_private, false, errors).await;
    }
}
