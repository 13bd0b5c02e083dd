//! The week calendar of a room or a building (a grid of hours for sighted users, a list for
//! screen readers), and closures: by form, or by dragging across the grid (`console.js`
//! fills the same form). A building is closed as a whole only by a clerk of every room in it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Weekday};
use serde::Deserialize;

use super::{
    Choice, Clerk, ClerkForm, NoticeQuery, Posted, date_text, not_found, notice_text, service_page,
    span_text, status_text,
};
use crate::app::AppState;
use crate::booking::CreateClosure;
use crate::booking::console::{RoomWeek, WeekEntry, WeekEntryKind};
use crate::booking::records::StoredRoom;
use crate::limits::CLOSURE_REASON_CHARS;
use crate::web::error::{self, At};
use crate::web::resident::parse_date;
use crate::web::{
    FieldErrors, Lang, Page, PageError, PageQuery, ToArg, Visitor, error_page, render, see_other,
    urlencode,
};

/// The first hour row of the grid and the hour after the last (rows 07:00 … 22:00).
const FIRST_HOUR: u32 = 7;
const END_HOUR: u32 = 23;

pub struct DayHead {
    pub date: String,
    pub label: String,
}

pub struct GridCell {
    pub date: String,
    pub hour: u32,
    pub class: &'static str,
    pub items: Vec<String>,
    /// Said to screen readers in a cell an entry continues through.
    pub continues: Option<String>,
}

pub struct GridRow {
    pub label: String,
    pub cells: Vec<GridCell>,
}

pub struct ListEntry {
    pub when: String,
    pub what: String,
    pub detail: String,
    pub status: String,
    pub status_text: String,
    pub link: Option<String>,
}

pub struct GridRoom {
    pub id: String,
    pub caption: String,
    /// For a divisible hall or one of its parts: what it is made of or part of, and that
    /// booking the whole blocks the parts.
    pub division: Option<String>,
    pub days: Vec<DayHead>,
    pub rows: Vec<GridRow>,
    pub list: Vec<ListEntry>,
}

/// What a closure closes: a room or a building.
pub struct Target {
    pub field: &'static str,
    pub value: String,
    pub label: String,
}

#[derive(Default)]
pub struct ClosureFields {
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
    pub reason: String,
}

#[derive(askama::Template)]
#[template(path = "console/calendar.html")]
struct CalendarPage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    errors: FieldErrors,
    rooms: Vec<Choice>,
    buildings: Vec<Choice>,
    week: String,
    week_label: String,
    prev_href: String,
    next_href: String,
    grids: Vec<GridRoom>,
    target: Option<Target>,
    form: ClosureFields,
}

enum Selection {
    Room(Box<StoredRoom>),
    Building(String, Vec<StoredRoom>),
    Nothing,
}

impl Selection {
    fn rooms(&self) -> Vec<StoredRoom> {
        match self {
            Selection::Room(r) => vec![(**r).clone()],
            Selection::Building(_, rooms) => rooms.clone(),
            Selection::Nothing => Vec::new(),
        }
    }

    fn query(&self) -> String {
        match self {
            Selection::Room(r) => format!("room={}", urlencode(&r.room.id)),
            Selection::Building(b, _) => format!("building={}", urlencode(b)),
            Selection::Nothing => String::new(),
        }
    }
}

/// Picks the room or building asked for among the clerk's rooms; the first room when neither
/// is asked for.
fn select(
    v: &Visitor,
    mine: &[StoredRoom],
    room: Option<&str>,
    building: Option<&str>,
) -> Result<Selection, PageError> {
    let room = room.map(str::trim).filter(|r| !r.is_empty());
    let building = building.map(str::trim).filter(|b| !b.is_empty());
    if let Some(id) = room {
        return match mine.iter().find(|r| r.room.id == id) {
            Some(r) => Ok(Selection::Room(Box::new(r.clone()))),
            None => Err(not_found(v, "console-error-room-unknown").into()),
        };
    }
    if let Some(name) = building {
        let rooms: Vec<StoredRoom> = mine
            .iter()
            .filter(|r| r.room.building.as_deref() == Some(name))
            .cloned()
            .collect();
        return if rooms.is_empty() {
            Err(not_found(v, "console-error-building-unknown").into())
        } else {
            Ok(Selection::Building(name.to_owned(), rooms))
        };
    }
    Ok(mine
        .first()
        .map(|r| Selection::Room(Box::new(r.clone())))
        .unwrap_or(Selection::Nothing))
}

