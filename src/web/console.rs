//! The clerks' console: the queue of requests to decide, a booking's detail and audit trail,
//! the week calendar of a room or building with closures (by form, or by dragging across the
//! grid with `console.js`), booking search, and every staff member's calendar links.
//!
//! Every page here is for a signed-in clerk (administrators count), except the calendar
//! links, which are for all staff. A clerk sees only the rooms of their approver groups: the
//! rule of `Bookings::approvals`. Someone else's booking is "not found" rather than forbidden.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use serde::Deserialize;

use super::{
    FieldErrors, Lang, Page, PageError, PagePath, PageQuery, ToArg, Visitor, check_csrf,
    error_page, parse_form, render, see_other, sign_in_first, unavailable, urlencode,
};
use crate::app::AppState;
use crate::booking::console::{Conflict, ConflictKind, RoomWeek, WeekEntry, WeekEntryKind};
use crate::booking::{BookingError, BookingView, CreateClosure};
use crate::calendar::Calendars;
use crate::identity::Principal;
use crate::scheduling::Zone;
use crate::store::StoredRoom;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(queue))
        .route("/console/bookings/{id}", get(detail))
        .route("/console/bookings/{id}/approve", post(approve))
        .route("/console/bookings/{id}/reject", post(reject))
        .route("/console/bookings/{id}/cancel", post(cancel))
        .route("/console/calendar", get(calendar))
        .route("/console/closures", post(close))
        .route("/console/search", get(search))
        .route("/console/calendars", get(calendar_links))
        .route("/console/calendars/{room}/follow", post(follow))
}

// ---------------------------------------------------------------------------------------
// Access and wording

/// The signed-in clerk, or the page to answer instead (sign in first; 403 for others).
pub(super) fn clerk(v: &Visitor) -> Result<&Principal, PageError> {
    match &v.user {
        None => Err(sign_in_first(v).into()),
        Some(p) if p.is_clerk() => Ok(p),
        Some(_) => Err(error_page(
            v,
            StatusCode::FORBIDDEN,
            "error-forbidden",
            v.lang.t("error-forbidden-detail"),
        )
        .into()),
    }
}

/// A page for a service error outside a form: not found, forbidden, or unavailable.
fn service_page(v: &Visitor, e: BookingError) -> Response {
    match e {
        BookingError::NotFound { .. } | BookingError::RoomRetired(_) => error_page(
            v,
            StatusCode::NOT_FOUND,
            "error-not-found",
            v.lang.t("error-not-found-detail"),
        ),
        BookingError::Forbidden(_) => error_page(
            v,
            StatusCode::FORBIDDEN,
            "error-forbidden",
            v.lang.t("console-problem-forbidden"),
        ),
        BookingError::Store(e) => unavailable(v, e),
        other => {
            let (status, message) = problem(v.lang, &other);
            error_page(v, status, "console-problem-title", message)
        }
    }
}

/// A service error as a status and a sentence for the clerk.
fn problem(lang: Lang, e: &BookingError) -> (StatusCode, String) {
    match e {
        BookingError::WrongStatus { status, .. } => (
            StatusCode::CONFLICT,
            lang.t_args(
                "console-problem-wrong-status",
                &[("status", status_text(lang, status.as_str()).to_arg())],
            ),
        ),
        BookingError::Forbidden(_) => (StatusCode::FORBIDDEN, lang.t("console-problem-forbidden")),
        BookingError::NotFound { .. } | BookingError::RoomRetired(_) => {
            (StatusCode::NOT_FOUND, lang.t("console-problem-not-found"))
        }
        BookingError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t("error-unavailable-detail"),
        ),
        other => (
            StatusCode::CONFLICT,
            lang.t_args(
                "console-problem-other",
                &[("detail", other.to_string().to_arg())],
            ),
        ),
    }
}

fn status_text(lang: Lang, status: &str) -> String {
    match status {
        "pending" | "approved" | "rejected" | "cancelled" | "expired" | "skipped" => {
            lang.t(&format!("console-status-{status}"))
        }
        other => other.to_owned(),
    }
}

fn date_text(lang: Lang, d: NaiveDate) -> String {
    let day = lang.t(&format!("console-day-{}", d.weekday().number_from_monday()));
    match lang {
        Lang::Nb => format!("{day} {}", d.format("%d.%m.%Y")),
        Lang::En => format!("{day} {}", d.format("%Y-%m-%d")),
    }
}

fn when_text(lang: Lang, t: NaiveDateTime) -> String {
    format!("{} {}", date_text(lang, t.date()), t.format("%H:%M"))
}

fn span_text(lang: Lang, start: NaiveDateTime, end: NaiveDateTime) -> String {
    let same_day = start.date() == end.date()
        || (end.time() == NaiveTime::MIN && end.date() == start.date() + TimeDelta::days(1));
    if same_day {
        let end_time = if end.time() == NaiveTime::MIN && end.date() != start.date() {
            "24:00".to_owned()
        } else {
            end.format("%H:%M").to_string()
        };
        format!(
            "{} {}–{end_time}",
            date_text(lang, start.date()),
            start.format("%H:%M")
        )
    } else {
        format!("{} – {}", when_text(lang, start), when_text(lang, end))
    }
}

