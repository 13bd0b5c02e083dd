//! Tests of [`decide`](super::decide): one or more per reason code, the approval model,
//! series handling and daylight-saving time in Europe/Oslo.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::*;

const POLICY: &str = r#"
[policy.hall]
min_duration = "1h"
max_duration = "4h"
granularity = "30m"
lead_time = "1d"
horizon = "365d"
setup = "30m"
teardown = "30m"
max_attendees = 100
max_occurrences = 60

[policy.hall.opening_hours]
mon = ["08:00-23:00"]
tue = ["08:00-23:00"]
wed = ["08:00-23:00"]
thu = ["08:00-23:00"]
fri = ["08:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]

[policy.hall.quota]
period = "week"
max_bookings = 2
max_hours = 5

[policy.hall.approval]
book_in = ["kultur"]
request_in = ["@residents", "@staff"]
out_of_policy = ["clerks"]

[policy.hall.series]
max_skipped = 2
max_skipped_percent = 50

[policy.shut]
[policy.shut.approval]
closed = true

[policy.staff-only.approval]
request_in = ["@staff"]
"#;

fn policy(name: &str) -> Policy {
    PolicySet::from_toml(POLICY)
        .unwrap()
        .get(name)
        .unwrap()
        .clone()
}

fn local(s: &str) -> NaiveDateTime {
    parse_local(s).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Far enough before every request in these tests, except where a test says otherwise.
fn now() -> DateTime<Utc> {
    utc("2026-06-01T09:00:00Z")
}

fn room() -> Room {
    Room::new("storsalen", Zone::default()).with_capacity(150)
}

fn resident() -> Requester {
    Requester {
        id: "kari@example.no".into(),
        kind: RequesterKind::Resident,
        groups: vec![],
    }
}

fn member_of(group: &str) -> Requester {
    Requester {
        id: format!("{group}-member"),
        kind: RequesterKind::Staff,
        groups: vec![group.into()],
    }
}

fn request(start: &str, end: &str) -> BookingRequest {
    BookingRequest::new(local(start), local(end), 10).unwrap()
}

fn existing(id: &str, requester: &str, start: &str, end: &str) -> ExistingBooking {
    let zone = Zone::default();
    let span = Interval::new(
        zone.to_utc(local(start)).unwrap(),
        zone.to_utc(local(end)).unwrap(),
    )
    .unwrap();
    ExistingBooking {
        id: id.into(),
        requester: requester.into(),
        parts: vec!["storsalen".into()],
        span,
        blocked: span.widen(TimeDelta::minutes(30), TimeDelta::minutes(30)),
        status: BookingStatus::Approved,
    }
}

struct Case {
    request: BookingRequest,
    requester: Requester,
    room: Room,
    policy: Policy,
    existing: Vec<ExistingBooking>,
    closures: ClosureSet,
    now: DateTime<Utc>,
}

impl Case {
    fn new(request: BookingRequest) -> Self {
        Case {
            request,
            requester: resident(),
            room: room(),
            policy: policy("hall"),
            existing: vec![],
            closures: ClosureSet::new(),
            now: now(),
        }
    }

    fn decide(&self) -> Decision {
        let index = BookingIndex::new(self.existing.clone());
        decide(
            &self.request,
            &self.requester,
            &self.room,
            &self.policy,
            &index,
            &self.closures,
            self.now,
        )
    }
}

fn codes(d: &Decision) -> Vec<&'static str> {
    d.all_reasons().map(Reason::code).collect()
}

// A Wednesday in January 2027, well inside every rule of the hall policy.
const WED_18: &str = "2027-01-13T18:00";
const WED_20: &str = "2027-01-13T20:00";

#[test]
fn an_in_policy_request_from_a_resident_waits_for_a_clerk() {
    let d = Case::new(request(WED_18, WED_20)).decide();
    assert_eq!(d.outcome, Outcome::Pending);
    assert!(codes(&d).is_empty());
    let o = &d.occurrences[0];
    assert_eq!(o.span.unwrap().start(), utc("2027-01-13T17:00:00Z"));
    assert_eq!(o.blocked.unwrap().start(), utc("2027-01-13T16:30:00Z"));
}

#[test]
fn an_in_policy_request_from_a_book_in_group_is_approved_at_once() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.requester = member_of("Kultur"); // group names compare without case
    assert_eq!(c.decide().outcome, Outcome::Approved);
}

