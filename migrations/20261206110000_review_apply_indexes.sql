-- Applying an access review's results a batch at a time (DOMAIN.md §9): the items whose
-- result is not applied yet, in key order, without stepping over the applied ones; and
-- the instances that apply automatically and whose application was cut short (the
-- scheduler finishes them).
create index access_review_items_unapplied_idx on access_review_items (tenant_id, review_id, id)
    where applied_result is null;
create index access_reviews_applying_idx on access_reviews (completed_at)
    where state = 'completed' and auto_apply;
