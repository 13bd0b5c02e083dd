-- A room's e-mail address from the directory (the mapping's `room_email`, `mail` in both
-- presets): its calendar-user address, which staff invite it by (RFC 6638). NULL where the
-- directory has none. Filled in by the next directory sync.
ALTER TABLE rooms ADD COLUMN email TEXT;