#[test]
fn a_booking_outside_the_opening_hours_is_rejected_and_names_the_windows() {
    let d = Case::new(request("2027-01-13T21:30", "2027-01-13T23:30")).decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    match &d.occurrences[0].reasons[..] {
        [
            Reason::OutsideOpeningHours {
                weekday, windows, ..
            },
        ] => {
            assert_eq!(weekday, "wed");
            assert_eq!(windows[0].to_string(), "08:00-23:00");
        }
        other => panic!("unexpected reasons {other:?}"),
    }
}

#[test]
fn a_booking_may_end_at_midnight_when_the_window_runs_to_2400() {
    let d = Case::new(request("2027-01-15T22:00", "2027-01-16T00:00")).decide();
    assert_eq!(codes(&d), Vec::<&str>::new());
}

#[test]
fn a_booking_across_midnight_is_outside_the_opening_hours() {
    let d = Case::new(request("2027-01-15T23:00", "2027-01-16T01:00")).decide();
    assert_eq!(codes(&d), ["outside-opening-hours"]);
}

#[test]
fn a_request_overlapping_an_approved_booking_is_rejected_and_names_it() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.existing = vec![existing("b-7", "x", "2027-01-13T19:00", "2027-01-13T21:00")];
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    match &d.occurrences[0].reasons[..] {
        [
            Reason::Conflict {
                bookings,
                occurrences,
            },
        ] => {
            assert_eq!(bookings[0].id, "b-7");
            assert!(occurrences.is_empty());
        }
        other => panic!("unexpected reasons {other:?}"),
    }
}

#[test]
fn buffers_make_a_booking_in_the_gap_conflict() {
    // The existing booking ends 17:30; teardown + setup need an hour between them.
    let mut c = Case::new(request(WED_18, WED_20));
    c.existing = vec![existing("b-8", "x", "2027-01-13T15:30", "2027-01-13T17:30")];
    assert_eq!(codes(&c.decide()), ["conflict"]);
}

#[test]
fn a_booking_whose_blocked_time_touches_anothers_does_not_conflict() {
    // Existing 15:00-17:00 blocks until 17:30; the request 18:00 blocks from 17:30.
    let mut c = Case::new(request(WED_18, WED_20));
    c.existing = vec![existing("b-9", "x", "2027-01-13T15:00", "2027-01-13T17:00")];
    let d = c.decide();
    assert_eq!(codes(&d), Vec::<&str>::new());
    assert_eq!(d.outcome, Outcome::Pending);
}

#[test]
fn cancelled_bookings_do_not_block() {
    let mut c = Case::new(request(WED_18, WED_20));
    let mut b = existing("b-10", "x", WED_18, WED_20);
    b.status = BookingStatus::Cancelled;
    c.existing = vec![b];
    assert_eq!(c.decide().outcome, Outcome::Pending);
}

#[test]
fn conflicts_are_rejected_even_for_those_allowed_out_of_policy() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.requester = member_of("clerks");
    c.existing = vec![existing("b-11", "x", WED_18, WED_20)];
    assert_eq!(c.decide().outcome, Outcome::Rejected);
}

#[test]
fn a_booking_of_a_whole_divisible_hall_conflicts_with_a_booking_of_one_part() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.room = Room::new("gymsal-ab", Zone::default())
        .with_parts(vec!["gymsal-a".into(), "gymsal-b".into()]);
    let mut part_b = existing("b-12", "x", WED_18, WED_20);
    part_b.parts = vec!["gymsal-b".into()];
    c.existing = vec![part_b];
    assert_eq!(codes(&c.decide()), ["conflict"]);
}

