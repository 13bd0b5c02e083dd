//! The booking form: a check that decides the request without writing anything (the
//! reasons before submitting), and the submit, guarded by the CSRF token and an idempotency
//! key so that a double click makes one booking.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{parse_clock, parse_date};
use crate::app::AppState;
use crate::booking::records::StoredRoom;
use crate::booking::{BookingError, CreateBooking, OnConflict, Preview};
use crate::i18n::reasons::{date, sentence};
use crate::identity::Principal;
use crate::scheduling::{Decision, Outcome, Zone};
use crate::web::error::{self, At};
use crate::web::{
    FieldErrors, Lang, Page, PageError, PagePath, PageQuery, ToArg, Visitor, check_csrf,
    error_page, parse_form, render, see_other, sign_in_first, urlencode,
};

/// The form's fields, as typed (shown again as typed).
#[derive(Deserialize, Default, Clone)]
pub struct BookForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    /// From the search's links: `from`/`to` prefill `start`/`end`.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    attendees: String,
    #[serde(default)]
    repeat_until: String,
    /// The "book until" button's date, after a series that reached too far: it replaces
    /// `repeat_until`.
    #[serde(default)]
    until_offer: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    csrf: String,
}

/// One reason shown: its code and its sentence.
pub struct ReasonLine {
    pub code: String,
    pub text: String,
}

/// What the check (or a refused submit) found.
pub struct CheckResult {
    /// `approved`, `pending` or `rejected`: the class of the summary.
    pub outcome: &'static str,
    pub summary: String,
    pub reasons: Vec<ReasonLine>,
    pub skipped: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "resident/book.html")]
struct BookPage {
    page: Page,
    room_id: String,
    hall: String,
    building: String,
    form: BookForm,
    errors: FieldErrors,
    result: Option<CheckResult>,
    until_offer: Option<UntilOffer>,
}

/// After a series that reaches further than may be booked now: a button that sends it again
/// ending on the last date that may be booked.
pub struct UntilOffer {
    /// The date, `YYYY-MM-DD`.
    pub value: String,
    pub label: String,
}

