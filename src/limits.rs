//! The limits on what people type, in one place: the services enforce them, and the faces
//! use the same numbers for `maxlength` and their own early field checks, so a form and the
//! API never disagree. Lengths count characters (Unicode scalar values), not bytes.

/// A booking's purpose.
pub const PURPOSE_CHARS: usize = 500;
/// A clerk's reason for rejecting or cancelling a request (sent to the requester).
pub const DECISION_REASON_CHARS: usize = 2000;
/// A clerk's reason for closing a room.
pub const CLOSURE_REASON_CHARS: usize = 500;
/// A clerk's words with a choice about a booking a closure hits: why it is kept, or the
/// message to the requester when its dates are cancelled. With the closure's reason in front
/// it still fits a decision reason.
pub const CLOSURE_CHOICE_CHARS: usize = 1400;
/// The most bookings a closure's list of the bookings it hits shows (it says how many more).
pub const CLOSURE_HITS: usize = 500;
/// A resident's name.
pub const NAME_CHARS: usize = 200;
/// A clerk's search text.
pub const SEARCH_CHARS: usize = 200;
/// The most rows a clerk's search returns.
pub const SEARCH_RESULTS: usize = 200;
/// The most dates one decision names (a series has far fewer; this bounds the request).
pub const MAX_DATES_LISTED: usize = 1000;

/// Whether `text` is non-empty and at most `max` characters long.
pub fn fits(text: &str, max: usize) -> bool {
    !text.is_empty() && text.chars().count() <= max
}
