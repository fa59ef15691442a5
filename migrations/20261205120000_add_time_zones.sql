-- Time zones: each tenant reads and types times in its zone (an IANA name such as
-- Europe/Berlin), and a person may read them in their own (null: the tenant's). The
-- names are checked against the zone database when they are set; stored times stay UTC.
alter table tenants
    add column time_zone text not null default 'UTC',
    add constraint tenants_time_zone_check check (length(time_zone) between 1 and 64);

alter table users
    add column time_zone text,
    add constraint users_time_zone_check check (time_zone is null or length(time_zone) between 1 and 64);
