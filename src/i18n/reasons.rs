//! The core's reasons in words: as sentences for residents, in Bokmål or English, with their
//! facts and with times in the room's local time; and as the English record message stored
//! with a booking and returned by the API and `lokal explain`. Each [`Reason`] is matched
//! once ([`describe`]), for both audiences, so a new reason cannot get one wording and miss
//! the other.
//!
//! Two sources: live decisions (a preview or a refusal) carry the core's [`Reason`] with all
//! its facts; a stored booking keeps only each reason's code and an English message, so those
//! get one sentence per code. Invariant: no sentence names a person or another booking (a
//! conflict says when the hall is taken, never by whom); the stored English message, which
//! may name another booking, is shown only for a code this module does not know.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc, Weekday};

use super::{Arg, Lang, ToArg};
use crate::scheduling::{Interval, QuotaPeriod, Reason, Truncation, Zone};

fn text(s: impl Into<String>) -> Arg {
    Arg::Text(s.into())
}

/// A weekday's name, lower case in Bokmål ("torsdag"), capitalised in English.
pub fn weekday(lang: Lang, day: Weekday) -> String {
    let key = match day {
        Weekday::Mon => "weekday-mon",
        Weekday::Tue => "weekday-tue",
        Weekday::Wed => "weekday-wed",
        Weekday::Thu => "weekday-thu",
        Weekday::Fri => "weekday-fri",
        Weekday::Sat => "weekday-sat",
        Weekday::Sun => "weekday-sun",
    };
    lang.t(key)
}

/// A date in words: "torsdag 7. januar 2027", "Thursday 7 January 2027".
pub fn date(lang: Lang, d: NaiveDate) -> String {
    lang.t_args(
        "date-long",
        &[
            ("weekday", text(weekday(lang, d.weekday()))),
            ("day", text(d.day().to_string())),
            ("month", text(lang.t(&format!("month-{}", d.month())))),
            ("year", text(d.year().to_string())),
        ],
    )
}

/// A short date: "7.1." / "7 Jan", for table headings.
pub fn short_date(lang: Lang, d: NaiveDate) -> String {
    lang.t_args(
        "date-short",
        &[
            ("day", text(d.day().to_string())),
            ("month", text(d.month().to_string())),
            (
                "monthname",
                text(lang.t(&format!("month-short-{}", d.month()))),
            ),
        ],
    )
}

/// A local date and time: "torsdag 7. januar 2027 kl. 18:00".
pub fn date_time(lang: Lang, t: NaiveDateTime) -> String {
    lang.t_args(
        "date-time",
        &[
            ("date", text(date(lang, t.date()))),
            ("time", text(t.format("%H:%M").to_string())),
        ],
    )
}

/// A local span: "torsdag 7. januar 2027 18:00–20:00", or with both dates when it crosses
/// midnight.
pub fn local_span(lang: Lang, start: NaiveDateTime, end: NaiveDateTime) -> String {
    let midnight_after =
        end.time() == chrono::NaiveTime::MIN && start.date().succ_opt() == Some(end.date());
    if start.date() == end.date() || midnight_after {
        let end_text = if midnight_after {
            "24:00".to_owned()
        } else {
            end.format("%H:%M").to_string()
        };
        format!(
            "{} {}–{end_text}",
            date(lang, start.date()),
            start.format("%H:%M")
        )
    } else {
        format!("{} – {}", date_time(lang, start), date_time(lang, end))
    }
}

/// An interval in the room's local time.
pub fn span(lang: Lang, zone: Zone, i: &Interval) -> String {
    local_span(lang, zone.local(i.start()), zone.local(i.end()))
}

/// A length of time in words: "2 dager", "1 time og 30 minutter".
pub fn duration(lang: Lang, minutes: i64) -> String {
    let (d, rest) = (minutes / (24 * 60), minutes % (24 * 60));
    let (h, m) = (rest / 60, rest % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(lang.t_args("duration-days", &[("count", d.to_arg())]));
    }
    if h > 0 {
        parts.push(lang.t_args("duration-hours", &[("count", h.to_arg())]));
    }
    if m > 0 || parts.is_empty() {
        parts.push(lang.t_args("duration-minutes", &[("count", m.to_arg())]));
    }
    let and = lang.t("list-and");
    match parts.len() {
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} {and} {last}", parts.join(", "))
        }
    }
}

/// Who a reason is worded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The requester, in their language: what happened and what to do, never another booking
    /// or person.
    Requester(Lang),
    /// The record: the English message stored with a booking and returned by the API and
    /// `lokal explain`, with every fact (another booking's id, a policy's name, a requester).
    Record,
}

