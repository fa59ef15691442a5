//! Policies, whose settings name people, groups and extensions, and pruning.

use super::*;

impl Engine<'_> {
    /// The settings of a document's policy with ids for names, or `None` with errors.
    fn resolve_settings(
        &mut self,
        path: &str,
        catalog: CatalogId,
        settings: &Map<String, Value>,
    ) -> Option<PolicySettings> {
        let mut v = policy_settings_value(settings);
        let mut errors: Vec<(String, String)> = Vec::new();
        let (users, groups) = (&self.users, &self.groups);
        for_each_principal(&mut v, &mut |p, m| {
            let found = match kind(m) {
                "user" => match m.remove("email") {
                    Some(Value::String(e)) => match users.get(&key(&e)) {
                        Some(id) => Some(id.0),
                        None => {
                            errors.push((format!("{p}.email"), format!("no user with email {e}")));
                            None
                        }
                    },
                    Some(_) => {
                        errors.push((format!("{p}.email"), "an email is text".into()));
                        None
                    }
                    None => None,
                },
                "group" => match m.remove("group") {
                    Some(Value::String(g)) => match groups.get(&g).map(Vec::as_slice) {
                        Some([one]) => Some(one.0),
                        Some(many) if many.len() > 1 => {
                            errors.push((
                                format!("{p}.group"),
                                format!("{} groups are named {g}", many.len()),
                            ));
                            None
                        }
                        _ => {
                            errors.push((format!("{p}.group"), format!("no group named {g}")));
                            None
                        }
                    },
                    Some(_) => {
                        errors.push((format!("{p}.group"), "a group is named by text".into()));
                        None
                    }
                    None => None,
                },
                _ => None,
            };
            if let Some(id) = found {
                m.insert("id".into(), Value::String(id.to_string()));
            }
        });
        let extensions = &self.extensions;
        let stored = &self.snap.extensions;
        for_each_extension(&mut v, &mut |p, m| {
            if let Some(Value::String(name)) = m.remove("extension") {
                let found = extensions.get(&(catalog, key(&name))).copied().or_else(|| {
                    stored
                        .iter()
                        .find(|e| e.catalog_id == catalog && key(&e.display_name) == key(&name))
                        .map(|e| e.id)
                });
                match found {
                    Some(id) => {
                        m.insert("extensionId".into(), Value::String(id.0.to_string()));
                    }
                    None => errors.push((
                        format!("{p}.extension"),
                        format!("the catalog has no custom extension named {name}"),
                    )),
                }
            }
        });
        for (f, m) in errors {
            self.errors.add(format!("{path}.{f}"), m);
        }
        match serde_path_to_error::deserialize::<_, PolicySettings>(v) {
            Ok(s) => Some(s),
            Err(e) => {
                let at = e.path().to_string();
                let field = if at == "." {
                    path.to_string()
                } else {
                    format!("{path}.{at}")
                };
                self.errors.add(field, e.into_inner().to_string());
                None
            }
        }
    }

    pub(super) async fn policy(
        &mut self,
        work: Option<&mut Work>,
        path: &str,
        catalog: CatalogId,
        package: PackageId,
        x: &super::super::document::PolicyDoc,
    ) -> ServiceResult<()> {
        if let Err(e) = DisplayName::parse(&x.name) {
            self.errors.add(format!("{path}.name"), e.to_string());
        }
        let Some(mut settings) = self.resolve_settings(path, catalog, &x.settings) else {
            return Ok(());
        };
        let existing = self
            .snap
            .policies
            .iter()
            .find(|p| p.package_id == package && key(&p.display_name) == key(&x.name))
            .cloned();
        for (f, m) in settings
            .validate(self.env.now, existing.as_ref().map(|p| &p.settings.0))
            .0
        {
            self.errors.add(format!("{path}.{f}"), m);
        }
        let label = x.name.clone();
        match existing {
            Some(p) => {
                self.kept_policies.insert(p.id);
                for q in settings.questions.iter_mut().filter(|q| q.id.is_none()) {
                    q.id = p
                        .settings
                        .0
                        .questions
                        .iter()
                        .find(|old| old.text == q.text)
                        .and_then(|old| old.id);
                }
                let changed = changed(&[
                    ("name", p.display_name != x.name.trim()),
                    (
                        "settings",
                        normalized(&p.settings.0) != normalized(&settings),
                    ),
                ]);
                if changed.is_empty() {
                    return Ok(());
                }
                self.change(ChangeAction::Update, "policy", label, path, changed);
                if let Some(w) = work {
                    let input = PolicyInput {
                        display_name: Some(x.name.clone()),
                        settings,
                        expected_version: None,
                    };
                    if let Err(e) = packages::replace_policy_in(w, self.caller, p.id, input).await {
                        self.refused(path, e)?;
                    }
                }
            }
            None => {
                self.change(ChangeAction::Create, "policy", label, path, Vec::new());
                if let Some(w) = work {
                    let input = PolicyInput {
                        display_name: Some(x.name.clone()),
                        settings,
                        expected_version: None,
                    };
                    match packages::create_policy_in(w, self.caller, package, input).await {
                        Ok((p, _)) => {
                            self.kept_policies.insert(p.id);
                        }
                        Err(e) => self.refused(path, e)?,
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes what the document leaves out, dependents first: policies, packages,
    /// roles, extensions, resources, catalogs.
    pub(super) async fn prune_rest(
        &mut self,
        mut work: Option<&mut Work>,
        _doc: &Document,
    ) -> ServiceResult<()> {
        let kept_catalogs: HashSet<CatalogId> = self.catalogs.values().copied().collect();
        let catalog_name = |s: &Snapshot, id: CatalogId| {
            s.catalogs
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.display_name.clone())
                .unwrap_or_default()
        };
        let gone_packages: Vec<_> = self
            .snap
            .packages
            .iter()
            .filter(|p| !self.kept_packages.contains(&p.id))
            .cloned()
            .collect();
        let gone_policies: Vec<_> = self
            .snap
            .policies
            .iter()
            .filter(|p| {
                self.kept_packages.contains(&p.package_id) && !self.kept_policies.contains(&p.id)
            })
            .cloned()
            .collect();
        for p in gone_policies {
            self.change(
                ChangeAction::Delete,
                "policy",
                p.display_name.clone(),
                "",
                Vec::new(),
            );
            if let Some(w) = work.as_deref_mut()
                && let Err(e) = packages::delete_policy_in(w, self.caller, p.id).await
            {
                self.refused(&format!("policy {}", p.display_name), e)?;
            }
        }
        for p in gone_packages {
            let label = format!(
                "{} / {}",
                catalog_name(&self.snap, p.catalog_id),
                p.display_name
            );
            self.change(
                ChangeAction::Delete,
                "accessPackage",
                label.clone(),
                "",
                Vec::new(),
            );
            if let Some(w) = work.as_deref_mut()
                && let Err(e) = packages::delete_in(w, self.caller, p.id).await
            {
                self.refused(&format!("accessPackage {label}"), e)?;
            }
        }
        let gone_roles: Vec<_> = self
            .snap
            .role_assignments
            .iter()
            .filter(|r| !self.kept_roles.contains(&r.id))
            .cloned()
            .collect();
        for r in gone_roles {
            if r.role == Role::TenantAdmin && r.user_id == Some(self.caller.user_id()) {
                self.errors.add("roles", format!("the document leaves out the tenantAdmin role of {}, who applies it; keep it in the document", self.caller.user.email));
                continue;
            }
            self.change(
                ChangeAction::Delete,
                "roleAssignment",
                r.role.as_str().to_string(),
                "",
                Vec::new(),
            );
            if let Some(w) = work.as_deref_mut()
                && let Err(e) = roles::delete_in(w, self.caller, r.id).await
            {
                self.refused(&format!("roleAssignment {}", r.role.as_str()), e)?;
            }
        }
        let gone_extensions: Vec<_> = self
            .snap
            .extensions
            .iter()
            .filter(|e| !self.kept_extensions.contains(&e.id))
            .cloned()
            .collect();
        for e in gone_extensions {
            self.change(
                ChangeAction::Delete,
                "customExtension",
                e.display_name.clone(),
                "",
                Vec::new(),
            );
            if let Some(w) = work.as_deref_mut()
                && let Err(err) = extensions::delete_in(w, self.caller, e.id).await
            {
                self.refused(&format!("customExtension {}", e.display_name), err)?;
            }
        }
        let gone_resources: Vec<_> = self
            .snap
            .resources
            .iter()
            .filter(|r| {
                kept_catalogs.contains(&r.catalog_id) && !self.kept_resources.contains(&r.id)
            })
            .cloned()
            .collect();
        for r in gone_resources {
            self.change(
                ChangeAction::Delete,
                "resource",
                r.display_name.clone(),
                "",
                Vec::new(),
            );
            if let Some(w) = work.as_deref_mut()
                && let Err(e) =
                    catalogs::remove_resource_in(w, self.caller, r.catalog_id, r.id).await
            {
                self.refused(&format!("resource {}", r.display_name), e)?;
            }
        }
        let gone_catalogs: Vec<_> = self
            .snap
            .catalogs
            .iter()
            .filter(|c| !kept_catalogs.contains(&c.id))
            .cloned()
            .collect();
        for c in gone_catalogs {
            self.change(
                ChangeAction::Delete,
                "catalog",
                c.display_name.clone(),
                "",
                Vec::new(),
            );
            if let Some(w) = work.as_deref_mut()
                && let Err(e) = catalogs::delete_in(w, self.caller, c.id).await
            {
                self.refused(&format!("catalog {}", c.display_name), e)?;
            }
        }
        Ok(())
    }
}
