-- Notices about dates (issue 16). A decision about some dates of a booking tells the requester
-- and the webhooks once, about those dates, instead of once a date or not at all:
--
-- - `audit.quiet` marks a row about the whole booking that only follows its dates (the booking
--   became `approved` because its last waiting date was rejected, say). The row stays in the
--   trail; the notice is the dates' own (below), so the trigger writes no outbox row for it.
-- - A row about one date (`seq` set) no longer writes an outbox row by trigger either: the
--   store writes one outbox row per decision and status (`booking.dates_cancelled`, …) whose
--   payload lists the dates (`seqs`), in the same transaction (src/store/booking.rs).
-- - `occurrences.replaces`: a date asked as a change of another date of the booking (a move
--   that waits for a clerk). The date it replaces keeps its slot until a clerk approves the
--   new one, which then cancels the old in the same transaction.
ALTER TABLE occurrences ADD COLUMN replaces BIGINT;
-- - `occurrences.asked_at`: when a date was last asked for at its time (a move); a clerk's
--   later decision measures lead time and horizon from it, as from the booking's creation for
--   a date never moved.
ALTER TABLE occurrences ADD COLUMN asked_at TIMESTAMPTZ;
ALTER TABLE audit ADD COLUMN quiet BOOLEAN NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION audit_to_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NOT NULL OR NEW.quiet THEN
        RETURN NULL;
    END IF;
    INSERT INTO outbox (created_at, kind, booking_id, payload)
    VALUES (NEW.at, 'booking.' || NEW.to_status, NEW.booking_id,
            json_build_object('booking_id', NEW.booking_id, 'from', NEW.from_status, 'to', NEW.to_status,
                              'actor', NEW.actor, 'reason', NEW.reason)::text);
    RETURN NULL;
END $$;
