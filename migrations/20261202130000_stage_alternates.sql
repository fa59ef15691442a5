-- Escalation adds alternates to an `all` stage: approvers who may approve in place of
-- the silent ones. They are also listed in approver_ids (everyone who may decide).
alter table request_stages add column alternate_ids uuid[] not null default '{}';
