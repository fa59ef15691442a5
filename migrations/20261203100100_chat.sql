-- Deciding in chat (INTEGRATIONS.md §5): a tenant's Slack app and Teams webhook, the
-- Slack direct messages sent to approvers, and the outbox kinds that deliver them.
-- The bot token, the signing secret and the Teams webhook URL (which is itself the
-- credential to post) are sealed with a key derived from PORTICO_SECRET_KEY, bound to
-- the tenant (crypto.rs).
create table chat_settings (
    tenant_id uuid not null references tenants (id),
    slack_bot_token text,
    slack_signing_secret text,
    teams_webhook_url text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint chat_settings_pkey primary key (tenant_id),
    constraint chat_settings_slack_check check ((slack_bot_token is null) = (slack_signing_secret is null))
);

-- One Slack message per approver and stage: queued in the transaction that asks the
-- approver, then posted (its channel and ts kept so it can be updated with the
-- outcome), or left unposted when Slack does not know the approver's address.
create table chat_messages (
    tenant_id uuid not null,
    id uuid not null,
    request_id uuid not null,
    stage_index integer not null,
    approver_id uuid not null,
    state text not null,
    slack_user_id text,
    channel text,
    ts text,
    error text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint chat_messages_pkey primary key (tenant_id, id),
    constraint chat_messages_approver_key unique (tenant_id, request_id, stage_index, approver_id),
    constraint chat_messages_stage_fkey foreign key (tenant_id, request_id, stage_index)
        references request_stages (tenant_id, request_id, stage_index),
    constraint chat_messages_approver_fkey foreign key (tenant_id, approver_id) references users (tenant_id, id),
    constraint chat_messages_state_check check (state in ('queued', 'posted', 'notFound', 'skipped', 'failed'))
);
create index chat_messages_slack_user_idx on chat_messages (tenant_id, slack_user_id);

alter table outbox drop constraint outbox_kind_check;
alter table outbox add constraint outbox_kind_check check (kind in ('email', 'webhook', 'scim', 'slack', 'teams'));
