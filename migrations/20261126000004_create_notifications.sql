-- Emailed approval links: one random single-use token per approver and stage, stored
-- only as a SHA-256 hash, expiring with the stage.
create table approval_links (
    tenant_id uuid not null,
    id uuid not null,
    token_hash bytea not null,
    request_id uuid not null,
    stage_index integer not null,
    approver_id uuid not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null,
    constraint approval_links_pkey primary key (tenant_id, id),
    constraint approval_links_hash_key unique (token_hash),
    constraint approval_links_stage_fkey foreign key (tenant_id, request_id, stage_index)
        references request_stages (tenant_id, request_id, stage_index),
    constraint approval_links_approver_fkey foreign key (tenant_id, approver_id) references users (tenant_id, id)
);
create index approval_links_stage_idx on approval_links (tenant_id, request_id, stage_index);

-- Expiry warnings are sent once each: remember which were sent.
alter table assignments add column warned_14_at timestamptz;
alter table assignments add column warned_1_at timestamptz;
-- Approvers are reminded once, halfway to the stage's due time.
alter table request_stages add column reminded_at timestamptz;
create index outbox_email_recipient_idx on outbox ((payload ->> 'to')) where kind = 'email';
