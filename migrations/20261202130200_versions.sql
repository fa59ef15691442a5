-- Catalogs, access packages and policies carry a version, raised by every change, so a
-- change made from a stale copy (an API client's ETag, an admin's open form) is refused
-- instead of silently overwriting the one made since.
alter table catalogs add column version bigint not null default 1;
alter table access_packages add column version bigint not null default 1;
alter table policies add column version bigint not null default 1;
