//! Closures that touch bookings (issue 16). A clerk closes a room or a building for a while;
//! the closure lists the bookings and pending requests it hits (a dry run lists them without
//! saving), and the clerk chooses per booking:
//! - `keep`, with a reason: the dates stay booked, and the choice is a note in the booking's
//!   history (one per date, from and to the date's status; `closure_decisions`);
//! - `cancel`: the dates hit are cancelled through [`Bookings::cancel_dates`], with the
//!   closure's reason and the clerk's message, so the requester hears of it as of any
//!   per-date cancel.
//!
//! Rules kept here:
//! - only clerks of every room a closure covers create it or read its list; only a clerk of a
//!   booking's room (the rule of `clerk_decides`) chooses for that booking, and the list shows
//!   a clerk only the bookings of rooms they decide for;
//! - a closure of a room hits the bookings that block one of its physical parts (a closed half
//!   hits the whole hall's bookings, a closed hall its halves'), as the core closes them;
//! - a choice acts on what is there when it is made: the dates are read again then, and
//!   dates cancelled meanwhile are skipped; the same choice again answers as the first did,
//!   the other choice is refused (`already-decided`);
//! - the lists are bounded ([`limits::CLOSURE_HITS`] bookings, saying how many more).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BookingError, Bookings, parse_instant};
use crate::identity::Principal;
use crate::limits;
use crate::scheduling::{BookingStatus, Interval, OccurrenceStatus, Zone};
use crate::store::{
    AuditRecord, BookingRecord, ClosureDecisionRecord, ClosureRecord, HitQuery, StoredRoom,
};

/// A clerk's closure, as asked.
#[derive(Clone, Debug)]
pub struct CreateClosure {
    pub room_id: Option<String>,
    pub building: Option<String>,
    pub start: String,
    pub end: String,
    pub reason: String,
}

/// What a clerk chooses for a booking a closure hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClosureDecision {
    /// The dates stay booked despite the closure (a reason is required).
    Keep,
    /// The dates the closure hits are cancelled, with a message to the requester.
    Cancel,
}

impl ClosureDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosureDecision::Keep => "keep",
            ClosureDecision::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep" => Some(ClosureDecision::Keep),
            "cancel" => Some(ClosureDecision::Cancel),
            _ => None,
        }
    }
}

/// A clerk's choice, as asked.
#[derive(Clone, Debug)]
pub struct ClosureChoice {
    pub decision: ClosureDecision,
    /// Why the booking is kept (required), or the message to the requester with a cancel
    /// (optional: the closure's reason is always given).
    pub reason: String,
}

/// A date of a booking that a closure hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HitDate {
    /// The date's number in its booking (`occurrences[].seq`).
    pub seq: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The date's status now: `pending` or `approved` while it holds its slot; `cancelled`
    /// once cancelled for the closure.
    #[schema(value_type = String)]
    pub status: OccurrenceStatus,
}

/// The choice a clerk made for a booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChoiceView {
    pub decision: ClosureDecision,
    /// Why it was kept, or the message the requester got.
    pub reason: String,
    /// Who chose.
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// A booking or pending request a closure hits. For clerks only: it names the requester.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosureHit {
    pub booking_id: String,
    pub room_id: String,
    pub room_name: String,
    /// The room's IANA zone, for showing the dates.
    pub time_zone: String,
    /// The requester's name: never shown in public views.
    pub requester_name: String,
    pub purpose: String,
    /// The booking's status (derived from its dates).
    #[schema(value_type = String)]
    pub status: BookingStatus,
    /// The dates the closure hits (their own time overlaps it; buffers do not count).
    pub dates: Vec<HitDate>,
    /// The clerk's choice, once made.
    pub decision: Option<ChoiceView>,
}

/// What a closure would hit, before it is saved (a dry run).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosurePreview {
    pub room_id: Option<String>,
    pub building: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    /// The IANA zone of the closure's rooms, in which its start and end were read.
    pub time_zone: String,
    /// The ids of the bookings in `hits`.
    pub affected: Vec<String>,
    /// The bookings and pending requests hit, first date first: at most 500.
    pub hits: Vec<ClosureHit>,
    /// How many bookings it hits in all.
    pub hits_total: usize,
    /// How many of them are not in `hits`.
    pub hits_more: usize,
}

