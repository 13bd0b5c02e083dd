//! A closure's page (issue 16): the bookings and pending requests it hits, each with a link to
//! its detail page and the dates hit, and a small form per booking to keep it (with a reason,
//! a note in its history) or cancel those dates (with a message to the requester). Saving a
//! closure leads here; `/console/closures/{id}` comes back to it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Datelike;

use super::{
    Clerk, ClerkForm, NoticeQuery, Posted, notice_text, service_page, span_text, status_text,
    when_text,
};
use crate::app::AppState;
use crate::booking::{ClosureChoice, ClosureDecision, ClosureHit, ClosureView};
use crate::identity::Principal;
use crate::limits::CLOSURE_CHOICE_CHARS;
use crate::scheduling::Zone;
use crate::web::error::{self, At};
use crate::web::{
    FieldErrors, Lang, Page, PagePath, PageQuery, ToArg, Visitor, render, see_other, urlencode,
};

/// A booking the closure hits, as the page shows it.
pub struct HitRow {
    pub booking_id: String,
    pub title: String,
    pub requester: String,
    pub purpose: String,
    pub status: String,
    pub status_text: String,
    pub dates: Vec<String>,
    /// The choice made, in words.
    pub decision: Option<String>,
    /// The form is shown: nothing chosen yet and some date still holds its slot.
    pub open: bool,
    /// What the clerk typed before a refusal, and why it was refused.
    pub reason: String,
    pub error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "console/closure.html")]
struct ClosurePage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    errors: FieldErrors,
    id: String,
    what: String,
    when: String,
    reason: String,
    calendar_href: String,
    hits: Vec<HitRow>,
    more: Option<String>,
    /// This page of the list (from 0), and the pages around it.
    list_page: usize,
    shown: Option<String>,
    prev_href: Option<String>,
    next_href: Option<String>,
}

/// Bookings per page of the list: a closure over a building for a year may hit hundreds, each
/// with its form, and a page stays light.
const PER_PAGE: usize = 40;

/// The closure page's query: the notice of the form that led here, and the page of the list.
#[derive(serde::Deserialize, Default)]
pub(super) struct ClosureQuery {
    notice: Option<String>,
    affected: Option<u32>,
    page: Option<usize>,
}

/// A refused choice, shown again on the page.
#[derive(Default)]
struct Again {
    status: Option<StatusCode>,
    problem: Option<String>,
    booking: String,
    reason: String,
    error: Option<String>,
}

fn hit_row(lang: Lang, h: &ClosureHit) -> HitRow {
    let zone = Zone::parse(&h.time_zone).unwrap_or(Zone::UTC);
    let dates: Vec<String> = h
        .dates
        .iter()
        .map(|d| {
            format!(
                "{} ({})",
                span_text(lang, zone.local(d.start), zone.local(d.end)),
                status_text(lang, d.status.as_str())
            )
        })
        .collect();
    let first = h
        .dates
        .first()
        .map(|d| span_text(lang, zone.local(d.start), zone.local(d.end)))
        .unwrap_or_default();
    let decision = h.decision.as_ref().map(|c| {
        let key = match c.decision {
            ClosureDecision::Keep => "console-hits-kept",
            ClosureDecision::Cancel => "console-hits-cancelled",
        };
        lang.t_args(
            key,
            &[
                ("when", when_text(lang, zone.local(c.at)).to_arg()),
                ("reason", c.reason.to_arg()),
            ],
        )
    });
    HitRow {
        booking_id: h.booking_id.clone(),
        title: format!("{}, {first}", h.room_name),
        requester: h.requester_name.clone(),
        purpose: h.purpose.clone(),
        status: h.status.to_string(),
        status_text: status_text(lang, h.status.as_str()),
        open: h.decision.is_none() && h.dates.iter().any(|d| d.status.is_blocking()),
        dates,
        decision,
        reason: String::new(),
        error: None,
    }
}

/// The week of the calendar that shows the closure's start.
fn calendar_href(c: &ClosureView, zone: Zone) -> String {
    let week = zone.local(c.start).date().iso_week();
    let target = match (&c.room_id, &c.building) {
        (Some(r), _) => format!("room={}", urlencode(r)),
        (None, Some(b)) => format!("building={}", urlencode(b)),
        (None, None) => String::new(),
    };
    format!(
        "/console/calendar?{target}&week={}-W{:02}",
        week.year(),
        week.week()
    )
}