#[test]
fn a_closure_blocks_the_booking_and_is_named() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.closures = ClosureSet::new().with_block(Closure {
        label: "Floor polishing".into(),
        source: ClosureSource::Block { id: "blk-1".into() },
        interval: Interval::new(utc("2027-01-13T00:00:00Z"), utc("2027-01-14T00:00:00Z")).unwrap(),
    });
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    match &d.occurrences[0].reasons[..] {
        [Reason::Closure { closures }] => assert_eq!(closures[0].label, "Floor polishing"),
        other => panic!("unexpected reasons {other:?}"),
    }
}

#[test]
fn a_booking_shorter_than_the_minimum_is_too_short() {
    let d = Case::new(request("2027-01-13T18:00", "2027-01-13T18:30")).decide();
    assert_eq!(codes(&d), ["too-short"]);
}

#[test]
fn a_booking_longer_than_the_maximum_is_too_long() {
    let d = Case::new(request("2027-01-13T10:00", "2027-01-13T15:00")).decide();
    assert!(codes(&d).contains(&"too-long"), "{:?}", codes(&d));
}

#[test]
fn a_start_off_the_slot_grid_is_misaligned() {
    let d = Case::new(request("2027-01-13T18:10", "2027-01-13T19:40")).decide();
    assert_eq!(codes(&d), ["misaligned"]);
}

