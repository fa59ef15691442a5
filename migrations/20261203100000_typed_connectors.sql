-- Typed connectors (INTEGRATIONS.md §3): a resource's connector is a webhook or a SCIM
-- 2.0 target today, LDAP later, and each role says what it means in the target.
--
-- Storage: one jsonb document per resource, tagged by its type
-- ({"type": "webhook", "url": …} or {"type": "scim", "baseUrl": …,
-- "deactivateOnLastRevoke": …}), decoded into one Rust enum variant per type
-- (`domain::connector::Connector`). Columns per setting would leave most of them null
-- on every row and need a constraint per type saying which belong together; the
-- settings are only ever read whole, by the code that delivers, so the enum is their
-- schema and the edge parses them. A new type (ldap) adds a variant and a value to
-- `resources_connector_type_check`. The one secret every type has (webhook signing
-- secret, SCIM bearer token, LDAP bind password) stays out of the document, in
-- `connector_secret`, sealed as before and bound to the same tenant and resource: the
-- document is what answers and audit details are built from, and the secrets already
-- sealed keep opening.
alter table resources add column connector jsonb;
update resources set connector = jsonb_build_object('type', 'webhook', 'url', connector_url)
where connector_url is not null;
alter table resources drop constraint resources_connector_check;
alter table resources drop column connector_url;
alter table resources add constraint resources_connector_check
    check ((connector is null) = (connector_secret is null) and (kind <> 'group' or connector is null));
alter table resources add constraint resources_connector_type_check
    check (connector is null or connector ->> 'type' in ('webhook', 'scim'));

-- What a role means in the target (a SCIM group's displayName, an LDAP group's DN); a
-- role of a directory group resource has none. Roles so far were named what they mean.
alter table resource_roles add column connector_value text;
update resource_roles set connector_value = display_name where group_relation is null;
alter table resource_roles add constraint resource_roles_connector_value_check
    check ((group_relation is null) = (connector_value is not null));

-- SCIM calls are outbox rows of their own kind, delivered like webhook calls.
alter table outbox drop constraint outbox_kind_check;
alter table outbox add constraint outbox_kind_check check (kind in ('email', 'webhook', 'scim'));
