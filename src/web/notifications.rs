//! The console's notification page: deliveries about the clerk's rooms that failed (dead
//! letters, and pending ones that failed at least once), with a button to try again.
//!
//! A clerk sees only deliveries about the rooms they decide for, and retries only those: the
//! rule lives in the delivery queue service (`booking::deliveries::Deliveries`), which this
//! page calls; an email delivery's address is shown only to them. Retrying makes the delivery
//! pending and due now, with a fresh round of attempts.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::console::clerk;
use super::{
    Page, PageError, PagePath, PageQuery, Visitor, check_csrf, error_page, parse_form, render,
    see_other, unavailable,
};
use crate::app::AppState;
use crate::booking::deliveries::{Deliveries, RetryRefused};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/notifications", get(list))
        .route("/console/notifications/{id}/retry", post(retry))
}

struct Row {
    id: i64,
    event: String,
    booking_id: String,
    room: String,
    channel: String,
    target: String,
    status: String,
    attempts: i64,
    last_error: String,
    next_attempt: String,
    dead: bool,
}

#[derive(askama::Template)]
#[template(path = "console/notifications.html")]
struct NotificationsPage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    v: Visitor,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let deliveries = Deliveries::new(&state.bookings)
        .troubled(who)
        .await
        .map_err(|e| unavailable(&v, e))?;
    let lang = v.lang;
    let rows = deliveries
        .into_iter()
        .map(|t| {
            let (d, room) = (t.delivery, t.room_name);
            let dead = d.status == "dead";
            Row {
                id: d.id,
                event: event_text(lang, &d.event),
                booking_id: d.booking_id.clone().unwrap_or_default(),
                room,
                channel: lang.t(&format!("console-notify-channel-{}", d.channel)),
                // Listed only for the clerks of the room, who may see the requester's address.
                target: d.target.clone(),
                status: lang.t(if dead {
                    "console-notify-status-dead"
                } else {
                    "console-notify-status-retrying"
                }),
                attempts: d.attempts,
                last_error: d.last_error.clone().unwrap_or_default(),
                next_attempt: if dead {
                    String::new()
                } else {
                    d.next_attempt_at
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string()
                },
                dead,
            }
        })
        .collect();
    let notice = match q.notice.as_deref() {
        Some("retried") => Some(lang.t("console-notify-notice-retried")),
        _ => None,
    };
    let page = Page::new(&v, "notifications", lang.t("console-notify-title"));
    Ok(render(
        &v,
        StatusCode::OK,
        &NotificationsPage {
            page,
            notice,
            problem: None,
            rows,
        },
    ))
}

fn event_text(lang: super::Lang, event: &str) -> String {
    match event {
        "booking.requested"
        | "booking.approved"
        | "booking.rejected"
        | "booking.cancelled"
        | "booking.expired"
        | "booking.dates_approved"
        | "booking.dates_rejected"
        | "booking.dates_cancelled"
        | "booking.dates_expired"
        | "booking.dates_moved"
        | "digest" => lang.t(&format!(
            "console-notify-event-{}",
            event.trim_start_matches("booking.")
        )),
        other => other.to_owned(),
    }
}

#[derive(Deserialize)]
struct RetryForm {
    #[serde(default)]
    csrf: String,
}

async fn retry(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let who = clerk(&v)?;
    let form: RetryForm = parse_form(&v, &body)?;
    check_csrf(&v, &form.csrf)?;
    let not_found = || {
        error_page(
            &v,
            StatusCode::NOT_FOUND,
            "error-not-found",
            v.lang.t("error-not-found-detail"),
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return Err(not_found().into());
    };
    match Deliveries::new(&state.bookings).retry(who, id).await {
        Ok(()) => Ok(see_other(&v, "/console/notifications?notice=retried", &[])),
        // Someone else's room: not found, as elsewhere in the console.
        Err(RetryRefused::NotFound(_)) => Err(not_found().into()),
        Err(RetryRefused::NotRetryable(_)) => Err(error_page(
            &v,
            StatusCode::CONFLICT,
            "console-problem-title",
            v.lang.t("console-notify-not-retryable"),
        )
        .into()),
        Err(RetryRefused::Unavailable(e)) => Err(unavailable(&v, e).into()),
    }
}