fn conflict_text(lang: Lang, c: &Conflict) -> String {
    let when = span_text(lang, c.start, c.end);
    match &c.kind {
        ConflictKind::Booking { id } => lang.t_args(
            "console-conflict-booking",
            &[("when", when.to_arg()), ("id", id.to_arg())],
        ),
        ConflictKind::Closure { label } => lang.t_args(
            "console-conflict-closure",
            &[("when", when.to_arg()), ("label", label.to_arg())],
        ),
    }
}

/// The reason templates of a rejection: (value, whether it has a text of its own).
const TEMPLATES: &[(&str, bool)] = &[
    ("busy", true),
    ("hours", true),
    ("unsuitable", true),
    ("other", false),
];

/// A reason template's choice in a select.
pub struct TemplateOption {
    pub value: &'static str,
    pub label: String,
}

fn template_options(lang: Lang) -> Vec<TemplateOption> {
    TEMPLATES
        .iter()
        .map(|(value, _)| TemplateOption {
            value,
            label: lang.t(&format!("console-template-{value}")),
        })
        .collect()
}

/// The reason a rejection gives: the free text, else the template's text in the clerk's
/// language; `None` when neither.
fn rejection_reason(lang: Lang, template: &str, free: &str) -> Option<String> {
    let free = free.trim();
    if !free.is_empty() {
        return Some(free.to_owned());
    }
    TEMPLATES
        .iter()
        .find(|(v, has_text)| *v == template && *has_text)
        .map(|(v, _)| lang.t(&format!("console-template-{v}")))
}

// ---------------------------------------------------------------------------------------
// The queue

/// A request as the queue and the detail page show it.
pub struct RequestCard {
    pub id: String,
    pub title: String,
    pub room: String,
    pub requester: String,
    pub purpose: String,
    pub attendees: u32,
    pub status: String,
    pub status_text: String,
    pub dates: Vec<String>,
    pub hold_until: Option<String>,
    pub conflicts: Vec<String>,
    pub competing: Vec<Competitor>,
    /// What the clerk typed before a refused rejection.
    pub template: String,
    pub reason: String,
    pub reason_error: Option<String>,
}

pub struct Competitor {
    pub id: String,
    pub name: String,
    pub when: String,
}

fn booking_dates(lang: Lang, b: &BookingView, zone: Zone) -> Vec<String> {
    b.occurrences
        .iter()
        .map(|o| {
            let span = span_text(lang, zone.local(o.start), zone.local(o.end));
            if o.status == b.status {
                span
            } else {
                format!("{span} ({})", status_text(lang, o.status.as_str()))
            }
        })
        .collect()
}

fn first_span(lang: Lang, b: &BookingView, zone: Zone) -> String {
    b.occurrences
        .iter()
        .find(|o| matches!(o.status.as_str(), "pending" | "approved"))
        .or(b.occurrences.first())
        .map(|o| span_text(lang, zone.local(o.start), zone.local(o.end)))
        .unwrap_or_else(|| b.local_start.replace('T', " "))
}

fn card(
    lang: Lang,
    b: &BookingView,
    room_name: &str,
    zone: Zone,
    conflicts: &[Conflict],
    competing: &[BookingView],
) -> RequestCard {
    let when = first_span(lang, b, zone);
    RequestCard {
        id: b.id.clone(),
        title: format!("{room_name}, {when}"),
        room: room_name.to_owned(),
        requester: b.requester_name.clone(),
        purpose: b.purpose.clone(),
        attendees: b.attendees,
        status: b.status.to_string(),
        status_text: status_text(lang, b.status.as_str()),
        dates: booking_dates(lang, b, zone),
        hold_until: b.hold_until.map(|h| when_text(lang, zone.local(h))),
        conflicts: conflicts.iter().map(|c| conflict_text(lang, c)).collect(),
        competing: competing
            .iter()
            .map(|c| Competitor {
                id: c.id.clone(),
                name: c.requester_name.clone(),
                when: first_span(lang, c, zone),
            })
            .collect(),
        template: String::new(),
        reason: String::new(),
        reason_error: None,
    }
}

#[derive(askama::Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    errors: FieldErrors,
    requests: Vec<RequestCard>,
    templates: Vec<TemplateOption>,
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
    affected: Option<u32>,
}

fn notice_text(lang: Lang, q: &NoticeQuery) -> Option<String> {
    match q.notice.as_deref()? {
        n @ ("approved" | "rejected" | "cancelled" | "followed" | "unfollowed") => {
            Some(lang.t(&format!("console-notice-{n}")))
        }
        "closed" => Some(lang.t_args(
            "console-notice-closed",
            &[("count", q.affected.unwrap_or(0).to_arg())],
        )),
        _ => None,
    }
}

/// What a refused decision shows again: a message for the page, and the rejection the
/// clerk was typing (with its error).
#[derive(Default)]
struct Refusal {
    status: Option<StatusCode>,
    problem: Option<String>,
    booking: String,
    template: String,
    reason: String,
    reason_error: Option<String>,
}

async fn queue_page(state: &AppState, v: &Visitor, notice: Option<String>, r: Refusal) -> Response {
    let Some(who) = v.user.as_ref() else {
        return sign_in_first(v);
    };
    let items = match state.bookings.queue(who).await {
        Ok(i) => i,
        Err(e) => return service_page(v, e),
    };
    let lang = v.lang;
    let mut errors = FieldErrors::default();
    let requests = items
        .iter()
        .map(|q| {
            let mut c = card(
                lang,
                &q.item.booking,
                &q.item.room_name,
                q.zone,
                &q.conflicts,
                &q.item.competing,
            );
            if c.id == r.booking {
                c.template = r.template.clone();
                c.reason = r.reason.clone();
                c.reason_error = r.reason_error.clone();
                if let Some(e) = &r.reason_error {
                    errors.add(&format!("reason-{}", c.id), e.clone());
                }
            }
            c
        })
        .collect();
    let page = Page::new(v, "queue", lang.t("console-queue-title"));
    render(
        v,
        r.status.unwrap_or(StatusCode::OK),
        &QueuePage {
            page,
            notice,
            problem: r.problem,
            errors,
            requests,
            templates: template_options(lang),
        },
    )
}

