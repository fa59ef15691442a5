-- Entitlement core: catalog resources and their roles, access packages, policies,
-- assignment requests with approval stages, assignments and their grants.

create table resources (
    tenant_id uuid not null,
    id uuid not null,
    catalog_id uuid not null,
    kind text not null,
    group_id uuid,
    display_name text not null,
    description text not null default '',
    connector_url text,
    connector_secret text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint resources_pkey primary key (tenant_id, id),
    constraint resources_kind_check check (kind in ('group', 'application', 'site', 'custom')),
    constraint resources_group_check check ((kind = 'group') = (group_id is not null)),
    constraint resources_connector_check check ((connector_url is null) = (connector_secret is null) and (kind <> 'group' or connector_url is null)),
    constraint resources_catalog_fkey foreign key (tenant_id, catalog_id) references catalogs (tenant_id, id),
    constraint resources_group_fkey foreign key (tenant_id, group_id) references groups (tenant_id, id),
    constraint resources_group_once_key unique (tenant_id, catalog_id, group_id)
);
create index resources_catalog_idx on resources (tenant_id, catalog_id, id);

create table resource_roles (
    tenant_id uuid not null,
    id uuid not null,
    resource_id uuid not null,
    display_name text not null,
    -- For group resources: which relation the role delivers.
    group_relation text,
    created_at timestamptz not null,
    constraint resource_roles_pkey primary key (tenant_id, id),
    constraint resource_roles_relation_check check (group_relation in ('member', 'owner')),
    constraint resource_roles_resource_fkey foreign key (tenant_id, resource_id) references resources (tenant_id, id) on delete cascade
);
create unique index resource_roles_name_key on resource_roles (tenant_id, resource_id, lower(display_name));

create table access_packages (
    tenant_id uuid not null,
    id uuid not null,
    catalog_id uuid not null,
    display_name text not null,
    description text not null default '',
    hidden boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint access_packages_pkey primary key (tenant_id, id),
    constraint access_packages_catalog_fkey foreign key (tenant_id, catalog_id) references catalogs (tenant_id, id)
);
create index access_packages_catalog_idx on access_packages (tenant_id, catalog_id, id);
create index access_packages_search_idx on access_packages using gin ((lower(display_name || ' ' || description)) gin_trgm_ops);

-- A package's resource roles. A role in use cannot be deleted (restrict).
create table access_package_roles (
    tenant_id uuid not null,
    package_id uuid not null,
    resource_role_id uuid not null,
    created_at timestamptz not null,
    constraint access_package_roles_pkey primary key (tenant_id, package_id, resource_role_id),
    constraint access_package_roles_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id) on delete cascade,
    constraint access_package_roles_role_fkey foreign key (tenant_id, resource_role_id) references resource_roles (tenant_id, id)
);
create index access_package_roles_role_idx on access_package_roles (tenant_id, resource_role_id);

create table incompatible_packages (
    tenant_id uuid not null,
    package_id uuid not null,
    other_package_id uuid not null,
    constraint incompatible_packages_pkey primary key (tenant_id, package_id, other_package_id),
    constraint incompatible_packages_not_self check (package_id <> other_package_id),
    constraint incompatible_packages_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id) on delete cascade,
    constraint incompatible_packages_other_fkey foreign key (tenant_id, other_package_id) references access_packages (tenant_id, id) on delete cascade
);
create index incompatible_packages_other_idx on incompatible_packages (tenant_id, other_package_id);

create table incompatible_groups (
    tenant_id uuid not null,
    package_id uuid not null,
    group_id uuid not null,
    constraint incompatible_groups_pkey primary key (tenant_id, package_id, group_id),
    constraint incompatible_groups_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id) on delete cascade,
    constraint incompatible_groups_group_fkey foreign key (tenant_id, group_id) references groups (tenant_id, id)
);

-- A policy is edited as a whole (PUT), so its settings are one validated document.
create table policies (
    tenant_id uuid not null,
    id uuid not null,
    package_id uuid not null,
    display_name text not null,
    settings jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint policies_pkey primary key (tenant_id, id),
    constraint policies_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id)
);
create index policies_package_idx on policies (tenant_id, package_id);

create table assignment_requests (
    tenant_id uuid not null,
    id uuid not null,
    request_type text not null,
    state text not null,
    package_id uuid not null,
    policy_id uuid not null,
    requestor_id uuid,
    target_user_id uuid not null,
    assignment_id uuid,
    justification text,
    answers jsonb not null default '[]',
    schedule_start timestamptz,
    schedule_end timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    completed_at timestamptz,
    constraint assignment_requests_pkey primary key (tenant_id, id),
    constraint assignment_requests_type_check check (request_type in ('userAdd', 'userUpdate', 'userRemove', 'adminAdd', 'adminUpdate', 'adminRemove', 'systemAdd', 'systemRemove')),
    constraint assignment_requests_state_check check (state in ('submitted', 'pendingApproval', 'scheduled', 'delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed', 'denied', 'canceled', 'expired')),
    constraint assignment_requests_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id),
    constraint assignment_requests_policy_fkey foreign key (tenant_id, policy_id) references policies (tenant_id, id),
    constraint assignment_requests_requestor_fkey foreign key (tenant_id, requestor_id) references users (tenant_id, id),
    constraint assignment_requests_target_fkey foreign key (tenant_id, target_user_id) references users (tenant_id, id)
);
-- Two identical requests cannot both be open.
create unique index assignment_requests_open_add_key on assignment_requests (tenant_id, package_id, target_user_id)
    where state in ('submitted', 'pendingApproval', 'scheduled') and request_type in ('userAdd', 'adminAdd', 'systemAdd');
