//! The REST API under `/api/v1`. Handlers are thin: extract, call the service, map the result.
//! Each carries its OpenAPI description (parameters, body, success, security); [`ApiDoc`]
//! gathers them, and `contract` adds the problems each can answer, into the document served at
//! `/api/v1/openapi.json`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiQuery, Caller, OptionalApiJson};
use crate::booking::records::StoredRoom;
use crate::booking::rooms::RoomQuery;
use crate::booking::{
    ApprovalItem, BookingView, ChoiceView, ClosureChoice, ClosureDecision, ClosureHit,
    ClosurePreview, ClosureView, CreateBooking, CreateClosure, HitDate, OccurrenceView, OnConflict,
    ReasonView,
};
use crate::calendar::{Calendars, FeedView};
use crate::identity::NewResident;

// One route a line: `api::the_openapi_document_is_valid_and_complete` reads them.
#[rustfmt::skip]
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rooms", get(list_rooms))
        .route("/api/v1/rooms/{id}/availability", get(room_availability))
        .route("/api/v1/availability", get(free_rooms))
        .route("/api/v1/residents", post(register))
        .route("/api/v1/bookings", post(create_booking).get(list_bookings))
        .route("/api/v1/bookings/{id}", get(get_booking).patch(amend_booking))
        .route("/api/v1/bookings/{id}/cancel", post(cancel_booking))
        .route("/api/v1/bookings/{id}/history", get(booking_history))
        .route("/api/v1/bookings/{id}/approve", post(approve_booking))
        .route("/api/v1/bookings/{id}/reject", post(reject_booking))
        .route("/api/v1/bookings/{id}/occurrences/{seq}/approve", post(approve_date))
        .route("/api/v1/bookings/{id}/occurrences/{seq}/reject", post(reject_date))
        .route("/api/v1/bookings/{id}/occurrences/{seq}/cancel", post(cancel_date))
        .route("/api/v1/bookings/{id}/occurrences/{seq}/move", post(move_date))
        .route("/api/v1/approvals", get(approvals))
        .route("/api/v1/closures", post(create_closure))
        .route("/api/v1/closures/preview", post(preview_closure))
        .route("/api/v1/closures/{id}/bookings", get(closure_bookings))
        .route("/api/v1/closures/{id}/bookings/{booking_id}", post(decide_closure_booking))
        .route("/api/v1/feeds", post(create_feed).get(list_feeds))
        .route("/api/v1/feeds/{id}", delete(revoke_feed))
        .route("/api/v1/openapi.json", get(openapi))
}

/// A room, as anyone may see it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RoomView {
    pub id: String,
    pub name: String,
    pub building: Option<String>,
    pub capacity: Option<u32>,
    /// IANA zone; local times in requests are read in it.
    pub time_zone: String,
    pub equipment: Vec<String>,
    /// Whether the room's policy lets anybody book it.
    pub bookable: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RoomList {
    pub rooms: Vec<RoomView>,
}

fn room_view(state: &AppState, r: &StoredRoom) -> RoomView {
    RoomView {
        id: r.room.id.clone(),
        name: r.room.name.clone(),
        building: r.room.building.clone(),
        capacity: r.room.capacity,
        time_zone: state.bookings.rules.zone(r).name().to_owned(),
        equipment: r.room.equipment.clone(),
        bookable: state.bookings.bookable(r),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RoomFilter {
    /// Rooms with at least this many seats.
    #[serde(default, deserialize_with = "optional_count")]
    #[param(minimum = 0, maximum = 2147483647)]
    capacity: Option<u32>,
    /// Rooms in this building (exact name).
    building: Option<String>,
    /// Rooms with all of this equipment, comma-separated.
    equipment: Option<String>,
}

/// The rooms, with filters.
#[utoipa::path(get, path = "/api/v1/rooms", params(RoomFilter), tag = "rooms",
    responses((status = 200, body = RoomList)))]
