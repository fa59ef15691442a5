-- The audit log's naming functions, as PL/pgSQL. The SQL versions were planned anew by
-- every statement that called them (a SQL function with FROM is never inlined, and its
-- plan lives only as long as the calling statement): about 1 ms per insert of audit
-- events, the largest single cost of a submission. PL/pgSQL keeps each branch's plan for
-- the life of the connection. Same names, same results; a kind that has no name is
-- answered at once instead of by a search of the log (which, under statistics older
-- than the log's growth, walked all of a tenant's events for each approval-link use).

create or replace function audit_person_name(t uuid, person uuid) returns text
language plpgsql stable as $$
begin
    return (select display_name || ' <' || email || '>' from users where tenant_id = t and id = person);
end
$$;

create or replace function audit_target_name(t uuid, kind text, target uuid) returns text
language plpgsql stable as $$
declare
    result text;
begin
    case kind
        when 'tenant' then
            select display_name into result from tenants where id = target and id = t;
        when 'user' then
            result := audit_person_name(t, target);
        when 'group' then
            select display_name into result from groups where tenant_id = t and id = target;
        when 'catalog' then
            select display_name into result from catalogs where tenant_id = t and id = target;
        when 'resource' then
            select display_name into result from resources where tenant_id = t and id = target;
        when 'accessPackage' then
            select display_name into result from access_packages where tenant_id = t and id = target;
        when 'policy' then
            select p.display_name || ' (' || ap.display_name || ')' into result
            from policies p
            join access_packages ap on ap.tenant_id = p.tenant_id and ap.id = p.package_id
            where p.tenant_id = t and p.id = target;
        when 'assignmentRequest' then
            select ap.display_name || ' for ' || audit_person_name(t, r.target_user_id) into result
            from assignment_requests r
            join access_packages ap on ap.tenant_id = r.tenant_id and ap.id = r.package_id
            where r.tenant_id = t and r.id = target;
        when 'assignment' then
            select ap.display_name || ' for ' || audit_person_name(t, a.target_user_id) into result
            from assignments a
            join access_packages ap on ap.tenant_id = a.tenant_id and ap.id = a.package_id
            where a.tenant_id = t and a.id = target;
        when 'roleAssignment' then
            select ra.role || ' for ' || coalesce(audit_person_name(t, ra.user_id), g.display_name, '?')
                   || coalesce(' in ' || c.display_name, '') into result
            from role_assignments ra
            left join groups g on g.tenant_id = ra.tenant_id and g.id = ra.group_id
            left join catalogs c on c.tenant_id = ra.tenant_id and c.id = ra.catalog_id
            where ra.tenant_id = t and ra.id = target;
        when 'apiToken' then
            select a.name into result from api_tokens a where a.tenant_id = t and a.id = target;
        when 'accessReview' then
            select 'Review of ' || ap.display_name into result
            from access_reviews rv
            join access_packages ap on ap.tenant_id = rv.tenant_id and ap.id = rv.package_id
            where rv.tenant_id = t and rv.id = target;
        when 'accessReviewItem' then
            select ap.display_name || ' for ' || audit_person_name(t, i.target_user_id) into result
            from access_review_items i
            join access_reviews rv on rv.tenant_id = i.tenant_id and rv.id = i.review_id
            join access_packages ap on ap.tenant_id = rv.tenant_id and ap.id = rv.package_id
            where i.tenant_id = t and i.id = target;
        when 'scimToken' then
            select s.name into result from scim_tokens s where s.tenant_id = t and s.id = target;
        when 'customExtension' then
            select display_name into result from custom_extensions where tenant_id = t and id = target;
        else
            -- Kinds that have no name (links, sessions, deliveries): nothing to look for,
            -- in the log either.
            return null;
    end case;
    if result is null then
        select e.target_name into result from audit_events e
        where e.tenant_id = t and e.target_id = target and e.target_name is not null
        order by e.id desc limit 1;
    end if;
    return result;
end
$$;