async fn queue(
    State(state): State<AppState>,
    v: Visitor,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    clerk(&v)?;
    let notice = notice_text(v.lang, &q);
    Ok(queue_page(&state, &v, notice, Refusal::default()).await)
}

// ---------------------------------------------------------------------------------------
// Deciding: approve, reject, cancel

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    reason: String,
    /// `detail` when sent from the booking's page (the answer goes back there).
    #[serde(default)]
    from: String,
}

/// Shows the page the form came from again, with what went wrong.
async fn refused(state: &AppState, v: &Visitor, id: &str, from: &str, r: Refusal) -> Response {
    if from == "detail" {
        detail_page(state, v, id, None, r).await
    } else {
        queue_page(state, v, None, r).await
    }
}

fn done(v: &Visitor, id: &str, from: &str, notice: &str) -> Response {
    if from == "detail" {
        see_other(
            v,
            &format!("/console/bookings/{}?notice={notice}", urlencode(id)),
            &[],
        )
    } else {
        see_other(v, &format!("/console?notice={notice}"), &[])
    }
}

fn refusal_of(lang: Lang, id: &str, e: &BookingError) -> Refusal {
    let (status, problem) = problem(lang, e);
    Refusal {
        status: Some(status),
        problem: Some(problem),
        booking: id.to_owned(),
        ..Refusal::default()
    }
}

async fn approve(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let form: DecisionForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    Ok(match state.bookings.approve(who, &id).await {
        Ok(_) => done(&v, &id, &form.from, "approved"),
        Err(BookingError::Store(e)) => unavailable(&v, e),
        Err(e) => {
            let r = refusal_of(v.lang, &id, &e);
            refused(&state, &v, &id, &form.from, r).await
        }
    })
}

async fn reject(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let form: DecisionForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let again = |message: String| Refusal {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        booking: id.clone(),
        template: form.template.clone(),
        reason: form.reason.clone(),
        reason_error: Some(message),
        ..Refusal::default()
    };
    let Some(reason) = rejection_reason(v.lang, &form.template, &form.reason) else {
        let r = again(v.lang.t("console-error-reason"));
        return Ok(refused(&state, &v, &id, &form.from, r).await);
    };
    if reason.chars().count() > 2000 {
        let r = again(v.lang.t("console-error-reason-long"));
        return Ok(refused(&state, &v, &id, &form.from, r).await);
    }
    Ok(match state.bookings.reject(who, &id, &reason).await {
        Ok(_) => done(&v, &id, &form.from, "rejected"),
        Err(BookingError::Store(e)) => unavailable(&v, e),
        Err(e) => {
            let mut r = refusal_of(v.lang, &id, &e);
            r.template = form.template.clone();
            r.reason = form.reason.clone();
            refused(&state, &v, &id, &form.from, r).await
        }
    })
}

async fn cancel(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let form: DecisionForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let reason = form.reason.trim();
    // Only a clerk of the room cancels here (a requester cancels on their own pages).
    if let Err(e) = state.bookings.for_clerk(who, &id).await {
        return Ok(service_page(&v, e));
    }
    if reason.is_empty() || reason.chars().count() > 2000 {
        let r = Refusal {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            booking: id.clone(),
            reason: form.reason.clone(),
            reason_error: Some(v.lang.t("console-error-cancel-reason")),
            template: "cancel".into(),
            ..Refusal::default()
        };
        return Ok(detail_page(&state, &v, &id, None, r).await);
    }
    Ok(
        match state
            .bookings
            .cancel(who, &id, Some(reason.to_owned()))
            .await
        {
            Ok(_) => done(&v, &id, "detail", "cancelled"),
            Err(BookingError::Store(e)) => unavailable(&v, e),
            Err(e) => {
                let r = refusal_of(v.lang, &id, &e);
                detail_page(&state, &v, &id, None, r).await
            }
        },
    )
}

// ---------------------------------------------------------------------------------------
// A booking's detail and audit trail

pub struct HistoryRow {
    pub at: String,
    pub actor: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(askama::Template)]
#[template(path = "console/detail.html")]
struct DetailPage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    errors: FieldErrors,
    request: RequestCard,
    status_reason: Option<String>,
    created: String,
    history: Vec<HistoryRow>,
    pending: bool,
    cancellable: bool,
    cancel_reason: String,
    cancel_error: Option<String>,
    templates: Vec<TemplateOption>,
}

