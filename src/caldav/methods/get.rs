//! GET and HEAD: a room calendar's object, a whole room calendar as one iCalendar file (for
//! apps that GET a collection), a staff object or inbox message, and a line of text at `/`.
//! Conditional on `If-None-Match` (RFC 7232 §3.2).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::caldav::dav::Ctx;
use crate::caldav::error::DavError;
use crate::caldav::multistatus::render;
use crate::caldav::resource::{Node, Path};
use crate::caldav::tree::resolve;
use crate::caldav::xml::CalendarData;
use crate::calendar::ical;

/// GET or HEAD (RFC 4791 §5.3.4) of `path`.
pub(in crate::caldav) async fn get(
    ctx: &Ctx<'_>,
    path: &Path,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, DavError> {
    let node = resolve(ctx, path, true).await?;
    let (body, etag, modified) = match &node {
        Node::Object {
            cal,
            change_seq,
            entry: Some(entry),
            ..
        } => (
            render(&node, &CalendarData::Full).ok_or(DavError::NotFound)?,
            cal.etag(*change_seq),
            Some(entry.booking.updated_at),
        ),
        Node::Calendar {
            cal, change_seq, ..
        } => {
            // The whole calendar as one iCalendar file, for apps that GET a collection.
            let bookings = ctx.cals.bookings(cal).await?;
            // Stamped with the last change, not the clock: the same ETag, the same bytes.
            let stamp = ctx
                .cals
                .last_change(cal)
                .await?
                .unwrap_or(cal.room.synced_at);
            let body = ical::feed(&bookings, &cal.info(), &cal.staff_detail(), stamp);
            (body, format!("\"{}\"", cal.ctag(*change_seq)), Some(stamp))
        }
        Node::StaffObject {
            etag,
            data: Some(data),
            ..
        } => (data.clone(), etag.clone(), None),
        Node::Root => {
            let text = "Lokal CalDAV: add this server's address to your calendar app and log in with your directory account.\n";
            return Ok((StatusCode::OK, text).into_response());
        }
        _ => return Err(DavError::MethodNotAllowed("OPTIONS, PROPFIND, REPORT")),
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if head {
        let mut r = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
            r.headers_mut().insert(header::CONTENT_LENGTH, v);
        }
        r
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(m) = modified
        && let Ok(v) = HeaderValue::from_str(&m.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    if !not_modified {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        );
    }
    Ok(response)
}