/// A live reason as a sentence for the requester.
pub fn sentence(lang: Lang, reason: &Reason, zone: Zone) -> String {
    describe(reason, zone, Audience::Requester(lang))
}

/// A live reason as the English record message (times in `zone`; ` UTC` after each time when
/// `zone` is UTC).
pub fn record(reason: &Reason, zone: Zone) -> String {
    describe(reason, zone, Audience::Record)
}

/// The one wording of each [`Reason`], for either audience.
pub fn describe(reason: &Reason, zone: Zone, audience: Audience) -> String {
    // The record's time formats.
    let suffix = if zone == Zone::UTC { " UTC" } else { "" };
    let full = |t: &NaiveDateTime| t.format("%Y-%m-%d %H:%M").to_string();
    let at = |t: &DateTime<Utc>| format!("{}{suffix}", full(&zone.local(*t)));
    let record_span = |i: &Interval| {
        let (s, e) = (zone.local(i.start()), zone.local(i.end()));
        let end = if s.date() == e.date() {
            e.format("%H:%M").to_string()
        } else {
            full(&e)
        };
        format!("{}–{end}{suffix}", full(&s))
    };
    let lang = match audience {
        Audience::Requester(lang) => lang,
        Audience::Record => Lang::En,
    };
    let record = audience == Audience::Record;
    let t = |key: &str, args: &[(&str, Arg)]| lang.t_args(key, args);
    let hm = |x: &NaiveDateTime| x.format("%H:%M").to_string();
    match reason {
        Reason::OutsideOpeningHours {
            weekday: day,
            windows,
            local_start,
            local_end,
        } => {
            if record {
                let open = if windows.is_empty() {
                    "closed all day".to_owned()
                } else {
                    windows
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "{} to {} is outside the opening hours for {day} ({open})",
                    full(local_start),
                    full(local_end)
                )
            } else if windows.is_empty() {
                t(
                    "reason-closed-all-day",
                    &[("date", text(date(lang, local_start.date())))],
                )
            } else {
                let hours: Vec<String> = windows
                    .iter()
                    .map(|w| {
                        format!(
                            "{:02}:{:02}–{:02}:{:02}",
                            w.start_minute() / 60,
                            w.start_minute() % 60,
                            w.end_minute() / 60,
                            w.end_minute() % 60
                        )
                    })
                    .collect();
                t(
                    "reason-outside-opening-hours",
                    &[
                        ("time", text(local_span(lang, *local_start, *local_end))),
                        ("weekday", text(weekday(lang, local_start.weekday()))),
                        ("hours", text(hours.join(", "))),
                    ],
                )
            }
        }
        Reason::Conflict {
            bookings,
            occurrences,
        } => {
            if record {
                let mut names: Vec<String> = bookings
                    .iter()
                    .map(|b| {
                        format!(
                            "booking {} (blocked {} with its buffers)",
                            b.id,
                            record_span(&b.blocked)
                        )
                    })
                    .collect();
                names.extend(
                    occurrences
                        .iter()
                        .map(|i| format!("occurrence #{} of this series", i + 1)),
                );
                format!("clashes with {}", names.join(", "))
            } else if bookings.is_empty() {
                t(
                    "reason-conflict-series",
                    &[("count", occurrences.len().to_arg())],
                )
            } else {
                let spans: Vec<String> = bookings
                    .iter()
                    .map(|b| span(lang, zone, &b.blocked))
                    .collect();
                t("reason-conflict", &[("spans", text(spans.join("; ")))])
            }
        }
        Reason::Closure { closures } => {
            if record {
                let names: Vec<String> = closures
                    .iter()
                    .map(|c| format!("{} ({})", c.label, record_span(&c.interval)))
                    .collect();
                format!("the room is closed: {}", names.join(", "))
            } else {
                let names: Vec<String> = closures
                    .iter()
                    .map(|c| format!("{} ({})", c.label, span(lang, zone, &c.interval)))
                    .collect();
                t("reason-closure", &[("closures", text(names.join("; ")))])
            }
        }
        Reason::TooShort { min, minutes } => {
            if record {
                format!("lasts {minutes} minutes; the minimum is {min}")
            } else {
                t(
                    "reason-too-short",
                    &[
                        ("length", text(duration(lang, *minutes))),
                        ("min", text(duration(lang, min.minutes()))),
                    ],
                )
            }
        }
        Reason::TooLong { max, minutes } => {
            if record {
                format!("lasts {minutes} minutes; the maximum is {max}")
            } else {
                t(
                    "reason-too-long",
                    &[
                        ("length", text(duration(lang, *minutes))),
                        ("max", text(duration(lang, max.minutes()))),
                    ],
                )
            }
        }
        Reason::Misaligned {
            granularity,
            local_start,
            local_end,
        } => {
            if record {
                format!(
                    "{} to {} is not on the {granularity} slot grid",
                    full(local_start),
                    full(local_end)
                )
            } else {
                t(
                    "reason-misaligned",
                    &[
                        ("step", text(duration(lang, granularity.minutes()))),
                        ("start", text(hm(local_start))),
                        ("end", text(hm(local_end))),
                    ],
                )
            }
        }
        Reason::TooSoon {
            lead_time,
            earliest_start,
        } => {
            if record {
                format!(
                    "must be asked for {lead_time} ahead: the earliest start now is {}",
                    at(earliest_start)
                )
            } else {
                t(
                    "reason-too-soon",
                    &[
                        ("lead", text(duration(lang, lead_time.minutes()))),
                        (
                            "earliest",
                            text(date_time(lang, zone.local(*earliest_start))),
                        ),
                    ],
                )
            }
        }
        Reason::TooFarAhead {
            horizon,
            latest_end,
        } => {
            if record {
                format!(
                    "may reach at most {horizon} ahead: the latest end now is {}",
                    at(latest_end)
                )
            } else {
                t(
                    "reason-too-far-ahead",
                    &[
                        ("horizon", text(duration(lang, horizon.minutes()))),
                        ("latest", text(date_time(lang, zone.local(*latest_end)))),
                    ],
                )
            }
        }
        Reason::OverCapacity { limit, attendees } => {
            if record {
                format!("{attendees} attendees; the room takes at most {limit}")
            } else {
                t(
                    "reason-over-capacity",
                    &[("limit", limit.to_arg()), ("attendees", attendees.to_arg())],
                )
            }
        }
        Reason::QuotaExceeded {
            period,
            period_start,
            max_bookings,
            max_minutes,
            used_bookings,
            used_minutes,
            requested_minutes,
        } => {
            if record {
                let per = match period {
                    QuotaPeriod::Week => "week",
                    QuotaPeriod::Month => "month",
                };
                let mut limits = Vec::new();
                if let Some(n) = max_bookings {
                    limits.push(format!("{n} bookings"));
                }
                if let Some(m) = max_minutes {
                    limits.push(format!("{} hours", m / 60));
                }
                return format!(
                    "the quota is {} per {per}; the {per} from {period_start} already has {used_bookings} bookings, {used_minutes} minutes, and this asks for {requested_minutes} more minutes",
                    limits.join(" or ")
                );
            }
            let mut limits = Vec::new();
            if let Some(n) = max_bookings {
                limits.push(t("quota-bookings", &[("count", n.to_arg())]));
            }
            if let Some(m) = max_minutes {
                limits.push(duration(lang, *m));
            }
            let key = match period {
                QuotaPeriod::Week => "reason-quota-week",
                QuotaPeriod::Month => "reason-quota-month",
            };
            t(
                key,
                &[
                    (
                        "limit",
                        text(limits.join(&format!(" {} ", lang.t("list-or")))),
                    ),
                    ("from", text(date(lang, *period_start))),
                    (
                        "used",
                        text(t("quota-bookings", &[("count", used_bookings.to_arg())])),
                    ),
                    ("usedtime", text(duration(lang, *used_minutes))),
                    ("requested", text(duration(lang, *requested_minutes))),
                ],
            )
        }
        Reason::NonexistentLocalTime {
            local,
            zone: in_zone,
        } => {
            if record {
                format!(
                    "{} does not exist in {in_zone}: the clocks skip it (daylight-saving change)",
                    full(local)
                )
            } else {
                t(
                    "reason-nonexistent-local-time",
                    &[("time", text(date_time(lang, *local)))],
                )
            }
        }
        Reason::RoomClosed { policy } => {
            if record {
                format!("the room is not bookable (policy {policy:?} is closed)")
            } else {
                lang.t("reason-room-closed")
            }
        }
        // Never the requester's id in their own sentence: it is for the requester anyway.
        Reason::NotAllowed { requester } => {
            if record {
                format!("{requester} is not in a group allowed to book this room")
            } else {
                lang.t("reason-not-allowed")
            }
        }
        Reason::TooManySkipped {
            skipped,
            total,
            max_skipped,
            max_skipped_percent,
        } => {
            if record {
                format!(
                    "{skipped} of {total} occurrences would be skipped; at most {max_skipped} and {max_skipped_percent}% may be"
                )
            } else {
                t(
                    "reason-too-many-skipped",
                    &[
                        ("skipped", skipped.to_arg()),
                        ("total", total.to_arg()),
                        ("max", max_skipped.to_arg()),
                        ("percent", u32::from(*max_skipped_percent).to_arg()),
                    ],
                )
            }
        }
        Reason::InvalidRecurrence { message } => {
            if record {
                format!("the recurrence is invalid: {message}")
            } else {
                lang.t("reason-invalid-recurrence")
            }
        }
        Reason::NoOccurrences => {
            if record {
                "the exception dates remove every occurrence".to_owned()
            } else {
                lang.t("reason-no-occurrences")
            }
        }
    }
}

