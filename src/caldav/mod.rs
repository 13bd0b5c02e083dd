//! CalDAV (RFC 4791) and iCalendar feeds: every room's calendar, read-only, for staff
//! calendar apps.

pub mod dav;
pub mod feed;
pub mod freebusy;
pub mod ical;
pub mod resource;
pub mod service;
pub mod xml;
