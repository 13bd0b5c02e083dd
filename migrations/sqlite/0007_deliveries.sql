-- Notification delivery (src/notify). The outbox (0002/0003) holds one row per status change;
-- the worker "fans out" each row into one delivery per destination (an email, a webhook, a
-- clerk's digest) in one transaction that also stamps outbox.delivered_at, which from here on
-- means "fanned out", not "received". Each delivery is then sent at least once, with retries,
-- until delivered or dead. Instants are RFC 3339 text in UTC, as in 0002.

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id       INTEGER REFERENCES outbox (id),   -- NULL for a digest (many events)
    booking_id      TEXT REFERENCES bookings (id),     -- NULL for a digest
    room_id         TEXT REFERENCES rooms (id),        -- whose clerks see it in the console
    event           TEXT NOT NULL,                     -- booking.requested, … or digest
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'webhook', 'digest')),
    target          TEXT NOT NULL,                     -- an address, or a webhook's name
    lang            TEXT NOT NULL DEFAULT 'nb',
    message_id      TEXT NOT NULL UNIQUE,              -- the same on every attempt
    body            TEXT,                              -- a webhook's JSON (fixed at fan-out); a digest's recipient name
    items           TEXT NOT NULL DEFAULT '[]',        -- a digest's booking ids, JSON
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,                              -- a worker's lease while it sends
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_room ON deliveries (room_id, status);
CREATE INDEX deliveries_digest ON deliveries (channel, target, status);
CREATE INDEX outbox_undelivered ON outbox (delivered_at, id);

-- The language a resident's mails are written in.
ALTER TABLE residents ADD COLUMN lang TEXT NOT NULL DEFAULT 'nb';
