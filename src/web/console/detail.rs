//! A booking's detail and audit trail, for a clerk of its room, and its cancellation by the
//! clerk (with a reason for the requester; a requester cancels on their own pages).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{
    Clerk, ClerkForm, DecisionForm, NoticeQuery, Refusal, RequestCard, TemplateOption, card, done,
    notice_text, refusal_of, service_page, status_text, template_options, when_text,
};
use crate::app::AppState;
use crate::identity::Principal;
use crate::limits::DECISION_REASON_CHARS;
use crate::web::error;
use crate::web::resident::mine::status_reason_text;
use crate::web::{FieldErrors, Page, PagePath, PageQuery, ToArg, Visitor, render};

/// A date of the booking, for the list of dates.
pub struct DateRow {
    pub seq: i64,
    pub when: String,
    pub status: String,
    pub status_text: String,
    /// Why the date is as it is, or what stands against it now.
    pub why: String,
    /// Has a checkbox: it holds its slot, so it can be decided or cancelled.
    pub selectable: bool,
    /// Its checkbox is disabled: it waits for a clerk but cannot be approved now.
    pub blocked: bool,
}

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
    dates: Vec<DateRow>,
    summary: String,
    any_selectable: bool,
    /// Some date waiting for a clerk is only out of policy, and this clerk may approve it so.
    can_override: bool,
    dates_reason: String,
    dates_error: Option<String>,
    pending: bool,
    cancellable: bool,
    cancel_reason: String,
    cancel_error: Option<String>,
    templates: Vec<TemplateOption>,
}

pub(super) async fn detail_page(
    state: &AppState,
    v: &Visitor,
    who: &Principal,
    id: &str,
    notice: Option<String>,
    r: Refusal,
) -> Response {
    let lang = v.lang;
    let (booking, room, zone) = match state.bookings.for_clerk(who, id).await {
        Ok(found) => found,
        Err(e) => return service_page(v, e),
    };
    let history = match state.bookings.history(who, id).await {
        Ok(h) => h,
        Err(e) => return service_page(v, e),
    };
    let dates_now = match state.bookings.dates_now(who, id).await {
        Ok(d) => d,
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
    let (mut dates_reason, mut dates_error) = (String::new(), None);
    if r.booking == booking.id {
        if r.template == "dates" {
            dates_reason = r.reason.clone();
            dates_error = r.reason_error.clone();
            if let Some(e) = &r.reason_error {
                errors.add("dates-reason", e.clone());
            }
        } else if r.template == "cancel" {
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
                .map(|r| status_reason_text(lang, &r))
                .unwrap_or_default(),
        })
        .collect();
    let dates: Vec<DateRow> = dates_now
        .iter()
        .map(|d| {
            let now_against: Vec<String> = d
                .reasons
                .iter()
                .map(|r| crate::i18n::reasons::sentence(lang, r, d.zone))
                .collect();
            let why = if !now_against.is_empty() {
                now_against.join(" ")
            } else {
                d.status_reason
                    .as_deref()
                    .map(|r| status_reason_text(lang, r))
                    .unwrap_or_default()
            };
            // A move waiting for a clerk says which date approving it cancels.
            let why = match d
                .replaces
                .filter(|_| d.status.is_blocking())
                .and_then(|k| dates_now.iter().find(|o| o.seq == k))
            {
                Some(old) => {
                    let moves = lang.t_args(
                        "console-date-replaces",
                        &[(
                            "when",
                            super::span_text(
                                lang,
                                old.zone.local(old.start),
                                old.zone.local(old.end),
                            )
                            .to_arg(),
                        )],
                    );
                    if why.is_empty() {
                        moves
                    } else {
                        format!("{moves} {why}")
                    }
                }
                None => why,
            };
            let pending = d.status == crate::scheduling::BookingStatus::Pending;
            DateRow {
                seq: d.seq,
                when: super::span_text(lang, d.zone.local(d.start), d.zone.local(d.end)),
                status: d.status.to_string(),
                status_text: status_text(lang, d.status.as_str()),
                why,
                selectable: d.status.is_blocking(),
                blocked: pending && !d.approvable,
            }
        })
        .collect();
    let any_selectable = dates.iter().any(|d| d.selectable && !d.blocked)
        || dates.iter().any(|d| d.selectable && d.status != "pending");
    let summary = crate::web::dates_summary(lang, dates_now.iter().map(|d| d.status));
    let can_override = dates_now.iter().any(|d| {
        d.approvable
            && !d.reasons.is_empty()
            && d.status == crate::scheduling::BookingStatus::Pending
    });
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
                .map(|r| status_reason_text(lang, r)),
            created: when_text(lang, zone.local(booking.created_at)),
            request,
            history,
            dates,
            summary,
            any_selectable,
            can_override,
            dates_reason,
            dates_error,
            cancel_reason,
            cancel_error,
            templates: template_options(lang),
        },
    )
}

