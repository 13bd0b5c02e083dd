//! A hall's public page: what it is, and its week of availability, busy-only.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta};
use serde::Deserialize;

use super::{equipment_label, parse_clock, parse_date};
use crate::app::AppState;
use crate::i18n::reasons::{date, short_date, weekday};
use crate::scheduling::Interval;
use crate::web::{Page, PagePath, PageQuery, ToArg, Visitor, error_page, render, urlencode};

#[derive(Deserialize, Default)]
pub struct HallQuery {
    week: Option<String>,
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// One day's column heading.
pub struct DayHead {
    pub weekday: String,
    pub date: String,
}

/// One cell: `free`, `busy` or `closed`, and its text.
pub struct Cell {
    pub class: &'static str,
    pub text: String,
}

/// One row of the week: an hour, and its cell on each day.
pub struct Row {
    pub label: String,
    pub cells: Vec<Cell>,
}

#[derive(askama::Template)]
#[template(path = "resident/hall.html")]
struct HallPage {
    page: Page,
    name: String,
    building: Option<String>,
    floor: Option<String>,
    capacity: Option<u32>,
    equipment: Vec<String>,
    description: Option<String>,
    /// A divisible hall: what it is made of (or what it is part of), and what booking it
    /// blocks; each other room with a link to its page.
    division: Option<Division>,
    /// Why it cannot be booked, when it cannot.
    unbookable: Option<String>,
    book_href: String,
    caption: String,
    days: Vec<DayHead>,
    rows: Vec<Row>,
    prev_href: String,
    next_href: String,
}

/// How a hall is divided, as its page says it.
pub struct Division {
    /// "Gymsal A+B består av Gymsal A og Gymsal B."
    pub summary: String,
    /// "Booker du hele lokalet, er alle delene opptatt."
    pub rule: String,
    /// The other rooms: (name, link).
    pub rooms: Vec<(String, String)>,
}

/// "A, B og C" in the visitor's language.
pub(super) fn listing(lang: crate::i18n::Lang, names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {} {last}", rest.join(", "), lang.t("word-and")),
    }
}

/// The division of `name` from its parts and the halls it is part of.
fn division(
    lang: crate::i18n::Lang,
    name: &str,
    s: crate::booking::rooms::RoomStructure,
) -> Option<Division> {
    let link = |r: &crate::booking::records::StoredRoom| {
        (
            r.room.name.clone(),
            format!("/halls/{}", urlencode(&r.room.id)),
        )
    };
    let names = |rs: &[crate::booking::records::StoredRoom]| -> Vec<String> {
        rs.iter().map(|r| r.room.name.clone()).collect()
    };
    if !s.parts.is_empty() {
        Some(Division {
            summary: lang.t_args(
                "hall-parts",
                &[
                    ("hall", name.to_arg()),
                    ("parts", listing(lang, &names(&s.parts)).to_arg()),
                ],
            ),
            rule: lang.t("hall-parts-rule"),
            rooms: s.parts.iter().map(link).collect(),
        })
    } else if !s.part_of.is_empty() {
        Some(Division {
            summary: lang.t_args(
                "hall-part-of",
                &[
                    ("room", name.to_arg()),
                    ("hall", listing(lang, &names(&s.part_of)).to_arg()),
                ],
            ),
            rule: lang.t("hall-part-of-rule"),
            rooms: s.part_of.iter().map(link).collect(),
        })
    } else {
        None
    }
}

fn iso_week(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Parses `YYYY-Www` into the week's Monday.
fn parse_week(s: &str) -> Option<NaiveDate> {
    let (y, w) = s
        .trim()
        .split_once("-W")
        .or_else(|| s.trim().split_once("-w"))?;
    let (y, w) = (y.parse::<i32>().ok()?, w.parse::<u32>().ok()?);
    if !(2000..=2200).contains(&y) {
        return None;
    }
    NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon)
}

