//! The residents' pages: the start page with the search for free halls, a hall's page with
//! its week ([`hall`]), the booking form with its check ([`book`]), and "my bookings"
//! ([`mine`]).
//!
//! Public pages (the start page, the hall page) show rooms and busy times only: never who
//! booked or why.

pub mod book;
pub mod change;
pub mod hall;
pub mod mine;

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::Deserialize;

use super::error::{self, At};
use super::{FieldErrors, Lang, Page, PageQuery, ToArg, Visitor, render, urlencode};
use crate::app::AppState;
use crate::booking::records::StoredRoom;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/halls/{id}", get(hall::show))
        .route("/halls/{id}/book", get(book::form).post(book::submit))
        .route("/my/bookings", get(mine::list))
        .route("/my/bookings/{id}", get(mine::detail))
        .route(
            "/my/bookings/{id}/cancel",
            get(mine::confirm_cancel).post(mine::cancel),
        )
        .route(
            "/my/bookings/{id}/dates/{seq}/cancel",
            get(mine::confirm_cancel_date).post(mine::cancel_date),
        )
        .route(
            "/my/bookings/{id}/dates/{seq}/move",
            get(change::form).post(change::submit),
        )
}

/// Equipment values with a label in both languages; others are shown as written.
const KNOWN_EQUIPMENT: &[&str] = &[
    "kitchen",
    "piano",
    "projector",
    "sound-system",
    "stage",
    "video-conference",
    "wheelchair-access",
    "whiteboard",
];

/// An equipment value in words.
pub fn equipment_label(lang: Lang, value: &str) -> String {
    if KNOWN_EQUIPMENT.contains(&value) {
        lang.t(&format!("equipment-{value}"))
    } else {
        value.to_owned()
    }
}

/// A date from a form (`YYYY-MM-DD`, within the years the core handles).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2200).contains(&d.year()))
}

/// A time of day from a form (`HH:MM`, or `HH:MM:SS` as some browsers send).
pub fn parse_clock(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
}

/// A hall in a list.
pub struct HallCard {
    pub id: String,
    pub name: String,
    pub building: String,
    pub capacity: Option<u32>,
    pub equipment: Vec<String>,
    /// The hall page's link, carrying the searched date and times.
    pub href: String,
    /// A divisible hall's parts ("Består av Gymsal A og Gymsal B"), or the hall a part is
    /// part of ("Del av Gymsal A+B").
    pub division: Option<String>,
}

/// A choice in a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(askama::Template)]
#[template(path = "start.html")]
struct StartPage {
    page: Page,
    notice: Option<String>,
    q: StartQuery,
    equipment: Vec<Choice>,
    buildings: Vec<Choice>,
    errors: FieldErrors,
    /// What was searched for, in words (when a time was given).
    searched: Option<String>,
    halls: Vec<HallCard>,
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    date: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    people: String,
    #[serde(default)]
    equipment: String,
    #[serde(default)]
    building: String,
    notice: Option<String>,
}

/// A search, checked.
struct Search {
    /// The date and the times, when a time span was asked for.
    date: Option<NaiveDate>,
    span: Option<(NaiveTime, NaiveTime)>,
    people: Option<u32>,
}