async fn detail_page(
    state: &AppState,
    v: &Visitor,
    id: &str,
    notice: Option<String>,
    r: Refusal,
) -> Response {
    let Some(who) = v.user.as_ref() else {
        return sign_in_first(v);
    };
    let lang = v.lang;
    let (booking, room, zone) = match state.bookings.for_clerk(who, id).await {
        Ok(found) => found,
        Err(e) => return service_page(v, e),
    };
    let history = match state.bookings.history(who, id).await {
        Ok(h) => h,
        Err(e) => return service_page(v, e),
    };
    // The queue's view of this request, when it is pending: its conflicts and competitors.
    let mut conflicts = Vec::new();
    let mut competing = Vec::new();
    if booking.status == crate::scheduling::BookingStatus::Pending {
        match state.bookings.queue(who).await {
            Ok(items) => {
                if let Some(q) = items.into_iter().find(|q| q.item.booking.id == booking.id) {
                    conflicts = q.conflicts;
                    competing = q.item.competing;
                }
            }
            Err(e) => return service_page(v, e),
        }
    }
    let mut request = card(
        lang,
        &booking,
        &room.room.name,
        zone,
        &conflicts,
        &competing,
    );
    let mut errors = FieldErrors::default();
    let (mut cancel_reason, mut cancel_error) = (String::new(), None);
    if r.booking == booking.id {
        if r.template == "cancel" {
            cancel_reason = r.reason.clone();
            cancel_error = r.reason_error.clone();
            if let Some(e) = &r.reason_error {
                errors.add("cancel-reason", e.clone());
            }
        } else {
            request.template = r.template.clone();
            request.reason = r.reason.clone();
            request.reason_error = r.reason_error.clone();
            if let Some(e) = &r.reason_error {
                errors.add(&format!("reason-{}", booking.id), e.clone());
            }
        }
    }
    let me = who.requester_id();
    // The creation's row names the requester.
    let creator = history
        .first()
        .filter(|h| h.from.is_none())
        .map(|h| h.actor.clone())
        .unwrap_or_default();
    let history = history
        .into_iter()
        .map(|h| HistoryRow {
            at: when_text(lang, zone.local(h.at)),
            actor: if h.actor == me {
                lang.t_args("console-actor-you", &[("name", who.name().to_arg())])
            } else if h.actor == creator {
                lang.t_args(
                    "console-actor-requester",
                    &[("name", booking.requester_name.to_arg())],
                )
            } else {
                h.actor
            },
            from: h
                .from
                .as_deref()
                .map(|s| status_text(lang, s))
                .unwrap_or_else(|| "–".into()),
            to: status_text(lang, h.to.as_str()),
            reason: h
                .reason
                .map(|r| crate::web::resident::mine::status_reason_text(lang, &r))
                .unwrap_or_default(),
        })
        .collect();
    let page = Page::new(
        v,
        "",
        lang.t_args("console-detail-title", &[("title", request.title.to_arg())]),
    );
    render(
        v,
        r.status.unwrap_or(StatusCode::OK),
        &DetailPage {
            page,
            notice,
            problem: r.problem,
            errors,
            pending: booking.status == crate::scheduling::BookingStatus::Pending,
            cancellable: matches!(booking.status.as_str(), "pending" | "approved"),
            status_reason: booking
                .status_reason
                .as_deref()
                .map(|r| crate::web::resident::mine::status_reason_text(lang, r)),
            created: when_text(lang, zone.local(booking.created_at)),
            request,
            history,
            cancel_reason,
            cancel_error,
            templates: template_options(lang),
        },
    )
}

async fn detail(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    clerk(&v)?;
    let notice = notice_text(v.lang, &q);
    Ok(detail_page(&state, &v, &id, notice, Refusal::default()).await)
}

// ---------------------------------------------------------------------------------------
// The week calendar and closures

/// The first hour row of the grid and the hour after the last (rows 07:00 … 22:00).
const FIRST_HOUR: u32 = 7;
const END_HOUR: u32 = 23;

pub struct DayHead {
    pub date: String,
    pub label: String,
}

pub struct GridCell {
    pub date: String,
    pub hour: u32,
    pub class: &'static str,
    pub items: Vec<String>,
    /// Said to screen readers in a cell an entry continues through.
    pub continues: Option<String>,
}

pub struct GridRow {
    pub label: String,
    pub cells: Vec<GridCell>,
}

pub struct ListEntry {
    pub when: String,
    pub what: String,
    pub detail: String,
    pub status: String,
    pub status_text: String,
    pub link: Option<String>,
}

pub struct GridRoom {
    pub id: String,
    pub caption: String,
    pub days: Vec<DayHead>,
    pub rows: Vec<GridRow>,
    pub list: Vec<ListEntry>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What a closure closes: a room or a building.
pub struct Target {
    pub field: &'static str,
    pub value: String,
    pub label: String,
}

#[derive(Default)]
pub struct ClosureFields {
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
    pub reason: String,
}

#[derive(askama::Template)]
#[template(path = "console/calendar.html")]
struct CalendarPage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    errors: FieldErrors,
    rooms: Vec<Choice>,
    buildings: Vec<Choice>,
    week: String,
    week_label: String,
    prev_href: String,
    next_href: String,
    grids: Vec<GridRoom>,
    target: Option<Target>,
    form: ClosureFields,
}

enum Selection {
    Room(Box<StoredRoom>),
    Building(String, Vec<StoredRoom>),
    Nothing,
}

impl Selection {
    fn rooms(&self) -> Vec<StoredRoom> {
        match self {
            Selection::Room(r) => vec![(**r).clone()],
            Selection::Building(_, rooms) => rooms.clone(),
            Selection::Nothing => Vec::new(),
        }
    }

