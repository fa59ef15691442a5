-- LDAP connectors (INTEGRATIONS.md §3): a resource's connector may now be an LDAP or
-- Active Directory server ({"type": "ldap", "url", "startTls", "bindDn", "baseDn",
-- "userFilter", "memberAttribute"}); its bind password is the connector's sealed
-- secret like the webhook secret and the SCIM token. Its calls are outbox rows of
-- kind `ldap`.
alter table resources drop constraint resources_connector_type_check;
alter table resources add constraint resources_connector_type_check
    check (connector is null or connector ->> 'type' in ('webhook', 'scim', 'ldap'));

-- The full list of outbox kinds (custom extension calls included).
alter table outbox drop constraint outbox_kind_check;
alter table outbox add constraint outbox_kind_check
    check (kind in ('email', 'webhook', 'scim', 'slack', 'teams', 'ldap', 'extension'));

-- When the last failed attempt was made, for a connector's health (its last error
-- and when it happened); null while no attempt has failed.
alter table outbox add column last_error_at timestamptz;
update outbox set last_error_at = coalesce(completed_at, next_attempt_at)
where last_error is not null;

-- A connector's health is read from its calls: the rows of one resource.
create index outbox_connector_resource_idx on outbox (tenant_id, (payload ->> 'resourceId'))
    where kind in ('webhook', 'scim', 'ldap');
