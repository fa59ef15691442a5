-- Custom extensions (INTEGRATIONS.md §4): outside systems a catalog's policies call at
-- stages of a request's life, and the callbacks that hold a request until the outside
-- system answers. The secret is sealed with a key derived from PORTICO_SECRET_KEY,
-- bound to the tenant and the extension (crypto.rs); a callback token is kept only as
-- its SHA-256.
create table custom_extensions (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    catalog_id uuid not null,
    display_name text not null,
    url text not null,
    secret text not null,
    behavior text not null,
    timeout_minutes integer not null,
    on_timeout text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint custom_extensions_pkey primary key (tenant_id, id),
    constraint custom_extensions_catalog_fkey foreign key (tenant_id, catalog_id) references catalogs (tenant_id, id),
    constraint custom_extensions_behavior_check check (behavior in ('fireAndForget', 'waitForCallback')),
    constraint custom_extensions_on_timeout_check check (on_timeout in ('continue', 'deny')),
    constraint custom_extensions_timeout_check check (timeout_minutes between 1 and 1440)
);
create index custom_extensions_catalog_idx on custom_extensions (tenant_id, catalog_id, id);

-- A request held by a waitForCallback extension: one row per hold, resumed by the
-- outside system with its single-use token, or timed out by the scheduler.
create table request_callbacks (
    tenant_id uuid not null,
    id uuid not null,
    request_id uuid not null,
    extension_id uuid not null,
    stage text not null,
    token_hash bytea not null,
    on_timeout text not null,
    state text not null,
    outcome text,
    message text,
    due_at timestamptz not null,
    created_at timestamptz not null,
    completed_at timestamptz,
    constraint request_callbacks_pkey primary key (tenant_id, id),
    constraint request_callbacks_request_fkey foreign key (tenant_id, request_id) references assignment_requests (tenant_id, id),
    constraint request_callbacks_token_key unique (token_hash),
    constraint request_callbacks_stage_check check (stage in ('requestCreated', 'requestApproved')),
    constraint request_callbacks_on_timeout_check check (on_timeout in ('continue', 'deny')),
    constraint request_callbacks_outcome_check check (outcome in ('continue', 'deny')),
    constraint request_callbacks_state_check check (state in ('waiting', 'resumed', 'timedOut', 'closed'))
);
create index request_callbacks_request_idx on request_callbacks (tenant_id, request_id);
create index request_callbacks_due_idx on request_callbacks (due_at) where state = 'waiting';

-- A request waiting for a callback is open: it blocks an identical request, can be
-- canceled, and keeps its policy from being deleted.
alter table assignment_requests drop constraint assignment_requests_state_check;
alter table assignment_requests add constraint assignment_requests_state_check check (state in (
    'submitted', 'pendingApproval', 'waitingForCallback', 'scheduled', 'delivering', 'delivered',
    'partiallyDelivered', 'deliveryFailed', 'denied', 'canceled', 'expired'));
drop index assignment_requests_open_add_key;
create unique index assignment_requests_open_add_key on assignment_requests (tenant_id, package_id, target_user_id)
    where state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled') and request_type in ('userAdd', 'adminAdd', 'systemAdd');
drop index assignment_requests_open_update_key;
create unique index assignment_requests_open_update_key on assignment_requests (tenant_id, assignment_id)
    where state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled') and request_type in ('userUpdate', 'adminUpdate');
drop index assignment_requests_policy_open_idx;
create index assignment_requests_policy_open_idx on assignment_requests (tenant_id, policy_id)
    where state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled', 'delivering');

alter table outbox drop constraint outbox_kind_check;
alter table outbox add constraint outbox_kind_check check (kind in ('email', 'webhook', 'scim', 'slack', 'teams', 'ldap', 'extension'));
