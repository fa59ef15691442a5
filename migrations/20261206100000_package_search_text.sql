-- Package search (db::packages::search_page) reads the newest packages in order and,
-- for terms rare among them, the trigram index. Each package read is matched against
-- its name and description in lower case: kept in a generated column, a match no
-- longer lowers the text again (three times cheaper), and the index is on the column.
-- Packages change seldom, so the index is kept without a pending list: a search then
-- reads only the index's own pages however long ago it was vacuumed, and the planner's
-- cost of it stays true (with 10,000 packages inserted and no vacuum since, each search
-- read the 4 MB pending list and the planner priced the index above a sequential scan).
alter table access_packages
    add column search_text text not null generated always as (lower(display_name || ' ' || description)) stored;
drop index access_packages_search_idx;
create index access_packages_search_idx on access_packages using gin (search_text gin_trgm_ops)
    with (fastupdate = off);