pub(super) async fn detail(
    State(state): State<AppState>,
    Clerk { v, who }: Clerk,
    PagePath(id): PagePath<String>,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Response {
    let notice = notice_text(v.lang, &q);
    detail_page(&state, &v, &who, &id, notice, Refusal::default()).await
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    PagePath(id): PagePath<String>,
    ClerkForm { v, who, form }: ClerkForm<DecisionForm>,
) -> Response {
    let reason = form.reason.trim();
    // Only a clerk of the room cancels here (a requester cancels on their own pages).
    if let Err(e) = state.bookings.for_clerk(&who, &id).await {
        return service_page(&v, e);
    }
    if !crate::limits::fits(reason, DECISION_REASON_CHARS) {
        let r = Refusal {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            booking: id.clone(),
            reason: form.reason.clone(),
            reason_error: Some(v.lang.t("console-error-cancel-reason")),
            template: "cancel".into(),
            ..Refusal::default()
        };
        return detail_page(&state, &v, &who, &id, None, r).await;
    }
    match state
        .bookings
        .cancel(&who, &id, Some(reason.to_owned()))
        .await
    {
        Ok(_) => done(&v, &id, "detail", "cancelled"),
        Err(e) if error::unavailable(&e) => service_page(&v, e),
        Err(e) => {
            let r = refusal_of(v.lang, &id, &e);
            detail_page(&state, &v, &who, &id, None, r).await
        }
    }
}

/// The dates form of the detail page: the dates picked (checkboxes named `d<seq>`), what to do
/// with them, and a reason for a rejection or a cancellation.
#[derive(serde::Deserialize)]
pub(super) struct DatesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    /// Why dates only out of policy are approved anyway (clerks allowed to).
    #[serde(default)]
    r#override: String,
    #[serde(flatten)]
    picked: std::collections::HashMap<String, String>,
}

impl super::Posted for DatesForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The most dates one form may name (a series has at most a few hundred).
const MAX_PICKED: usize = 1000;

/// `POST /console/bookings/{id}/dates`: approve, reject (with a reason) or cancel (with a
/// reason) the dates picked. Each approved date is decided again by the core.
pub(super) async fn decide_dates(
    State(state): State<AppState>,
    PagePath(id): PagePath<String>,
    ClerkForm { v, who, form }: ClerkForm<DatesForm>,
) -> Response {
    let lang = v.lang;
    let mut seqs: Vec<i64> = form
        .picked
        .iter()
        .filter(|(_, on)| !on.is_empty())
        .filter_map(|(k, _)| k.strip_prefix('d')?.parse().ok())
        .take(MAX_PICKED)
        .collect();
    seqs.sort_unstable();
    let again = |message: String| Refusal {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        booking: id.clone(),
        template: "dates".into(),
        reason: form.reason.clone(),
        reason_error: Some(message),
        ..Refusal::default()
    };
    if seqs.is_empty() {
        let r = Refusal {
            problem: Some(lang.t("console-error-no-dates")),
            reason_error: None,
            ..again(String::new())
        };
        return detail_page(&state, &v, &who, &id, None, r).await;
    }
    let reason = form.reason.trim();
    let outcome = match form.action.as_str() {
        "approve" => {
            let why = form.r#override.trim();
            let request = crate::booking::Approve {
                dates: Some(seqs),
                override_reason: (!why.is_empty()).then(|| why.to_owned()),
            };
            state
                .bookings
                .approve(&who, &id, request)
                .await
                .map(|_| "dates-approved")
        }
        "reject" | "cancel" => {
            if !crate::limits::fits(reason, DECISION_REASON_CHARS) {
                let r = again(lang.t("console-error-dates-reason"));
                return detail_page(&state, &v, &who, &id, None, r).await;
            }
            if form.action == "reject" {
                state
                    .bookings
                    .reject_dates(&who, &id, &seqs, reason)
                    .await
                    .map(|_| "dates-rejected")
            } else {
                // Only a clerk of the room cancels here (a requester cancels on their own pages).
                if let Err(e) = state.bookings.for_clerk(&who, &id).await {
                    return service_page(&v, e);
                }
                state
                    .bookings
                    .cancel_dates(&who, &id, &seqs, Some(reason.to_owned()))
                    .await
                    .map(|_| "dates-cancelled")
            }
        }
        _ => {
            let r = Refusal {
                status: Some(StatusCode::BAD_REQUEST),
                problem: Some(lang.t("console-error-no-action")),
                booking: id.clone(),
                ..Refusal::default()
            };
            return detail_page(&state, &v, &who, &id, None, r).await;
        }
    };
    match outcome {
        Ok(notice) => done(&v, &id, "detail", notice),
        Err(e) if error::unavailable(&e) => service_page(&v, e),
        Err(e) => {
            let mut r = refusal_of(lang, &id, &e);
            r.template = "dates".into();
            r.reason = form.reason.clone();
            detail_page(&state, &v, &who, &id, None, r).await
        }
    }
}