    fn query(&self) -> String {
        match self {
            Selection::Room(r) => format!("room={}", urlencode(&r.room.id)),
            Selection::Building(b, _) => format!("building={}", urlencode(b)),
            Selection::Nothing => String::new(),
        }
    }
}

fn not_found(v: &Visitor, key: &str) -> Response {
    error_page(v, StatusCode::NOT_FOUND, "error-not-found", v.lang.t(key))
}

/// Picks the room or building asked for among the clerk's rooms; the first room when neither
/// is asked for.
fn select(
    v: &Visitor,
    mine: &[StoredRoom],
    room: Option<&str>,
    building: Option<&str>,
) -> Result<Selection, PageError> {
    let room = room.map(str::trim).filter(|r| !r.is_empty());
    let building = building.map(str::trim).filter(|b| !b.is_empty());
    if let Some(id) = room {
        return match mine.iter().find(|r| r.room.id == id) {
            Some(r) => Ok(Selection::Room(Box::new(r.clone()))),
            None => Err(not_found(v, "console-error-room-unknown").into()),
        };
    }
    if let Some(name) = building {
        let rooms: Vec<StoredRoom> = mine
            .iter()
            .filter(|r| r.room.building.as_deref() == Some(name))
            .cloned()
            .collect();
        return if rooms.is_empty() {
            Err(not_found(v, "console-error-building-unknown").into())
        } else {
            Ok(Selection::Building(name.to_owned(), rooms))
        };
    }
    Ok(mine
        .first()
        .map(|r| Selection::Room(Box::new(r.clone())))
        .unwrap_or(Selection::Nothing))
}

/// `2027-W01` → that ISO week's Monday.
fn parse_week(text: &str) -> Option<NaiveDate> {
    let (year, week) = text.trim().split_once("-W")?;
    let year: i32 = year.parse().ok()?;
    let week: u32 = week.parse().ok()?;
    if !(2000..=2200).contains(&year) {
        return None;
    }
    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
}

fn week_name(monday: NaiveDate) -> String {
    let w = monday.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

fn entry_texts(lang: Lang, e: &WeekEntry) -> (String, String, String, Option<String>) {
    match &e.what {
        WeekEntryKind::Booking {
            id,
            requester_name,
            purpose,
            status,
        } => (
            requester_name.clone(),
            purpose.clone(),
            status.to_string(),
            Some(format!("/console/bookings/{}", urlencode(id))),
        ),
        WeekEntryKind::Closure { label, block } => (
            lang.t_args("console-closure-label", &[("label", label.to_arg())]),
            lang.t(if *block {
                "console-closure-block"
            } else {
                "console-closure-holiday"
            }),
            "closed".to_owned(),
            None,
        ),
    }
}

fn grid(lang: Lang, w: &RoomWeek, monday: NaiveDate) -> GridRoom {
    let days: Vec<NaiveDate> = (0..7).map(|i| monday + TimeDelta::days(i)).collect();
    let hour = |d: NaiveDate, h: u32| {
        d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN))
    };
    let mut rows = Vec::new();
    for h in FIRST_HOUR..END_HOUR {
        let mut cells = Vec::new();
        for d in &days {
            let (from, to) = (hour(*d, h), hour(*d, h) + TimeDelta::hours(1));
            let grid_start = hour(*d, FIRST_HOUR);
            let mut class = "";
            let mut items = Vec::new();
            let mut continues = None;
            for e in w.entries.iter().filter(|e| e.start < to && e.end > from) {
                let closure = matches!(e.what, WeekEntryKind::Closure { .. });
                class = if closure && class != "busy" {
                    "closed"
                } else {
                    "busy"
                };
                // An entry is described in the first grid cell of the day it covers.
                let first = e.start.max(grid_start);
                if first >= from && first < to {
                    let (what, _, status, _) = entry_texts(lang, e);
                    let time = span_text(lang, e.start, e.end);
                    let time = time.rsplit(' ').next().unwrap_or(&time).to_owned();
                    let status = if closure {
                        String::new()
                    } else {
                        format!(" ({})", status_text(lang, status.as_str()))
                    };
                    items.push(format!("{time} {what}{status}"));
                } else {
                    continues = Some(lang.t(if closure {
                        "console-cell-closed"
                    } else {
                        "console-cell-busy"
                    }));
                }
            }
            if !items.is_empty() {
                continues = None;
            }
            cells.push(GridCell {
                date: d.format("%Y-%m-%d").to_string(),
                hour: h,
                class,
                items,
                continues,
            });
        }
        rows.push(GridRow {
            label: format!("{h:02}:00"),
            cells,
        });
    }
    let list = w
        .entries
        .iter()
        .map(|e| {
            let (what, detail, status, link) = entry_texts(lang, e);
            ListEntry {
                when: span_text(lang, e.start, e.end),
                what,
                detail,
                status_text: if status == "closed" {
                    lang.t("console-status-closed")
                } else {
                    status_text(lang, status.as_str())
                },
                status,
                link,
            }
        })
        .collect();
    let name = match &w.room.room.building {
        Some(b) => format!("{} ({b})", w.room.room.name),
        None => w.room.room.name.clone(),
    };
    GridRoom {
        id: w.room.room.id.clone(),
        caption: lang.t_args(
            "console-grid-caption",
            &[
                ("room", name.to_arg()),
                ("week", week_label(lang, monday).to_arg()),
            ],
        ),
        days: days
            .iter()
            .map(|d| DayHead {
                date: d.format("%Y-%m-%d").to_string(),
                label: date_text(lang, *d),
            })
            .collect(),
        rows,
        list,
    }
}

