-- Sign-in with the organisation's identity provider (OIDC), one per tenant, and the
-- authorization-code flows under way. The client secret is sealed with a key derived
-- from PORTICO_SECRET_KEY, bound to the tenant (crypto.rs).
create table identity_providers (
    tenant_id uuid not null references tenants (id),
    kind text not null,
    display_name text not null,
    issuer text not null,
    client_id text not null,
    client_secret text not null,
    scopes text[] not null,
    email_claim text not null,
    allowed_domains text[] not null,
    create_users boolean not null,
    email_link_sign_in boolean not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint identity_providers_pkey primary key (tenant_id),
    constraint identity_providers_kind_check check (kind in ('oidc'))
);

-- One row per sign-in started: single-use (used_at), short-lived, and bound to the
-- browser that started it by the hash of a cookie value. Only hashes of the state and
-- of the browser binding are kept; the PKCE verifier and nonce are needed in the clear
-- for the callback and die with the row.
create table oidc_flows (
    tenant_id uuid not null references tenants (id),
    state_hash bytea not null,
    browser_hash bytea not null,
    nonce text not null,
    pkce_verifier text not null,
    next_path text not null,
    purpose text not null,
    started_by uuid,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    constraint oidc_flows_pkey primary key (tenant_id, state_hash),
    constraint oidc_flows_purpose_check check (purpose in ('signIn', 'test')),
    constraint oidc_flows_started_by_fkey foreign key (tenant_id, started_by) references users (tenant_id, id)
);
create index oidc_flows_expires_idx on oidc_flows (expires_at);