/// The codes [`stored`] has a sentence for.
const STORED: &[&str] = &[
    "outside-opening-hours",
    "conflict",
    "closure",
    "too-short",
    "too-long",
    "misaligned",
    "too-soon",
    "too-far-ahead",
    "over-capacity",
    "quota-exceeded",
    "nonexistent-local-time",
    "room-closed",
    "not-allowed",
    "too-many-skipped",
    "invalid-recurrence",
    "no-occurrences",
];

/// Why a series was not decided to its end ([`Truncation`]), as a sentence for the requester:
/// "The series has more than 40 dates, …". Never the value's `Debug` text.
pub fn truncation(lang: Lang, t: &Truncation) -> String {
    match t {
        Truncation::MaxCount { limit } => {
            lang.t_args("series-cut-count", &[("limit", limit.to_arg())])
        }
        Truncation::Horizon { window_end } => lang.t_args(
            "series-cut-horizon",
            &[("date", text(date(lang, window_end.date())))],
        ),
    }
}

/// [`truncation`] as the English record message of the API and `lokal explain`.
pub fn truncation_record(t: &Truncation) -> String {
    match t {
        Truncation::MaxCount { limit } => {
            format!("the series has more than {limit} dates, the most that may be decided at once")
        }
        Truncation::Horizon { window_end } => format!(
            "the series goes on after {}, the furthest ahead the room can be booked",
            window_end.format("%Y-%m-%d")
        ),
    }
}