#[test]
fn a_request_inside_the_lead_time_is_too_soon() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.now = utc("2027-01-13T08:00:00Z");
    let d = c.decide();
    assert_eq!(codes(&d), ["too-soon"]);
    match &d.occurrences[0].reasons[0] {
        Reason::TooSoon { earliest_start, .. } => {
            assert_eq!(*earliest_start, utc("2027-01-14T08:00:00Z"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_request_in_the_past_is_too_soon() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.now = utc("2027-02-01T00:00:00Z");
    assert_eq!(codes(&c.decide()), ["too-soon"]);
}

#[test]
fn a_booking_beyond_the_horizon_is_too_far_ahead() {
    let d = Case::new(request("2027-06-02T18:00", "2027-06-02T20:00")).decide();
    assert_eq!(codes(&d), ["too-far-ahead"]);
}

#[test]
fn more_attendees_than_the_capacity_is_over_capacity() {
    let mut c = Case::new(BookingRequest::new(local(WED_18), local(WED_20), 101).unwrap());
    let d = c.decide();
    assert_eq!(codes(&d), ["over-capacity"]);
    // The room's own capacity applies too, when it is the smaller.
    c.room = room().with_capacity(50);
    c.request = BookingRequest::new(local(WED_18), local(WED_20), 60).unwrap();
    match &c.decide().occurrences[0].reasons[0] {
        Reason::OverCapacity { limit, attendees } => assert_eq!((*limit, *attendees), (50, 60)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_third_booking_in_one_week_exceeds_the_quota() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.existing = vec![
        existing(
            "b-1",
            "kari@example.no",
            "2027-01-11T10:00",
            "2027-01-11T11:00",
        ),
        existing(
            "b-2",
            "kari@example.no",
            "2027-01-17T10:00",
            "2027-01-17T11:00",
        ),
        // Another requester's booking, and one in the next week, do not count.
        existing(
            "b-3",
            "someone@example.no",
            "2027-01-12T10:00",
            "2027-01-12T11:00",
        ),
        existing(
            "b-4",
            "kari@example.no",
            "2027-01-18T10:00",
            "2027-01-18T11:00",
        ),
    ];
    let d = c.decide();
    assert_eq!(codes(&d), ["quota-exceeded"]);
    match &d.occurrences[0].reasons[0] {
        Reason::QuotaExceeded {
            used_bookings,
            period_start,
            ..
        } => {
            assert_eq!(*used_bookings, 2);
            assert_eq!(period_start.to_string(), "2027-01-11");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hours_over_the_weekly_quota_exceed_it() {
    let mut c = Case::new(request("2027-01-13T16:00", "2027-01-13T20:00"));
    c.existing = vec![existing(
        "b-1",
        "kari@example.no",
        "2027-01-11T10:00",
        "2027-01-11T12:00",
    )];
    assert_eq!(codes(&c.decide()), ["quota-exceeded"]);
}

#[test]
fn an_out_of_policy_request_goes_to_a_clerk_for_those_allowed_to_ask() {
    let mut c = Case::new(request("2027-01-13T18:00", "2027-01-13T18:30"));
    c.requester = member_of("clerks");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Pending);
    assert_eq!(codes(&d), ["too-short"]);
}

#[test]
fn a_closed_room_is_not_bookable_at_all() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.policy = policy("shut");
    c.requester = member_of("kultur");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(d.reasons[0].code(), "room-closed");
}

#[test]
fn a_reason_appears_once_per_date_for_one_date_and_for_a_series() {
    // Issue 15: `room-closed` came twice for one date, four times for a three-date series.
    for rule in [None, Some("FREQ=WEEKLY;COUNT=3")] {
        let mut r = request(WED_18, WED_20);
        if let Some(rule) = rule {
            r = r
                .with_recurrence(Recurrence::parse(rule).unwrap(), SeriesMode::SkipRejected)
                .unwrap();
        }
        let mut c = Case::new(r);
        c.policy = policy("shut");
        let d = c.decide();
        assert_eq!(d.outcome, Outcome::Rejected);
        assert_eq!(codes(&d), ["room-closed"], "{rule:?}");
        // Each date still says why, once.
        for o in &d.occurrences {
            assert_eq!(o.reasons.len(), 1, "{rule:?}");
        }
    }
}

#[test]
fn a_date_outside_hours_and_too_long_names_each_reason_once() {
    // Two checks, two reasons; none given twice for the date, none repeated by all_reasons.
    let mut c = Case::new(request("2027-01-13T06:00", "2027-01-13T23:30"));
    c.requester = member_of("kultur");
    let d = c.decide();
    let all = codes(&d);
    let mut distinct = all.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(all.len(), distinct.len(), "{all:?}");
    assert!(all.contains(&"outside-opening-hours"), "{all:?}");
}

#[test]
fn a_requester_in_no_allowed_group_is_not_allowed() {
    let mut c = Case::new(request(WED_18, WED_20));
    c.policy = policy("staff-only");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(
        d.reasons,
        [Reason::NotAllowed {
            requester: "kari@example.no".into()
        }]
    );
    c.requester = member_of("anything");
    assert_eq!(c.decide().outcome, Outcome::Pending);
}

// Daylight-saving time in Europe/Oslo.

#[test]
fn a_request_at_0230_on_the_spring_forward_day_is_rejected_as_nonexistent() {
    let mut c = Case::new(request("2026-03-29T02:30", "2026-03-29T04:00"));
    c.now = utc("2026-01-01T00:00:00Z");
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(
        d.occurrences[0].reasons,
        [Reason::NonexistentLocalTime {
            local: local("2026-03-29T02:30"),
            zone: "Europe/Oslo".into()
        }]
    );
}

#[test]
fn a_request_at_0230_on_the_fall_back_day_takes_the_earlier_offset() {
    let mut c = Case::new(request("2026-10-25T02:30", "2026-10-25T04:00"));
    c.now = utc("2026-01-01T00:00:00Z");
    let d = c.decide();
    let span = d.occurrences[0].span.unwrap();
    assert_eq!(span.start(), utc("2026-10-25T00:30:00Z")); // 02:30 CEST, the earlier offset
    assert_eq!(span.end(), utc("2026-10-25T03:00:00Z")); // 04:00 CET
}

#[test]
fn a_weekly_1800_series_from_march_to_november_2026_keeps_1800_local() {
    let mut c = Case::new(
        request("2026-03-02T18:00", "2026-03-02T20:00")
            .with_recurrence(
                Recurrence::parse("FREQ=WEEKLY;UNTIL=20261130").unwrap(),
                SeriesMode::AllOrNothing,
            )
            .unwrap(),
    );
    c.now = utc("2026-01-01T00:00:00Z");
    c.policy.quota = None;
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Pending, "{:?}", codes(&d));
    assert_eq!(d.occurrences.len(), 40);
    let zone = Zone::default();
    let mut utc_hours = std::collections::BTreeSet::new();
    for o in &d.occurrences {
        let span = o.span.unwrap();
        assert_eq!(
            zone.local(span.start()).format("%H:%M").to_string(),
            "18:00"
        );
        assert_eq!(zone.local(span.end()).format("%H:%M").to_string(), "20:00");
        utc_hours.insert(span.start().format("%H").to_string());
    }
    // 17:00 UTC in winter time, 16:00 UTC in summer time: the wall clock stayed put.
    assert_eq!(utc_hours.into_iter().collect::<Vec<_>>(), ["16", "17"]);
}

#[test]
fn a_series_occurrence_in_the_spring_gap_is_rejected_on_its_own() {
    let mut c = Case::new(
        request("2026-03-15T02:30", "2026-03-15T03:30")
            .with_recurrence(
                Recurrence::parse("FREQ=WEEKLY;COUNT=4").unwrap(),
                SeriesMode::SkipRejected,
            )
            .unwrap(),
    );
    c.now = utc("2026-01-01T00:00:00Z");
    c.policy.quota = None;
    let d = c.decide();
    let outcomes: Vec<Outcome> = d.occurrences.iter().map(|o| o.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Pending,
            Outcome::Pending,
            Outcome::Skipped,
            Outcome::Pending
        ]
    );
    assert_eq!(d.occurrences[2].reasons[0].code(), "nonexistent-local-time");
    assert_eq!(d.outcome, Outcome::Pending);
}

// Series.

fn weekly(count: u32, mode: SeriesMode) -> BookingRequest {
    request(WED_18, WED_20)
        .with_recurrence(
            Recurrence::parse(&format!("FREQ=WEEKLY;COUNT={count}")).unwrap(),
            mode,
        )
        .unwrap()
}

#[test]
fn all_or_nothing_rejects_the_whole_series_for_one_conflict() {
    let mut c = Case::new(weekly(4, SeriesMode::AllOrNothing));
    c.policy.quota = None;
    c.existing = vec![existing("b-1", "x", "2027-01-20T18:00", "2027-01-20T19:00")];
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(d.occurrences[1].outcome, Outcome::Rejected);
    assert_eq!(d.occurrences[0].outcome, Outcome::Pending);
}

#[test]
fn skipping_leaves_out_conflicting_dates_within_the_policys_limits() {
    let mut c = Case::new(weekly(4, SeriesMode::SkipRejected));
    c.policy.quota = None;
    c.existing = vec![existing("b-1", "x", "2027-01-20T18:00", "2027-01-20T19:00")];
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Pending);
    assert_eq!(d.occurrences[1].outcome, Outcome::Skipped);
    assert_eq!(d.occurrences[1].reasons[0].code(), "conflict");
}

#[test]
fn skipping_more_than_the_policy_allows_is_too_many_skipped() {
    let mut c = Case::new(weekly(4, SeriesMode::SkipRejected));
    c.policy.quota = None;
    c.existing = vec![
        existing("b-1", "x", "2027-01-20T18:00", "2027-01-20T19:00"),
        existing("b-2", "x", "2027-01-27T18:00", "2027-01-27T19:00"),
        existing("b-3", "x", "2027-02-03T18:00", "2027-02-03T19:00"),
    ];
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(
        d.reasons,
        [Reason::TooManySkipped {
            skipped: 3,
            total: 4,
            max_skipped: 2,
            max_skipped_percent: 50
        }]
    );
}

#[test]
fn the_quota_counts_the_series_own_earlier_occurrences() {
    let mut c = Case::new(
        request(WED_18, WED_20)
            .with_recurrence(
                Recurrence::parse("FREQ=DAILY;COUNT=3").unwrap(),
                SeriesMode::AllOrNothing,
            )
            .unwrap(),
    );
    let d = c.decide();
    assert_eq!(d.occurrences[2].reasons[0].code(), "quota-exceeded");
    c.policy.quota = None;
    assert_eq!(c.decide().outcome, Outcome::Pending);
}

#[test]
fn overlapping_occurrences_of_one_series_conflict_with_each_other() {
    let mut c = Case::new(
        request("2027-01-16T08:00", "2027-01-16T10:00")
            .with_recurrence(
                Recurrence::parse("FREQ=HOURLY;COUNT=2").unwrap(),
                SeriesMode::AllOrNothing,
            )
            .unwrap(),
    );
    c.policy.quota = None;
    let d = c.decide();
    assert_eq!(
        d.occurrences[1].reasons,
        [Reason::Conflict {
            bookings: vec![],
            occurrences: vec![0]
        }]
    );
}

#[test]
fn an_endless_series_is_decided_up_to_the_horizon_and_reports_the_truncation() {
    let mut c = Case::new(weekly(1, SeriesMode::AllOrNothing));
    c.request = request(WED_18, WED_20)
        .with_recurrence(
            Recurrence::parse("FREQ=WEEKLY").unwrap(),
            SeriesMode::AllOrNothing,
        )
        .unwrap();
    c.policy.quota = None;
    c.policy.horizon = Span::parse("60d").unwrap();
    c.now = utc("2027-01-01T00:00:00Z");
    let d = c.decide();
    assert_eq!(d.occurrences.len(), 7);
    assert!(matches!(d.truncated, Some(Truncation::Horizon { .. })));
    assert_eq!(d.outcome, Outcome::Pending);
}

#[test]
fn a_series_longer_than_max_occurrences_is_cut_there_and_says_so() {
    let mut c = Case::new(weekly(200, SeriesMode::AllOrNothing));
    c.policy.quota = None;
    c.policy.max_occurrences = 10;
    let d = c.decide();
    assert_eq!(d.occurrences.len(), 10);
    assert_eq!(d.truncated, Some(Truncation::MaxCount { limit: 10 }));
}

#[test]
fn a_series_whose_until_precedes_its_start_is_an_invalid_recurrence() {
    let c = Case::new(
        request(WED_18, WED_20)
            .with_recurrence(
                Recurrence::parse("FREQ=WEEKLY;UNTIL=20260101").unwrap(),
                SeriesMode::AllOrNothing,
            )
            .unwrap(),
    );
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(codes(&d), ["invalid-recurrence"]);
}

#[test]
fn a_series_whose_every_date_is_excepted_has_no_occurrences() {
    let c = Case::new(
        request(WED_18, WED_20)
            .with_recurrence(
                Recurrence::parse("FREQ=DAILY;COUNT=1")
                    .unwrap()
                    .with_exdates([ExDate::At(local(WED_18))]),
                SeriesMode::AllOrNothing,
            )
            .unwrap(),
    );
    assert_eq!(codes(&c.decide()), ["no-occurrences"]);
}

#[test]
fn end_before_start_and_zero_length_requests_are_errors() {
    assert!(matches!(
        BookingRequest::new(local(WED_20), local(WED_18), 1),
        Err(RequestError::EndBeforeStart { .. })
    ));
    assert!(matches!(
        BookingRequest::new(local(WED_18), local(WED_18), 1),
        Err(RequestError::ZeroLength { .. })
    ));
}

#[test]
fn every_reason_serialises_with_its_stable_code() {
    let d = Case::new(request("2027-01-13T18:10", "2027-01-13T18:40")).decide();
    let json = serde_json::to_value(&d).unwrap();
    let codes: Vec<&str> = json["occurrences"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["too-short", "misaligned"]);
    assert_eq!(json["outcome"], "rejected");
}

#[test]
fn an_extra_date_before_the_start_is_an_error() {
    let rule = Recurrence::parse("FREQ=WEEKLY;COUNT=3")
        .unwrap()
        .with_rdates([local("2027-01-01T18:00")]);
    assert!(matches!(
        request(WED_18, WED_20).with_recurrence(rule, SeriesMode::AllOrNothing),
        Err(RequestError::RdateBeforeStart { .. })
    ));
}

#[test]
fn a_series_occurrence_straddling_the_horizon_is_left_for_later() {
    // Weekly Mondays 18:00-20:00; the horizon ends at 19:00 on the fourth Monday.
    let mut c = Case::new(
        request("2027-06-07T18:00", "2027-06-07T20:00")
            .with_recurrence(
                Recurrence::parse("FREQ=WEEKLY").unwrap(),
                SeriesMode::AllOrNothing,
            )
            .unwrap(),
    );
    c.policy.quota = None;
    c.policy.horizon = Span::parse("180d").unwrap();
    c.now = utc("2027-06-28T17:00:00Z") - TimeDelta::days(180);
    let d = c.decide();
    assert_eq!(d.outcome, Outcome::Pending, "{:?}", codes(&d));
    assert_eq!(d.occurrences.len(), 3);
    assert!(matches!(d.truncated, Some(Truncation::Horizon { .. })));
}

#[test]
fn the_quota_counts_only_bookings_of_this_room() {
    let mut c = Case::new(request(WED_18, WED_20));
    let mut elsewhere = existing(
        "b-1",
        "kari@example.no",
        "2027-01-11T10:00",
        "2027-01-11T11:00",
    );
    elsewhere.parts = vec!["other-room".into()];
    c.existing = vec![elsewhere.clone(), {
        let mut e = elsewhere;
        e.id = "b-2".into();
        e
    }];
    assert_eq!(c.decide().outcome, Outcome::Pending);
}

#[test]
fn requests_outside_the_supported_years_are_errors() {
    assert!(matches!(
        BookingRequest::new(local("0999-12-31T10:00"), local("0999-12-31T12:00"), 1),
        Err(RequestError::OutOfRange { .. })
    ));
    assert!(BookingRequest::new(local("9999-12-31T10:00"), local("9999-12-31T12:00"), 1).is_ok());
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn arb_local() -> impl Strategy<Value = NaiveDateTime> {
        (1000i32..=9999, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60).prop_map(|(y, mo, d, h, mi)| {
            chrono::NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|d| d.and_hms_opt(h, mi, 0))
                .unwrap_or_default()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever the dates, rules and bookings, `decide` returns a decision whose verdicts
        /// agree with its reasons.
        #[test]
        fn decide_never_panics_and_its_verdicts_match_its_reasons(
            start in arb_local(),
            minutes in 1i64..20_000,
            now in arb_local(),
            rule in prop::option::of(prop::sample::select(vec![
                "FREQ=DAILY;COUNT=50", "FREQ=WEEKLY", "FREQ=YEARLY;INTERVAL=65535;COUNT=5",
                "FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=HOURLY;INTERVAL=7", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
                "FREQ=WEEKLY;UNTIL=99991231T235959Z", "FREQ=MINUTELY;COUNT=3",
            ])),
            skip in any::<bool>(),
            horizon_days in 1i64..36_000,
            zone in prop::sample::select(vec!["Europe/Oslo", "America/St_Johns", "Pacific/Apia", "Australia/Lord_Howe", "UTC"]),
            existing_at in prop::collection::vec((-3000i64..3000, 1i64..600), 0..20),
        ) {
            let end = start + TimeDelta::minutes(minutes);
            let Ok(mut request) = BookingRequest::new(start, end, 5) else { return Ok(()); };
            if let Some(rule) = rule {
                let mode = if skip { SeriesMode::SkipRejected } else { SeriesMode::AllOrNothing };
                let Ok(series) = request.with_recurrence(Recurrence::parse(rule).unwrap(), mode) else { return Ok(()); };
                request = series;
            }
            let zone = Zone::parse(zone).unwrap();
            let mut policy = policy("hall");
            policy.horizon = Span::from_minutes(horizon_days * 24 * 60).unwrap();
            let now = now.and_utc();
            let base = zone.to_utc_or_after_gap(start);
            let bookings: Vec<ExistingBooking> = existing_at.iter().enumerate().map(|(i, &(off, len))| {
                let s = base + TimeDelta::minutes(off);
                let span = Interval::new(s, s + TimeDelta::minutes(len)).unwrap();
                ExistingBooking {
                    id: format!("b{i}"),
                    requester: "kari@example.no".into(),
                    parts: vec!["storsalen".into()],
                    span,
                    blocked: span.widen(TimeDelta::minutes(30), TimeDelta::minutes(30)),
                    status: BookingStatus::Approved,
                }
            }).collect();
            let calendar = ClosureCalendar::parse(
                "holidays-no",
                include_str!("../../calendars/holidays-no.ics"),
            ).unwrap();
            let d = decide(
                &request,
                &resident(),
                &Room::new("storsalen", zone),
                &policy,
                &BookingIndex::new(bookings),
                &ClosureSet::new().with_calendar(calendar),
                now,
            );
            prop_assert!(d.occurrences.len() <= policy.max_occurrences);
            for o in &d.occurrences {
                match o.outcome {
                    Outcome::Approved | Outcome::Pending => prop_assert!(o.reasons.is_empty()),
                    Outcome::Rejected | Outcome::Skipped => prop_assert!(!o.reasons.is_empty()),
                }
            }
            if d.outcome == Outcome::Rejected {
                prop_assert!(d.all_reasons().next().is_some());
            }
        }
    }
}

// --- issue 16: a stored date checked again, and a booking's status from its dates ---

fn span_of(start: &str, end: &str) -> Interval {
    let zone = Zone::default();
    Interval::new(
        zone.to_utc(local(start)).unwrap(),
        zone.to_utc(local(end)).unwrap(),
    )
    .unwrap()
}

#[test]
fn a_date_checked_again_names_a_closure_made_after_the_request() {
    let closures = ClosureSet::new().with_block(Closure {
        label: "Floor polishing".into(),
        source: ClosureSource::Block { id: "blk-1".into() },
        interval: Interval::new(utc("2027-01-13T00:00:00Z"), utc("2027-01-14T00:00:00Z")).unwrap(),
    });
    let index = BookingIndex::new(vec![]);
    let hall = policy("hall");
    let reasons = check_date(
        span_of(WED_18, WED_20),
        10,
        &room(),
        &hall,
        &index,
        &closures,
        now(),
    );
    assert_eq!(
        reasons.iter().map(Reason::code).collect::<Vec<_>>(),
        ["closure"]
    );
    assert_eq!(reasons[0].severity(), Severity::Hard);
    // The next Wednesday is untouched.
    let free = check_date(
        span_of("2027-01-20T18:00", "2027-01-20T20:00"),
        10,
        &room(),
        &hall,
        &index,
        &closures,
        now(),
    );
    assert!(free.is_empty(), "{free:?}");
}

#[test]
fn a_date_checked_again_conflicts_with_another_booking_but_lead_time_counts_from_the_request() {
    let index = BookingIndex::new(vec![existing(
        "other",
        "ola",
        "2027-01-13T20:00",
        "2027-01-13T21:00",
    )]);
    let hall = policy("hall");
    // Asked long before; checked again the day before it (inside the lead time): only the
    // other booking (its buffer reaches back into this date) stands in the way.
    let reasons = check_date(
        span_of(WED_18, WED_20),
        10,
        &room(),
        &hall,
        &index,
        &ClosureSet::new(),
        now(),
    );
    assert_eq!(
        reasons.iter().map(Reason::code).collect::<Vec<_>>(),
        ["conflict"]
    );
    // Out of policy is a soft reason.
    let late = check_date(
        span_of("2027-01-13T22:00", "2027-01-14T00:30"),
        10,
        &room(),
        &hall,
        &BookingIndex::new(vec![]),
        &ClosureSet::new(),
        now(),
    );
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|r| r.severity() == Severity::Policy),
        "{late:?}"
    );
}

#[test]
fn a_bookings_status_follows_its_dates() {
    use BookingStatus::*;
    let of = |dates: &[OccurrenceStatus]| derived_status(dates.iter().copied());
    let b = OccurrenceStatus::Booked;
    assert_eq!(of(&[b(Approved), b(Approved)]), Some(Approved));
    assert_eq!(
        of(&[b(Approved), b(Rejected), b(Cancelled)]),
        Some(Approved)
    );
    assert_eq!(of(&[b(Approved), b(Pending)]), Some(Pending));
    assert_eq!(of(&[b(Rejected), b(Cancelled)]), Some(Cancelled));
    assert_eq!(
        of(&[b(Rejected), OccurrenceStatus::Skipped]),
        Some(Rejected)
    );
    assert_eq!(of(&[b(Expired)]), Some(Expired));
    assert_eq!(of(&[OccurrenceStatus::Skipped]), None);
}
