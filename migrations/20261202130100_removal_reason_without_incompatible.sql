-- No assignment is ever removed for separation of duties: conflicts are refused before
-- access starts (request, admin assignment, delivery). The reason is no longer allowed.
alter table assignments drop constraint assignments_reason_check;
alter table assignments add constraint assignments_reason_check
    check (removal_reason in ('admin', 'user', 'review', 'userDeactivated', 'policyChanged'));