fn week_label(lang: Lang, monday: NaiveDate) -> String {
    lang.t_args(
        "console-week-label",
        &[
            ("week", monday.iso_week().week().to_arg()),
            ("from", date_text(lang, monday).to_arg()),
            ("to", date_text(lang, monday + TimeDelta::days(6)).to_arg()),
        ],
    )
}

#[allow(clippy::too_many_arguments)]
async fn calendar_page(
    state: &AppState,
    v: &Visitor,
    mine: &[StoredRoom],
    sel: &Selection,
    monday: NaiveDate,
    notice: Option<String>,
    errors: FieldErrors,
    form: ClosureFields,
) -> Response {
    let lang = v.lang;
    let whole_building = match sel {
        Selection::Building(b, _) => match state.bookings.store.rooms(false).await {
            Ok(all) => all
                .iter()
                .filter(|r| r.room.building.as_deref() == Some(b.as_str()))
                .all(|r| mine.iter().any(|m| m.room.id == r.room.id)),
            Err(e) => return crate::web::unavailable(v, e),
        },
        _ => false,
    };
    let weeks = match state.bookings.week(&sel.rooms(), monday).await {
        Ok(w) => w,
        Err(e) => return service_page(v, e),
    };
    let grids = weeks.iter().map(|w| grid(lang, w, monday)).collect();
    let mut buildings: Vec<String> = mine
        .iter()
        .filter_map(|r| r.room.building.clone())
        .collect();
    buildings.sort();
    buildings.dedup();
    let (room_id, building) = match sel {
        Selection::Room(r) => (Some(r.room.id.as_str()), None),
        Selection::Building(b, _) => (None, Some(b.as_str())),
        Selection::Nothing => (None, None),
    };
    let rooms = mine
        .iter()
        .map(|r| Choice {
            value: r.room.id.clone(),
            label: match &r.room.building {
                Some(b) => format!("{} ({b})", r.room.name),
                None => r.room.name.clone(),
            },
            selected: room_id == Some(r.room.id.as_str()),
        })
        .collect();
    let buildings = buildings
        .into_iter()
        .map(|b| Choice {
            selected: building == Some(b.as_str()),
            label: b.clone(),
            value: b,
        })
        .collect();
    let target = match sel {
        Selection::Room(r) => Some(Target {
            field: "room",
            value: r.room.id.clone(),
            label: r.room.name.clone(),
        }),
        // A building is closed as a whole only by a clerk of every room in it (the service
        // refuses anyone else), so only they are offered the form.
        Selection::Building(b, _) if whole_building => Some(Target {
            field: "building",
            value: b.clone(),
            label: lang.t_args(
                "console-closure-whole-building",
                &[("building", b.to_arg())],
            ),
        }),
        Selection::Building(..) => None,
        Selection::Nothing => None,
    };
    let base = format!("/console/calendar?{}", sel.query());
    let href = |d: NaiveDate| format!("{base}&week={}", week_name(d));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = Page::new(v, "calendar", lang.t("console-calendar-title"));
    render(
        v,
        status,
        &CalendarPage {
            page,
            notice,
            problem: None,
            errors,
            rooms,
            buildings,
            week: week_name(monday),
            week_label: week_label(lang, monday),
            prev_href: href(monday - TimeDelta::days(7)),
            next_href: href(monday + TimeDelta::days(7)),
            grids,
            target,
            form,
        },
    )
}

#[derive(Deserialize, Default)]
struct CalendarQuery {
    room: Option<String>,
    building: Option<String>,
    week: Option<String>,
    notice: Option<String>,
    affected: Option<u32>,
}

fn this_week(state: &AppState, mine: &[StoredRoom]) -> NaiveDate {
    let now = state.bookings.clock.now();
    let local = match mine.first() {
        Some(r) => state.bookings.rules.zone(r).local(now),
        None => now.naive_utc(),
    };
    monday_of(local.date())
}

async fn calendar(
    State(state): State<AppState>,
    v: Visitor,
    PageQuery(q): PageQuery<CalendarQuery>,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let mine = state
        .bookings
        .clerk_rooms(who)
        .await
        .map_err(|e| service_page(&v, e))?;
    let monday = match q.week.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        None => this_week(&state, &mine),
        Some(w) => parse_week(w).ok_or_else(|| {
            error_page(
                &v,
                StatusCode::BAD_REQUEST,
                "console-error-week-title",
                v.lang.t("console-error-week"),
            )
        })?,
    };
    let sel = select(&v, &mine, q.room.as_deref(), q.building.as_deref())?;
    let notice = notice_text(
        v.lang,
        &NoticeQuery {
            notice: q.notice,
            affected: q.affected,
        },
    );
    Ok(calendar_page(
        &state,
        &v,
        &mine,
        &sel,
        monday,
        notice,
        FieldErrors::default(),
        ClosureFields::default(),
    )
    .await)
}

#[derive(Deserialize)]
struct ClosureForm {
    #[serde(default)]
    csrf: String,
    room: Option<String>,
    building: Option<String>,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    end_time: String,
    #[serde(default)]
    reason: String,
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2200).contains(&d.year()))
}

