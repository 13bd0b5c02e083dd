-- Closures that touch bookings (issue 16): what a clerk chose for each date a closure hit.
-- `keep`: the date stays booked despite the closure, for `reason` (shown in the booking's
-- history as a note, from and to the date's `status` at the time); `cancel`: the date was
-- cancelled through the per-date cancel (its audit row and mail are the cancel's own), and
-- the row says which closure it was for. One row per closure, booking and date: a second
-- choice on the same booking and closure is found here (the same one again is a no-op, the
-- other one is refused).
CREATE TABLE closure_decisions (
    closure_id      TEXT NOT NULL REFERENCES closures (id),
    booking_id      TEXT NOT NULL REFERENCES bookings (id),
    seq             INTEGER NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('keep', 'cancel')),
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    at              TEXT NOT NULL,
    PRIMARY KEY (closure_id, booking_id, seq)
);
CREATE INDEX closure_decisions_booking ON closure_decisions (booking_id);