async fn closure_page(
    state: &AppState,
    v: &Visitor,
    who: &Principal,
    id: &str,
    notice: Option<String>,
    list_page: usize,
    again: Again,
) -> Response {
    let lang = v.lang;
    let c = match state.bookings.closure(who, id).await {
        Ok(c) => c,
        Err(e) => return service_page(v, e),
    };
    let zone = Zone::parse(&c.time_zone).unwrap_or(Zone::UTC);
    let what = match (&c.room_id, &c.building) {
        (Some(r), _) => match state.bookings.room(r).await {
            Ok(Some(room)) => room.room.name,
            Ok(None) => r.clone(),
            Err(e) => return service_page(v, e),
        },
        (None, Some(b)) => lang.t_args(
            "console-closure-whole-building",
            &[("building", b.to_arg())],
        ),
        (None, None) => String::new(),
    };
    let mut errors = FieldErrors::default();
    // A refused choice is shown on the page that holds its booking.
    let list_page = c
        .hits
        .iter()
        .position(|h| !again.booking.is_empty() && h.booking_id == again.booking)
        .map_or(list_page, |i| i / PER_PAGE);
    let pages = c.hits.len().div_ceil(PER_PAGE).max(1);
    let list_page = list_page.min(pages - 1);
    let first = list_page * PER_PAGE;
    let href = |p: usize| format!("/console/closures/{}?page={p}", urlencode(&c.id));
    let shown = (pages > 1).then(|| {
        lang.t_args(
            "console-hits-page",
            &[
                ("from", (first + 1).to_arg()),
                ("to", (first + PER_PAGE).min(c.hits.len()).to_arg()),
                ("total", c.hits.len().to_arg()),
            ],
        )
    });
    let prev_href = (list_page > 0).then(|| href(list_page - 1));
    let next_href = (list_page + 1 < pages).then(|| href(list_page + 1));
    let hits: Vec<HitRow> = c
        .hits
        .iter()
        .skip(first)
        .take(PER_PAGE)
        .map(|h| {
            let mut row = hit_row(lang, h);
            if again.booking == h.booking_id {
                row.reason = again.reason.clone();
                row.error = again.error.clone();
                if let Some(e) = &again.error {
                    errors.add(&format!("reason-{}", h.booking_id), e.clone());
                }
            }
            row
        })
        .collect();
    let more = (c.hits_more > 0)
        .then(|| lang.t_args("console-hits-more", &[("count", c.hits_more.to_arg())]));
    let page = Page::new(
        v,
        "calendar",
        lang.t_args(
            "console-closure-page-title",
            &[("reason", c.reason.to_arg())],
        ),
    );
    render(
        v,
        again.status.unwrap_or(StatusCode::OK),
        &ClosurePage {
            page,
            notice,
            problem: again.problem,
            errors,
            what,
            when: span_text(lang, zone.local(c.start), zone.local(c.end)),
            reason: c.reason.clone(),
            calendar_href: calendar_href(&c, zone),
            id: c.id.clone(),
            hits,
            more,
            list_page,
            shown,
            prev_href,
            next_href,
        },
    )
}

/// `GET /console/closures/{id}`.
pub(super) async fn closure(
    State(state): State<AppState>,
    Clerk { v, who }: Clerk,
    PagePath(id): PagePath<String>,
    PageQuery(q): PageQuery<ClosureQuery>,
) -> Response {
    let notice = notice_text(
        v.lang,
        &NoticeQuery {
            notice: q.notice,
            affected: q.affected,
        },
    );
    let list_page = q.page.unwrap_or(0);
    closure_page(&state, &v, &who, &id, notice, list_page, Again::default()).await
}

/// The form of one booking on a closure's page.
#[derive(serde::Deserialize)]
pub(super) struct ChoiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    /// The page of the list the form was on, to come back to.
    #[serde(default)]
    page: String,
}

impl Posted for ChoiceForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/closures/{id}/bookings/{booking}`: keep the booking (with a reason) or
/// cancel the dates the closure hits (with a message to the requester).
pub(super) async fn choose(
    State(state): State<AppState>,
    PagePath((id, booking)): PagePath<(String, String)>,
    ClerkForm { v, who, form }: ClerkForm<ChoiceForm>,
) -> Response {
    let lang = v.lang;
    let again = |error: String| Again {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        booking: booking.clone(),
        reason: form.reason.clone(),
        error: Some(error),
        ..Again::default()
    };
    let Some(decision) = ClosureDecision::parse(&form.decision) else {
        let a = Again {
            status: Some(StatusCode::BAD_REQUEST),
            problem: Some(lang.t("console-error-no-action")),
            ..Again::default()
        };
        return closure_page(&state, &v, &who, &id, None, 0, a).await;
    };
    let reason = form.reason.trim();
    let too_long = reason.chars().count() > CLOSURE_CHOICE_CHARS;
    if too_long || (decision == ClosureDecision::Keep && reason.is_empty()) {
        let key = match decision {
            ClosureDecision::Keep => "console-error-keep-reason",
            ClosureDecision::Cancel => "console-error-cancel-message",
        };
        return closure_page(&state, &v, &who, &id, None, 0, again(lang.t(key))).await;
    }
    let choice = ClosureChoice {
        decision,
        reason: reason.to_owned(),
    };
    match state
        .bookings
        .decide_closure(&who, &id, &booking, choice)
        .await
    {
        Ok(_) => {
            let notice = match decision {
                ClosureDecision::Keep => "closure-kept",
                ClosureDecision::Cancel => "closure-cancelled",
            };
            let page = form.page.trim().parse::<usize>().unwrap_or(0);
            see_other(
                &v,
                &format!(
                    "/console/closures/{}?notice={notice}&page={page}#hit-{}",
                    urlencode(&id),
                    urlencode(&booking)
                ),
                &[],
            )
        }
        Err(e) if error::unavailable(&e) => service_page(&v, e),
        Err(
            e @ (crate::booking::BookingError::NotFound { .. }
            | crate::booking::BookingError::Forbidden(_)),
        ) => service_page(&v, e),
        Err(e) => {
            let shown = error::booking(lang, &e, At::ConsoleDecision);
            let a = Again {
                status: Some(shown.status),
                problem: Some(shown.message),
                booking: booking.clone(),
                reason: form.reason.clone(),
                error: None,
            };
            closure_page(&state, &v, &who, &id, None, 0, a).await
        }
    }
}