fn parse_clock(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

async fn close(
    State(state): State<AppState>,
    v: Visitor,
    body: Bytes,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let form: ClosureForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let lang = v.lang;
    let mine = state
        .bookings
        .clerk_rooms(who)
        .await
        .map_err(|e| service_page(&v, e))?;
    let sel = select(&v, &mine, form.room.as_deref(), form.building.as_deref())?;
    let mut errors = FieldErrors::default();
    let start_date = parse_date(&form.start_date);
    let start_time = parse_clock(&form.start_time);
    let end_date = parse_date(&form.end_date);
    let end_time = parse_clock(&form.end_time);
    if start_date.is_none() {
        errors.add("start_date", lang.t("console-error-date"));
    }
    if start_time.is_none() {
        errors.add("start_time", lang.t("console-error-time"));
    }
    if end_date.is_none() {
        errors.add("end_date", lang.t("console-error-date"));
    }
    if end_time.is_none() {
        errors.add("end_time", lang.t("console-error-time"));
    }
    let start = start_date.zip(start_time).map(|(d, t)| d.and_time(t));
    let end = end_date.zip(end_time).map(|(d, t)| d.and_time(t));
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        errors.add("end_time", lang.t("console-error-end-before-start"));
    }
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.add("reason", lang.t("console-error-closure-reason"));
    }
    if matches!(sel, Selection::Nothing) {
        errors.add("start_date", lang.t("console-error-no-rooms"));
    }
    let monday = monday_of(start_date.unwrap_or_else(|| this_week(&state, &mine)));
    let fields = ClosureFields {
        start_date: form.start_date.clone(),
        start_time: form.start_time.clone(),
        end_date: form.end_date.clone(),
        end_time: form.end_time.clone(),
        reason: form.reason.clone(),
    };
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(calendar_page(&state, &v, &mine, &sel, monday, None, errors, fields).await);
    };
    if !errors.is_empty() {
        return Ok(calendar_page(&state, &v, &mine, &sel, monday, None, errors, fields).await);
    }
    let (room_id, building) = match &sel {
        Selection::Room(r) => (Some(r.room.id.clone()), None),
        Selection::Building(b, _) => (None, Some(b.clone())),
        Selection::Nothing => (None, None),
    };
    let request = CreateClosure {
        room_id,
        building,
        start: start.format("%Y-%m-%dT%H:%M").to_string(),
        end: end.format("%Y-%m-%dT%H:%M").to_string(),
        reason: reason.to_owned(),
    };
    match state.bookings.close(who, request).await {
        Ok(c) => Ok(see_other(
            &v,
            &format!(
                "/console/calendar?{}&week={}&notice=closed&affected={}",
                sel.query(),
                week_name(monday),
                c.affected.len()
            ),
            &[],
        )),
        Err(BookingError::Invalid { field, message, .. }) => {
            let field = match field {
                "start" => "start_date",
                "reason" => "reason",
                _ => "end_time",
            };
            errors.add(
                field,
                lang.t_args("console-problem-other", &[("detail", message.to_arg())]),
            );
            Ok(calendar_page(&state, &v, &mine, &sel, monday, None, errors, fields).await)
        }
        Err(e) => Ok(service_page(&v, e)),
    }
}

// ---------------------------------------------------------------------------------------
// Search

#[derive(Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
    room: Option<String>,
    date: Option<String>,
}

pub struct ResultRow {
    pub id: String,
    pub room: String,
    pub when: String,
    pub dates: usize,
    pub requester: String,
    pub email: String,
    pub status: String,
    pub status_text: String,
}

#[derive(askama::Template)]
#[template(path = "console/search.html")]
struct SearchPage {
    page: Page,
    errors: FieldErrors,
    q: String,
    date: String,
    rooms: Vec<Choice>,
    searched: bool,
    results: Vec<ResultRow>,
    capped: bool,
    cap: usize,
}

async fn search(
    State(state): State<AppState>,
    v: Visitor,
    PageQuery(query): PageQuery<SearchQuery>,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let lang = v.lang;
    let mine = state
        .bookings
        .clerk_rooms(who)
        .await
        .map_err(|e| service_page(&v, e))?;
    let q = query.q.unwrap_or_default().trim().to_owned();
    let room = query.room.unwrap_or_default().trim().to_owned();
    let date_text_in = query.date.unwrap_or_default().trim().to_owned();
    let mut errors = FieldErrors::default();
    if q.chars().count() > 200 {
        errors.add("q", lang.t("console-error-search-long"));
    }
    if !room.is_empty() && !mine.iter().any(|r| r.room.id == room) {
        errors.add("room", lang.t("console-error-room-unknown"));
    }
    let date = if date_text_in.is_empty() {
        None
    } else {
        let d = parse_date(&date_text_in);
        if d.is_none() {
            errors.add("date", lang.t("console-error-date"));
        }
        d
    };
    let searched = errors.is_empty() && (!q.is_empty() || !room.is_empty() || date.is_some());
    let mut results = Vec::new();
    let mut capped = false;
    if searched {
        let found = state
            .bookings
            .search(who, &q, (!room.is_empty()).then_some(room.as_str()), date)
            .await
            .map_err(|e| service_page(&v, e))?;
        capped = found.capped;
        results = found
            .found
            .into_iter()
            .map(|f| {
                let view = BookingView::from_record(f.booking);
                ResultRow {
                    when: first_span(lang, &view, f.zone),
                    dates: view.occurrences.len(),
                    id: view.id,
                    room: f.room.room.name,
                    requester: view.requester_name,
                    email: f.email.unwrap_or_default(),
                    status_text: status_text(lang, view.status.as_str()),
                    status: view.status.to_string(),
                }
            })
            .collect();
    }
    let rooms = mine
        .iter()
        .map(|r| Choice {
            value: r.room.id.clone(),
            label: r.room.name.clone(),
            selected: r.room.id == room,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = Page::new(&v, "search", lang.t("console-search-title"));
    Ok(render(
        &v,
        status,
        &SearchPage {
            page,
            errors,
            q,
            date: date_text_in,
            rooms,
            searched,
            results,
            capped,
            cap: crate::booking::console::SEARCH_CAP,
        },
    ))
}

// ---------------------------------------------------------------------------------------
// Staff calendar links

/// The signed-in staff member, or the page to answer instead.
fn staff(v: &Visitor) -> Result<&Principal, PageError> {
    match &v.user {
        None => Err(sign_in_first(v).into()),
        Some(p @ Principal::Staff { .. }) => Ok(p),
        Some(_) => Err(error_page(
            v,
            StatusCode::FORBIDDEN,
            "error-forbidden",
            v.lang.t("console-forbidden-staff"),
        )
        .into()),
    }
}

pub struct LinkRow {
    pub id: String,
    pub name: String,
    pub building: String,
    pub caldav: String,
    pub webcal: String,
    pub feed: String,
    pub following: bool,
}

#[derive(askama::Template)]
#[template(path = "console/calendars.html")]
struct LinksPage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    login: String,
    dav: String,
    well_known: String,
    rows: Vec<LinkRow>,
}

/// This site's scheme and host as the browser reached it (through a proxy, as it says).
fn site(v: &Visitor, headers: &HeaderMap) -> (String, String) {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(HOST))
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(',').next())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost")
        .to_owned();
    let scheme = if v.secure { "https" } else { "http" };
    (scheme.to_owned(), host)
}

