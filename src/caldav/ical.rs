//! iCalendar (RFC 5545) for room calendars: bookings as VEVENTs with their VTIMEZONE.