/// `2027-W01` → that ISO week's Monday.
fn parse_week(text: &str) -> Option<NaiveDate> {
    let (year, week) = text.trim().split_once("-W")?;
    let year: i32 = year.parse().ok()?;
    let week: u32 = week.parse().ok()?;
    if !(2000..=2200).contains(&year) {
        return None;
    }
    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
}

fn week_name(monday: NaiveDate) -> String {
    let w = monday.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

fn entry_texts(lang: Lang, e: &WeekEntry) -> (String, String, String, Option<String>) {
    match &e.what {
        WeekEntryKind::Booking {
            id,
            requester_name,
            purpose,
            status,
        } => (
            requester_name.clone(),
            purpose.clone(),
            status.to_string(),
            Some(format!("/console/bookings/{}", urlencode(id))),
        ),
        WeekEntryKind::Closure {
            label,
            block,
            closure_id,
        } => (
            lang.t_args("console-closure-label", &[("label", label.to_arg())]),
            lang.t(if *block {
                "console-closure-block"
            } else {
                "console-closure-holiday"
            }),
            "closed".to_owned(),
            // A clerk's closure links to its page: the bookings it hits.
            closure_id
                .as_ref()
                .map(|id| format!("/console/closures/{}", urlencode(id))),
        ),
        WeekEntryKind::Elsewhere { room, status } => (
            lang.t_args("console-elsewhere", &[("room", room.to_arg())]),
            lang.t("console-elsewhere-detail"),
            status.to_string(),
            None,
        ),
    }
}

fn grid(lang: Lang, w: &RoomWeek, monday: NaiveDate) -> GridRoom {
    let days: Vec<NaiveDate> = (0..7).map(|i| monday + TimeDelta::days(i)).collect();
    let hour = |d: NaiveDate, h: u32| {
        d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN))
    };
    let mut rows = Vec::new();
    for h in FIRST_HOUR..END_HOUR {
        let mut cells = Vec::new();
        for d in &days {
            let (from, to) = (hour(*d, h), hour(*d, h) + TimeDelta::hours(1));
            let grid_start = hour(*d, FIRST_HOUR);
            let mut class = "";
            let mut items = Vec::new();
            let mut continues = None;
            for e in w.entries.iter().filter(|e| e.start < to && e.end > from) {
                let closure = matches!(e.what, WeekEntryKind::Closure { .. });
                class = if closure && class != "busy" {
                    "closed"
                } else {
                    "busy"
                };
                // An entry is described in the first grid cell of the day it covers.
                let first = e.start.max(grid_start);
                if first >= from && first < to {
                    let (what, _, status, _) = entry_texts(lang, e);
                    let time = span_text(lang, e.start, e.end);
                    let time = time.rsplit(' ').next().unwrap_or(&time).to_owned();
                    let status = if closure {
                        String::new()
                    } else {
                        format!(" ({})", status_text(lang, status.as_str()))
                    };
                    items.push(format!("{time} {what}{status}"));
                } else {
                    continues = Some(lang.t(if closure {
                        "console-cell-closed"
                    } else {
                        "console-cell-busy"
                    }));
                }
            }
            if !items.is_empty() {
                continues = None;
            }
            cells.push(GridCell {
                date: d.format("%Y-%m-%d").to_string(),
                hour: h,
                class,
                items,
                continues,
            });
        }
        rows.push(GridRow {
            label: format!("{h:02}:00"),
            cells,
        });
    }
    let list = w
        .entries
        .iter()
        .map(|e| {
            let (what, detail, status, link) = entry_texts(lang, e);
            ListEntry {
                when: span_text(lang, e.start, e.end),
                what,
                detail,
                status_text: if status == "closed" {
                    lang.t("console-status-closed")
                } else {
                    status_text(lang, status.as_str())
                },
                status,
                link,
            }
        })
        .collect();
    let name = match &w.room.room.building {
        Some(b) => format!("{} ({b})", w.room.room.name),
        None => w.room.room.name.clone(),
    };
    GridRoom {
        division: None,
        id: w.room.room.id.clone(),
        caption: lang.t_args(
            "console-grid-caption",
            &[
                ("room", name.to_arg()),
                ("week", week_label(lang, monday).to_arg()),
            ],
        ),
        days: days
            .iter()
            .map(|d| DayHead {
                date: d.format("%Y-%m-%d").to_string(),
                label: date_text(lang, *d),
            })
            .collect(),
        rows,
        list,
    }
}

fn week_label(lang: Lang, monday: NaiveDate) -> String {
    lang.t_args(
        "console-week-label",
        &[
            ("week", monday.iso_week().week().to_arg()),
            ("from", date_text(lang, monday).to_arg()),
            ("to", date_text(lang, monday + TimeDelta::days(6)).to_arg()),
        ],
    )
}

