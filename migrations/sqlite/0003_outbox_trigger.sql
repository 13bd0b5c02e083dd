-- Every audit row makes its outbox row in the database itself, in the same transaction: one
-- statement fewer per change on the write path.
CREATE TRIGGER audit_to_outbox AFTER INSERT ON audit
BEGIN
    INSERT INTO outbox (created_at, kind, booking_id, payload)
    VALUES (NEW.at, 'booking.' || NEW.to_status, NEW.booking_id,
            json_object('booking_id', NEW.booking_id, 'from', NEW.from_status, 'to', NEW.to_status,
                        'actor', NEW.actor, 'reason', NEW.reason));
END;
