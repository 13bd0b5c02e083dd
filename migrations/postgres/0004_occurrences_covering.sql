-- The creation snapshot filters a room's occurrences by block_start (the index range) and by
-- block_end and status: with those in the index, rows that do not overlap are passed over
-- without reading the table (see docs/performance.md).
DROP INDEX occurrences_room_time;
CREATE INDEX occurrences_room_time ON occurrences (room_id, block_start, block_end, status);
