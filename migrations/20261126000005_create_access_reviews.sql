-- Access reviews (DOMAIN.md §9): one row per instance of a policy's review, one item per
-- assignment that was active when the instance started.

create table access_reviews (
    tenant_id uuid not null,
    id uuid not null,
    package_id uuid not null,
    policy_id uuid not null,
    -- Instance n covers [startDate + n × recurrence, that + durationDays × 24 h).
    period_index integer not null,
    start_at timestamptz not null,
    end_at timestamptz not null,
    -- When reviewers with undecided items are reminded (once: reminded_at).
    remind_at timestamptz not null,
    state text not null,
    -- The policy's review settings as they were when the instance started.
    auto_apply boolean not null,
    if_no_response text not null,
    require_justification boolean not null,
    stopped_early boolean not null default false,
    reminded_at timestamptz,
    created_at timestamptz not null,
    completed_at timestamptz,
    applied_at timestamptz,
    constraint access_reviews_pkey primary key (tenant_id, id),
    -- Each instance starts once, whichever replica gets there first.
    constraint access_reviews_period_key unique (tenant_id, policy_id, period_index),
    constraint access_reviews_state_check check (state in ('inProgress', 'completed', 'applied')),
    constraint access_reviews_if_no_response_check check (if_no_response in ('keep', 'remove', 'recommendation')),
    constraint access_reviews_period_check check (period_index >= 0),
    constraint access_reviews_window_check check (start_at < end_at and remind_at between start_at and end_at),
    constraint access_reviews_completed_check check ((state = 'inProgress') = (completed_at is null)),
    constraint access_reviews_applied_check check ((state = 'applied') = (applied_at is not null)),
    constraint access_reviews_package_fkey foreign key (tenant_id, package_id) references access_packages (tenant_id, id),
    constraint access_reviews_policy_fkey foreign key (tenant_id, policy_id) references policies (tenant_id, id)
);
-- Jobs: reviews to close, reviews whose reminder is due, a policy's running instance.
create index access_reviews_end_due_idx on access_reviews (end_at) where state = 'inProgress';
create index access_reviews_remind_due_idx on access_reviews (remind_at)
    where state = 'inProgress' and reminded_at is null;
create index access_reviews_running_idx on access_reviews (tenant_id, policy_id) where state = 'inProgress';
create index access_reviews_package_idx on access_reviews (tenant_id, package_id, id);
-- Jobs: the policies that have a review (the start job walks them).
create index policies_review_idx on policies (tenant_id, id) where jsonb_typeof(settings -> 'review') = 'object';

create table access_review_items (
    tenant_id uuid not null,
    id uuid not null,
    review_id uuid not null,
    assignment_id uuid not null,
    target_user_id uuid not null,
    -- Resolved when the instance started (reviewers, else fallbacks, else tenant admins).
    reviewer_ids uuid[] not null,
    recommendation text,
    -- The last decision before the end counts.
    decision text not null default 'notReviewed',
    justification text,
    decided_by uuid,
    decided_at timestamptz,
    applied_result text,
    constraint access_review_items_pkey primary key (tenant_id, id),
    constraint access_review_items_assignment_key unique (tenant_id, review_id, assignment_id),
    constraint access_review_items_recommendation_check check (recommendation in ('approve', 'deny')),
    constraint access_review_items_decision_check check (decision in ('notReviewed', 'approve', 'deny')),
    constraint access_review_items_decided_check check (
        (decision = 'notReviewed') = (decided_by is null) and (decided_by is null) = (decided_at is null)),
    constraint access_review_items_applied_result_check check (applied_result in ('kept', 'removed', 'alreadyEnded')),
    constraint access_review_items_review_fkey foreign key (tenant_id, review_id) references access_reviews (tenant_id, id),
    constraint access_review_items_assignment_fkey foreign key (tenant_id, assignment_id) references assignments (tenant_id, id),
    constraint access_review_items_target_fkey foreign key (tenant_id, target_user_id) references users (tenant_id, id),
    constraint access_review_items_decided_by_fkey foreign key (tenant_id, decided_by) references users (tenant_id, id)
);
create index access_review_items_review_idx on access_review_items (tenant_id, review_id, id);
-- "Items of reviewer X" (visibility, mine=true, reminders).
create index access_review_items_reviewers_idx on access_review_items using gin (reviewer_ids);
create index access_review_items_assignment_idx on access_review_items (tenant_id, assignment_id);
