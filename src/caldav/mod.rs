//! CalDAV (RFC 4791) and iCalendar feeds: every room's calendar, read-only, for staff
//! calendar apps; and each staff member's own calendar, where inviting a room books it
//! (RFC 6638 scheduling).

pub mod dav;
pub mod error;
pub mod feed;
pub mod freebusy;
pub mod methods;
mod multistatus;
pub mod resource;
mod tree;
pub mod xml;

pub use dav::{serve, whole_body};

use axum::Router;

use crate::app::AppState;

/// The CalDAV face's routes: `/dav/...`, `/.well-known/caldav` and the feeds. `startup` sends
/// PROPFIND and OPTIONS on `/` to [`serve`].
pub fn routes() -> Router<AppState> {
    Router::new().merge(dav::routes()).merge(feed::routes())
}