async fn list_rooms(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<RoomFilter>,
) -> Result<Json<RoomList>, ApiError> {
    let query = RoomQuery {
        capacity: filter.capacity,
        building: filter.building,
        equipment: Vec::new(),
    }
    .with_equipment_list(filter.equipment.as_deref());
    let rooms = state.bookings.find_rooms(&query).await?;
    Ok(Json(RoomList {
        rooms: rooms.iter().map(|r| room_view(&state, r)).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// RFC 3339, a local `YYYY-MM-DDTHH:MM`, or a date (local midnight), in the room's zone.
    from: String,
    /// As `from`; at most 366 days after it.
    to: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BusyInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Busy intervals, with nothing about who booked.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Availability {
    pub busy: Vec<BusyInterval>,
}

/// When a room is busy: bookings that hold their slot and closures, merged. Public; it carries
/// no personal data.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/availability", params(("id" = String, Path), Window), tag = "rooms",
    responses((status = 200, body = Availability)))]
async fn room_availability(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(w): ApiQuery<Window>,
) -> Result<Json<Availability>, ApiError> {
    let busy = state.bookings.busy(&id, &w.from, &w.to).await?;
    Ok(Json(Availability {
        busy: busy
            .into_iter()
            .map(|i| BusyInterval {
                start: i.start(),
                end: i.end(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FreeQuery {
    /// As `from` of a room's availability; read in each room's zone.
    from: String,
    /// As `from`; at most 366 days after it.
    to: String,
    /// Rooms with at least this many seats.
    #[serde(default, deserialize_with = "optional_count")]
    #[param(minimum = 0, maximum = 2147483647)]
    capacity: Option<u32>,
}

/// The most people (seats, attendees) a number in this API may count: the `int32` range its
/// document declares, so that no client library overflows on it.
pub const MAX_COUNT: u32 = i32::MAX as u32;

/// A count of people, 0 to [`MAX_COUNT`].
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u64::deserialize(d)?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_COUNT)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{n} is more than {MAX_COUNT}, the largest number of people this API takes"
            ))
        })
}

fn optional_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    count(d).map(Some)
}

/// The bookable rooms that are free for the whole window.
#[utoipa::path(get, path = "/api/v1/availability", params(FreeQuery), tag = "rooms",
    responses((status = 200, body = RoomList)))]
async fn free_rooms(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FreeQuery>,
) -> Result<Json<RoomList>, ApiError> {
    let rooms = state
        .bookings
        .free_rooms(&q.from, &q.to, q.capacity)
        .await?;
    Ok(Json(RoomList {
        rooms: rooms.iter().map(|r| room_view(&state, r)).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterResident {
    /// An address like `name@example.no`: something before the `@`, a dot after it, no spaces
    /// or control characters inside; compared without regard to case.
    #[schema(schema_with = super::contract::email)]
    pub email: String,
    /// 10 to 1024 characters; stored as an argon2id hash.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    /// 1 to 200 characters (spaces around it are dropped), no control characters.
    #[schema(schema_with = super::contract::person_name)]
    pub name: String,
    /// The language of the resident's mails: `nb` (the default) or `en`.
    #[serde(default, deserialize_with = "mail_language")]
    #[schema(schema_with = mail_language_schema)]
    pub language: Option<String>,
}

/// `nb`, `en` or `null`; anything else is refused as it is documented, rather than guessed.
fn mail_language<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(code) if code != "nb" && code != "en" => Err(serde::de::Error::custom(format!(
            "language {code:?} is not one of nb, en"
        ))),
        language => Ok(language),
    }
}

fn mail_language_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::json!("nb"),
            serde_json::json!("en"),
            serde_json::Value::Null,
        ]))
        .build()
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResidentView {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// Registers a resident account.
#[utoipa::path(post, path = "/api/v1/residents", request_body = RegisterResident, tag = "residents",
    responses((status = 201, body = ResidentView)))]
