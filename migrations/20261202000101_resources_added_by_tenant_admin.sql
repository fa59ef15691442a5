-- Whether a tenant admin added the resource. Delivery puts people into a group that
-- holds a role (or approves for another catalog) only through a resource a tenant admin
-- added; otherwise a catalog owner could hand out the powers of that group.
alter table resources add column added_by_tenant_admin boolean not null default false;

-- Resources from before this column: vouched for when the audit log shows that a user
-- who is a tenant admin today (directly, or as a direct member of a group, never through
-- an access package) added them. The rest (and resources without such an
-- event) stay unvouched, which matters only for groups that grant power.
update resources r set added_by_tenant_admin = true
where exists (
    select 1 from audit_events e
    where e.tenant_id = r.tenant_id and e.target_id = r.id and e.action = 'resource.added'
      and e.actor_id is not null
      and exists (
          select 1 from role_assignments a
          where a.tenant_id = e.tenant_id and a.role = 'tenantAdmin'
            and (a.user_id = e.actor_id or a.group_id in (
                select m.group_id from group_memberships m
                where m.tenant_id = e.tenant_id and m.user_id = e.actor_id
                  and m.assignment_id is null))));

-- Every insert says who added the resource.
alter table resources alter column added_by_tenant_admin drop default;