/// A usable idempotency key from the form, or a fresh one.
fn key_or_fresh(k: &str) -> String {
    let k = k.trim();
    if !k.is_empty() && k.len() <= 100 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        k.to_owned()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Checks the fields and turns them into a request. The purpose is needed only to send.
fn check_fields(
    lang: Lang,
    room_id: &str,
    f: &BookForm,
    need_purpose: bool,
) -> Result<CreateBooking, FieldErrors> {
    let mut errors = FieldErrors::default();
    let day = parse_date(&f.date);
    if day.is_none() {
        errors.add("date", lang.t("book-error-date"));
    }
    let start = parse_clock(&f.start);
    if start.is_none() {
        errors.add("start", lang.t("book-error-time"));
    }
    // An end at midnight (00:00, or 24:00 typed by hand) is the end of the day: halls that
    // close at 24:00 can be booked to closing time.
    let end_at_midnight = matches!(f.end.trim(), "00:00" | "24:00" | "00:00:00" | "24:00:00");
    let end = if end_at_midnight {
        Some(chrono::NaiveTime::MIN)
    } else {
        parse_clock(&f.end)
    };
    if end.is_none() {
        errors.add("end", lang.t("book-error-time"));
    }
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
        && !end_at_midnight
    {
        errors.add("end", lang.t("book-error-order"));
    }
    let purpose = f.purpose.trim();
    if purpose.chars().count() > crate::limits::PURPOSE_CHARS {
        errors.add("purpose", lang.t("book-error-purpose-long"));
    } else if need_purpose && purpose.is_empty() {
        errors.add("purpose", lang.t("book-error-purpose"));
    }
    let attendees = match f.attendees.trim().parse::<u32>() {
        Ok(n) if (1..=100_000).contains(&n) => Some(n),
        _ => {
            errors.add("attendees", lang.t("book-error-attendees"));
            None
        }
    };
    let until = match f.repeat_until.trim() {
        "" => None,
        u => match parse_date(u) {
            Some(u) if day.is_none_or(|d| u >= d) => Some(u),
            Some(_) => {
                errors.add("repeat_until", lang.t("book-error-until-order"));
                None
            }
            None => {
                errors.add("repeat_until", lang.t("book-error-date"));
                None
            }
        },
    };
    let (Some(day), Some(start), Some(end), Some(attendees), true) =
        (day, start, end, attendees, errors.is_empty())
    else {
        return Err(errors);
    };
    let at = |d: chrono::NaiveDate, t: chrono::NaiveTime| {
        format!("{}T{}", d.format("%Y-%m-%d"), t.format("%H:%M"))
    };
    let end_day = if end_at_midnight {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(CreateBooking {
        room_id: room_id.to_owned(),
        start: at(day, start),
        end: at(end_day, end),
        purpose: purpose.to_owned(),
        attendees,
        // UNTIL as a local date-time: the last day, to its end, in the room's wall time.
        recurrence: until.map(|u| format!("FREQ=WEEKLY;UNTIL={}T235959", u.format("%Y%m%d"))),
        on_conflict: OnConflict::Skip,
    })
}

/// The decision in words.
pub(super) fn explain(lang: Lang, decision: &Decision, zone: Zone) -> CheckResult {
    let (outcome, key) = match decision.outcome {
        Outcome::Approved => ("approved", "check-approved"),
        Outcome::Pending => ("pending", "check-pending"),
        Outcome::Rejected | Outcome::Skipped => ("rejected", "check-rejected"),
    };
    let mut reasons: Vec<ReasonLine> = Vec::new();
    for r in decision.all_reasons() {
        let text = sentence(lang, r, zone);
        if !reasons.iter().any(|l| l.text == text) {
            reasons.push(ReasonLine {
                code: r.code().to_owned(),
                text,
            });
        }
    }
    let kept = decision.outcome != Outcome::Rejected;
    let skipped = decision
        .occurrences
        .iter()
        .filter(|o| kept && matches!(o.outcome, Outcome::Skipped | Outcome::Rejected))
        .map(|o| date(lang, o.local_start.date()))
        .collect();
    CheckResult {
        outcome,
        summary: lang.t(key),
        reasons,
        skipped,
    }
}

/// Loads the room, or answers with the page that says why not.
async fn load_room(state: &AppState, v: &Visitor, id: &str) -> Result<StoredRoom, PageError> {
    match state.bookings.room(id).await {
        Ok(Some(r)) if state.bookings.bookable(&r) => Ok(r),
        Ok(Some(_)) => Err(error_page(
            v,
            StatusCode::UNPROCESSABLE_ENTITY,
            "book-not-bookable",
            v.lang.t("hall-closed"),
        )
        .into()),
        Ok(None) => Err(error_page(
            v,
            StatusCode::NOT_FOUND,
            "error-not-found",
            v.lang.t("hall-not-found"),
        )
        .into()),
        Err(e) => Err(error::booking_page(v, &e, At::BookForm).into()),
    }
}

fn show(
    v: &Visitor,
    status: StatusCode,
    room: &StoredRoom,
    form: BookForm,
    errors: FieldErrors,
    result: Option<CheckResult>,
) -> Response {
    show_with(v, status, room, form, errors, result, None)
}

fn show_with(
    v: &Visitor,
    status: StatusCode,
    room: &StoredRoom,
    form: BookForm,
    errors: FieldErrors,
    result: Option<CheckResult>,
    until_offer: Option<UntilOffer>,
) -> Response {
    let page = Page::new(
        v,
        "halls",
        v.lang
            .t_args("book-title", &[("hall", room.room.name.to_arg())]),
    );
    render(
        v,
        status,
        &BookPage {
            page,
            room_id: room.room.id.clone(),
            hall: room.room.name.clone(),
            building: room.room.building.clone().unwrap_or_default(),
            form,
            errors,
            result,
            until_offer,
        },
    )
}

/// The last date a refused series may be booked until now, when it reached too far.
async fn last_date(
    state: &AppState,
    who: &Principal,
    request: &CreateBooking,
    e: &BookingError,
) -> Option<chrono::NaiveDate> {
    match e {
        BookingError::Invalid {
            code: "too-many-occurrences",
            ..
        } => state
            .bookings
            .last_bookable_date(who, request)
            .await
            .ok()
            .flatten(),
        _ => None,
    }
}

/// A service error as a page, or as the form with the error tied to its field (the one
/// mapping is [`error::booking`]); a refused decision is shown with its reasons. For a series
/// that reached too far, `last` is the last date it may reach: the error names it, and the
/// form offers to book until then.
fn refused(
    v: &Visitor,
    room: &StoredRoom,
    mut form: BookForm,
    e: BookingError,
    last: Option<chrono::NaiveDate>,
) -> Response {
    let shown = error::booking(v.lang, &e, At::BookForm);
    let Some(field) = shown.field else {
        error::log(&shown, &e);
        return error_page(v, shown.status, shown.heading, shown.message);
    };
    if matches!(e, BookingError::KeyReused) {
        form.idempotency_key = uuid::Uuid::new_v4().to_string();
    }
    let result = match &e {
        BookingError::Refused { decision, zone, .. } => Some(explain(v.lang, decision, *zone)),
        _ => None,
    };
    let mut errors = FieldErrors::default();
    let offer = last.map(|d| {
        let day = date(v.lang, d);
        UntilOffer {
            value: d.format("%Y-%m-%d").to_string(),
            label: v.lang.t_args("book-until-offer", &[("date", day.to_arg())]),
        }
    });
    let message = match last {
        Some(d) => v.lang.t_args(
            "book-error-too-many-until",
            &[("date", date(v.lang, d).to_arg())],
        ),
        None => shown.message,
    };
    errors.add(field, message);
    show_with(v, shown.status, room, form, errors, result, offer)
}

fn signed_in(v: &Visitor) -> Result<&Principal, PageError> {
    v.user.as_ref().ok_or_else(|| sign_in_first(v).into())
}

/// `GET /halls/{id}/book`: the form, prefilled from the link; with `action=check`, the
/// request decided without writing anything.
pub async fn form(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    PageQuery(mut f): PageQuery<BookForm>,
) -> Result<Response, PageError> {
    let who = signed_in(&v)?;
    let room = load_room(&state, &v, &id).await?;
    if f.start.is_empty() {
        f.start = std::mem::take(&mut f.from);
    }
    if f.end.is_empty() {
        f.end = std::mem::take(&mut f.to);
    }
    f.idempotency_key = key_or_fresh(&f.idempotency_key);
    f.csrf.clear();
    if !f.until_offer.trim().is_empty() {
        f.repeat_until = std::mem::take(&mut f.until_offer).trim().to_owned();
    }
    if f.action != "check" {
        return Ok(show(
            &v,
            StatusCode::OK,
            &room,
            f,
            FieldErrors::default(),
            None,
        ));
    }
    Ok(check(&state, &v, who, &room, f).await)
}

/// The request decided without writing anything, shown with the form.
async fn check(
    state: &AppState,
    v: &Visitor,
    who: &Principal,
    room: &StoredRoom,
    f: BookForm,
) -> Response {
    let request = match check_fields(v.lang, &room.room.id, &f, false) {
        Ok(r) => r,
        Err(errors) => {
            return show(v, StatusCode::UNPROCESSABLE_ENTITY, room, f, errors, None);
        }
    };
    match state.bookings.preview(who, request.clone()).await {
        Ok(Preview { decision, zone }) => {
            let result = explain(v.lang, &decision, zone);
            show(
                v,
                StatusCode::OK,
                room,
                f,
                FieldErrors::default(),
                Some(result),
            )
        }
        Err(e) => {
            let last = last_date(state, who, &request, &e).await;
            refused(v, room, f, e, last)
        }
    }
}

/// `POST /halls/{id}/book`: sends the request, then shows it (303); with `action=check`, only
/// checks it.
pub async fn submit(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let mut f: BookForm = parse_form(&v, &body)?;
    check_csrf(&v, &f.csrf)?;
    let who = signed_in(&v)?;
    let room = load_room(&state, &v, &id).await?;
    f.csrf.clear();
    f.idempotency_key = key_or_fresh(&f.idempotency_key);
    // "Book until <date>", offered after a series that reached too far.
    if !f.until_offer.trim().is_empty() {
        f.repeat_until = std::mem::take(&mut f.until_offer).trim().to_owned();
    }
    // The form's "check" button posts too (so the form token never lands in an address):
    // it decides without writing and shows the form again.
    if f.action == "check" {
        return Ok(check(&state, &v, who, &room, f).await);
    }
    let request = match check_fields(v.lang, &room.room.id, &f, true) {
        Ok(r) => r,
        Err(errors) => {
            return Ok(show(
                &v,
                StatusCode::UNPROCESSABLE_ENTITY,
                &room,
                f,
                errors,
                None,
            ));
        }
    };
    match state
        .bookings
        .create(who, request.clone(), Some(&f.idempotency_key))
        .await
    {
        Ok(created) => Ok(see_other(
            &v,
            &format!(
                "/my/bookings/{}?notice=created",
                urlencode(&created.booking.id)
            ),
            &[],
        )),
        Err(e) => {
            let last = last_date(&state, who, &request, &e).await;
            Ok(refused(&v, &room, f, e, last))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> BookForm {
        BookForm {
            date: "2027-01-07".into(),
            start: "18:00".into(),
            end: "20:00".into(),
            purpose: "Korøving".into(),
            attendees: "40".into(),
            ..BookForm::default()
        }
    }

    #[test]
    fn a_weekly_repetition_ends_at_the_end_of_its_last_day() {
        let mut f = form();
        f.repeat_until = "2027-02-04".into();
        let r = check_fields(Lang::Nb, "room", &f, true).unwrap();
        assert_eq!(r.start, "2027-01-07T18:00");
        assert_eq!(
            r.recurrence.as_deref(),
            Some("FREQ=WEEKLY;UNTIL=20270204T235959")
        );
        assert!(crate::scheduling::Recurrence::parse(r.recurrence.as_deref().unwrap()).is_ok());
        assert_eq!(r.on_conflict, OnConflict::Skip);
    }

    #[test]
    fn an_end_at_midnight_is_the_end_of_the_day() {
        for midnight in ["00:00", "24:00"] {
            let mut f = form();
            f.start = "22:00".into();
            f.end = midnight.into();
            let r = check_fields(Lang::Nb, "room", &f, true).unwrap();
            assert_eq!(
                (r.start.as_str(), r.end.as_str()),
                ("2027-01-07T22:00", "2027-01-08T00:00")
            );
        }
        let mut f = form();
        f.end = "25:00".into();
        assert!(
            check_fields(Lang::Nb, "room", &f, true)
                .unwrap_err()
                .get("end")
                .is_some()
        );
    }

    #[test]
    fn bad_fields_are_tied_to_their_ids() {
        let mut f = form();
        f.date = "garbage".into();
        f.end = "17:00".into();
        f.attendees = "abc".into();
        f.purpose = "x".repeat(2000);
        let e = check_fields(Lang::En, "room", &f, true).unwrap_err();
        for field in ["date", "end", "attendees", "purpose"] {
            assert!(e.get(field).is_some(), "{field}: {:?}", e.0);
        }
        let mut f = form();
        f.purpose = String::new();
        assert!(check_fields(Lang::En, "room", &f, false).is_ok());
        assert!(
            check_fields(Lang::En, "room", &f, true)
                .unwrap_err()
                .get("purpose")
                .is_some()
        );
    }
}
