-- Divisible halls (issue 16): a room may be made of parts named in the directory ("Gymsal A+B"
-- of "Gymsal A" and "Gymsal B"). Every booking blocks the *physical parts* of its room: the
-- leaves of the room's part tree (a room without parts is its own leaf).
--
-- - `rooms.parts`: the part DNs as the directory names them (JSON), to tell a changed room;
-- - `room_parts`: the direct parts, by room id; `room_leaves`: the physical parts of each
--   room, both written by the directory sync (src/store/mod.rs, `sync_rooms`);
-- - `occurrence_parts`: one row per occurrence and physical part it blocks, written and kept
--   in step with `occurrences` by the triggers below, so no path (creation, approval,
--   rejection, cancellation, expiry, a move) can forget it. SQLite has no exclusion
--   constraint: creations check the parts under its single writer lock (see
--   src/store/booking.rs); the PostgreSQL migration adds the constraint.
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
    seq             INTEGER NOT NULL,
    part_id         TEXT NOT NULL,
    block_start     TEXT NOT NULL,
    block_end       TEXT NOT NULL,
    status          TEXT NOT NULL,
    PRIMARY KEY (booking_id, seq, part_id)
);
CREATE INDEX occurrence_parts_part_time ON occurrence_parts (part_id, block_start, block_end, status);
-- Backfill: every existing occurrence blocks its own room.
INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status)
SELECT booking_id, seq, room_id, block_start, block_end, status FROM occurrences;

CREATE TRIGGER occurrence_parts_insert AFTER INSERT ON occurrences
BEGIN
    INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status)
    SELECT NEW.booking_id, NEW.seq, l.leaf_id, NEW.block_start, NEW.block_end, NEW.status
    FROM room_leaves l WHERE l.room_id = NEW.room_id
    UNION ALL
    SELECT NEW.booking_id, NEW.seq, NEW.room_id, NEW.block_start, NEW.block_end, NEW.status
    WHERE NOT EXISTS (SELECT 1 FROM room_leaves l WHERE l.room_id = NEW.room_id);
END;

-- A status change (approve, reject, cancel, expire): the parts follow.
CREATE TRIGGER occurrence_parts_status AFTER UPDATE OF status ON occurrences
WHEN NEW.room_id = OLD.room_id AND NEW.block_start = OLD.block_start AND NEW.block_end = OLD.block_end
BEGIN
    UPDATE occurrence_parts SET status = NEW.status
    WHERE booking_id = NEW.booking_id AND seq = NEW.seq;
END;

-- Moved in time or to another room: the parts are those of the new place.
CREATE TRIGGER occurrence_parts_move AFTER UPDATE OF room_id, block_start, block_end ON occurrences
WHEN NEW.room_id <> OLD.room_id OR NEW.block_start <> OLD.block_start OR NEW.block_end <> OLD.block_end
BEGIN
    DELETE FROM occurrence_parts WHERE booking_id = OLD.booking_id AND seq = OLD.seq;
    INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status)
    SELECT NEW.booking_id, NEW.seq, l.leaf_id, NEW.block_start, NEW.block_end, NEW.status
    FROM room_leaves l WHERE l.room_id = NEW.room_id
    UNION ALL
    SELECT NEW.booking_id, NEW.seq, NEW.room_id, NEW.block_start, NEW.block_end, NEW.status
    WHERE NOT EXISTS (SELECT 1 FROM room_leaves l WHERE l.room_id = NEW.room_id);
END;

CREATE TRIGGER occurrence_parts_delete AFTER DELETE ON occurrences
BEGIN
    DELETE FROM occurrence_parts WHERE booking_id = OLD.booking_id AND seq = OLD.seq;
END;

-- Calendars: a part's calendar and feed show the whole's bookings as busy, and the whole's
-- show its parts'. Rooms sharing a physical part therefore share one change sequence: a
-- booking's change raises its room and every room sharing a leaf with it to one number above
-- all of theirs, and stamps the booking with it, so each of those calendars' ctags and sync
-- tokens move past it (RFC 6578). For a plain room this is exactly the old `+ 1`.
-- The number is worked out once, into a one-row scratch table (writers are serialized), and
-- then given to every room of the set.
CREATE TABLE change_seq_next (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
DROP TRIGGER audit_to_change_seq;
CREATE TRIGGER audit_to_change_seq AFTER INSERT ON audit
BEGIN
    INSERT OR REPLACE INTO change_seq_next (id, value)
    SELECT 1, 1 + MAX(r.change_seq) FROM rooms r
    WHERE r.id = (SELECT room_id FROM bookings WHERE id = NEW.booking_id)
       OR r.id IN (SELECT o.room_id FROM room_leaves m JOIN room_leaves o ON o.leaf_id = m.leaf_id
                   WHERE m.room_id = (SELECT room_id FROM bookings WHERE id = NEW.booking_id));
    UPDATE rooms SET change_seq = (SELECT value FROM change_seq_next WHERE id = 1)
    WHERE id = (SELECT room_id FROM bookings WHERE id = NEW.booking_id)
       OR id IN (SELECT o.room_id FROM room_leaves m JOIN room_leaves o ON o.leaf_id = m.leaf_id
                 WHERE m.room_id = (SELECT room_id FROM bookings WHERE id = NEW.booking_id));
    UPDATE bookings SET change_seq = (SELECT value FROM change_seq_next WHERE id = 1)
    WHERE id = NEW.booking_id;
END;
