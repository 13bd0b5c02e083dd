//! The residents' pages: the start page with the search for free halls, a hall's page with
//! its week, the booking form, and "my bookings".

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Page, Visitor, render};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}

/// A hall in a list.
pub struct HallCard {
    pub id: String,
    pub name: String,
    pub building: String,
    pub capacity: Option<u32>,
}

#[derive(askama::Template)]
#[template(path = "start.html")]
struct StartPage {
    page: Page,
    notice: Option<String>,
    halls: Vec<HallCard>,
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    notice: Option<String>,
}

/// `GET /`.
pub async fn start(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<StartQuery>,
) -> Response {
    let rooms = match state.bookings.store.rooms(false).await {
        Ok(r) => r,
        Err(e) => return super::unavailable(&v, e),
    };
    let halls = rooms
        .into_iter()
        .filter(|r| state.bookings.bookable(r))
        .map(|r| HallCard {
            id: r.room.id,
            name: r.room.name,
            building: r.room.building.unwrap_or_default(),
            capacity: r.room.capacity,
        })
        .collect();
    let notice = q.notice.as_deref().and_then(|n| match n {
        "signed-out" | "registered" => Some(v.lang.t(&format!("notice-{n}"))),
        _ => None,
    });
    let page = Page::new(&v, "halls", v.lang.t("start-title"));
    render(
        &v,
        StatusCode::OK,
        &StartPage {
            page,
            notice,
            halls,
        },
    )
}
