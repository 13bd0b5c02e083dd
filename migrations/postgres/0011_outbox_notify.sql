-- Wakes the notification workers of every instance when an outbox row is written (issue 15):
-- each worker LISTENs on `lokal_outbox` (src/store/outbox.rs, `OutboxListener`). One notice per
-- statement, not per row, and PostgreSQL folds identical notices of one transaction into one;
-- the notice is sent at commit, so a worker never wakes to a row it cannot see yet. Polling
-- stays the fallback for notices lost while a listener reconnects.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lokal_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
