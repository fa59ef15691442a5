-- Foundation: tenants, directory, delegated roles, API tokens, audit log, outbox.
-- Every tenant-owned table has tenant_id first in its primary key and in every
-- foreign key, so the database itself rejects a link across tenants.

create extension if not exists pg_trgm;

create table tenants (
    id uuid primary key,
    slug text not null,
    display_name text not null,
    reply_to text,
    approval_links_require_sign_in boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint tenants_slug_key unique (slug),
    constraint tenants_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

create table users (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    email text not null,
    display_name text not null,
    department text,
    job_title text,
    manager_id uuid,
    kind text not null,
    active boolean not null default true,
    external_id text,
    last_sign_in_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint users_pkey primary key (tenant_id, id),
    constraint users_kind_check check (kind in ('member', 'guest')),
    constraint users_manager_fkey foreign key (tenant_id, manager_id) references users (tenant_id, id),
    constraint users_not_own_manager check (manager_id is null or manager_id <> id)
);
create unique index users_email_key on users (tenant_id, lower(email));
create index users_manager_idx on users (tenant_id, manager_id) where manager_id is not null;
create index users_search_idx on users using gin ((lower(display_name || ' ' || email)) gin_trgm_ops);

create table groups (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    display_name text not null,
    description text not null default '',
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint groups_pkey primary key (tenant_id, id)
);
create index groups_search_idx on groups using gin ((lower(display_name)) gin_trgm_ops);

-- A membership (or ownership) row per source: assignment_id null = "direct".
-- The user is a member while any row remains.
create table group_memberships (
    tenant_id uuid not null,
    group_id uuid not null,
    user_id uuid not null,
    assignment_id uuid,
    created_at timestamptz not null,
    constraint group_memberships_key unique nulls not distinct (tenant_id, group_id, user_id, assignment_id),
    constraint group_memberships_group_fkey foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade,
    constraint group_memberships_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create index group_memberships_user_idx on group_memberships (tenant_id, user_id);

create table group_owners (
    tenant_id uuid not null,
    group_id uuid not null,
    user_id uuid not null,
    assignment_id uuid,
    created_at timestamptz not null,
    constraint group_owners_key unique nulls not distinct (tenant_id, group_id, user_id, assignment_id),
    constraint group_owners_group_fkey foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade,
    constraint group_owners_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create index group_owners_user_idx on group_owners (tenant_id, user_id);

create table catalogs (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    display_name text not null,
    description text not null default '',
    enabled boolean not null default true,
    externally_visible boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint catalogs_pkey primary key (tenant_id, id)
);
create unique index catalogs_name_key on catalogs (tenant_id, lower(display_name));

create table role_assignments (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    role text not null,
    user_id uuid,
    group_id uuid,
    catalog_id uuid,
    created_at timestamptz not null,
    constraint role_assignments_pkey primary key (tenant_id, id),
    constraint role_assignments_role_check check (role in ('tenantAdmin', 'catalogCreator', 'catalogOwner', 'catalogReader', 'packageManager', 'assignmentManager')),
    constraint role_assignments_one_principal check ((user_id is null) <> (group_id is null)),
    constraint role_assignments_scope_check check ((role in ('tenantAdmin', 'catalogCreator')) = (catalog_id is null)),
    constraint role_assignments_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, id),
    constraint role_assignments_group_fkey foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade,
    constraint role_assignments_catalog_fkey foreign key (tenant_id, catalog_id) references catalogs (tenant_id, id) on delete cascade,
    constraint role_assignments_key unique nulls not distinct (tenant_id, role, user_id, group_id, catalog_id)
);
create index role_assignments_user_idx on role_assignments (tenant_id, user_id) where user_id is not null;
create index role_assignments_group_idx on role_assignments (tenant_id, group_id) where group_id is not null;

create table api_tokens (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    user_id uuid not null,
    name text not null,
    token_hash bytea not null,
    created_at timestamptz not null,
    last_used_at timestamptz,
    expires_at timestamptz,
    revoked_at timestamptz,
    constraint api_tokens_pkey primary key (tenant_id, id),
    constraint api_tokens_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, id),
    constraint api_tokens_hash_key unique (token_hash)
);

create table audit_events (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    at timestamptz not null,
    actor_type text not null,
    -- user: actor_id is the user; token: actor_id is the user, actor_token_id the token.
    actor_id uuid,
    actor_token_id uuid,
    action text not null,
    target_type text not null,
    target_id uuid,
    details jsonb not null default '{}',
    correlation_id uuid,
    constraint audit_events_pkey primary key (tenant_id, id),
    constraint audit_events_actor_check check (actor_type in ('user', 'token', 'system'))
);
create index audit_events_target_idx on audit_events (tenant_id, target_id, id);
create index audit_events_at_idx on audit_events (tenant_id, at);

create function audit_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit events are append-only' using errcode = 'P0001';
end;
$$;
create trigger audit_events_no_update before update or delete on audit_events
    for each row execute function audit_events_append_only();
create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function audit_events_append_only();

-- Outbox: every side effect to the outside world (email, connector call) is a row
-- written in the same transaction as the change that caused it.
create table outbox (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    kind text not null,
    payload jsonb not null,
    state text not null default 'pending',
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    created_at timestamptz not null,
    completed_at timestamptz,
    constraint outbox_pkey primary key (tenant_id, id),
    constraint outbox_kind_check check (kind in ('email', 'webhook')),
    constraint outbox_state_check check (state in ('pending', 'done', 'failed', 'superseded'))
);
create index outbox_due_idx on outbox (next_attempt_at) where state = 'pending';
