-- Every key includes tenant_id, so each table can be distributed by it (docs/scaling.md).

-- Group members and owners had no primary key: their unique key has a nullable column
-- (assignment_id: null for a direct member). Each row gets its own id; the unique key
-- keeps its meaning. Adding the column rewrites the table once, filling every
-- existing row.
alter table group_memberships add column id uuid not null default gen_random_uuid();
alter table group_memberships add constraint group_memberships_pkey primary key (tenant_id, id);
alter table group_owners add column id uuid not null default gen_random_uuid();
alter table group_owners add constraint group_owners_pkey primary key (tenant_id, id);

-- A secret's hash stays found by the hash alone (the hash is the index's first
-- column); the tenant joins the key. Hashes of random secrets do not collide, so no
-- two tenants share one in practice.
alter table api_tokens drop constraint api_tokens_hash_key,
    add constraint api_tokens_hash_key unique (token_hash, tenant_id);
alter table approval_links drop constraint approval_links_hash_key,
    add constraint approval_links_hash_key unique (token_hash, tenant_id);
alter table sign_in_links drop constraint sign_in_links_hash_key,
    add constraint sign_in_links_hash_key unique (token_hash, tenant_id);
alter table sessions drop constraint sessions_hash_key,
    add constraint sessions_hash_key unique (token_hash, tenant_id);
alter table scim_tokens drop constraint scim_tokens_hash_key,
    add constraint scim_tokens_hash_key unique (token_hash, tenant_id);
alter table request_callbacks drop constraint request_callbacks_token_key,
    add constraint request_callbacks_token_key unique (token_hash, tenant_id);
