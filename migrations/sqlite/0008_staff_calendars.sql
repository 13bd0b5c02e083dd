-- Staff calendars and implicit scheduling (RFC 6638): every staff member has one writable
-- calendar ("meetings") whose events may invite rooms; each room an event invites gets a
-- booking through the ordinary booking path.
--
-- Change numbers: a staff calendar's sync token and ctag are its `staff_calendars.change_seq`;
-- every write of an object raises it and stamps the object with the new value. A deleted
-- object stays as a tombstone (body NULL) so sync-collection can report it (RFC 6578 §3.5).
-- The organiser's copy shows the room's answer computed from the linked booking when it is
-- read; the trigger below moves the object's ETag and its calendar's sync token in the same
-- transaction as the booking's status change (every status change writes an audit row).
CREATE TABLE staff_calendars (
    owner           TEXT PRIMARY KEY NOT NULL,
    change_seq      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE staff_objects (
    owner           TEXT NOT NULL,
    name            TEXT NOT NULL,
    uid             TEXT NOT NULL,
    body            TEXT,
    change_seq      INTEGER NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE UNIQUE INDEX staff_objects_uid ON staff_objects (owner, uid) WHERE body IS NOT NULL;
CREATE INDEX staff_objects_changes ON staff_objects (owner, change_seq);

-- The rooms an object invites and the room's answer: the booking made for it, or none when
-- the room declined (`answer` keeps the reasons, as JSON). `fingerprint` is a digest of the
-- event's times and recurrence: a write that keeps it does not book again.
CREATE TABLE staff_object_rooms (
    owner           TEXT NOT NULL,
    name            TEXT NOT NULL,
    room_id         TEXT NOT NULL,
    booking_id      TEXT,
    fingerprint     TEXT NOT NULL,
    answer          TEXT NOT NULL,
    PRIMARY KEY (owner, name, room_id)
);
CREATE INDEX staff_object_rooms_booking ON staff_object_rooms (booking_id);

-- The schedule inbox (RFC 6638 §2.2): iTIP REPLY messages from rooms to the organiser.
CREATE TABLE schedule_inbox (
    owner           TEXT NOT NULL,
    name            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);

CREATE TRIGGER audit_to_staff_objects AFTER INSERT ON audit
WHEN EXISTS (SELECT 1 FROM staff_object_rooms WHERE booking_id = NEW.booking_id)
BEGIN
    UPDATE staff_calendars SET change_seq = change_seq + 1
    WHERE owner IN (SELECT owner FROM staff_object_rooms WHERE booking_id = NEW.booking_id);
    UPDATE staff_objects
    SET change_seq = (SELECT c.change_seq FROM staff_calendars c WHERE c.owner = staff_objects.owner)
    WHERE body IS NOT NULL AND EXISTS (
        SELECT 1 FROM staff_object_rooms l
        WHERE l.booking_id = NEW.booking_id AND l.owner = staff_objects.owner AND l.name = staff_objects.name
    );
END;
