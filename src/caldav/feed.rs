//! iCalendar feeds for apps that only subscribe (webcal): a public busy-only feed per room,
//! with no personal data at all, and private per-user feeds with details behind a revocable
//! token. Both answer conditional requests (ETag, Last-Modified) with 304.

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::error::DavError;
use crate::app::AppState;
use crate::calendar::ical::{self, Detail};
use crate::calendar::{Calendars, RoomCalendar};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feeds/rooms/{file}", get(public_feed))
        .route("/feeds/private/{file}", get(private_feed))
}

/// `Opptatt` by default, `Busy` for a client that prefers English.
fn busy_label(headers: &HeaderMap) -> &'static str {
    let english = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| first.trim().to_ascii_lowercase().starts_with("en"));
    if english { "Busy" } else { "Opptatt" }
}

async fn public_feed(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let cals = Calendars::new(&state.bookings);
    let result = async {
        let id = file.strip_suffix(".ics").ok_or(DavError::NotFound)?;
        let cal = cals.room(id).await?.ok_or(DavError::NotFound)?;
        let label = busy_label(&headers);
        let detail = Detail::Busy {
            label: label.to_owned(),
        };
        feed(&cals, &cal, &detail, label, &headers).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn private_feed(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let cals = Calendars::new(&state.bookings);
    let result = async {
        let token = file.strip_suffix(".ics").ok_or(DavError::NotFound)?;
        // An unknown or revoked token is simply not there.
        let (cal, owner) = cals
            .private_feed_room(token)
            .await?
            .ok_or(DavError::NotFound)?;
        // A feed stops with its owner's place in the directory. While the directory cannot
        // be asked, the feed goes on (reads stay up through an outage).
        if let Ok(None) = state.directory.find_person(&owner).await {
            return Err(DavError::NotFound);
        }
        let detail = cal.staff_detail();
        feed(&cals, &cal, &detail, "staff", &headers).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn feed(
    cals: &Calendars,
    cal: &RoomCalendar,
    detail: &Detail,
    variant: &str,
    headers: &HeaderMap,
) -> Result<Response, DavError> {
    let change_seq = cals.change_seq(cal).await?;
    let etag = format!("\"{}-{variant}\"", cal.ctag(change_seq));
    let modified = cals
        .last_change(cal)
        .await?
        .unwrap_or(cal.room.synced_at)
        .max(cal.room.synced_at);
    let modified_text = http_date(modified);
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let fresh = match if_none_match {
        Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(&v.replace("GMT", "+0000")).ok())
            .is_some_and(|since| modified.timestamp() <= since.timestamp()),
    };
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // With the bookings of the rooms sharing a physical part, busy only (a divisible
        // hall's in each half's feed, and the halves' in the hall's).
        let bookings = cals.bookings(cal).await?;
        // Stamped with the last change, not the clock: the same ETag, the same bytes.
        let body = ical::feed(&bookings, &cal.info(), detail, modified);
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        );
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&modified_text) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The public feed's label follows Accept-Language.
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    Ok(response)
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
