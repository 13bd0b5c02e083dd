//! The clerks' console: the queue of requests to decide ([`queue`]), a booking's detail and
//! audit trail with its cancellation ([`detail`]), the week calendar of a room or building
//! with closures, by form or by dragging across the grid with `console.js` ([`calendar`]),
//! a closure's page with the bookings it hits and the clerk's choice for each ([`closures`]),
//! booking search ([`search`]), and every staff member's calendar links ([`links`]).
//!
//! Every page here is for a signed-in clerk (administrators count), except the calendar
//! links, which are for all staff. A clerk sees only the rooms of their approver groups: the
//! rule of `Bookings::approvals`. Someone else's booking is "not found" rather than forbidden.
//!
//! This module holds what the pages share: the [`Clerk`] and [`Staff`] extractors (who may
//! see a page), [`ClerkForm`] and [`StaffForm`] (the one preamble of every console POST:
//! signed in with the right role, then the body read, then its CSRF token checked), the
//! wording of dates, statuses and conflicts, and a request's card.

mod calendar;
mod closures;
mod detail;
mod links;
mod queue;
mod search;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::{self, At, status_words};
use super::{
    Lang, PageError, ToArg, Visitor, check_csrf, error_page, parse_form, see_other, sign_in_first,
    urlencode,
};
use crate::app::AppState;
use crate::booking::console::{Conflict, ConflictKind};
use crate::booking::{BookingError, BookingView};
use crate::identity::Principal;
use crate::scheduling::Zone;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(queue::queue))
        .route("/console/bookings/{id}", get(detail::detail))
        .route("/console/bookings/{id}/approve", post(queue::approve))
        .route("/console/bookings/{id}/reject", post(queue::reject))
        .route("/console/bookings/{id}/cancel", post(detail::cancel))
        .route("/console/bookings/{id}/dates", post(detail::decide_dates))
        .route("/console/calendar", get(calendar::calendar))
        .route("/console/closures", post(calendar::close))
        .route("/console/closures/{id}", get(closures::closure))
        .route(
            "/console/closures/{id}/bookings/{booking}",
            post(closures::choose),
        )
        .route("/console/search", get(search::search))
        .route("/console/calendars", get(links::calendar_links))
        .route("/console/calendars/{room}/follow", post(links::follow))
}

// ---------------------------------------------------------------------------------------
// Access: who may see a page, and the preamble of every form

/// The signed-in clerk, or the page to answer instead (sign in first; 403 for others).
pub(in crate::web) fn clerk(v: &Visitor) -> Result<&Principal, PageError> {
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

/// Who may see a page: [`clerk`] or [`staff`].
type Role = for<'a> fn(&'a Visitor) -> Result<&'a Principal, PageError>;

async fn visitor(parts: &mut Parts, state: &AppState) -> Visitor {
    match Visitor::from_request_parts(parts, state).await {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// A console page's visitor, a signed-in clerk.
pub(super) struct Clerk {
    pub v: Visitor,
    pub who: Principal,
}

impl FromRequestParts<AppState> for Clerk {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let v = visitor(parts, state).await;
        let who = clerk(&v)?.clone();
        Ok(Clerk { v, who })
    }
}

/// A staff page's visitor (the calendar links), a signed-in staff member.
pub(super) struct Staff {
    pub v: Visitor,
    pub who: Principal,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let v = visitor(parts, state).await;
        let who = staff(&v)?.clone();
        Ok(Staff { v, who })
    }
}

/// A console form: it carries the visitor's CSRF token.
pub(super) trait Posted: DeserializeOwned + Send {
    fn csrf(&self) -> &str;
}

/// A form a clerk posts: the clerk (checked first: sign in, or 403), the body read as `T`
/// (400 when it does not fit) and its CSRF token checked (403).
pub(super) struct ClerkForm<T> {
    pub v: Visitor,
    pub who: Principal,
    pub form: T,
}

