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
                let changed = changed(&[
                    ("name", x.display_name != c.name.trim()),
                    ("description", x.description != c.description),
                    ("enabled", x.enabled != c.enabled),
                    (
                        "externallyVisible",
                        x.externally_visible != c.externally_visible,
                    ),
                ]);
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
                let changed = changed(&[
                    ("name", e.display_name != x.name.trim()),
                    ("url", e.url != x.url),
                    ("behavior", e.behavior != behavior),
                    (
                        "timeoutMinutes",
                        i64::from(e.timeout_minutes) != x.timeout_minutes,
                    ),
                    ("onTimeout", e.on_timeout != on_timeout),
                ]);
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