/// `GET /halls/{id}`.
pub async fn show(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(id): PagePath<String>,
    PageQuery(q): PageQuery<HallQuery>,
) -> Response {
    let lang = v.lang;
    let not_found = || {
        error_page(
            &v,
            StatusCode::NOT_FOUND,
            "error-not-found",
            lang.t("hall-not-found"),
        )
    };
    let room = match state.bookings.room(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => return crate::web::unavailable(&v, e),
    };
    let zone = state.bookings.rules.zone(&room);
    let bad = |key: &str| {
        error_page(
            &v,
            StatusCode::BAD_REQUEST,
            "error-bad-request",
            lang.t(key),
        )
    };
    let asked_date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => match parse_date(d) {
            Some(d) => Some(d),
            None => return bad("hall-error-date"),
        },
        None => None,
    };
    let monday = match q.week.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => match parse_week(w) {
            Some(m) => m,
            None => return bad("hall-error-week"),
        },
        None => {
            let day = asked_date.unwrap_or_else(|| zone.local(state.bookings.clock.now()).date());
            day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
        }
    };
    let from = q.from.as_deref().and_then(parse_clock);
    let to = q.to.as_deref().and_then(parse_clock);

    let mut book_href = format!("/halls/{}/book", urlencode(&room.room.id));
    let mut params = Vec::new();
    if let Some(d) = asked_date {
        params.push(format!("date={}", d.format("%Y-%m-%d")));
    }
    if let Some(f) = from {
        params.push(format!(
            "start={}",
            urlencode(&f.format("%H:%M").to_string())
        ));
    }
    if let Some(t) = to {
        params.push(format!("end={}", urlencode(&t.format("%H:%M").to_string())));
    }
    if !params.is_empty() {
        book_href.push('?');
        book_href.push_str(&params.join("&"));
    }

    let unbookable = if room.retired_at.is_some() {
        Some(lang.t("hall-retired"))
    } else if !state.bookings.bookable(&room) {
        Some(lang.t("hall-closed"))
    } else {
        None
    };

    let week_days: Vec<NaiveDate> = (0..7).map(|i| monday + TimeDelta::days(i)).collect();
    let sunday = monday + TimeDelta::days(6);
    let caption = lang.t_args(
        "hall-week-caption",
        &[
            ("week", monday.iso_week().week().to_arg()),
            ("from", date(lang, monday).to_arg()),
            ("to", date(lang, sunday).to_arg()),
        ],
    );
    let days = week_days
        .iter()
        .map(|d| DayHead {
            weekday: weekday(lang, d.weekday()),
            date: short_date(lang, *d),
        })
        .collect();
    let mut rows = Vec::new();
    if unbookable.is_none()
        && let Ok(policy) = state.bookings.rules.policy(&room)
    {
        let next_monday = monday + TimeDelta::days(7);
        let now = state.bookings.clock.now();
        let pad = policy.setup.delta() + policy.teardown.delta();
        let busy = match state
            .bookings
            .busy(
                &room.room.id,
                &monday.format("%Y-%m-%d").to_string(),
                &next_monday.format("%Y-%m-%d").to_string(),
            )
            .await
        {
            Ok(b) => b,
            Err(e) if crate::web::error::unavailable(&e) => return crate::web::unavailable(&v, e),
            Err(_) => Vec::new(),
        };
        let windows: Vec<_> = week_days
            .iter()
            .map(|d| policy.opening_hours.windows(d.weekday()).to_vec())
            .collect();
        let first = windows.iter().flatten().map(|w| w.start_minute()).min();
        let last = windows.iter().flatten().map(|w| w.end_minute()).max();
        if let (Some(first), Some(last)) = (first, last) {
            for hour in (first / 60)..last.div_ceil(60) {
                let (a, b) = (hour * 60, hour * 60 + 60);
                let cells = week_days
                    .iter()
                    .zip(&windows)
                    .map(|(d, ws)| {
                        let open = ws
                            .iter()
                            .any(|w| w.start_minute() < b && a < w.end_minute());
                        if !open {
                            return Cell {
                                class: "closed",
                                text: lang.t("slot-closed"),
                            };
                        }
                        let start = d.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(a));
                        let end = start + TimeDelta::hours(1);
                        if zone.to_utc_or_after_gap(end) <= now {
                            return Cell {
                                class: "closed",
                                text: lang.t("slot-past"),
                            };
                        }
                        // Busy when a booking of this hour would clash: what is there blocks
                        // with its buffers, and so would the new booking.
                        let taken = Interval::new(
                            zone.to_utc_or_after_gap(start) - pad,
                            zone.to_utc_or_after_gap(end) + pad,
                        )
                        .is_ok_and(|slot| {
                            busy.iter()
                                .any(|s| s.start() < slot.end() && slot.start() < s.end())
                        });
                        if taken {
                            Cell {
                                class: "busy",
                                text: lang.t("slot-busy"),
                            }
                        } else {
                            Cell {
                                class: "free",
                                text: lang.t("slot-free"),
                            }
                        }
                    })
                    .collect();
                rows.push(Row {
                    label: format!("{:02}:00–{:02}:00", hour, (hour + 1) % 24),
                    cells,
                });
            }
        }
    }
    let week_href =
        |d: NaiveDate| format!("/halls/{}?week={}", urlencode(&room.room.id), iso_week(d));
    let prev_href = week_href(monday - TimeDelta::days(7));
    let next_href = week_href(monday + TimeDelta::days(7));
    let structure = match state.bookings.structure(&room.room.id).await {
        Ok(s) => s,
        Err(e) if crate::web::error::unavailable(&e) => return crate::web::unavailable(&v, e),
        Err(_) => Default::default(),
    };
    let division = division(lang, &room.room.name, structure);
    let r = room.room;
    let page = Page::new(&v, "halls", r.name.clone());
    render(
        &v,
        StatusCode::OK,
        &HallPage {
            page,
            equipment: r
                .equipment
                .iter()
                .map(|e| equipment_label(lang, e))
                .collect(),
            name: r.name,
            building: r.building,
            floor: r.floor,
            capacity: r.capacity,
            description: r.description,
            division,
            unbookable,
            book_href,
            caption,
            days,
            rows,
            prev_href,
            next_href,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_read_and_written_the_iso_way() {
        let monday = parse_week("2027-W01").unwrap();
        assert_eq!(monday, NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        assert_eq!(iso_week(monday + TimeDelta::days(6)), "2027-W01");
        assert_eq!(
            iso_week(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()),
            "2026-W53"
        );
        assert!(parse_week("2027-W60").is_none());
        assert!(parse_week("garbage").is_none());
    }
}
