-- A request whose end is the policy's duration (afterDays, afterHours) and not a date
-- the requestor chose: its end is counted again from the start of the assignment when
-- access is delivered, so the time an approval takes does not shorten the access.
alter table assignment_requests
    add column end_follows_start boolean not null default false;
