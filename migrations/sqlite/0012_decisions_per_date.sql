-- Decisions per date (issue 16): every date of a booking is approved, rejected or cancelled on
-- its own, so it keeps its own reason, and the audit log says which date a row is about.
--
-- `occurrences.status_reason` is why the date is what it is, in words (a clerk's reason, or the
-- core's when it refused the date); `occurrences.reasons` the core's reasons as JSON
-- (`[{"code": …, "message": …}]`) when the core refused or flagged the date.
-- `audit.seq` names the date a row is about; NULL for a row about the whole booking (every date
-- that was `from_status` became `to_status`, except the dates with a row of their own written
-- with it).
ALTER TABLE occurrences ADD COLUMN status_reason TEXT;
ALTER TABLE occurrences ADD COLUMN reasons TEXT;
ALTER TABLE audit ADD COLUMN seq INTEGER;

-- The outbox payload carries the date, so the notifier can tell a one-date change.
DROP TRIGGER audit_to_outbox;
CREATE TRIGGER audit_to_outbox AFTER INSERT ON audit
BEGIN
    INSERT INTO outbox (created_at, kind, booking_id, payload)
    VALUES (NEW.at, 'booking.' || NEW.to_status, NEW.booking_id,
            json_object('booking_id', NEW.booking_id, 'from', NEW.from_status, 'to', NEW.to_status,
                        'actor', NEW.actor, 'reason', NEW.reason, 'seq', NEW.seq));
END;
