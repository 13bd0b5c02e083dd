//! Extractors whose rejections are our problem documents: JSON bodies, query strings, and the
//! authenticated caller (HTTP Basic).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::identity::{ClientAddr, Principal};

/// A JSON body; malformed JSON, unknown fields, wrong types and oversized bodies are 4xx
/// problems with their own codes.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("malformed-json", detail),
        JsonRejection::JsonDataError(_) => {
            let code = if detail.contains("unknown field") {
                "unknown-field"
            } else if detail.contains("missing field") {
                "missing-field"
            } else {
                "invalid-field"
            };
            ApiError::unprocessable(code, detail)
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the body as application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "the request body is larger than this server accepts",
        ),
        other => ApiError::bad_request("unreadable-body", other.body_text()),
    }
}

/// A query string, with its errors as problems.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::bad_request("invalid-query", e.body_text()))
            }
            Err(e) => Err(ApiError::bad_request("invalid-query", e.body_text())),
        }
    }
}

/// The authenticated caller, from `Authorization: Basic`.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (login, password) = basic_credentials(parts)?;
        let client = client_addr(parts);
        let principal = state
            .identity
            .authenticate(&login, &password, client)
            .await?;
        Ok(Caller(principal))
    }
}

/// The client's address, as the identity middleware found it (`unknown` without it).
fn client_addr(parts: &Parts) -> ClientAddr {
    parts
        .extensions
        .get::<ClientAddr>()
        .copied()
        .unwrap_or(ClientAddr::Unknown)
}

fn basic_credentials(parts: &Parts) -> Result<(String, String), ApiError> {
    crate::identity::basic_credentials(&parts.headers)
        .map_err(|e| ApiError::unauthorized(e.message()))
}
