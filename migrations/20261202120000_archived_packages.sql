-- An access package whose requests and assignments are history is archived rather than
-- deleted: it keeps its rows (so past requests, assignments and audit events still name
-- it) but leaves every list and can no longer be requested, assigned or changed.
alter table access_packages add column archived_at timestamptz;
