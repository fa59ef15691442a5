-- The dev mailbox shows only the demo tenant's emails: each kept message records the
-- tenant it was sent for (messages kept before this column existed show for none).
alter table dev_mail_messages add column tenant_slug text;
create index dev_mail_messages_tenant_idx on dev_mail_messages (tenant_slug, id);