/// A stored reason (its code and English message) as a sentence; an unknown code keeps
/// its message.
pub fn stored(lang: Lang, code: &str, message: &str) -> String {
    if STORED.contains(&code) {
        lang.t(&format!("stored-{code}"))
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::scheduling::reason::ConflictingBooking;
    use crate::scheduling::{Closure, ClosureSource, Span};

    fn oslo() -> Zone {
        Zone::parse("Europe/Oslo").unwrap()
    }

    fn at(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2027, 1, 7)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn the_record_names_the_other_booking_with_times_in_the_room_zone_or_utc() {
        let blocked = Interval::new(
            Utc.with_ymd_and_hms(2027, 1, 7, 16, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 7, 19, 30, 0).unwrap(),
        )
        .unwrap();
        let conflict = Reason::Conflict {
            bookings: vec![ConflictingBooking {
                id: "b-1".into(),
                blocked,
            }],
            occurrences: vec![2],
        };
        assert_eq!(
            record(&conflict, oslo()),
            "clashes with booking b-1 (blocked 2027-01-07 17:30–20:30 with its buffers), occurrence #3 of this series"
        );
        assert_eq!(
            record(&conflict, Zone::UTC),
            "clashes with booking b-1 (blocked 2027-01-07 16:30–19:30 UTC with its buffers), occurrence #3 of this series"
        );
        assert_eq!(
            record(&Reason::NoOccurrences, oslo()),
            "the exception dates remove every occurrence"
        );
        // The requester's sentence never names the other booking.
        assert!(!sentence(Lang::En, &conflict, oslo()).contains("b-1"));
    }

    fn every_reason() -> Vec<Reason> {
        let blocked = Interval::new(
            Utc.with_ymd_and_hms(2027, 1, 7, 16, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 7, 19, 30, 0).unwrap(),
        )
        .unwrap();
        let span = Span::from_minutes(30).unwrap();
        vec![
            Reason::OutsideOpeningHours {
                weekday: "thursday".into(),
                windows: Vec::new(),
                local_start: at(18),
                local_end: at(20),
            },
            Reason::Conflict {
                bookings: vec![ConflictingBooking {
                    id: "secret-booking-id".into(),
                    blocked,
                }],
                occurrences: vec![],
            },
            Reason::Conflict {
                bookings: vec![],
                occurrences: vec![1],
            },
            Reason::Closure {
                closures: vec![Closure {
                    label: "Juleferie".into(),
                    source: ClosureSource::Block { id: "b".into() },
                    interval: blocked,
                }],
            },
            Reason::TooShort {
                min: span,
                minutes: 15,
            },
            Reason::TooLong {
                max: span,
                minutes: 45,
            },
            Reason::Misaligned {
                granularity: span,
                local_start: at(18),
                local_end: at(20),
            },
            Reason::TooSoon {
                lead_time: Span::from_minutes(2 * 24 * 60).unwrap(),
                earliest_start: blocked.start(),
            },
            Reason::TooFarAhead {
                horizon: span,
                latest_end: blocked.end(),
            },
            Reason::OverCapacity {
                limit: 150,
                attendees: 200,
            },
            Reason::QuotaExceeded {
                period: QuotaPeriod::Week,
                period_start: at(0).date(),
                max_bookings: Some(3),
                max_minutes: Some(600),
                used_bookings: 3,
                used_minutes: 360,
                requested_minutes: 120,
            },
            Reason::NonexistentLocalTime {
                local: at(2),
                zone: "Europe/Oslo".into(),
            },
            Reason::RoomClosed { policy: "x".into() },
            Reason::NotAllowed {
                requester: "resident:kari@example.no".into(),
            },
            Reason::TooManySkipped {
                skipped: 3,
                total: 5,
                max_skipped: 2,
                max_skipped_percent: 30,
            },
            Reason::InvalidRecurrence {
                message: "m".into(),
            },
            Reason::NoOccurrences,
        ]
    }

    #[test]
    fn every_reason_is_a_sentence_in_both_languages_without_ids_or_names() {
        for lang in [Lang::Nb, Lang::En] {
            for r in every_reason() {
                let s = sentence(lang, &r, oslo());
                assert!(!s.starts_with("reason-"), "{s}");
                assert!(!s.contains('$') && !s.contains('{'), "{s}");
                assert!(!s.contains("secret-booking-id"), "{s}");
                assert!(!s.contains("kari"), "{s}");
                assert!(STORED.contains(&r.code()), "{}", r.code());
                assert!(!stored(lang, r.code(), "x").starts_with("stored-"));
            }
        }
    }

    #[test]
    fn a_series_cut_short_is_words_in_both_languages_never_debug_text() {
        // Issue 15 item 8: a CalDAV COMMENT read `(40\, MaxCount { limit: 40 })`.
        let cuts = [
            Truncation::MaxCount { limit: 40 },
            Truncation::Horizon {
                window_end: NaiveDate::from_ymd_opt(2027, 9, 1)
                    .unwrap()
                    .and_hms_opt(12, 0, 0)
                    .unwrap(),
            },
        ];
        for t in &cuts {
            let texts = [
                truncation(Lang::Nb, t),
                truncation(Lang::En, t),
                truncation_record(t),
            ];
            for s in &texts {
                assert!(!s.contains("MaxCount") && !s.contains("Horizon"), "{s}");
                assert!(!s.contains('{') && !s.contains("limit"), "{s}");
                assert!(!s.starts_with("series-cut"), "no message for {s}");
            }
        }
        assert!(truncation(Lang::En, &cuts[0]).contains("more than 40 dates"));
        assert!(truncation(Lang::Nb, &cuts[0]).contains("flere enn 40 datoer"));
        assert!(truncation(Lang::Nb, &cuts[1]).contains("1. september 2027"));
        assert!(truncation_record(&cuts[1]).contains("2027-09-01"));
    }

    #[test]
    fn a_conflict_says_when_in_local_time() {
        let r = &every_reason()[1];
        let nb = sentence(Lang::Nb, r, oslo());
        assert!(nb.contains("17:30–20:30"), "{nb}");
        assert!(nb.contains("opptatt"), "{nb}");
        let en = sentence(Lang::En, r, oslo());
        assert!(en.contains("Thursday 7 January 2027 17:30–20:30"), "{en}");
    }

    #[test]
    fn lengths_read_as_words() {
        assert_eq!(duration(Lang::Nb, 2 * 24 * 60), "2 dager");
        assert_eq!(duration(Lang::En, 90), "1 hour and 30 minutes");
        assert_eq!(stored(Lang::En, "something-new", "as stored"), "as stored");
    }
}
