-- The audit log people read: the actor's and the target's names as they were when the
-- event was written (kept after the object is deleted), the transaction that wrote each
-- event (so a stream can ship only what no running transaction can still precede), the
-- indexes of the log's filters, and each tenant's stream of its log to a SIEM.

alter table audit_events
    add column actor_name text,
    add column target_name text,
    -- The writing transaction's id, assigned when the transaction began writing: an
    -- event whose xact_id is below the oldest running transaction's can no longer be
    -- preceded by another (see audit_streams).
    add column xact_id xid8 not null default pg_current_xact_id();

create index audit_events_actor_idx on audit_events (tenant_id, actor_id, id);
create index audit_events_action_idx on audit_events (tenant_id, action, id);
create index audit_events_target_type_idx on audit_events (tenant_id, target_type, id);
create index audit_events_stream_idx on audit_events (tenant_id, xact_id, id);

-- One stream per tenant: signed batches of audit events POSTed to `url`, in
-- (xact_id, id) order, at least once. The cursor is the last event delivered.
create table audit_streams (
    tenant_id uuid not null references tenants (id),
    url text not null,
    -- Sealed with the tenant's context (crypto::Keys::seal).
    secret text not null,
    enabled boolean not null,
    cursor_xact xid8 not null,
    cursor_id uuid not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    leased_until timestamptz,
    last_error text,
    last_delivered_at timestamptz,
    delivered_events bigint not null default 0,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    constraint audit_streams_pkey primary key (tenant_id)
);
create index audit_streams_due_idx on audit_streams (next_attempt_at) where enabled;

-- A person as the log names them.
create function audit_person_name(t uuid, person uuid) returns text language sql stable as $$
    select display_name || ' <' || email || '>' from users where tenant_id = t and id = person
$$;

-- The name of an event's target as it is now, or, once the object is gone (an event
-- written as it is deleted), the name the log last gave it.
create function audit_target_name(t uuid, kind text, target uuid) returns text language sql stable as $$
    select coalesce(
        case kind
            when 'tenant' then (select display_name from tenants where id = target and id = t)
            when 'user' then audit_person_name(t, target)
            when 'group' then (select display_name from groups where tenant_id = t and id = target)
            when 'catalog' then (select display_name from catalogs where tenant_id = t and id = target)
            when 'resource' then (select display_name from resources where tenant_id = t and id = target)
            when 'accessPackage' then
                (select display_name from access_packages where tenant_id = t and id = target)
            when 'policy' then
                (select p.display_name || ' (' || ap.display_name || ')' from policies p
                 join access_packages ap on ap.tenant_id = p.tenant_id and ap.id = p.package_id
                 where p.tenant_id = t and p.id = target)
            when 'assignmentRequest' then
                (select ap.display_name || ' for ' || audit_person_name(t, r.target_user_id)
                 from assignment_requests r
                 join access_packages ap on ap.tenant_id = r.tenant_id and ap.id = r.package_id
                 where r.tenant_id = t and r.id = target)
            when 'assignment' then
                (select ap.display_name || ' for ' || audit_person_name(t, a.target_user_id)
                 from assignments a
                 join access_packages ap on ap.tenant_id = a.tenant_id and ap.id = a.package_id
                 where a.tenant_id = t and a.id = target)
            when 'roleAssignment' then
                (select ra.role || ' for ' || coalesce(audit_person_name(t, ra.user_id), g.display_name, '?')
                        || coalesce(' in ' || c.display_name, '')
                 from role_assignments ra
                 left join groups g on g.tenant_id = ra.tenant_id and g.id = ra.group_id
                 left join catalogs c on c.tenant_id = ra.tenant_id and c.id = ra.catalog_id
                 where ra.tenant_id = t and ra.id = target)
            when 'apiToken' then (select name from api_tokens where tenant_id = t and id = target)
            when 'accessReview' then
                (select 'Review of ' || ap.display_name from access_reviews rv
                 join access_packages ap on ap.tenant_id = rv.tenant_id and ap.id = rv.package_id
                 where rv.tenant_id = t and rv.id = target)
            when 'accessReviewItem' then
                (select ap.display_name || ' for ' || audit_person_name(t, i.target_user_id)
                 from access_review_items i
                 join access_reviews rv on rv.tenant_id = i.tenant_id and rv.id = i.review_id
                 join access_packages ap on ap.tenant_id = rv.tenant_id and ap.id = rv.package_id
                 where i.tenant_id = t and i.id = target)
            when 'scimToken' then (select name from scim_tokens where tenant_id = t and id = target)
            when 'customExtension' then
                (select display_name from custom_extensions where tenant_id = t and id = target)
        end,
        (select e.target_name from audit_events e
         where e.tenant_id = t and e.target_id = target and e.target_name is not null
         order by e.id desc limit 1))
$$;
