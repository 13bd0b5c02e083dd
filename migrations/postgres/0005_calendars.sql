-- Room calendars (CalDAV and feeds).
--
-- Change numbers: every status change of a booking (every audit row) raises its room's
-- change_seq by one and stamps the booking with the new value, in the same transaction, by the
-- trigger below. A calendar's sync token and ctag are its room's change_seq; the bookings
-- changed since a token are those stamped after it (RFC 6578). The room row's lock, held to the
-- commit, orders these numbers as the commits are ordered.
ALTER TABLE rooms ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE bookings ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
-- Existing bookings get distinct numbers per room, in the order they last changed, so a sync
-- with a limit can always resume between two of them.
UPDATE bookings SET change_seq = n.rn
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY updated_at, id) AS rn FROM bookings) AS n
WHERE n.id = bookings.id;
UPDATE rooms SET change_seq = COALESCE((SELECT MAX(b.change_seq) FROM bookings b WHERE b.room_id = rooms.id), 0);
CREATE INDEX bookings_room_changes ON bookings (room_id, change_seq);

CREATE FUNCTION audit_to_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seq BIGINT;
BEGIN
    UPDATE rooms SET change_seq = change_seq + 1
    WHERE id = (SELECT room_id FROM bookings WHERE id = NEW.booking_id)
    RETURNING change_seq INTO seq;
    UPDATE bookings SET change_seq = seq WHERE id = NEW.booking_id;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_to_change_seq AFTER INSERT ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_to_change_seq();

-- Which room calendars a staff member follows. Everybody follows every bookable room unless a
-- row here says otherwise.
CREATE TABLE calendar_follows (
    user_id         TEXT NOT NULL,
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    follow          BOOLEAN NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- Private feed URLs: a staff member's room feed with details. Only the token's SHA-256 is kept;
-- a revoked token stays, marked, so it can never come back. `login` is the owner's directory
-- login: a feed stops working when its owner leaves the directory.
CREATE TABLE feed_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    login           TEXT NOT NULL,
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    created_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX feed_tokens_user ON feed_tokens (user_id, created_at);
