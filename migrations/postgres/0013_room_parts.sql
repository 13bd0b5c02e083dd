-- Divisible halls (issue 16): a room may be made of parts named in the directory ("Gymsal A+B"
-- of "Gymsal A" and "Gymsal B"). Every booking blocks the *physical parts* of its room: the
-- leaves of the room's part tree (a room without parts is its own leaf).
--
-- - `rooms.parts`: the part DNs as the directory names them (JSON), to tell a changed room;
-- - `room_parts`: the direct parts, by room id; `room_leaves`: the physical parts of each
--   room, both written by the directory sync (src/store/mod.rs, `sync_rooms`);
-- - `occurrence_parts`: one row per occurrence and physical part it blocks, written and kept
--   in step with `occurrences` by the trigger below, so no path (creation, approval,
--   rejection, cancellation, expiry, a move) can forget it. Its exclusion constraint is the
--   database's last line of defence: two blocking occurrences never share a physical part at
--   the same time, whatever rooms they were booked on.
ALTER TABLE rooms ADD COLUMN parts TEXT NOT NULL DEFAULT '[]';

CREATE TABLE room_parts (
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    part_id         TEXT NOT NULL REFERENCES rooms (id),
    PRIMARY KEY (room_id, part_id)
);
CREATE INDEX room_parts_part ON room_parts (part_id);

CREATE TABLE room_leaves (
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    leaf_id         TEXT NOT NULL,
    PRIMARY KEY (room_id, leaf_id)
);
CREATE INDEX room_leaves_leaf ON room_leaves (leaf_id, room_id);
-- Until the next sync names parts, every room is its own single leaf.
INSERT INTO room_leaves (room_id, leaf_id) SELECT id, id FROM rooms;

CREATE TABLE occurrence_parts (
    booking_id      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    part_id         TEXT NOT NULL,
    block_start     TIMESTAMPTZ NOT NULL,
    block_end       TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL,
    PRIMARY KEY (booking_id, seq, part_id),
    FOREIGN KEY (booking_id, seq) REFERENCES occurrences (booking_id, seq) ON DELETE CASCADE,
    CONSTRAINT occurrence_parts_no_overlap EXCLUDE USING gist (
        part_id WITH =,
        tstzrange(block_start, block_end, '[)') WITH &&
    ) WHERE (status IN ('pending', 'approved'))
);
-- The creation snapshot and the busy queries read a part's occurrences by time (as
-- occurrences_room_time serves a room's, migration 0004).
CREATE INDEX occurrence_parts_part_time ON occurrence_parts (part_id, block_start, block_end, status);
-- Backfill: every existing occurrence blocks its own room.
INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status)
SELECT booking_id, seq, room_id, block_start, block_end, status FROM occurrences;

CREATE FUNCTION occurrence_parts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.room_id = OLD.room_id AND NEW.block_start = OLD.block_start
        AND NEW.block_end = OLD.block_end THEN
        -- A status change (approve, reject, cancel, expire): the parts follow. Back to a
        -- blocking status, the exclusion constraint checks the parts again.
        IF NEW.status IS DISTINCT FROM OLD.status THEN
            UPDATE occurrence_parts SET status = NEW.status
            WHERE booking_id = NEW.booking_id AND seq = NEW.seq;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Moved in time or to another room: the parts are those of the new place.
        DELETE FROM occurrence_parts WHERE booking_id = OLD.booking_id AND seq = OLD.seq;
    END IF;
    INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status)
    SELECT NEW.booking_id, NEW.seq, l.leaf_id, NEW.block_start, NEW.block_end, NEW.status
    FROM room_leaves l WHERE l.room_id = NEW.room_id;
    IF NOT FOUND THEN
        INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status)
        VALUES (NEW.booking_id, NEW.seq, NEW.room_id, NEW.block_start, NEW.block_end, NEW.status);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER occurrence_parts_sync AFTER INSERT OR UPDATE ON occurrences
    FOR EACH ROW EXECUTE FUNCTION occurrence_parts_sync();

-- Calendars: a part's calendar and feed show the whole's bookings as busy, and the whole's
-- show its parts'. Rooms sharing a physical part therefore share one change sequence: a
-- booking's change raises its room and every room sharing a leaf with it to one number above
-- all of theirs, and stamps the booking with it, so each of those calendars' ctags and sync
-- tokens move past it (RFC 6578). For a plain room this is exactly the old `+ 1`. The rooms'
-- rows are locked in id order, so two changes in rooms of one hall cannot deadlock.
CREATE OR REPLACE FUNCTION audit_to_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    booked TEXT;
    related TEXT[];
    seq BIGINT;
BEGIN
    SELECT room_id INTO booked FROM bookings WHERE id = NEW.booking_id;
    SELECT array_agg(r) INTO related FROM (
        SELECT booked AS r
        UNION
        SELECT o.room_id FROM room_leaves m JOIN room_leaves o ON o.leaf_id = m.leaf_id
        WHERE m.room_id = booked
    ) s;
    PERFORM 1 FROM rooms WHERE id = ANY (related) ORDER BY id FOR UPDATE;
    SELECT MAX(change_seq) + 1 INTO seq FROM rooms WHERE id = ANY (related);
    UPDATE rooms SET change_seq = seq WHERE id = ANY (related);
    UPDATE bookings SET change_seq = seq WHERE id = NEW.booking_id;
    RETURN NULL;
END $$;
