-- Residents, bookings (one row per request) and their occurrences, clerks' closures, and the
-- append-only audit log and notification outbox. Nothing here is ever deleted.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE residents (
    id              TEXT PRIMARY KEY NOT NULL,
    email           TEXT NOT NULL UNIQUE,   -- lower-cased
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,          -- PHC string, argon2id
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE bookings (
    id              TEXT PRIMARY KEY NOT NULL,
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    requester_id    TEXT NOT NULL,          -- "resident:<id>" or "staff:<directory id>"
    requester_name  TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    attendees       BIGINT NOT NULL,
    local_start     TEXT NOT NULL,          -- as asked, in the room's zone
    local_end       TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    recurrence      TEXT,
    on_conflict     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','cancelled','expired')),
    status_reason   TEXT,
    hold_until      TIMESTAMPTZ,
    idempotency_key TEXT,
    request_hash    TEXT NOT NULL,
    reasons         TEXT NOT NULL DEFAULT '[]',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT bookings_idempotency UNIQUE (requester_id, idempotency_key)
);
CREATE INDEX bookings_requester ON bookings (requester_id, created_at);
CREATE INDEX bookings_pending ON bookings (status, hold_until);

CREATE TABLE occurrences (
    booking_id      TEXT NOT NULL REFERENCES bookings (id),
    seq             BIGINT NOT NULL,
    room_id         TEXT NOT NULL REFERENCES rooms (id),
    start_at        TIMESTAMPTZ NOT NULL,
    end_at          TIMESTAMPTZ NOT NULL,
    block_start     TIMESTAMPTZ NOT NULL,   -- widened by the policy's buffers
    block_end       TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','cancelled','expired','skipped')),
    PRIMARY KEY (booking_id, seq),
    -- The last line of defence against double booking: two blocking occurrences of one room
    -- can never overlap, whatever the application does. Half-open ranges, so touching is fine.
    CONSTRAINT occurrences_no_overlap EXCLUDE USING gist (
        room_id WITH =,
        tstzrange(block_start, block_end, '[)') WITH &&
    ) WHERE (status IN ('pending', 'approved'))
);
CREATE INDEX occurrences_room_time ON occurrences (room_id, block_start);

CREATE TABLE closures (
    id              TEXT PRIMARY KEY NOT NULL,
    room_id         TEXT REFERENCES rooms (id),
    building        TEXT,
    start_at        TIMESTAMPTZ NOT NULL,
    end_at          TIMESTAMPTZ NOT NULL,
    reason          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK ((room_id IS NULL) <> (building IS NULL))
);
CREATE INDEX closures_time ON closures (start_at);

CREATE TABLE audit (
    id              BIGSERIAL PRIMARY KEY,
    booking_id      TEXT NOT NULL REFERENCES bookings (id),
    at              TIMESTAMPTZ NOT NULL,
    actor           TEXT NOT NULL,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    reason          TEXT
);
CREATE INDEX audit_booking ON audit (booking_id, id);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    created_at      TIMESTAMPTZ NOT NULL,
    kind            TEXT NOT NULL,
    booking_id      TEXT REFERENCES bookings (id),
    payload         TEXT NOT NULL,
    delivered_at    TIMESTAMPTZ
);

-- Append-only: the audit log can be added to, never changed.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
