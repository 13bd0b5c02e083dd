//! Booking search for clerks: by free text (requester, purpose, id), room and date, within
//! the clerk's rooms; at most `SEARCH_CAP` rows, and the page says when it cut.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Choice, Clerk, first_span, service_page, status_text};
use crate::app::AppState;
use crate::booking::BookingView;
use crate::limits::SEARCH_CHARS;
use crate::web::resident::parse_date;
use crate::web::{FieldErrors, Page, PageError, PageQuery, render};

#[derive(Deserialize, Default)]
pub(super) struct SearchQuery {
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

pub(super) async fn search(
    State(state): State<AppState>,
    Clerk { v, who }: Clerk,
    PageQuery(query): PageQuery<SearchQuery>,
) -> Result<Response, PageError> {
    let lang = v.lang;
    let mine = state
        .bookings
        .clerk_rooms(&who)
        .await
        .map_err(|e| service_page(&v, e))?;
    let q = query.q.unwrap_or_default().trim().to_owned();
    let room = query.room.unwrap_or_default().trim().to_owned();
    let date_text_in = query.date.unwrap_or_default().trim().to_owned();
    let mut errors = FieldErrors::default();
    if q.chars().count() > SEARCH_CHARS {
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
            .search(&who, &q, (!room.is_empty()).then_some(room.as_str()), date)
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
