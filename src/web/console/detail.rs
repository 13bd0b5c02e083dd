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
                .map(|r| status_reason_text(lang, &r))
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
                .map(|r| status_reason_text(lang, r)),
            created: when_text(lang, zone.local(booking.created_at)),
            request,
            history,
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