/// A closure as shown to clerks, with the bookings it hits.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosureView {
    pub id: String,
    pub room_id: Option<String>,
    pub building: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The IANA zone of the closure's rooms, for showing its times.
    pub time_zone: String,
    /// The ids of the bookings in `hits` (kept for older clients: before `hits`, the only
    /// list).
    pub affected: Vec<String>,
    /// The bookings and pending requests hit, first date first, with the clerk's choice for
    /// each once made: at most 500.
    pub hits: Vec<ClosureHit>,
    /// How many bookings it hits in all.
    pub hits_total: usize,
    /// How many of them are not in `hits`.
    pub hits_more: usize,
}

/// A list of hits.
struct Hits {
    hits: Vec<ClosureHit>,
    total: usize,
}

impl Hits {
    fn affected(&self) -> Vec<String> {
        self.hits.iter().map(|h| h.booking_id.clone()).collect()
    }

    fn more(&self) -> usize {
        self.total.saturating_sub(self.hits.len())
    }
}

fn view(record: ClosureRecord, zone: Zone, hits: Hits) -> ClosureView {
    ClosureView {
        time_zone: zone.name().to_owned(),
        affected: hits.affected(),
        hits_total: hits.total,
        hits_more: hits.more(),
        hits: hits.hits,
        id: record.id,
        room_id: record.room_id,
        building: record.building,
        start: record.start,
        end: record.end,
        reason: record.reason,
        created_by: record.created_by,
        created_at: record.created_at,
    }
}

/// Whether a date's own time overlaps the closure.
fn in_closure(o: &crate::store::OccurrenceRecord, window: &Interval) -> bool {
    o.start < window.end() && o.end > window.start()
}

/// What the requester reads when dates are cancelled for a closure.
fn cancel_reason(closure: &ClosureRecord, message: &str) -> String {
    if message.is_empty() {
        closure.reason.clone()
    } else {
        format!("{} – {message}", closure.reason)
    }
}

impl Bookings {
    /// The zone a closure's times are read and shown in: its (first) room's.
    fn zone_of(&self, rooms: &[StoredRoom]) -> Zone {
        rooms
            .first()
            .map(|r| self.rules.zone(r))
            .unwrap_or(self.rules.default_zone)
    }

    /// Whether `who` decides for the room's bookings (its approver group, or an admin).
    fn decides_for(who: &Principal, room: &StoredRoom) -> bool {
        who.is_admin()
            || room
                .room
                .approver_group
                .as_deref()
                .is_some_and(|g| who.is_member_of(g))
    }

    /// The live rooms a closure covers: its room, or its building's.
    async fn closure_rooms(
        &self,
        room_id: Option<&str>,
        building: Option<&str>,
    ) -> Result<Vec<StoredRoom>, BookingError> {
        let all = self.store.rooms(false).await?;
        Ok(match (room_id, building) {
            (Some(id), _) => all.into_iter().filter(|r| r.room.id == id).collect(),
            (None, Some(b)) => all
                .into_iter()
                .filter(|r| r.room.building.as_deref() == Some(b))
                .collect(),
            (None, None) => Vec::new(),
        })
    }

    /// Checks a closure as asked and whether `who` may make it: the record to save, and the
    /// rooms it covers.
    async fn plan_closure(
        &self,
        who: &Principal,
        request: &CreateClosure,
    ) -> Result<(ClosureRecord, Vec<StoredRoom>), BookingError> {
        if !who.is_clerk() {
            return Err(BookingError::Forbidden("only clerks close rooms".into()));
        }
        let rooms = match (&request.room_id, &request.building) {
            (Some(id), None) => {
                let room = self.live_room(id).await?;
                vec![room]
            }
            (None, Some(building)) => {
                let rooms = self.closure_rooms(None, Some(building)).await?;
                if rooms.is_empty() {
                    return Err(BookingError::NotFound {
                        what: "building",
                        id: building.clone(),
                    });
                }
                rooms
            }
            _ => {
                return Err(BookingError::Invalid {
                    code: "invalid-closure",
                    field: "room_id",
                    message: "give either room_id or building".into(),
                });
            }
        };
        if !rooms.iter().all(|r| Self::decides_for(who, r)) {
            return Err(BookingError::Forbidden(
                "you are not a clerk of every room this closure covers".into(),
            ));
        }
        let zone = self.zone_of(&rooms);
        let start = parse_instant(&request.start, zone, "start")?;
        let end = parse_instant(&request.end, zone, "end")?;
        let interval = Interval::new(start, end).map_err(|e| BookingError::Invalid {
            code: "invalid-time",
            field: "end",
            message: e.to_string(),
        })?;
        let reason = request.reason.trim().to_owned();
        if !limits::fits(&reason, limits::CLOSURE_REASON_CHARS) {
            return Err(BookingError::Invalid {
                code: "reason-required",
                field: "reason",
                message: "a closure needs a reason of 1 to 500 characters".into(),
            });
        }
        let record = ClosureRecord {
            id: uuid::Uuid::new_v4().to_string(),
            room_id: request.room_id.clone(),
            building: request.building.clone(),
            start: interval.start(),
            end: interval.end(),
            reason,
            created_by: who.requester_id(),
            created_at: self.clock.now(),
        };
        Ok((record, rooms))
    }