create unique index assignment_requests_open_update_key on assignment_requests (tenant_id, assignment_id)
    where state in ('submitted', 'pendingApproval', 'scheduled') and request_type in ('userUpdate', 'adminUpdate');
create index assignment_requests_target_idx on assignment_requests (tenant_id, target_user_id, id);
create index assignment_requests_requestor_idx on assignment_requests (tenant_id, requestor_id, id);
create index assignment_requests_package_idx on assignment_requests (tenant_id, package_id, id);
create index assignment_requests_policy_open_idx on assignment_requests (tenant_id, policy_id)
    where state in ('submitted', 'pendingApproval', 'scheduled', 'delivering');
create index assignment_requests_scheduled_idx on assignment_requests (schedule_start) where state = 'scheduled';

create table request_stages (
    tenant_id uuid not null,
    request_id uuid not null,
    stage_index integer not null,
    state text not null,
    decision_rule text not null,
    approver_ids uuid[] not null,
    require_justification boolean not null,
    opened_at timestamptz not null,
    due_at timestamptz not null,
    escalate_at timestamptz,
    escalated_at timestamptz,
    completed_at timestamptz,
    constraint request_stages_pkey primary key (tenant_id, request_id, stage_index),
    constraint request_stages_state_check check (state in ('pending', 'approved', 'denied', 'expired', 'canceled')),
    constraint request_stages_rule_check check (decision_rule in ('anyOne', 'all')),
    constraint request_stages_request_fkey foreign key (tenant_id, request_id) references assignment_requests (tenant_id, id)
);
create index request_stages_approvers_idx on request_stages using gin (approver_ids);
create index request_stages_due_idx on request_stages (due_at) where state = 'pending';

create table stage_decisions (
    tenant_id uuid not null,
    request_id uuid not null,
    stage_index integer not null,
    approver_id uuid not null,
    decision text not null,
    justification text,
    decided_at timestamptz not null,
    constraint stage_decisions_pkey primary key (tenant_id, request_id, stage_index, approver_id),
    constraint stage_decisions_decision_check check (decision in ('approve', 'deny')),
    constraint stage_decisions_stage_fkey foreign key (tenant_id, request_id, stage_index) references request_stages (tenant_id, request_id, stage_index),
    constraint stage_decisions_approver_fkey foreign key (tenant_id, approver_id) references users (tenant_id, id)
);
create index stage_decisions_approver_idx on stage_decisions (tenant_id, approver_id);

create table assignments (
    tenant_id uuid not null,
    id uuid not null,
    package_id uuid not null,
    policy_id uuid not null,
    target_user_id uuid not null,
    state text not null,
    start_at timestamptz not null,
    end_at timestamptz,
    request_id uuid not null,
    removal_reason text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    ended_at timestamptz,
    constraint assignments_pkey primary key (tenant_id, id),
    constraint assignments_state_check check (state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed', 'expired', 'removed')),
    constraint assignments_reason_check check (removal_reason in ('admin', 'user', 'review', 'userDeactivated', 'incompatible', 'policyChanged')),
    constraint assignments_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id),
    constraint assignments_policy_fkey foreign key (tenant_id, policy_id) references policies (tenant_id, id),
    constraint assignments_target_fkey foreign key (tenant_id, target_user_id) references users (tenant_id, id),
    constraint assignments_request_fkey foreign key (tenant_id, request_id) references assignment_requests (tenant_id, id)
);
-- At most one active assignment per package and user.
create unique index assignments_active_key on assignments (tenant_id, package_id, target_user_id)
    where state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed');
create index assignments_target_idx on assignments (tenant_id, target_user_id, id);
create index assignments_package_idx on assignments (tenant_id, package_id, id);
create index assignments_policy_active_idx on assignments (tenant_id, policy_id)
    where state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed');
create index assignments_end_idx on assignments (end_at)
    where end_at is not null and state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed');

alter table assignment_requests add constraint assignment_requests_assignment_fkey
    foreign key (tenant_id, assignment_id) references assignments (tenant_id, id);
alter table group_memberships add constraint group_memberships_assignment_fkey
    foreign key (tenant_id, assignment_id) references assignments (tenant_id, id);
alter table group_owners add constraint group_owners_assignment_fkey
    foreign key (tenant_id, assignment_id) references assignments (tenant_id, id);

-- One grant per resource role of the assignment's package.
create table assignment_grants (
    tenant_id uuid not null,
    assignment_id uuid not null,
    resource_role_id uuid not null,
    state text not null,
    error text,
    updated_at timestamptz not null,
    constraint assignment_grants_pkey primary key (tenant_id, assignment_id, resource_role_id),
    constraint assignment_grants_state_check check (state in ('pending', 'delivered', 'failed', 'revoking', 'revoked')),
    constraint assignment_grants_assignment_fkey foreign key (tenant_id, assignment_id) references assignments (tenant_id, id),
    constraint assignment_grants_role_fkey foreign key (tenant_id, resource_role_id) references resource_roles (tenant_id, id)
);
create index assignment_grants_role_idx on assignment_grants (tenant_id, resource_role_id);

-- Connector calls for one assignment and role are delivered in order.
alter table outbox add column sequence_key text;
alter table outbox add column locked_until timestamptz;
create index outbox_sequence_idx on outbox (sequence_key, id) where state = 'pending';
