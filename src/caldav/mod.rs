//! CalDAV (RFC 4791) and iCalendar feeds: every room's calendar, read-only, for staff
//! calendar apps; and each staff member's own calendar, where inviting a room books it
//! (RFC 6638 scheduling).

pub mod dav;
pub mod feed;
pub mod freebusy;
pub mod ical;
pub mod object;
pub mod resource;
pub mod schedule;
pub mod service;
pub mod xml;
