-- Divisible halls (issue 16), review fix: the change-number trigger locked the rooms of a
-- booking's hall `FOR UPDATE`, which also waits for the `FOR KEY SHARE` lock a creation's
-- foreign key (bookings.room_id, occurrences.room_id) takes on its own room before its audit
-- row: a creation holding its room's key-share lock and a change in the same hall holding the
-- hall's lower-id rows deadlocked. Only `change_seq`, no key, is written, so `FOR NO KEY
-- UPDATE` is the lock that is needed, and it does not wait for key-share locks. Writers of
-- several audit rows lock all their families up front in the same way (src/store/booking.rs,
-- `LOCK_FAMILIES`), in id order as here.
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
    PERFORM 1 FROM rooms WHERE id = ANY (related) ORDER BY id FOR NO KEY UPDATE;
    SELECT MAX(change_seq) + 1 INTO seq FROM rooms WHERE id = ANY (related);
    UPDATE rooms SET change_seq = seq WHERE id = ANY (related);
    UPDATE bookings SET change_seq = seq WHERE id = NEW.booking_id;
    RETURN NULL;
END $$;
