-- Web portal sessions. Only the SHA-256 of the cookie's random token is kept, so a copy of
-- the database opens no session. `principal` is the signed-in person as JSON (for staff, the
-- directory roles at login); `csrf` is the session's form token.
CREATE TABLE web_sessions (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL,
    principal       TEXT NOT NULL,
    csrf            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    seen_at         TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
