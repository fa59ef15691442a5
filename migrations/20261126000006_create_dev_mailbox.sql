-- The demo's dev mailbox: every email "sent" while `portico demo` runs without
-- PORTICO_SMTP_URL is kept here and shown at /dev/mail. Not tenant-owned: it is a
-- developer tool of one demo process, and messages carry their tenant in their text.
create table dev_mail_messages (
    id uuid not null,
    message_id text not null,
    from_name text not null,
    to_address text not null,
    reply_to text,
    subject text not null,
    text_body text not null,
    html_body text not null,
    created_at timestamptz not null,
    constraint dev_mail_messages_pkey primary key (id)
);

-- The outbox API lists failed rows of a tenant, newest first.
create index outbox_tenant_state_idx on outbox (tenant_id, state, id);