/// "A, B og C" in the clerk's language.
fn listing(lang: Lang, names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {} {last}", rest.join(", "), lang.t("word-and")),
    }
}

/// "Gymsal A+B består av Gymsal A og Gymsal B. En booking av hele lokalet gjør alle delene
/// opptatt." (or what a part is part of); `None` for a room that is not divided.
fn division_note(
    lang: Lang,
    name: &str,
    s: &crate::booking::rooms::RoomStructure,
) -> Option<String> {
    let names =
        |rs: &[StoredRoom]| -> Vec<String> { rs.iter().map(|r| r.room.name.clone()).collect() };
    if !s.parts.is_empty() {
        Some(lang.t_args(
            "console-division-parts",
            &[
                ("hall", name.to_arg()),
                ("parts", listing(lang, &names(&s.parts)).to_arg()),
            ],
        ))
    } else if !s.part_of.is_empty() {
        Some(lang.t_args(
            "console-division-part-of",
            &[
                ("room", name.to_arg()),
                ("hall", listing(lang, &names(&s.part_of)).to_arg()),
            ],
        ))
    } else {
        None
    }
}

#[allow(clippy::too_many_arguments)]
async fn calendar_page(
    state: &AppState,
    v: &Visitor,
    mine: &[StoredRoom],
    sel: &Selection,
    monday: NaiveDate,
    notice: Option<String>,
    errors: FieldErrors,
    form: ClosureFields,
) -> Response {
    let lang = v.lang;
    let whole_building = match sel {
        Selection::Building(b, _) => match state.bookings.rooms(false).await {
            Ok(all) => all
                .iter()
                .filter(|r| r.room.building.as_deref() == Some(b.as_str()))
                .all(|r| mine.iter().any(|m| m.room.id == r.room.id)),
            Err(e) => return service_page(v, e),
        },
        _ => false,
    };
    let weeks = match state.bookings.week(&sel.rooms(), monday).await {
        Ok(w) => w,
        Err(e) => return service_page(v, e),
    };
    let mut grids: Vec<GridRoom> = weeks.iter().map(|w| grid(lang, w, monday)).collect();
    for (g, w) in grids.iter_mut().zip(&weeks) {
        let structure = match state.bookings.structure(&w.room.room.id).await {
            Ok(s) => s,
            Err(e) => return service_page(v, e),
        };
        g.division = division_note(lang, &w.room.room.name, &structure);
    }
    let mut buildings: Vec<String> = mine
        .iter()
        .filter_map(|r| r.room.building.clone())
        .collect();
    buildings.sort();
    buildings.dedup();
    let (room_id, building) = match sel {
        Selection::Room(r) => (Some(r.room.id.as_str()), None),
        Selection::Building(b, _) => (None, Some(b.as_str())),
        Selection::Nothing => (None, None),
    };
    let rooms = mine
        .iter()
        .map(|r| Choice {
            value: r.room.id.clone(),
            label: match &r.room.building {
                Some(b) => format!("{} ({b})", r.room.name),
                None => r.room.name.clone(),
            },
            selected: room_id == Some(r.room.id.as_str()),
        })
        .collect();
    let buildings = buildings
        .into_iter()
        .map(|b| Choice {
            selected: building == Some(b.as_str()),
            label: b.clone(),
            value: b,
        })
        .collect();
    let target = match sel {
        Selection::Room(r) => Some(Target {
            field: "room",
            value: r.room.id.clone(),
            label: r.room.name.clone(),
        }),
        // A building is closed as a whole only by a clerk of every room in it (the service
        // refuses anyone else), so only they are offered the form.
        Selection::Building(b, _) if whole_building => Some(Target {
            field: "building",
            value: b.clone(),
            label: lang.t_args(
                "console-closure-whole-building",
                &[("building", b.to_arg())],
            ),
        }),
        Selection::Building(..) => None,
        Selection::Nothing => None,
    };
    let base = format!("/console/calendar?{}", sel.query());
    let href = |d: NaiveDate| format!("{base}&week={}", week_name(d));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = Page::new(v, "calendar", lang.t("console-calendar-title"));
    render(
        v,
        status,
        &CalendarPage {
            page,
            notice,
            problem: None,
            errors,
            rooms,
            buildings,
            week: week_name(monday),
            week_label: week_label(lang, monday),
            prev_href: href(monday - TimeDelta::days(7)),
            next_href: href(monday + TimeDelta::days(7)),
            grids,
            target,
            form,
        },
    )
}

