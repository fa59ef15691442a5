//! Access packages: their roles, then (once every package of the document exists) their
//! incompatibilities.

use super::*;

impl Engine<'_> {
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
                let stored: HashSet<ResourceRoleId> = self
                    .snap
                    .package_roles
                    .iter()
                    .filter(|(pk, _)| *pk == x.id)
                    .map(|(_, r)| *r)
                    .collect();
                let changed = changed(&[
                    ("name", x.display_name != p.name.trim()),
                    ("description", x.description != p.description),
                    ("hidden", x.hidden != p.hidden),
                    ("roles", stored != role_ids.iter().copied().collect()),
                ]);
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
