//! "My bookings": the signed-in person's bookings, one booking's detail with its dates and
//! reasons, its cancellation, and its calendar file. Someone else's booking is not found.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::app::AppState;
use crate::booking::records::BookingRecord;
use crate::booking::{BookingError, BookingView};
use crate::calendar::ical::{Detail, RoomInfo, calendar_object};
use crate::i18n::reasons::{date, date_time, local_span, stored};
use crate::identity::Principal;
use crate::scheduling::Zone;
use crate::web::error::{self, At};
use crate::web::{
    Lang, Page, PageError, PagePath, PageQuery, ToArg, Visitor, check_csrf, error_page, parse_form,
    render, see_other, sign_in_first, urlencode,
};

/// A status in words (`pending` → "Til behandling").
pub fn status_text(lang: Lang, status: &str) -> String {
    error::status_words(lang, "status-", status)
}

/// Why a booking was rejected or cancelled, in words where Lokal wrote it.
pub(crate) fn status_reason_text(lang: Lang, reason: &str) -> String {
    match reason {
        "cancelled by the requester" => lang.t("status-reason-requester"),
        r if r.starts_with("moved ") || r.starts_with("asks to move ") => {
            // "moved from A to B", "asks to move date N from A to B", "moved to A"
            let times = r.split_once("from ").map_or(r, |(_, t)| t);
            match times.split_once(" to ") {
                Some((a, b)) => lang.t_args(
                    if r.starts_with("asks") {
                        "status-reason-move-asked"
                    } else {
                        "status-reason-moved"
                    },
                    &[("from", a.to_arg()), ("to", b.to_arg())],
                ),
                None => lang.t_args(
                    "status-reason-moved-to",
                    &[("to", r.trim_start_matches("moved to ").to_arg())],
                ),
            }
        }
        "no clerk decided before the hold ran out" => lang.t("status-reason-expired"),
        other => other.to_owned(),
    }
}

fn when(lang: Lang, b: &BookingView) -> String {
    let parse = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok();
    match (parse(&b.local_start), parse(&b.local_end)) {
        (Some(s), Some(e)) => local_span(lang, s, e),
        _ => format!("{}–{}", b.local_start, b.local_end),
    }
}

/// A booking in the list.
pub struct Item {
    pub id: String,
    pub hall: String,
    pub when: String,
    pub repeats: Option<String>,
    pub status: String,
    pub status_text: String,
    pub status_reason: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "resident/mine.html")]
struct MinePage {
    page: Page,
    items: Vec<Item>,
}

pub(super) fn signed_in(v: &Visitor) -> Result<&Principal, PageError> {
    v.user.as_ref().ok_or_else(|| sign_in_first(v).into())
}

pub(super) fn not_found(v: &Visitor) -> PageError {
    error_page(
        v,
        StatusCode::NOT_FOUND,
        "error-not-found",
        v.lang.t("mine-not-found"),
    )
    .into()
}

pub(super) fn service_error(v: &Visitor, e: BookingError) -> PageError {
    error::booking_page(v, &e, At::Mine).into()
}

/// The signed-in person's own booking. Anybody else's is not found here, even for a clerk of
/// its hall or an administrator (who may see it in the console, where cancelling needs a
/// reason for the requester).
pub(super) async fn own(
    state: &AppState,
    v: &Visitor,
    who: &Principal,
    id: &str,
) -> Result<BookingRecord, PageError> {
    let record = state
        .bookings
        .record(who, id)
        .await
        .map_err(|e| service_error(v, e))?;
    if record.requester_id != who.requester_id() {
        return Err(not_found(v));
    }
    Ok(record)
}

pub(super) async fn hall_names(
    state: &AppState,
    v: &Visitor,
) -> Result<HashMap<String, String>, PageError> {
    match state.bookings.rooms(true).await {
        Ok(rooms) => Ok(rooms
            .into_iter()
            .map(|r| (r.room.id, r.room.name))
            .collect()),
        Err(e) => Err(service_error(v, e)),
    }
}

/// `GET /my/bookings`.
pub async fn list(State(state): State<AppState>, v: Visitor) -> Result<Response, PageError> {
    let who = signed_in(&v)?;
    let lang = v.lang;
    let bookings = state
        .bookings
        .mine(who)
        .await
        .map_err(|e| service_error(&v, e))?;
    let names = hall_names(&state, &v).await?;
    let items = bookings
        .into_iter()
        .map(|b| Item {
            hall: names
                .get(&b.room_id)
                .cloned()
                .unwrap_or_else(|| b.room_id.clone()),
            when: when(lang, &b),
            repeats: b.recurrence.as_ref().map(|_| {
                let kept = b
                    .occurrences
                    .iter()
                    .filter(|o| o.status != crate::scheduling::OccurrenceStatus::Skipped)
                    .count();
                lang.t_args("mine-repeats", &[("count", kept.to_arg())])
            }),
            status_text: status_text(lang, b.status.as_str()),
            status_reason: b
                .status_reason
                .as_deref()
                .map(|r| status_reason_text(lang, r)),
            status: b.status.to_string(),
            id: b.id,
        })
        .collect();
    let page = Page::new(&v, "mine", lang.t("mine-title"));
    Ok(render(&v, StatusCode::OK, &MinePage { page, items }))
}