#[derive(Deserialize, Default)]
pub(super) struct CalendarQuery {
    room: Option<String>,
    building: Option<String>,
    week: Option<String>,
    notice: Option<String>,
    affected: Option<u32>,
}

fn this_week(state: &AppState, mine: &[StoredRoom]) -> NaiveDate {
    let now = state.bookings.clock.now();
    let local = match mine.first() {
        Some(r) => state.bookings.rules.zone(r).local(now),
        None => now.naive_utc(),
    };
    monday_of(local.date())
}

pub(super) async fn calendar(
    State(state): State<AppState>,
    Clerk { v, who }: Clerk,
    PageQuery(q): PageQuery<CalendarQuery>,
) -> Result<Response, PageError> {
    let mine = state
        .bookings
        .clerk_rooms(&who)
        .await
        .map_err(|e| service_page(&v, e))?;
    let monday = match q.week.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        None => this_week(&state, &mine),
        Some(w) => parse_week(w).ok_or_else(|| {
            error_page(
                &v,
                StatusCode::BAD_REQUEST,
                "console-error-week-title",
                v.lang.t("console-error-week"),
            )
        })?,
    };
    let sel = select(&v, &mine, q.room.as_deref(), q.building.as_deref())?;
    let notice = notice_text(
        v.lang,
        &NoticeQuery {
            notice: q.notice,
            affected: q.affected,
        },
    );
    Ok(calendar_page(
        &state,
        &v,
        &mine,
        &sel,
        monday,
        notice,
        FieldErrors::default(),
        ClosureFields::default(),
    )
    .await)
}

#[derive(Deserialize)]
pub(super) struct ClosureForm {
    #[serde(default)]
    csrf: String,
    room: Option<String>,
    building: Option<String>,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    end_time: String,
    #[serde(default)]
    reason: String,
}

