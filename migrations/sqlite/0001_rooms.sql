-- Rooms copied from the directory. Keyed by the directory's stable id (entryUUID or
-- objectGUID), never by DN. A room that leaves the directory is retired, never deleted.
CREATE TABLE rooms (
    id              TEXT PRIMARY KEY NOT NULL,
    dn              TEXT NOT NULL,
    name            TEXT NOT NULL,
    building        TEXT,
    capacity        INTEGER,
    equipment       TEXT NOT NULL DEFAULT '[]',
    policy          TEXT,
    approver_group  TEXT,
    resource_type   TEXT,
    floor           TEXT,
    time_zone       TEXT,
    description     TEXT,
    synced_at       TEXT NOT NULL,
    retired_at      TEXT
);
CREATE INDEX rooms_active ON rooms (retired_at);