    /// What a closure would hit if it were saved now, without saving it: the same checks and
    /// the same list as [`Bookings::close`].
    pub async fn preview_closure(
        &self,
        who: &Principal,
        request: CreateClosure,
    ) -> Result<ClosurePreview, BookingError> {
        let (record, rooms) = self.plan_closure(who, &request).await?;
        let hits = self.hits(who, &record, &rooms, None).await?;
        Ok(ClosurePreview {
            time_zone: self.zone_of(&rooms).name().to_owned(),
            affected: hits.affected(),
            hits_total: hits.total,
            hits_more: hits.more(),
            hits: hits.hits,
            room_id: record.room_id,
            building: record.building,
            start: record.start,
            end: record.end,
            reason: record.reason,
        })
    }

    /// Closes a room, or every room of a building, for a while: only clerks of the rooms
    /// concerned (or administrators). The answer lists the bookings it hits, for the clerk's
    /// choice.
    #[tracing::instrument(name = "booking.close", skip_all, fields(who = %who.requester_id(), room = ?request.room_id, building = ?request.building))]
    pub async fn close(
        &self,
        who: &Principal,
        request: CreateClosure,
    ) -> Result<ClosureView, BookingError> {
        let (record, rooms) = self.plan_closure(who, &request).await?;
        self.store.add_closure(&record).await?;
        let hits = self.hits(who, &record, &rooms, Some(&record.id)).await?;
        Ok(view(record, self.zone_of(&rooms), hits))
    }

    /// A saved closure with the bookings it hits now and the choices made: for a clerk of
    /// every room it covers (or who made it, or an administrator).
    pub async fn closure(&self, who: &Principal, id: &str) -> Result<ClosureView, BookingError> {
        let (record, rooms) = self.closure_for_clerk(who, id).await?;
        let hits = self.hits(who, &record, &rooms, Some(&record.id)).await?;
        Ok(view(record, self.zone_of(&rooms), hits))
    }