impl Posted for ClosureForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn parse_clock(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

pub(super) async fn close(
    State(state): State<AppState>,
    ClerkForm { v, who, form }: ClerkForm<ClosureForm>,
) -> Result<Response, PageError> {
    let lang = v.lang;
    let mine = state
        .bookings
        .clerk_rooms(&who)
        .await
        .map_err(|e| service_page(&v, e))?;
    let sel = select(&v, &mine, form.room.as_deref(), form.building.as_deref())?;
    let mut errors = FieldErrors::default();
    let start_date = parse_date(&form.start_date);
    let start_time = parse_clock(&form.start_time);
    let end_date = parse_date(&form.end_date);
    let end_time = parse_clock(&form.end_time);
    if start_date.is_none() {
        errors.add("start_date", lang.t("console-error-date"));
    }
    if start_time.is_none() {
        errors.add("start_time", lang.t("console-error-time"));
    }
    if end_date.is_none() {
        errors.add("end_date", lang.t("console-error-date"));
    }
    if end_time.is_none() {
        errors.add("end_time", lang.t("console-error-time"));
    }
    let start = start_date.zip(start_time).map(|(d, t)| d.and_time(t));
    let end = end_date.zip(end_time).map(|(d, t)| d.and_time(t));
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        errors.add("end_time", lang.t("console-error-end-before-start"));
    }
    let reason = form.reason.trim();
    if !crate::limits::fits(reason, CLOSURE_REASON_CHARS) {
        errors.add("reason", lang.t("console-error-closure-reason"));
    }
    if matches!(sel, Selection::Nothing) {
        errors.add("start_date", lang.t("console-error-no-rooms"));
    }
    let monday = monday_of(start_date.unwrap_or_else(|| this_week(&state, &mine)));
    let fields = ClosureFields {
        start_date: form.start_date.clone(),
        start_time: form.start_time.clone(),
        end_date: form.end_date.clone(),
        end_time: form.end_time.clone(),
        reason: form.reason.clone(),
    };
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(calendar_page(&state, &v, &mine, &sel, monday, None, errors, fields).await);
    };
    if !errors.is_empty() {
        return Ok(calendar_page(&state, &v, &mine, &sel, monday, None, errors, fields).await);
    }
    let (room_id, building) = match &sel {
        Selection::Room(r) => (Some(r.room.id.clone()), None),
        Selection::Building(b, _) => (None, Some(b.clone())),
        Selection::Nothing => (None, None),
    };
    let request = CreateClosure {
        room_id,
        building,
        start: start.format("%Y-%m-%dT%H:%M").to_string(),
        end: end.format("%Y-%m-%dT%H:%M").to_string(),
        reason: reason.to_owned(),
    };
    match state.bookings.close(&who, request).await {
        // The closure's page lists the bookings it hits, for the clerk's choice.
        Ok(c) => Ok(see_other(
            &v,
            &format!(
                "/console/closures/{}?notice=closed&affected={}",
                urlencode(&c.id),
                c.hits_total
            ),
            &[],
        )),
        Err(e) => match error::booking(lang, &e, At::ConsoleClosure) {
            error::Shown {
                field: Some(field),
                message,
                ..
            } => {
                errors.add(field, message);
                Ok(calendar_page(&state, &v, &mine, &sel, monday, None, errors, fields).await)
            }
            _ => Ok(service_page(&v, e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::console::WeekEntry;

    #[test]
    fn weeks_parse_and_print_as_iso_weeks() {
        let monday = parse_week("2027-W01").unwrap();
        assert_eq!(monday, NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        assert_eq!(week_name(monday), "2027-W01");
        assert_eq!(parse_week("2027-W54"), None);
        assert_eq!(parse_week("garbage"), None);
        assert_eq!(parse_week("99999-W01"), None);
        assert_eq!(
            monday_of(NaiveDate::from_ymd_opt(2027, 1, 10).unwrap()),
            monday
        );
    }

    #[test]
    fn clock_times_are_hours_and_minutes() {
        assert_eq!(parse_clock(" 07:30 "), NaiveTime::from_hms_opt(7, 30, 0));
        assert_eq!(parse_clock("7"), None);
        assert_eq!(parse_clock("25:00"), None);
    }

    fn at(day: u32, h: u32, m: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2027, 1, day)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap()
    }

    fn week_of(entries: Vec<WeekEntry>) -> RoomWeek {
        RoomWeek {
            room: StoredRoom {
                room: crate::directory::DirRoom {
                    id: "r1".into(),
                    dn: "cn=r1".into(),
                    name: "Storsalen".into(),
                    building: Some("Kulturhuset".into()),
                    capacity: None,
                    equipment: Vec::new(),
                    policy: None,
                    approver_group: None,
                    resource_type: None,
                    floor: None,
                    time_zone: None,
                    description: None,
                    email: None,
                    parts: Vec::new(),
                },
                synced_at: chrono::DateTime::UNIX_EPOCH,
                retired_at: None,
            },
            zone: crate::scheduling::Zone::UTC,
            entries,
        }
    }

    #[test]
    fn an_entry_is_described_once_and_continues_through_its_hours() {
        let monday = parse_week("2027-W01").unwrap();
        let w = week_of(vec![WeekEntry {
            start: at(5, 18, 0),
            end: at(5, 20, 30),
            what: WeekEntryKind::Booking {
                id: "b1".into(),
                requester_name: "Ola".into(),
                purpose: "Korøving".into(),
                status: crate::scheduling::OccurrenceStatus::Booked(
                    crate::scheduling::BookingStatus::Approved,
                ),
            },
        }]);
        let g = grid(Lang::En, &w, monday);
        assert_eq!(g.days.len(), 7);
        assert_eq!(g.rows.len(), (END_HOUR - FIRST_HOUR) as usize);
        // Tuesday is the second column; 18:00 is row 18 - FIRST_HOUR.
        let cell = |h: u32| &g.rows[(h - FIRST_HOUR) as usize].cells[1];
        assert_eq!(cell(18).class, "busy");
        assert_eq!(cell(18).items.len(), 1);
        assert!(cell(18).items[0].contains("Ola"), "{:?}", cell(18).items);
        assert!(cell(19).items.is_empty() && cell(19).continues.is_some());
        assert_eq!(cell(20).class, "busy");
        assert_eq!(cell(21).class, "");
        assert_eq!(g.list.len(), 1);
        assert_eq!(g.list[0].link.as_deref(), Some("/console/bookings/b1"));
    }

    #[test]
    fn a_closure_marks_its_cells_closed_unless_booked() {
        let monday = parse_week("2027-W01").unwrap();
        let w = week_of(vec![WeekEntry {
            start: at(4, 0, 0),
            end: at(5, 0, 0),
            what: WeekEntryKind::Closure {
                label: "Vask".into(),
                block: true,
                closure_id: Some("c1".into()),
            },
        }]);
        let g = grid(Lang::Nb, &w, monday);
        assert_eq!(g.rows[0].cells[0].class, "closed");
        assert_eq!(g.rows[0].cells[0].items.len(), 1);
        assert_eq!(g.rows[0].cells[1].class, "");
        assert_eq!(g.list[0].status, "closed");
    }
}