async fn register(
    State(state): State<AppState>,
    client: crate::identity::ClientAddr,
    ApiJson(body): ApiJson<RegisterResident>,
) -> Result<(StatusCode, Json<ResidentView>), ApiError> {
    let lang = match body.language.as_deref() {
        None => crate::i18n::Lang::Nb,
        Some(code) => crate::i18n::Lang::parse(code).ok_or_else(|| {
            ApiError::from(crate::identity::RegistrationError::Invalid(
                "language must be nb or en".into(),
            ))
        })?,
    };
    let r = state
        .identity
        .register(
            NewResident {
                email: &body.email,
                password: &body.password,
                name: &body.name,
                lang,
            },
            client,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ResidentView {
            id: r.id,
            email: r.email,
            name: r.name,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBookingRequest {
    pub room_id: String,
    /// RFC 3339 with an offset, or a local `YYYY-MM-DDTHH:MM` in the room's zone.
    pub start: String,
    pub end: String,
    /// 1 to 500 characters, not only spaces; shown to clerks, never in public views.
    #[schema(schema_with = super::contract::purpose)]
    pub purpose: String,
    #[serde(deserialize_with = "count")]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub attendees: u32,
    /// An RFC 5545 RRULE, such as `FREQ=WEEKLY;COUNT=10`.
    #[serde(default)]
    pub recurrence: Option<String>,
    /// For a series: refuse it all when a date is refused (`reject`, the default), or book
    /// the other dates (`skip`).
    #[serde(default)]
    pub on_conflict: Option<OnConflict>,
}

/// The answer to a booking request.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedBooking {
    pub id: String,
    /// `approved` or `pending`.
    #[schema(value_type = String)]
    pub status: crate::scheduling::BookingStatus,
    pub occurrences: Vec<OccurrenceView>,
    pub reasons: Vec<ReasonView>,
    pub booking: BookingView,
}

/// Asks for a booking. Send an `Idempotency-Key` header: a retry with the same key and body
/// returns the same booking (with `Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/api/v1/bookings", request_body = CreateBookingRequest, tag = "bookings",
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible ASCII characters (a UUID, say); makes retries safe",
        min_length = 1, max_length = 200, pattern = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")),
    security(("basic" = [])),
    responses((status = 201, body = CreatedBooking)))]
async fn create_booking(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(who): Caller,
    ApiJson(body): ApiJson<CreateBookingRequest>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().map_err(|_| {
                ApiError::bad_request("invalid-idempotency-key", "Idempotency-Key must be ASCII")
            })?;
            if k.is_empty() || k.len() > 200 {
                return Err(ApiError::bad_request(
                    "invalid-idempotency-key",
                    "Idempotency-Key must be 1 to 200 characters",
                ));
            }
            Some(k.to_owned())
        }
    };
    let request = CreateBooking {
        room_id: body.room_id,
        start: body.start,
        end: body.end,
        purpose: body.purpose,
        attendees: body.attendees,
        recurrence: body.recurrence,
        on_conflict: body.on_conflict.unwrap_or_default(),
    };
    let created = state.bookings.create(&who, request, key.as_deref()).await?;
    if !created.replayed {
        state
            .metrics
            .booking_created(created.booking.status.as_str());
    }
    let b = created.booking;
    let body = CreatedBooking {
        id: b.id.clone(),
        status: b.status,
        occurrences: b.occurrences.clone(),
        reasons: b.reasons.clone(),
        booking: b,
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if created.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Must be `true`: the caller's own bookings. Clerks see requests under `/approvals`.
    #[param(value_type = OnlyTrue, inline, required = true)]
    mine: Option<bool>,
}

/// `true`, the one value `mine` takes.
struct OnlyTrue;

impl utoipa::PartialSchema for OnlyTrue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([true]))
            .into()
    }
}

impl ToSchema for OnlyTrue {}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BookingList {
    pub bookings: Vec<BookingView>,
}

/// The caller's own bookings, newest first.
#[utoipa::path(get, path = "/api/v1/bookings", params(ListQuery), tag = "bookings", security(("basic" = [])),
    responses((status = 200, body = BookingList)))]
