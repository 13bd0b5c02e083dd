-- Residents, bookings (one row per request) and their occurrences, clerks' closures, and the
-- append-only audit log and notification outbox. Instants are sqlx's RFC 3339 text in UTC
-- (always "+00:00"), which sorts in time order. Nothing here is ever deleted.

CREATE TABLE residents (
    id              TEXT PRIMARY KEY NOT NULL,
    email           TEXT NOT NULL UNIQUE,   -- lower-cased
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,          -- PHC string, argon2id
    created_at      TEXT NOT NULL
);

CREATE TABLE bookings (
    id              TEXT PRIMARY KEY NOT NULL,
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    requester_id    TEXT NOT NULL,          -- "resident:<id>" or "staff:<directory id>"
    requester_name  TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    attendees       INTEGER NOT NULL,
    local_start     TEXT NOT NULL,          -- as asked, in the room's zone
    local_end       TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    recurrence      TEXT,
    on_conflict     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','cancelled','expired')),
    status_reason   TEXT,
    hold_until      TEXT,
    idempotency_key TEXT,
    request_hash    TEXT NOT NULL,
    reasons         TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT bookings_idempotency UNIQUE (requester_id, idempotency_key)
);
CREATE INDEX bookings_requester ON bookings (requester_id, created_at);
CREATE INDEX bookings_pending ON bookings (status, hold_until);

CREATE TABLE occurrences (
    booking_id      TEXT NOT NULL REFERENCES bookings (id),
    seq             INTEGER NOT NULL,
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    start_at        TEXT NOT NULL,
    end_at          TEXT NOT NULL,
    block_start     TEXT NOT NULL,          -- widened by the policy's buffers
    block_end       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','cancelled','expired','skipped')),
    PRIMARY KEY (booking_id, seq)
);
CREATE INDEX occurrences_room_time ON occurrences (room_id, block_start);

CREATE TABLE closures (
    id              TEXT PRIMARY KEY NOT NULL,
    room_id         TEXT REFERENCES rooms (id),
    building        TEXT,
    start_at        TEXT NOT NULL,
    end_at          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    CHECK ((room_id IS NULL) <> (building IS NULL))
);
CREATE INDEX closures_time ON closures (start_at);

CREATE TABLE audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id      TEXT NOT NULL REFERENCES bookings (id),
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    reason          TEXT
);
CREATE INDEX audit_booking ON audit (booking_id, id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    booking_id      TEXT REFERENCES bookings (id),
    payload         TEXT NOT NULL,
    delivered_at    TEXT
);

-- Append-only: the audit log can be added to, never changed.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
