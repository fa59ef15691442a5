-- Browser sign-in: single-use emailed sign-in links and the sessions they open, both
-- stored only as SHA-256 hashes of their tokens, plus the record of sign-in emails
-- asked for, which bounds how many a mailbox or a client can be sent (any server
-- replica sees the same counts).

create table sign_in_links (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    token_hash bytea not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null,
    constraint sign_in_links_pkey primary key (tenant_id, id),
    constraint sign_in_links_hash_key unique (token_hash),
    constraint sign_in_links_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create index sign_in_links_user_idx on sign_in_links (tenant_id, user_id);

create table sessions (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    token_hash bytea not null,
    csrf_token text not null,
    method text not null,
    created_at timestamptz not null,
    last_seen_at timestamptz not null,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    constraint sessions_pkey primary key (tenant_id, id),
    constraint sessions_hash_key unique (token_hash),
    constraint sessions_method_check check (method in ('emailLink', 'dev', 'oidc')),
    constraint sessions_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, id)
);
create index sessions_user_idx on sessions (tenant_id, user_id) where revoked_at is null;

-- One row per sign-in email asked for (whether or not the address is known, so the
-- limit reveals nothing). `email_key` is the lower-cased address as typed.
create table sign_in_attempts (
    tenant_id uuid not null references tenants (id),
    id uuid not null,
    email_key text not null,
    client_ip text,
    created_at timestamptz not null,
    constraint sign_in_attempts_pkey primary key (tenant_id, id)
);
create index sign_in_attempts_email_idx on sign_in_attempts (tenant_id, email_key, created_at);
create index sign_in_attempts_ip_idx on sign_in_attempts (client_ip, created_at) where client_ip is not null;
create index sign_in_attempts_created_idx on sign_in_attempts (created_at);
