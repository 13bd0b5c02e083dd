-- A staff object's write number: the owner's change number its last PUT or DELETE stamped it
-- with. Unlike `change_seq` the `audit_to_staff_objects` trigger never moves it, and a
-- tombstone keeps it, so the CalDAV write path can name "this state of the event" in a
-- booking's idempotency key: a retry of the same write finds the same number (and replays its
-- booking), while a later write or a re-creation after DELETE finds a new one (and books anew).
ALTER TABLE staff_objects ADD COLUMN write_seq BIGINT NOT NULL DEFAULT 0;
UPDATE staff_objects SET write_seq = change_seq;