    async fn closure_for_clerk(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(ClosureRecord, Vec<StoredRoom>), BookingError> {
        if !who.is_clerk() {
            return Err(BookingError::Forbidden(
                "only clerks see the bookings a closure hits".into(),
            ));
        }
        let record = self
            .store
            .closure(id)
            .await?
            .ok_or_else(|| BookingError::NotFound {
                what: "closure",
                id: id.to_owned(),
            })?;
        let rooms = self
            .closure_rooms(record.room_id.as_deref(), record.building.as_deref())
            .await?;
        let allowed = who.is_admin()
            || record.created_by == who.requester_id()
            || (!rooms.is_empty() && rooms.iter().all(|r| Self::decides_for(who, r)));
        if !allowed {
            return Err(BookingError::Forbidden(
                "you are not a clerk of every room this closure covers".into(),
            ));
        }
        Ok((record, rooms))
    }

    /// The bookings a closure hits that `who` decides for, at most [`limits::CLOSURE_HITS`],
    /// with the choices made for `closure_id`.
    async fn hits(
        &self,
        who: &Principal,
        record: &ClosureRecord,
        rooms: &[StoredRoom],
        closure_id: Option<&str>,
    ) -> Result<Hits, BookingError> {
        self.hits_of(who, record, rooms, closure_id, None, limits::CLOSURE_HITS)
            .await
    }

    async fn hits_of(
        &self,
        who: &Principal,
        record: &ClosureRecord,
        rooms: &[StoredRoom],
        closure_id: Option<&str>,
        booking: Option<&str>,
        limit: usize,
    ) -> Result<Hits, BookingError> {
        let Ok(window) = Interval::new(record.start, record.end) else {
            return Ok(Hits {
                hits: Vec::new(),
                total: 0,
            });
        };
        let all: HashMap<String, StoredRoom> = self
            .store
            .rooms(true)
            .await?
            .into_iter()
            .map(|r| (r.room.id.clone(), r))
            .collect();
        let of_rooms: Option<Vec<String>> = (!who.is_admin()).then(|| {
            all.values()
                .filter(|r| Self::decides_for(who, r))
                .map(|r| r.room.id.clone())
                .collect()
        });
        let room_ids: Vec<String> = rooms.iter().map(|r| r.room.id.clone()).collect();
        let found = self
            .store
            .closure_hits(HitQuery {
                rooms: &room_ids,
                closure_id,
                window,
                now: self.clock.now(),
                of_rooms: of_rooms.as_deref(),
                booking,
                any_status: booking.is_some(),
                limit,
            })
            .await?;
        let mut bookings = self.store.bookings_by_ids(&found.booking_ids).await?;
        // First date first, as the list was found.
        bookings.sort_by_key(|b| {
            found
                .booking_ids
                .iter()
                .position(|i| *i == b.id)
                .unwrap_or(usize::MAX)
        });
        let decisions = match closure_id {
            Some(c) => self.store.closure_decisions(c, &found.booking_ids).await?,
            None => Vec::new(),
        };
        let hits = bookings
            .into_iter()
            .map(|b| self.hit_view(b, &all, &window, &decisions))
            .collect();
        Ok(Hits {
            hits,
            total: found.total,
        })
    }

    fn hit_view(
        &self,
        b: BookingRecord,
        rooms: &HashMap<String, StoredRoom>,
        window: &Interval,
        decisions: &[ClosureDecisionRecord],
    ) -> ClosureHit {
        let mine: Vec<&ClosureDecisionRecord> =
            decisions.iter().filter(|d| d.booking_id == b.id).collect();
        let dates = b
            .occurrences
            .iter()
            .filter(|o| {
                in_closure(o, window)
                    && (o.status.is_blocking() || mine.iter().any(|d| d.seq == o.seq))
            })
            .map(|o| HitDate {
                seq: o.seq,
                start: o.start,
                end: o.end,
                status: o.status,
            })
            .collect();
        let decision = mine.first().and_then(|d| {
            Some(ChoiceView {
                decision: ClosureDecision::parse(&d.decision)?,
                reason: d.reason.clone(),
                actor: d.actor.clone(),
                at: d.at,
            })
        });
        let room = rooms.get(&b.room_id);
        ClosureHit {
            room_name: room
                .map(|r| r.room.name.clone())
                .unwrap_or_else(|| b.room_id.clone()),
            time_zone: room
                .map(|r| self.rules.zone(r).name().to_owned())
                .unwrap_or_else(|| b.time_zone.clone()),
            booking_id: b.id,
            room_id: b.room_id,
            requester_name: b.requester_name,
            purpose: b.purpose,
            status: b.status,
            dates,
            decision,
        }
    }

    /// A clerk's choice for one booking a closure hits: keep it (with a reason) or cancel its
    /// dates in the closure (through [`Bookings::cancel_dates`], with the closure's reason and
    /// the clerk's message). Only a clerk of the booking's room. The dates are read when the
    /// choice is made: those cancelled meanwhile are skipped. The same choice again answers
    /// as the first; the other one is refused with [`BookingError::AlreadyDecided`].
    #[tracing::instrument(name = "booking.closure_choice", skip_all, fields(who = %who.requester_id(), closure = %closure_id, booking = %booking_id))]
    pub async fn decide_closure(
        &self,
        who: &Principal,
        closure_id: &str,
        booking_id: &str,
        choice: ClosureChoice,
    ) -> Result<ClosureHit, BookingError> {
        if !who.is_clerk() {
            return Err(BookingError::Forbidden(
                "only clerks decide what happens to the bookings a closure hits".into(),
            ));
        }
        let words = choice.reason.trim().to_owned();
        let too_long = words.chars().count() > limits::CLOSURE_CHOICE_CHARS;
        if too_long || (choice.decision == ClosureDecision::Keep && words.is_empty()) {
            return Err(BookingError::Invalid {
                code: "reason-required",
                field: "reason",
                message: match choice.decision {
                    ClosureDecision::Keep => {
                        "keeping a booking a closure hits needs a reason of 1 to 1400 characters"
                    }
                    ClosureDecision::Cancel => {
                        "the message to the requester may be at most 1400 characters"
                    }
                }
                .into(),
            });
        }
        let closure =
            self.store
                .closure(closure_id)
                .await?
                .ok_or_else(|| BookingError::NotFound {
                    what: "closure",
                    id: closure_id.to_owned(),
                })?;
        // The clerk of the booking's room decides (403 for others, 404 for no such booking).
        self.clerk_decides(who, booking_id).await?;
        let rooms = self
            .closure_rooms(closure.room_id.as_deref(), closure.building.as_deref())
            .await?;
        let Some(before) = self
            .hits_of(who, &closure, &rooms, Some(closure_id), Some(booking_id), 1)
            .await?
            .hits
            .into_iter()
            .next()
        else {
            return Err(BookingError::NotFound {
                what: "booking hit by this closure",
                id: booking_id.to_owned(),
            });
        };
        if let Some(made) = &before.decision {
            if made.decision == choice.decision {
                return Ok(before);
            }
            return Err(BookingError::AlreadyDecided(format!(
                "the booking was already decided for this closure: {} by {}; change it on the booking's own page",
                made.decision.as_str(),
                made.actor
            )));
        }
        let Ok(window) = Interval::new(closure.start, closure.end) else {
            return Ok(before);
        };
        let now = self.clock.now();
        let record = |seq: i64, status: OccurrenceStatus, reason: &str| ClosureDecisionRecord {
            closure_id: closure_id.to_owned(),
            booking_id: booking_id.to_owned(),
            seq,
            decision: choice.decision.as_str().to_owned(),
            status: status.as_str().to_owned(),
            reason: reason.to_owned(),
            actor: who.requester_id(),
            at: now,
        };
        match choice.decision {
            ClosureDecision::Keep => {
                let rows: Vec<ClosureDecisionRecord> = before
                    .dates
                    .iter()
                    .filter(|d| d.status.is_blocking())
                    .map(|d| record(d.seq, d.status, &words))
                    .collect();
                self.store.add_closure_decisions(&rows).await?;
            }
            ClosureDecision::Cancel => {
                let reason = cancel_reason(&closure, &words);
                // The dates are read again before each try: a date the requester cancelled
                // meanwhile is skipped, not an error.
                for _ in 0..3 {
                    let Some(booking) = self.store.booking(booking_id).await? else {
                        break;
                    };
                    let open: Vec<(i64, OccurrenceStatus)> = booking
                        .occurrences
                        .iter()
                        .filter(|o| o.status.is_blocking() && in_closure(o, &window))
                        .map(|o| (o.seq, o.status))
                        .collect();
                    if open.is_empty() {
                        break;
                    }
                    let seqs: Vec<i64> = open.iter().map(|(s, _)| *s).collect();
                    match self
                        .cancel_dates(who, booking_id, &seqs, Some(reason.clone()))
                        .await
                    {
                        Ok(_) => {
                            let rows: Vec<ClosureDecisionRecord> = open
                                .iter()
                                .map(|(seq, status)| record(*seq, *status, &words))
                                .collect();
                            self.store.add_closure_decisions(&rows).await?;
                            break;
                        }
                        Err(
                            BookingError::DateWrongStatus { .. } | BookingError::WrongStatus { .. },
                        ) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let after = self
            .hits_of(who, &closure, &rooms, Some(closure_id), Some(booking_id), 1)
            .await?;
        Ok(after.hits.into_iter().next().unwrap_or(before))
    }

    /// A booking's audit trail with the notes of the closures it was kept despite, each after
    /// the rows written before it.
    pub(super) async fn with_kept_notes(
        &self,
        booking_id: &str,
        mut audit: Vec<AuditRecord>,
    ) -> Result<Vec<AuditRecord>, BookingError> {
        let notes = self.store.kept_notes(booking_id).await?;
        let mut closures: HashMap<String, Option<ClosureRecord>> = HashMap::new();
        for note in notes {
            if !closures.contains_key(&note.closure_id) {
                let c = self.store.closure(&note.closure_id).await?;
                closures.insert(note.closure_id.clone(), c);
            }
            let label = closures
                .get(&note.closure_id)
                .and_then(|c| c.as_ref())
                .map(|c| c.reason.clone())
                .unwrap_or_default();
            let row = AuditRecord {
                at: note.at,
                actor: note.actor,
                from: Some(note.status.clone()),
                to: note.status,
                reason: Some(format!(
                    "kept despite the closure “{label}”: {}",
                    note.reason
                )),
                seq: Some(note.seq),
            };
            let at = audit
                .iter()
                .rposition(|a| a.at <= row.at)
                .map_or(0, |i| i + 1);
            audit.insert(at, row);
        }
        Ok(audit)
    }
}
