//! The shipped closure calendar `calendars/holidays-no.ics`: Norway's public holidays for
//! 2026-2030, with the Easter-based dates right, blocking bookings through the core.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use lokal::scheduling::{
    BookingIndex, BookingRequest, ClosureCalendar, ClosureSet, Interval, Outcome, PolicySet,
    Reason, Requester, RequesterKind, Room, Zone, decide, parse_local,
};

fn calendar() -> ClosureCalendar {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/calendars/holidays-no.ics");
    let text = std::fs::read_to_string(path).unwrap();
    ClosureCalendar::parse("holidays-no", &text).unwrap()
}

/// Easter Sunday in the Gregorian calendar (the anonymous "Meeus/Jones/Butcher" computus).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap()
}

/// The labels of the closures covering local noon on `day` in Oslo.
fn closed_on(day: NaiveDate) -> Vec<String> {
    let zone = Zone::default();
    let noon = zone.to_utc(day.and_hms_opt(12, 0, 0).unwrap()).unwrap();
    let probe = Interval::new(noon, noon + TimeDelta::minutes(1)).unwrap();
    ClosureSet::new()
        .with_calendar(calendar())
        .resolve(zone, &probe)
        .into_iter()
        .map(|c| c.label)
        .collect()
}

fn decide_at(start: &str, end: &str) -> lokal::scheduling::Decision {
    let policies = PolicySet::from_toml("[policy.open]\n").unwrap();
    let request =
        BookingRequest::new(parse_local(start).unwrap(), parse_local(end).unwrap(), 5).unwrap();
    let requester = Requester {
        id: "kari@example.no".into(),
        kind: RequesterKind::Resident,
        groups: vec![],
    };
    let now: DateTime<Utc> = "2027-01-02T00:00:00Z".parse().unwrap();
    decide(
        &request,
        &requester,
        &Room::new("storsalen", Zone::default()),
        policies.get("open").unwrap(),
        &BookingIndex::default(),
        &ClosureSet::new().with_calendar(calendar()),
        now,
    )
}

#[test]
fn constitution_day_2027_blocks_a_booking() {
    let d = decide_at("2027-05-17T12:00", "2027-05-17T14:00");
    assert_eq!(d.outcome, Outcome::Rejected);
    match &d.occurrences[0].reasons[..] {
        [Reason::Closure { closures }] => {
            let labels: Vec<&str> = closures.iter().map(|c| c.label.as_str()).collect();
            // In 2027 Whit Monday falls on 17 May as well.
            assert_eq!(labels, ["Andre pinsedag", "Grunnlovsdag"]);
        }
        other => panic!("expected a closure, got {other:?}"),
    }
}

#[test]
fn easter_monday_2027_blocks_a_booking_and_the_next_day_does_not() {
    let d = decide_at("2027-03-29T10:00", "2027-03-29T12:00");
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(d.occurrences[0].reasons[0].code(), "closure");
    let d = decide_at("2027-03-30T10:00", "2027-03-30T12:00");
    assert_eq!(
        d.outcome,
        Outcome::Pending,
        "{:?}",
        d.occurrences[0].reasons
    );
}

#[test]
fn a_holiday_covers_the_whole_local_day_from_midnight_to_midnight() {
    // Christmas Eve is not a public holiday; Christmas Day and Boxing Day are.
    assert_eq!(
        decide_at("2027-12-24T22:00", "2027-12-25T00:00").outcome,
        Outcome::Pending
    );
    assert_eq!(
        decide_at("2027-12-25T23:00", "2027-12-26T00:00").outcome,
        Outcome::Rejected
    );
    assert_eq!(
        decide_at("2027-12-26T23:45", "2027-12-27T00:00").outcome,
        Outcome::Rejected
    );
    assert_eq!(
        decide_at("2027-12-27T00:00", "2027-12-27T02:00").outcome,
        Outcome::Pending
    );
}

#[test]
fn every_year_2026_to_2030_has_all_norwegian_public_holidays_on_the_right_dates() {
    for year in 2026..=2030 {
        let e = easter(year);
        let expected = [
            (
                NaiveDate::from_ymd_opt(year, 1, 1).unwrap(),
                "Første nyttårsdag",
            ),
            (e - TimeDelta::days(7), "Palmesøndag"),
            (e - TimeDelta::days(3), "Skjærtorsdag"),
            (e - TimeDelta::days(2), "Langfredag"),
            (e, "Første påskedag"),
            (e + TimeDelta::days(1), "Andre påskedag"),
            (
                NaiveDate::from_ymd_opt(year, 5, 1).unwrap(),
                "Offentlig høytidsdag",
            ),
            (
                NaiveDate::from_ymd_opt(year, 5, 17).unwrap(),
                "Grunnlovsdag",
            ),
            (e + TimeDelta::days(39), "Kristi himmelfartsdag"),
            (e + TimeDelta::days(49), "Første pinsedag"),
            (e + TimeDelta::days(50), "Andre pinsedag"),
            (
                NaiveDate::from_ymd_opt(year, 12, 25).unwrap(),
                "Første juledag",
            ),
            (
                NaiveDate::from_ymd_opt(year, 12, 26).unwrap(),
                "Andre juledag",
            ),
        ];
        for (day, name) in expected {
            assert!(
                closed_on(day).iter().any(|l| l == name),
                "{name} {day} is missing; closed that day: {:?}",
                closed_on(day)
            );
        }
    }
}

#[test]
fn the_computus_matches_known_easter_sundays() {
    // Published dates, so that the check above does not merely agree with itself.
    assert_eq!(easter(2026), NaiveDate::from_ymd_opt(2026, 4, 5).unwrap());
    assert_eq!(easter(2027), NaiveDate::from_ymd_opt(2027, 3, 28).unwrap());
    assert_eq!(easter(2030), NaiveDate::from_ymd_opt(2030, 4, 21).unwrap());
}

#[test]
fn ordinary_weekdays_are_not_closed() {
    for (y, m, d) in [
        (2027, 3, 30),
        (2027, 5, 18),
        (2028, 1, 3),
        (2030, 12, 27),
        (2026, 6, 2),
    ] {
        let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(
            closed_on(day).is_empty(),
            "{day} ({}) should be open",
            day.weekday()
        );
    }
}

#[test]
fn the_calendar_ends_with_2030() {
    assert!(closed_on(NaiveDate::from_ymd_opt(2031, 5, 17).unwrap()).is_empty());
    assert!(closed_on(NaiveDate::from_ymd_opt(2031, 1, 1).unwrap()).is_empty());
}
