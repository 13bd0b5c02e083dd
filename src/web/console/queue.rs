//! The queue of requests a clerk decides, and the decisions posted from it (approve,
//! reject; the detail page posts them too). A refused decision shows the page it came from
//! again, with what the clerk typed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{
    Clerk, ClerkForm, DecisionForm, NoticeQuery, Refusal, RequestCard, TemplateOption, card, done,
    notice_text, refusal_of, refused, rejection_reason, service_page, template_options,
};
use crate::app::AppState;
use crate::identity::Principal;
use crate::limits::DECISION_REASON_CHARS;
use crate::web::error;
use crate::web::{FieldErrors, Page, PagePath, PageQuery, Visitor, render};

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

pub(super) async fn queue_page(
    state: &AppState,
    v: &Visitor,
    who: &Principal,
    notice: Option<String>,
    r: Refusal,
) -> Response {
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

pub(super) async fn queue(
    State(state): State<AppState>,
    Clerk { v, who }: Clerk,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Response {
    let notice = notice_text(v.lang, &q);
    queue_page(&state, &v, &who, notice, Refusal::default()).await
}

pub(super) async fn approve(
    State(state): State<AppState>,
    PagePath(id): PagePath<String>,
    ClerkForm { v, who, form }: ClerkForm<DecisionForm>,
) -> Response {
    match state
        .bookings
        .approve(&who, &id, crate::booking::Approve::default())
        .await
    {
        // A date the core refused now is shown, with why, on the booking's page.
        Ok(b)
            if b.status != crate::scheduling::BookingStatus::Approved
                || b.occurrences.iter().any(|o| !o.reasons.is_empty()) =>
        {
            done(&v, &id, "detail", "approved-some")
        }
        Ok(_) => done(&v, &id, &form.from, "approved"),
        Err(e) if error::unavailable(&e) => service_page(&v, e),
        Err(e) => {
            let r = refusal_of(v.lang, &id, &e);
            refused(&state, &v, &who, &id, &form.from, r).await
        }
    }
}

pub(super) async fn reject(
    State(state): State<AppState>,
    PagePath(id): PagePath<String>,
    ClerkForm { v, who, form }: ClerkForm<DecisionForm>,
) -> Response {
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
        return refused(&state, &v, &who, &id, &form.from, r).await;
    };
    if reason.chars().count() > DECISION_REASON_CHARS {
        let r = again(v.lang.t("console-error-reason-long"));
        return refused(&state, &v, &who, &id, &form.from, r).await;
    }
    match state.bookings.reject(&who, &id, &reason).await {
        Ok(_) => done(&v, &id, &form.from, "rejected"),
        Err(e) if error::unavailable(&e) => service_page(&v, e),
        Err(e) => {
            let mut r = refusal_of(v.lang, &id, &e);
            r.template = form.template.clone();
            r.reason = form.reason.clone();
            refused(&state, &v, &who, &id, &form.from, r).await
        }
    }
}