/// A form any staff member posts, checked as [`ClerkForm`].
pub(super) struct StaffForm<T> {
    pub v: Visitor,
    pub who: Principal,
    pub form: T,
}

async fn signed_form<T: Posted>(
    req: Request,
    state: &AppState,
    role: Role,
) -> Result<(Visitor, Principal, T), PageError> {
    let (mut parts, body) = req.into_parts();
    let v = visitor(&mut parts, state).await;
    let who = role(&v)?.clone();
    let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(|e| PageError::from(e.into_response()))?;
    let form: T = parse_form(&v, &bytes)?;
    check_csrf(&v, form.csrf())?;
    Ok((v, who, form))
}

impl<T: Posted> FromRequest<AppState> for ClerkForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (v, who, form) = signed_form(req, state, clerk).await?;
        Ok(ClerkForm { v, who, form })
    }
}

impl<T: Posted> FromRequest<AppState> for StaffForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (v, who, form) = signed_form(req, state, staff).await?;
        Ok(StaffForm { v, who, form })
    }
}

/// A page for a service error outside a form: not found, forbidden, or unavailable.
fn service_page(v: &Visitor, e: BookingError) -> Response {
    error::booking_page(v, &e, At::ConsolePage)
}

fn not_found(v: &Visitor, key: &str) -> Response {
    error_page(v, StatusCode::NOT_FOUND, "error-not-found", v.lang.t(key))
}

// ---------------------------------------------------------------------------------------
// Wording

fn status_text(lang: Lang, status: &str) -> String {
    status_words(lang, "console-status-", status)
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
// A request's card (the queue and the detail page)

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
        .find(|o| o.status.is_blocking())
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

#[derive(Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
    affected: Option<u32>,
}

fn notice_text(lang: Lang, q: &NoticeQuery) -> Option<String> {
    match q.notice.as_deref()? {
        n @ ("approved" | "rejected" | "cancelled" | "followed" | "unfollowed"
        | "approved-some" | "dates-approved" | "dates-rejected" | "dates-cancelled"
        | "closure-kept" | "closure-cancelled") => Some(lang.t(&format!("console-notice-{n}"))),
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
pub(super) struct Refusal {
    status: Option<StatusCode>,
    problem: Option<String>,
    booking: String,
    template: String,
    reason: String,
    reason_error: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

// ---------------------------------------------------------------------------------------
// Deciding (the queue and the detail page post these)

/// A clerk's decision: approve, reject, cancel.
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

impl Posted for DecisionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Shows the page the form came from again, with what went wrong.
async fn refused(
    state: &AppState,
    v: &Visitor,
    who: &Principal,
    id: &str,
    from: &str,
    r: Refusal,
) -> Response {
    if from == "detail" {
        detail::detail_page(state, v, who, id, None, r).await
    } else {
        queue::queue_page(state, v, who, None, r).await
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

/// A refused decision, said at the top of the page it came from.
fn refusal_of(lang: Lang, id: &str, e: &BookingError) -> Refusal {
    let shown = error::booking(lang, e, At::ConsoleDecision);
    Refusal {
        status: Some(shown.status),
        problem: Some(shown.message),
        booking: id.to_owned(),
        ..Refusal::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_span_to_midnight_stays_on_its_day() {
        let at = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(2027, 1, d)
                .and_then(|d| d.and_hms_opt(h, 0, 0))
                .unwrap()
        };
        assert_eq!(
            span_text(Lang::En, at(4, 22), at(5, 0)),
            format!("{} 22:00–24:00", date_text(Lang::En, at(4, 0).date()))
        );
        assert!(span_text(Lang::En, at(4, 22), at(6, 1)).contains(" – "));
    }

    #[test]
    fn every_template_but_other_has_words_of_its_own() {
        let options = template_options(Lang::En);
        assert_eq!(options.len(), TEMPLATES.len());
        assert!(rejection_reason(Lang::En, "hours", "").is_some());
        assert!(rejection_reason(Lang::En, "unknown", "").is_none());
    }
}