async fn list_bookings(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<BookingList>, ApiError> {
    if q.mine != Some(true) {
        return Err(ApiError::unprocessable(
            "mine-required",
            "list your own bookings with ?mine=true; clerks find requests under /api/v1/approvals",
        ));
    }
    Ok(Json(BookingList {
        bookings: state.bookings.mine(&who).await?,
    }))
}

/// One booking: for its requester, clerks of its room and administrators.
#[utoipa::path(get, path = "/api/v1/bookings/{id}", params(("id" = String, Path)), tag = "bookings", security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn get_booking(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<BookingView>, ApiError> {
    Ok(Json(state.bookings.get(&who, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendRequest {
    /// A new purpose: 1 to 500 characters, not only spaces.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub purpose: Option<String>,
    /// A new number of people. More people are checked against the room's capacity for every
    /// date to come (`422 over-capacity`, nothing changed).
    #[serde(default, deserialize_with = "optional_count")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub attendees: Option<u32>,
}

/// Changes a booking's purpose or number of people: its requester, or a clerk of its room,
/// while it is pending or approved. Its times are changed date by date (`…/occurrences/{seq}/move`).
#[utoipa::path(patch, path = "/api/v1/bookings/{id}", params(("id" = String, Path)), tag = "bookings",
    request_body = AmendRequest, security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn amend_booking(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AmendRequest>,
) -> Result<Json<BookingView>, ApiError> {
    let request = crate::booking::Amend {
        purpose: body.purpose,
        attendees: body.attendees,
    };
    Ok(Json(state.bookings.amend(&who, &id, request).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

/// Cancels a pending or approved booking: its requester, or a clerk of its room.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", params(("id" = String, Path)), tag = "bookings",
    request_body(content = CancelRequest, description = "Optional: none, or a reason."), security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn cancel_booking(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    OptionalApiJson(body): OptionalApiJson<CancelRequest>,
) -> Result<Json<BookingView>, ApiError> {
    // The body is optional: none, or `{"reason": "…"}`.
    let reason = body.and_then(|b| b.reason);
    Ok(Json(state.bookings.cancel(&who, &id, reason).await?))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// `resident:<id>`, `staff:<id>`, or `lokal` for the engine itself.
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    /// The date (`seq` in `occurrences`) the change is about; none for the whole booking
    /// (every date that was `from` became `to`, except dates with a row of their own).
    pub seq: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct History {
    pub history: Vec<HistoryEntry>,
}

/// Every status change of a booking, oldest first.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/history", params(("id" = String, Path)), tag = "bookings", security(("basic" = [])),
    responses((status = 200, body = History)))]
async fn booking_history(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<History>, ApiError> {
    let history = state.bookings.history(&who, &id).await?;
    Ok(Json(History {
        history: history
            .into_iter()
            .map(|a| HistoryEntry {
                at: a.at,
                actor: a.actor,
                from: a.from,
                to: a.to,
                reason: a.reason,
                seq: a.seq,
            })
            .collect(),
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApprovalQueue {
    pub approvals: Vec<ApprovalItem>,
}

/// The pending requests for rooms whose approver group the clerk is in.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", security(("basic" = [])),
    responses((status = 200, body = ApprovalQueue)))]
async fn approvals(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<ApprovalQueue>, ApiError> {
    Ok(Json(ApprovalQueue {
        approvals: state.bookings.approvals(&who).await?,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The dates to approve, by their `seq` in `occurrences`; every date that waits for a
    /// clerk when left out.
    #[schema(min_items = 1, max_items = 1000)]
    pub dates: Option<Vec<i64>>,
    /// Approve dates that are only out of policy (outside opening hours, too long, …) anyway,
    /// and why: 1 to 2000 characters, for clerks in the policy's `out_of_policy` groups. A date
    /// that is closed or taken can never be approved.
    pub override_reason: Option<String>,
}

/// Approves the dates of a request that wait for a clerk (or those named in `dates`). Each
/// date is decided again against today's closures, policy and bookings: a date that is now
/// closed or taken is rejected with the core's `reasons` while the others are approved; a
/// date only out of policy stays pending (with its `reasons`) unless `override_reason` is
/// given. When no date can be approved, nothing changes and the answer is the refusal.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/approve", params(("id" = String, Path)), tag = "approvals",
    request_body(content = ApproveRequest, description = "Optional: none, or the dates and an override."), security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn approve_booking(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    OptionalApiJson(body): OptionalApiJson<ApproveRequest>,
) -> Result<Json<BookingView>, ApiError> {
    let body = body.unwrap_or_default();
    let request = crate::booking::Approve {
        dates: body.dates,
        override_reason: body.override_reason,
    };
    Ok(Json(state.bookings.approve(&who, &id, request).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveDateRequest {
    /// Approve the date although it is out of policy, and why (see `ApproveRequest`).
    pub override_reason: Option<String>,
}

/// A date's number in its path: one that is no number names no date.
fn date_seq(id: &str, seq: &str) -> Result<i64, ApiError> {
    seq.parse::<i64>().map_err(|_| {
        ApiError::from(crate::booking::BookingError::NotFound {
            what: "date",
            id: format!("{id}/{seq}"),
        })
    })
}

/// Approves one date of a request, decided again like `approve`.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/occurrences/{seq}/approve",
    params(("id" = String, Path), ("seq" = i64, Path, description = "The date's `seq` in `occurrences`.", minimum = 0)),
    tag = "approvals",
    request_body(content = ApproveDateRequest, description = "Optional: none, or an override."), security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn approve_date(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, seq)): Path<(String, String)>,
    OptionalApiJson(body): OptionalApiJson<ApproveDateRequest>,
) -> Result<Json<BookingView>, ApiError> {
    let seq = date_seq(&id, &seq)?;
    let request = crate::booking::Approve {
        dates: Some(vec![seq]),
        override_reason: body.and_then(|b| b.override_reason),
    };
    Ok(Json(state.bookings.approve(&who, &id, request).await?))
}

/// Rejects one date of a request that waits for a clerk, with a reason for the requester;
/// the other dates stay as they are.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/occurrences/{seq}/reject",
    params(("id" = String, Path), ("seq" = i64, Path, description = "The date's `seq` in `occurrences`.", minimum = 0)),
    tag = "approvals", request_body = RejectRequest, security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn reject_date(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, seq)): Path<(String, String)>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> Result<Json<BookingView>, ApiError> {
    let seq = date_seq(&id, &seq)?;
    Ok(Json(
        state
            .bookings
            .reject_dates(&who, &id, &[seq], &body.reason)
            .await?,
    ))
}

/// Cancels one date of a pending or approved booking: its requester, or a clerk of its room.
/// The other dates stay as they are; the booking is cancelled when its last date is.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/occurrences/{seq}/cancel",
    params(("id" = String, Path), ("seq" = i64, Path, description = "The date's `seq` in `occurrences`.", minimum = 0)),
    tag = "bookings",
    request_body(content = CancelRequest, description = "Optional: none, or a reason."), security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn cancel_date(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, seq)): Path<(String, String)>,
    OptionalApiJson(body): OptionalApiJson<CancelRequest>,
) -> Result<Json<BookingView>, ApiError> {
    let seq = date_seq(&id, &seq)?;
    let reason = body.and_then(|b| b.reason);
    Ok(Json(
        state
            .bookings
            .cancel_dates(&who, &id, &[seq], reason)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The new start: RFC 3339 with an offset, or a local `YYYY-MM-DDTHH:MM` in the room's zone.
    pub start: String,
    /// The new end, as `start`.
    pub end: String,
}

/// Moves one date of a booking to another time (a booking of one date: `seq` 0): its
/// requester, or a clerk of its room. The core decides the new time as a new request now;
/// refused, nothing changes and the date keeps its slot. Granted at once (or the date was
/// still waiting for a clerk), the date moves in one transaction. An approved date whose new
/// time needs a clerk keeps its slot, and a new date (with `replaces`) waits at the new time:
/// approving it cancels the old date, rejecting it leaves the old one as it was.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/occurrences/{seq}/move",
    params(("id" = String, Path), ("seq" = i64, Path, description = "The date's `seq` in `occurrences`.", minimum = 0)),
    tag = "bookings", request_body = MoveRequest, security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn move_date(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, seq)): Path<(String, String)>,
    ApiJson(body): ApiJson<MoveRequest>,
) -> Result<Json<BookingView>, ApiError> {
    let seq = date_seq(&id, &seq)?;
    let request = crate::booking::MoveDate {
        start: body.start,
        end: body.end,
    };
    Ok(Json(
        state.bookings.move_date(&who, &id, seq, request).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the requester: 1 to 2000 characters, not only spaces.
    #[schema(schema_with = super::contract::decision_reason)]
    pub reason: String,
}

/// Rejects a pending request with a reason.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/reject", params(("id" = String, Path)), tag = "approvals",
    request_body = RejectRequest, security(("basic" = [])),
    responses((status = 200, body = BookingView)))]
async fn reject_booking(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> Result<Json<BookingView>, ApiError> {
    Ok(Json(state.bookings.reject(&who, &id, &body.reason).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    /// The room to close; or give `building`.
    pub room_id: Option<String>,
    /// Every room of this building.
    pub building: Option<String>,
    /// RFC 3339, local `YYYY-MM-DDTHH:MM` or a date, in the room's zone.
    pub start: String,
    pub end: String,
    /// 1 to 500 characters, not only spaces.
    #[schema(schema_with = super::contract::closure_reason)]
    pub reason: String,
}

impl ClosureRequest {
    fn into_request(self) -> CreateClosure {
        CreateClosure {
            room_id: self.room_id,
            building: self.building,
            start: self.start,
            end: self.end,
            reason: self.reason,
        }
    }
}

/// Closes a room or a building for a while (maintenance, events). New requests in that time
/// are refused with `closure`. The answer lists the bookings and pending requests it hits
/// (`hits`: at most 500, `hits_more` says how many are left out), for the clerk to keep or
/// cancel each (`POST /api/v1/closures/{id}/bookings/{booking_id}`); `affected` has their ids.
#[utoipa::path(post, path = "/api/v1/closures", request_body = ClosureRequest, tag = "closures", security(("basic" = [])),
    responses((status = 201, body = ClosureView)))]
async fn create_closure(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<ClosureRequest>,
) -> Result<(StatusCode, Json<ClosureView>), ApiError> {
    let view = state.bookings.close(&who, body.into_request()).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A dry run of `POST /api/v1/closures`: the same checks, and the bookings and pending
/// requests the closure would hit now; nothing is saved.
#[utoipa::path(post, path = "/api/v1/closures/preview", request_body = ClosureRequest, tag = "closures", security(("basic" = [])),
    responses((status = 200, body = ClosurePreview)))]
async fn preview_closure(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<ClosureRequest>,
) -> Result<Json<ClosurePreview>, ApiError> {
    Ok(Json(
        state
            .bookings
            .preview_closure(&who, body.into_request())
            .await?,
    ))
}

/// A closure with the bookings and pending requests it hits now, and the choice made for
/// each: for clerks of the rooms it covers. Only bookings of rooms the caller decides for are
/// listed.
#[utoipa::path(get, path = "/api/v1/closures/{id}/bookings", params(("id" = String, Path)), tag = "closures", security(("basic" = [])),
    responses((status = 200, body = ClosureView)))]
async fn closure_bookings(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<ClosureView>, ApiError> {
    Ok(Json(state.bookings.closure(&who, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureChoiceRequest {
    /// `keep`: the dates stay booked despite the closure; `cancel`: the dates the closure hits
    /// are cancelled and the requester is told.
    pub decision: ClosureDecision,
    /// For `keep`, why (required, 1 to 1400 characters; a note in the booking's history); for
    /// `cancel`, a message to the requester after the closure's reason (optional, at most
    /// 1400 characters).
    pub reason: Option<String>,
}

/// A clerk's choice for one booking a closure hits: keep it (with a reason) or cancel the
/// dates the closure hits (the requester is told, as with any cancelled date). Only a clerk of
/// the booking's room. It acts on the dates as they are now: dates cancelled meanwhile are
/// skipped. The same choice again answers as the first; the other one is `already-decided`.
#[utoipa::path(post, path = "/api/v1/closures/{id}/bookings/{booking_id}",
    params(("id" = String, Path), ("booking_id" = String, Path)), tag = "closures",
    request_body = ClosureChoiceRequest, security(("basic" = [])),
    responses((status = 200, body = ClosureHit)))]
async fn decide_closure_booking(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, booking_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ClosureChoiceRequest>,
) -> Result<Json<ClosureHit>, ApiError> {
    let choice = ClosureChoice {
        decision: body.decision,
        reason: body.reason.unwrap_or_default(),
    };
    Ok(Json(
        state
            .bookings
            .decide_closure(&who, &id, &booking_id, choice)
            .await?,
    ))
}

/// Asks for a private feed of a room's calendar.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedRequest {
    pub room_id: String,
}

/// A staff member's private feeds.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct FeedList {
    pub feeds: Vec<FeedView>,
}

/// Makes a private iCalendar feed of a room's calendar, with details (staff only). The answer
/// carries the feed's URL with its secret token; it is shown only this once.
#[utoipa::path(post, path = "/api/v1/feeds", request_body = FeedRequest, tag = "feeds", security(("basic" = [])),
    responses((status = 201, body = FeedView)))]
async fn create_feed(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<FeedRequest>,
) -> Result<(StatusCode, Json<FeedView>), ApiError> {
    let view = Calendars::new(&state.bookings)
        .create_feed(&who, &body.room_id)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The caller's private feeds, revoked ones included, without their tokens.
#[utoipa::path(get, path = "/api/v1/feeds", tag = "feeds", security(("basic" = [])),
    responses((status = 200, body = FeedList)))]
async fn list_feeds(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<FeedList>, ApiError> {
    let feeds = Calendars::new(&state.bookings).feeds(&who).await?;
    Ok(Json(FeedList { feeds }))
}

/// Revokes a private feed: its URL answers 404 from then on.
#[utoipa::path(delete, path = "/api/v1/feeds/{id}", params(("id" = String, Path)), tag = "feeds", security(("basic" = [])),
    responses((status = 204)))]
async fn revoke_feed(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    Calendars::new(&state.bookings)
        .revoke_feed(&who, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn openapi() -> Response {
    let json = super::contract::document();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json,
    )
        .into_response()
}

struct BasicAuth;

impl utoipa::Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Lokal API", description = "Rooms, availability, bookings, approvals and closures of a municipality's public spaces. Errors are application/problem+json with a stable `code`. Authenticate with HTTP Basic (over TLS): a resident's email or a staff login."),
    paths(list_rooms, room_availability, free_rooms, register, create_booking, list_bookings, get_booking,
          cancel_booking, booking_history, approvals, approve_booking, reject_booking, approve_date,
          reject_date, cancel_date, move_date, amend_booking, create_closure, preview_closure, closure_bookings,
          decide_closure_booking,
          create_feed, list_feeds, revoke_feed),
    components(schemas(Problem, ReasonView, OccurrenceView, BookingView, ApprovalItem, ClosureView,
        ClosurePreview, ClosureHit, HitDate, ChoiceView, ClosureDecision, FeedView)),
    modifiers(&BasicAuth),
    tags((name = "rooms"), (name = "residents"), (name = "bookings"), (name = "approvals"), (name = "closures"), (name = "feeds"))
)]
pub struct ApiDoc;