fn check_search(lang: Lang, q: &StartQuery) -> Result<Search, FieldErrors> {
    let mut errors = FieldErrors::default();
    let date = match q.date.trim() {
        "" => None,
        d => {
            let parsed = parse_date(d);
            if parsed.is_none() {
                errors.add("date", lang.t("search-error-date"));
            }
            parsed
        }
    };
    let from = match q.from.trim() {
        "" => None,
        t => {
            let parsed = parse_clock(t);
            if parsed.is_none() {
                errors.add("from", lang.t("search-error-time"));
            }
            parsed
        }
    };
    let to = match q.to.trim() {
        "" => None,
        t => {
            let parsed = parse_clock(t);
            if parsed.is_none() {
                errors.add("to", lang.t("search-error-time"));
            }
            parsed
        }
    };
    let has_from = !q.from.trim().is_empty();
    let has_to = !q.to.trim().is_empty();
    if (has_from || has_to) && q.date.trim().is_empty() {
        errors.add("date", lang.t("search-error-date-needed"));
    }
    if has_from && !has_to {
        errors.add("to", lang.t("search-error-to-needed"));
    }
    if has_to && !has_from {
        errors.add("from", lang.t("search-error-from-needed"));
    }
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        errors.add("to", lang.t("search-error-order"));
    }
    let people = match q.people.trim() {
        "" => None,
        p => match p.parse::<u32>() {
            Ok(n) if (1..=100_000).contains(&n) => Some(n),
            _ => {
                errors.add("people", lang.t("search-error-people"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Search {
        date,
        span: from.zip(to),
        people,
    })
}

/// Whether the room's opening hours cover `from`–`to` on `date`.
fn open_for(
    state: &AppState,
    room: &StoredRoom,
    date: NaiveDate,
    from: NaiveTime,
    to: NaiveTime,
) -> bool {
    let Ok(policy) = state.bookings.rules.policy(room) else {
        return false;
    };
    let minute = |t: NaiveTime| chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t);
    let (a, b) = (minute(from), minute(to));
    policy
        .opening_hours
        .windows(date.weekday())
        .iter()
        .any(|w| w.start_minute() <= a && b <= w.end_minute())
}

/// `GET /`: the start page, and the search for free halls.
pub async fn start(
    State(state): State<AppState>,
    v: Visitor,
    PageQuery(q): PageQuery<StartQuery>,
) -> Response {
    let rooms: Vec<StoredRoom> = match state.bookings.rooms(false).await {
        Ok(r) => r
            .into_iter()
            .filter(|r| state.bookings.bookable(r))
            .collect(),
        Err(e) => return super::unavailable(&v, e),
    };
    let lang = v.lang;
    // Which rooms are divisible halls and which are parts of one, named for the cards.
    let divisions = match state.bookings.divisions().await {
        Ok(d) => d,
        Err(e) => return super::unavailable(&v, e),
    };
    let name_of = |id: &str| {
        rooms
            .iter()
            .find(|r| r.room.id == id)
            .map(|r| r.room.name.clone())
    };
    let division_of = |id: &str| -> Option<String> {
        let parts: Vec<String> = divisions
            .iter()
            .filter(|(r, _)| r == id)
            .filter_map(|(_, p)| name_of(p))
            .collect();
        if !parts.is_empty() {
            return Some(lang.t_args(
                "card-parts",
                &[("parts", hall::listing(lang, &parts).to_arg())],
            ));
        }
        let wholes: Vec<String> = divisions
            .iter()
            .filter(|(_, p)| p == id)
            .filter_map(|(r, _)| name_of(r))
            .collect();
        (!wholes.is_empty()).then(|| {
            lang.t_args(
                "card-part-of",
                &[("hall", hall::listing(lang, &wholes).to_arg())],
            )
        })
    };
    let all_equipment: BTreeSet<&str> = rooms
        .iter()
        .flat_map(|r| r.room.equipment.iter().map(String::as_str))
        .collect();
    let all_buildings: BTreeSet<&str> = rooms
        .iter()
        .filter_map(|r| r.room.building.as_deref())
        .collect();
    let mut equipment: Vec<Choice> = all_equipment
        .iter()
        .map(|e| Choice {
            value: (*e).to_owned(),
            label: equipment_label(lang, e),
            selected: q.equipment == *e,
        })
        .collect();
    equipment.sort_by_key(|a| a.label.to_lowercase());
    let buildings: Vec<Choice> = all_buildings
        .iter()
        .map(|b| Choice {
            value: (*b).to_owned(),
            label: (*b).to_owned(),
            selected: q.building == *b,
        })
        .collect();
    let notice = q.notice.as_deref().and_then(|n| match n {
        "signed-out" | "registered" => Some(lang.t(&format!("notice-{n}"))),
        _ => None,
    });

    let (status, errors, searched, found) = match check_search(lang, &q) {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None, Vec::new()),
        Ok(search) => {
            let mut errors = FieldErrors::default();
            let mut searched = None;
            let candidates: Vec<StoredRoom> = match (search.date, search.span) {
                (Some(date), Some((from, to))) => {
                    let at =
                        |t: NaiveTime| format!("{}T{}", date.format("%Y-%m-%d"), t.format("%H:%M"));
                    searched = Some(crate::i18n::reasons::local_span(
                        lang,
                        date.and_time(from),
                        date.and_time(to),
                    ));
                    match state
                        .bookings
                        .free_rooms(&at(from), &at(to), search.people)
                        .await
                    {
                        Ok(free) => free
                            .into_iter()
                            .filter(|r| {
                                state.bookings.bookable(r) && open_for(&state, r, date, from, to)
                            })
                            .collect(),
                        Err(e) => {
                            let shown = error::booking(lang, &e, At::HallSearch);
                            let Some(field) = shown.field else {
                                return error::booking_page(&v, &e, At::HallSearch);
                            };
                            errors.add(field, shown.message);
                            Vec::new()
                        }
                    }
                }
                _ => rooms
                    .iter()
                    .filter(|r| {
                        search
                            .people
                            .is_none_or(|p| r.room.capacity.is_some_and(|c| c >= p))
                    })
                    .cloned()
                    .collect(),
            };
            let halls = candidates
                .into_iter()
                .filter(|r| q.equipment.is_empty() || r.room.equipment.contains(&q.equipment))
                .filter(|r| {
                    q.building.is_empty() || r.room.building.as_deref() == Some(q.building.as_str())
                })
                .map(|r| {
                    let mut href = format!("/halls/{}", urlencode(&r.room.id));
                    if let Some(d) = search.date {
                        href.push_str(&format!("?date={}", d.format("%Y-%m-%d")));
                        if let Some((f, t)) = search.span {
                            href.push_str(&format!(
                                "&from={}&to={}",
                                urlencode(&f.format("%H:%M").to_string()),
                                urlencode(&t.format("%H:%M").to_string())
                            ));
                        }
                    }
                    HallCard {
                        division: division_of(&r.room.id),
                        href,
                        equipment: r
                            .room
                            .equipment
                            .iter()
                            .map(|e| equipment_label(lang, e))
                            .collect(),
                        id: r.room.id,
                        name: r.room.name,
                        building: r.room.building.unwrap_or_default(),
                        capacity: r.room.capacity,
                    }
                })
                .collect();
            let status = if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, errors, searched, halls)
        }
    };
    let page = Page::new(&v, "halls", lang.t("start-title"));
    render(
        &v,
        status,
        &StartPage {
            page,
            notice,
            q,
            equipment,
            buildings,
            errors,
            searched,
            halls: found,
        },
    )
}
