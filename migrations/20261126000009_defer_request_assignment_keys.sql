-- A request and the assignment it creates point at each other. Checking both keys at
-- commit lets the engine write a request once, in its final state, next to its
-- assignment, instead of inserting it and updating it in the same transaction.
alter table assignment_requests alter constraint assignment_requests_assignment_fkey
    deferrable initially deferred;
alter table assignments alter constraint assignments_request_fkey
    deferrable initially deferred;
