-- A person who leaves a policy's requestor scope (a group the policy names, or becoming
-- a guest) loses access they requested under it when the policy says
-- removeWhenOutOfScope: the assignment ends with reason outOfScope.
alter table assignments drop constraint assignments_reason_check;
alter table assignments add constraint assignments_reason_check
    check (removal_reason in ('admin', 'user', 'review', 'userDeactivated', 'policyChanged', 'outOfScope'));
