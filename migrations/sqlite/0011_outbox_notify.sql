-- Kept in step with PostgreSQL's 0011, which makes new outbox rows NOTIFY the workers of every
-- instance. SQLite has no NOTIFY and one writing process: that process wakes its own worker
-- (`Bookings::outbox_signal`), and polling stays the fallback. Nothing to change here.
SELECT 1;
