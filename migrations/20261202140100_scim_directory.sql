-- The directory pushed in over SCIM 2.0 (INTEGRATIONS.md §2): tenant-scoped bearer
-- tokens, a per-tenant activity summary, and the marks that say what the directory owns.

create table scim_tokens (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    name text not null,
    token_hash bytea not null,
    created_by uuid,
    created_at timestamptz not null,
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint scim_tokens_pkey primary key (tenant_id, id),
    constraint scim_tokens_hash_key unique (token_hash),
    constraint scim_tokens_created_by_fkey foreign key (tenant_id, created_by) references users (tenant_id, id)
);

-- One row per tenant, upserted once per SCIM call.
create table scim_activity (
    tenant_id uuid not null references tenants (id),
    last_call_at timestamptz not null,
    last_method text not null,
    last_path text not null,
    last_status integer not null,
    calls_total bigint not null default 0,
    users_created bigint not null default 0,
    users_updated bigint not null default 0,
    users_deactivated bigint not null default 0,
    groups_created bigint not null default 0,
    groups_updated bigint not null default 0,
    groups_deleted bigint not null default 0,
    constraint scim_activity_pkey primary key (tenant_id)
);

-- Set when SCIM creates or first touches a user: the directory then owns the
-- attributes it pushes. externalId is the directory's key, looked up by filters.
-- scim_document keeps what the directory pushed (the declared SCIM attributes, as
-- sent), so a GET returns what was PUT; the columns hold what Portico uses. A user
-- deleted over SCIM is deactivated and hidden from SCIM (scim_deleted_at), never erased.
alter table users add column directory_managed boolean not null default false;
alter table users add column scim_document jsonb;
alter table users add column scim_deleted_at timestamptz;
create index users_external_id_idx on users (tenant_id, external_id) where external_id is not null;
create unique index users_scim_user_name_key on users (tenant_id, lower(coalesce(scim_document ->> 'userName', email)))
    where scim_deleted_at is null;

alter table groups add column external_id text;
alter table groups add column directory_managed boolean not null default false;
-- A group the directory deleted while Portico still uses it (a resource, an approver,
-- a role) stays in Portico, hidden from SCIM.
alter table groups add column scim_deleted_at timestamptz;
create index groups_external_id_idx on groups (tenant_id, external_id) where external_id is not null;
create index groups_display_name_idx on groups (tenant_id, lower(display_name));

-- A membership pushed by the directory is a source of its own: SCIM writes only these
-- rows, Portico's admins and assignments never touch them.
alter table group_memberships add column from_directory boolean not null default false;
alter table group_memberships drop constraint group_memberships_key;
alter table group_memberships add constraint group_memberships_key
    unique nulls not distinct (tenant_id, group_id, user_id, assignment_id, from_directory);
alter table group_memberships add constraint group_memberships_directory_check
    check (not from_directory or assignment_id is null);

-- The directory acts in the audit log as itself (actor_token_id = the SCIM token).
alter table audit_events drop constraint audit_events_actor_check;
alter table audit_events add constraint audit_events_actor_check
    check (actor_type in ('user', 'token', 'system', 'directory'));