/// One date of a booking.
pub struct DateLine {
    pub seq: i64,
    pub when: String,
    pub status: String,
    pub status_text: String,
    /// Why the date is what it is, when it was decided on its own.
    pub why: String,
    /// It holds its slot: the requester may cancel it alone.
    pub cancellable: bool,
}

#[derive(askama::Template)]
#[template(path = "resident/booking.html")]
struct DetailPage {
    page: Page,
    notice: Option<String>,
    id: String,
    hall: String,
    room_id: String,
    when: String,
    status: String,
    status_text: String,
    status_reason: Option<String>,
    purpose: String,
    attendees: u32,
    hold_until: Option<String>,
    repeat_until: Option<String>,
    dates: Vec<DateLine>,
    summary: String,
    /// More than one date holds its slot: cancelling the whole booking asks first.
    series: bool,
    reasons: Vec<(String, String)>,
    active: bool,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// `GET /my/bookings/{id}` (and `{id}.ics`, the calendar file).
pub async fn detail(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    if let Some(id) = id.strip_suffix(".ics") {
        return ics(&state, &v, id).await;
    }
    let who = signed_in(&v)?;
    let lang = v.lang;
    let b = BookingView::from_record(own(&state, &v, who, &id).await?);
    let names = hall_names(&state, &v).await?;
    let zone = Zone::parse(&b.time_zone).unwrap_or(Zone::UTC);
    let dates = b
        .occurrences
        .iter()
        .map(|o| DateLine {
            seq: o.seq,
            when: local_span(lang, zone.local(o.start), zone.local(o.end)),
            status: o.status.to_string(),
            status_text: status_text(lang, o.status.as_str()),
            why: o
                .status_reason
                .as_deref()
                .map(|r| status_reason_text(lang, r))
                .unwrap_or_default(),
            cancellable: o.status.is_blocking(),
        })
        .collect::<Vec<DateLine>>();
    let live = dates.iter().filter(|d| d.cancellable).count();
    let summary = crate::web::dates_summary(lang, b.occurrences.iter().map(|o| o.status));
    let mut reasons: Vec<(String, String)> = Vec::new();
    for r in &b.reasons {
        let text = stored(lang, &r.code, &r.message);
        if !reasons.iter().any(|(_, t)| *t == text) {
            reasons.push((r.code.clone(), text));
        }
    }
    let notice = q.notice.as_deref().and_then(|n| match n {
        "created" | "cancelled" | "date-cancelled" | "date-moved" | "date-move-asked" => {
            Some(lang.t(&format!("mine-notice-{n}")))
        }
        _ => None,
    });
    let repeat_until = b.recurrence.as_deref().and_then(|r| {
        let until = r.split(';').find_map(|p| p.strip_prefix("UNTIL="))?;
        chrono::NaiveDate::parse_from_str(until.get(..8)?, "%Y%m%d")
            .ok()
            .map(|d| date(lang, d))
    });
    let page = Page::new(
        &v,
        "mine",
        names.get(&b.room_id).cloned().unwrap_or_default(),
    );
    let active = matches!(b.status.as_str(), "pending" | "approved");
    Ok(render(
        &v,
        StatusCode::OK,
        &DetailPage {
            page,
            notice,
            hall: names
                .get(&b.room_id)
                .cloned()
                .unwrap_or_else(|| b.room_id.clone()),
            when: when(lang, &b),
            status_text: status_text(lang, b.status.as_str()),
            status_reason: b
                .status_reason
                .as_deref()
                .map(|r| status_reason_text(lang, r)),
            hold_until: b
                .hold_until
                .filter(|_| b.status == crate::scheduling::BookingStatus::Pending)
                .map(|h| date_time(lang, zone.local(h))),
            repeat_until,
            series: live > 1,
            summary,
            dates,
            reasons,
            active,
            purpose: b.purpose,
            attendees: b.attendees,
            status: b.status.to_string(),
            room_id: b.room_id,
            id: b.id,
        },
    ))
}

/// `GET /my/bookings/{id}.ics`: the booking as a calendar file to download.
async fn ics(state: &AppState, v: &Visitor, id: &str) -> Result<Response, PageError> {
    let who = signed_in(v)?;
    let record = own(state, v, who, id).await?;
    let room = match state.bookings.room(&record.room_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(not_found(v)),
        Err(e) => return Err(service_error(v, e)),
    };
    let info = RoomInfo {
        id: &room.room.id,
        name: &room.room.name,
        zone: state.bookings.rules.zone(&room),
    };
    // The requester's own booking: the purpose is theirs to see; no organiser line.
    let detail = Detail::Staff {
        show_organiser: false,
    };
    let Some(body) = calendar_object(&record, &info, &detail, state.bookings.clock.now()) else {
        return Err(error_page(
            v,
            StatusCode::NOT_FOUND,
            "error-not-found",
            v.lang.t("mine-no-calendar"),
        )
        .into());
    };
    let safe_id: String = record
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"booking-{safe_id}.ics\""))
    {
        h.insert(CONTENT_DISPOSITION, value);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /my/bookings/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: CancelForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let who = signed_in(&v)?;
    own(&state, &v, who, &id).await?;
    state
        .bookings
        .cancel(who, &id, None)
        .await
        .map_err(|e| service_error(&v, e))?;
    Ok(see_other(
        &v,
        &format!("/my/bookings/{}?notice=cancelled", urlencode(&id)),
        &[],
    ))
}

