//! Moving one date of a resident's booking to another time (issue 16): a form with the date's
//! day and times, decided by the core like a new request; refused, the form says why and the
//! date keeps its slot.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::TimeDelta;
use serde::Deserialize;

use super::book::{CheckResult, explain};
use super::mine::{not_found, own, service_error, signed_in};
use super::{parse_clock, parse_date};
use crate::app::AppState;
use crate::booking::{BookingError, BookingView, MoveDate};
use crate::i18n::reasons::local_span;
use crate::scheduling::Zone;
use crate::web::error::{self, At};
use crate::web::{
    FieldErrors, Page, PageError, PagePath, ToArg, Visitor, check_csrf, error_page, parse_form,
    render, see_other, urlencode,
};

/// The form's fields, as typed.
#[derive(Deserialize, Default, Clone)]
pub struct MoveForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    csrf: String,
}

#[derive(askama::Template)]
#[template(path = "resident/move.html")]
struct MovePage {
    page: Page,
    id: String,
    seq: i64,
    /// The date as it is now, in words.
    now_when: String,
    hall: String,
    form: MoveForm,
    errors: FieldErrors,
    result: Option<CheckResult>,
}

/// The booking, its date `seq` (which must hold its slot) and the hall's name.
async fn load(
    state: &AppState,
    v: &Visitor,
    id: &str,
    seq: &str,
) -> Result<(BookingView, i64, String), PageError> {
    let who = signed_in(v)?;
    let b = BookingView::from_record(own(state, v, who, id).await?);
    let seq: i64 = seq.parse().map_err(|_| not_found(v))?;
    let date = b
        .occurrences
        .iter()
        .find(|o| o.seq == seq)
        .ok_or_else(|| not_found(v))?;
    if !date.status.is_blocking() {
        return Err(service_error(
            v,
            BookingError::DateWrongStatus {
                seq,
                status: date.status,
                action: "moved",
            },
        ));
    }
    let hall = match state.bookings.room(&b.room_id).await {
        Ok(Some(r)) => r.room.name,
        Ok(None) => b.room_id.clone(),
        Err(e) => return Err(service_error(v, e)),
    };
    Ok((b, seq, hall))
}

#[allow(clippy::too_many_arguments)]
fn show(
    v: &Visitor,
    status: StatusCode,
    b: &BookingView,
    seq: i64,
    hall: String,
    form: MoveForm,
    errors: FieldErrors,
    result: Option<CheckResult>,
) -> Response {
    let zone = Zone::parse(&b.time_zone).unwrap_or(Zone::UTC);
    let now_when = b
        .occurrences
        .iter()
        .find(|o| o.seq == seq)
        .map(|o| local_span(v.lang, zone.local(o.start), zone.local(o.end)))
        .unwrap_or_default();
    let page = Page::new(
        v,
        "mine",
        v.lang.t_args("move-title", &[("when", now_when.to_arg())]),
    );
    render(
        v,
        status,
        &MovePage {
            page,
            id: b.id.clone(),
            seq,
            now_when,
            hall,
            form,
            errors,
            result,
        },
    )
}

/// `GET /my/bookings/{id}/dates/{seq}/move`: the form, filled with the date as it is.
pub async fn form(
    State(state): State<AppState>,
    v: Visitor,
    PagePath((id, seq)): PagePath<(String, String)>,
) -> Result<Response, PageError> {
    let (b, seq, hall) = load(&state, &v, &id, &seq).await?;
    let zone = Zone::parse(&b.time_zone).unwrap_or(Zone::UTC);
    let form = b
        .occurrences
        .iter()
        .find(|o| o.seq == seq)
        .map(|o| MoveForm {
            date: zone.local(o.start).format("%Y-%m-%d").to_string(),
            start: zone.local(o.start).format("%H:%M").to_string(),
            end: zone.local(o.end).format("%H:%M").to_string(),
            csrf: String::new(),
        })
        .unwrap_or_default();
    Ok(show(
        &v,
        StatusCode::OK,
        &b,
        seq,
        hall,
        form,
        FieldErrors::default(),
        None,
    ))
}

/// `POST /my/bookings/{id}/dates/{seq}/move`: asks the core; moved (or the change waits for
/// a clerk) → back to the booking with a notice; refused → the form with why.
pub async fn submit(
    State(state): State<AppState>,
    v: Visitor,
    PagePath((id, seq)): PagePath<(String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: MoveForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let who = signed_in(&v)?;
    let (b, seq, hall) = load(&state, &v, &id, &seq).await?;
    let lang = v.lang;
    let mut errors = FieldErrors::default();
    let day = parse_date(&form.date);
    if day.is_none() {
        errors.add("date", lang.t("book-error-date"));
    }
    let start = parse_clock(&form.start);
    if start.is_none() {
        errors.add("start", lang.t("book-error-time"));
    }
    let end = parse_clock(&form.end);
    if end.is_none() {
        errors.add("end", lang.t("book-error-time"));
    }
    let (Some(day), Some(start), Some(end)) = (day, start, end) else {
        return Ok(show(
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            &b,
            seq,
            hall,
            form,
            errors,
            None,
        ));
    };
    let from = day.and_time(start);
    // An end at or before the start is on the next day (an evening until midnight).
    let until = if end <= start {
        day.and_time(end) + TimeDelta::days(1)
    } else {
        day.and_time(end)
    };
    let request = MoveDate {
        start: from.format("%Y-%m-%dT%H:%M").to_string(),
        end: until.format("%Y-%m-%dT%H:%M").to_string(),
    };
    match state.bookings.move_date(who, &id, seq, request).await {
        Ok(after) => {
            let waits = after
                .occurrences
                .iter()
                .any(|o| o.replaces == Some(seq) && o.status.is_blocking());
            let notice = if waits {
                "date-move-asked"
            } else {
                "date-moved"
            };
            Ok(see_other(
                &v,
                &format!("/my/bookings/{}?notice={notice}", urlencode(&id)),
                &[],
            ))
        }
        Err(e) => {
            let shown = error::booking(lang, &e, At::BookForm);
            let Some(field) = shown.field else {
                error::log(&shown, &e);
                return Err(error_page(&v, shown.status, shown.heading, shown.message).into());
            };
            let result = match &e {
                BookingError::Refused { decision, zone, .. } => {
                    Some(explain(lang, decision, *zone))
                }
                _ => None,
            };
            errors.add(field, shown.message);
            Ok(show(&v, shown.status, &b, seq, hall, form, errors, result))
        }
    }
}
