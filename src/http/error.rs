//! The one mapping from errors to HTTP responses: `application/problem+json` (RFC 9457) with
//! a stable `code`. A 5xx body is generic; its details go to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::booking::records::StoreError;
use crate::booking::{BookingError, ReasonView};
use crate::identity::{IdentityError, RegistrationError};

/// An API error: status, stable code, message, and optional details.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub reasons: Vec<ReasonView>,
    pub retry_after: Option<u64>,
    pub challenge: bool,
}

/// The problem document.
#[derive(Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:lokal:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable, greppable code such as `conflict` or `malformed-json`.
    pub code: String,
    /// The core's reasons, when it refused a booking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReasonView>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            reasons: Vec::new(),
            retry_after: None,
            challenge: false,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError {
            challenge: true,
            ..ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// A server-side failure: logged in full, answered generically.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; the request id in the X-Request-Id header helps us find it",
        )
    }

    fn unavailable(code: &'static str, what: impl std::fmt::Display, detail: &str) -> Self {
        tracing::warn!(error = %what, code, "unavailable");
        ApiError {
            retry_after: Some(5),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let body = Problem {
            kind: format!("urn:lokal:problem:{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            reasons: self.reasons,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Lokal\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

fn e_text_too_long() -> String {
    StoreError::TooLong.to_string()
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overlap => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the slot was taken by another booking at the same moment",
            ),
            StoreError::TooLong => ApiError::unprocessable("too-long", e_text_too_long()),
            StoreError::Busy => ApiError::unavailable(
                "store-busy",
                "the database is busy",
                "the database is busy with other bookings; try again in a moment",
            ),
            StoreError::DuplicateKey => {
                ApiError::new(StatusCode::CONFLICT, "exists", "it already exists")
            }
            other => ApiError::unavailable(
                "store-unavailable",
                other,
                "the database is unavailable; try again shortly",
            ),
        }
    }
}

impl From<BookingError> for ApiError {
    fn from(e: BookingError) -> Self {
        let message = e.to_string();
        match e {
            BookingError::NotFound { what, .. } => ApiError::new(
                StatusCode::NOT_FOUND,
                match what {
                    "room" => "unknown-room",
                    "building" => "unknown-building",
                    "closure" => "unknown-closure",
                    _ => "not-found",
                },
                message,
            ),
            BookingError::RoomRetired(_) => ApiError::unprocessable("room-retired", message),
            BookingError::Invalid { code, .. } => ApiError::unprocessable(code, message),
            BookingError::Refused {
                code,
                decision,
                zone,
                ..
            } => {
                let status = match code {
                    "conflict" => StatusCode::CONFLICT,
                    "not-allowed" => StatusCode::FORBIDDEN,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                ApiError {
                    reasons: decision
                        .all_reasons()
                        .map(|r| ReasonView {
                            code: r.code().to_owned(),
                            message: crate::i18n::reasons::record(r, zone),
                        })
                        .collect(),
                    ..ApiError::new(status, code, message)
                }
            }
            BookingError::Overlap => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            BookingError::KeyReused => ApiError::unprocessable("idempotency-key-reused", message),
            BookingError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            BookingError::WrongStatus { .. } | BookingError::DateWrongStatus { .. } => {
                ApiError::new(StatusCode::CONFLICT, "wrong-status", message)
            }
            BookingError::AlreadyDecided(_) => {
                ApiError::new(StatusCode::CONFLICT, "already-decided", message)
            }
            BookingError::Misconfigured(m) => ApiError::internal(m),
            BookingError::Store(s) => s.into(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::InvalidCredentials => {
                ApiError::unauthorized("invalid login or password")
            }
            IdentityError::TooManyFailures { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-failed-logins",
                    format!(
                        "too many failed logins from your address; wait {retry_after_secs} s before the next try (other addresses are not affected)"
                    ),
                )
            },
            IdentityError::AccountGuarded { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "account-protected",
                    format!(
                        "this account had too many failed logins lately; so that the directory does not lock it, only devices that signed in to it before may try for the next {retry_after_secs} s"
                    ),
                )
            },
            IdentityError::Busy { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "the server is busy checking other passwords; try again in {retry_after_secs} s"
                    ),
                )
            },
            IdentityError::StoreUnavailable(why) => ApiError::unavailable(
                "store-unavailable",
                why,
                "logins cannot be checked right now because the database does not answer; try again shortly",
            ),
            IdentityError::Unavailable(why) => ApiError::unavailable(
                "directory-unavailable",
                why,
                "the staff directory is unavailable, so staff logins cannot be checked right now; residents are not affected. Try again shortly",
            ),
        }
    }
}

impl From<RegistrationError> for ApiError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Invalid(m) => ApiError::unprocessable("invalid-registration", m),
            RegistrationError::Exists => ApiError::new(
                StatusCode::CONFLICT,
                "email-taken",
                "an account with this email already exists",
            ),
            RegistrationError::TooMany { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-registrations",
                    format!(
                        "too many new accounts were registered from your address; try again in {retry_after_secs} s"
                    ),
                )
            },
            RegistrationError::Busy { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "the server is busy with other registrations; nothing was saved, try again in {retry_after_secs} s"
                    ),
                )
            },
            RegistrationError::Unavailable(why) => ApiError::unavailable(
                "store-unavailable",
                why,
                "the database is unavailable; try again shortly",
            ),
        }
    }
}
