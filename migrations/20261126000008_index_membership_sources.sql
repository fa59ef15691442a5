-- Ending an assignment removes the memberships it delivered by assignment id; expiry
-- does it for thousands of assignments at once.
create index group_memberships_assignment_idx on group_memberships (tenant_id, assignment_id)
    where assignment_id is not null;
create index group_owners_assignment_idx on group_owners (tenant_id, assignment_id)
    where assignment_id is not null;