#[derive(askama::Template)]
#[template(path = "resident/confirm.html")]
struct ConfirmPage {
    page: Page,
    /// The question, in words.
    question: String,
    /// Where the confirmation posts.
    action: String,
    yes: String,
    back: String,
}

/// The booking and the date a confirmation is about.
async fn confirm_page(
    state: &AppState,
    v: &Visitor,
    id: &str,
    seq: Option<&str>,
) -> Result<Response, PageError> {
    let who = signed_in(v)?;
    let lang = v.lang;
    let b = BookingView::from_record(own(state, v, who, id).await?);
    let names = hall_names(state, v).await?;
    let hall = names
        .get(&b.room_id)
        .cloned()
        .unwrap_or_else(|| b.room_id.clone());
    let zone = Zone::parse(&b.time_zone).unwrap_or(Zone::UTC);
    let back = format!("/my/bookings/{}", urlencode(id));
    let (question, action, yes) = match seq {
        Some(seq) => {
            let date = seq
                .parse::<i64>()
                .ok()
                .and_then(|n| b.occurrences.iter().find(|o| o.seq == n))
                .ok_or_else(|| not_found(v))?;
            if !date.status.is_blocking() {
                return Err(service_error(
                    v,
                    BookingError::DateWrongStatus {
                        seq: date.seq,
                        status: date.status,
                        action: "cancelled",
                    },
                ));
            }
            let when = local_span(lang, zone.local(date.start), zone.local(date.end));
            (
                lang.t_args(
                    "mine-confirm-date",
                    &[("when", when.to_arg()), ("hall", hall.to_arg())],
                ),
                format!("/my/bookings/{}/dates/{}/cancel", urlencode(id), date.seq),
                lang.t("mine-confirm-yes-date"),
            )
        }
        None => {
            let live = b
                .occurrences
                .iter()
                .filter(|o| o.status.is_blocking())
                .count();
            if live == 0 {
                return Err(service_error(
                    v,
                    BookingError::WrongStatus {
                        status: b.status,
                        action: "cancelled",
                    },
                ));
            }
            (
                lang.t_args(
                    "mine-confirm-series",
                    &[("count", live.to_arg()), ("hall", hall.to_arg())],
                ),
                format!("/my/bookings/{}/cancel", urlencode(id)),
                lang.t("mine-confirm-yes-series"),
            )
        }
    };
    let page = Page::new(v, "mine", lang.t("mine-confirm-title"));
    Ok(render(
        v,
        StatusCode::OK,
        &ConfirmPage {
            page,
            question,
            action,
            yes,
            back,
        },
    ))
}

/// `GET /my/bookings/{id}/cancel`: asks before cancelling every date of a booking.
pub async fn confirm_cancel(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
) -> Result<Response, PageError> {
    confirm_page(&state, &v, &id, None).await
}

/// `GET /my/bookings/{id}/dates/{seq}/cancel`: asks before cancelling one date.
pub async fn confirm_cancel_date(
    State(state): State<AppState>,
    v: Visitor,
    PagePath((id, seq)): PagePath<(String, String)>,
) -> Result<Response, PageError> {
    confirm_page(&state, &v, &id, Some(&seq)).await
}

/// `POST /my/bookings/{id}/dates/{seq}/cancel`: cancels one date; the others stay.
pub async fn cancel_date(
    State(state): State<AppState>,
    v: Visitor,
    PagePath((id, seq)): PagePath<(String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: CancelForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let who = signed_in(&v)?;
    own(&state, &v, who, &id).await?;
    let seq: i64 = seq.parse().map_err(|_| not_found(&v))?;
    state
        .bookings
        .cancel_dates(who, &id, &[seq], None)
        .await
        .map_err(|e| service_error(&v, e))?;
    Ok(see_other(
        &v,
        &format!("/my/bookings/{}?notice=date-cancelled", urlencode(&id)),
        &[],
    ))
}