async fn calendar_links(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let who = staff(&v)?;
    let Principal::Staff { login, .. } = who else {
        return Err(sign_in_first(&v).into());
    };
    let cals = Calendars::new(&state.bookings);
    let rooms = cals.rooms().await.map_err(|e| unavailable(&v, e))?;
    let followed: Vec<String> = cals
        .followed(&who.requester_id())
        .await
        .map_err(|e| unavailable(&v, e))?
        .into_iter()
        .map(|c| c.room.room.id)
        .collect();
    let (scheme, host) = site(&v, &headers);
    let base = format!("{scheme}://{host}");
    let rows = rooms
        .into_iter()
        .filter(|c| c.bookable || followed.contains(&c.room.room.id))
        .map(|c| {
            let id = c.room.room.id.clone();
            let path_id = urlencode(&id);
            LinkRow {
                caldav: format!("{base}/dav/calendars/rooms/{path_id}/calendar/"),
                webcal: format!("webcal://{host}/feeds/rooms/{path_id}.ics"),
                feed: format!("{base}/feeds/rooms/{path_id}.ics"),
                following: followed.contains(&id),
                name: c.room.room.name.clone(),
                building: c.room.room.building.clone().unwrap_or_default(),
                id,
            }
        })
        .collect();
    let page = Page::new(&v, "links", v.lang.t("console-links-title"));
    Ok(render(
        &v,
        StatusCode::OK,
        &LinksPage {
            page,
            notice: notice_text(v.lang, &q),
            problem: None,
            login: login.clone(),
            dav: format!("{base}/dav/"),
            well_known: format!("{base}/.well-known/caldav"),
            rows,
        },
    ))
}

#[derive(Deserialize)]
struct FollowForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    follow: String,
}

async fn follow(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(room): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let who = staff(&v)?;
    let form: FollowForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let follow = match form.follow.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(error_page(
                &v,
                StatusCode::BAD_REQUEST,
                "error-bad-form",
                v.lang.t("console-error-follow"),
            )
            .into());
        }
    };
    let cals = Calendars::new(&state.bookings);
    match cals.room(&room).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(not_found(&v, "console-error-room-unknown").into()),
        Err(e) => return Err(unavailable(&v, e).into()),
    }
    state
        .bookings
        .store
        .set_follow(
            &who.requester_id(),
            &room,
            follow,
            state.bookings.clock.now(),
        )
        .await
        .map_err(|e| unavailable(&v, e))?;
    let notice = if follow { "followed" } else { "unfollowed" };
    Ok(see_other(
        &v,
        &format!(
            "/console/calendars?notice={notice}#room-{}",
            urlencode(&room)
        ),
        &[],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_parse_and_print_as_iso_weeks() {
        let monday = parse_week("2027-W01").unwrap();
        assert_eq!(monday, NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        assert_eq!(week_name(monday), "2027-W01");
        assert_eq!(parse_week("2027-W54"), None);
        assert_eq!(parse_week("garbage"), None);
        assert_eq!(parse_week("99999-W01"), None);
        assert_eq!(
            monday_of(NaiveDate::from_ymd_opt(2027, 1, 10).unwrap()),
            monday
        );
    }

    #[test]
    fn free_text_wins_over_a_template() {
        assert_eq!(
            rejection_reason(Lang::En, "busy", "  Our own words "),
            Some("Our own words".into())
        );
        assert_eq!(
            rejection_reason(Lang::En, "busy", ""),
            Some("The hall is already taken".into())
        );
        assert_eq!(rejection_reason(Lang::Nb, "other", " "), None);
        assert_eq!(rejection_reason(Lang::Nb, "", ""), None);
    }
}
