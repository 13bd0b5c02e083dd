//! Extractors whose rejections are our problem documents: JSON bodies, query strings, and the
//! authenticated caller (HTTP Basic).

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::identity::{ClientAddr, Principal};

/// A JSON object body; malformed JSON (a `null`, an array or any other non-object included),
/// unknown fields, wrong types and oversized bodies are 4xx problems with their own codes.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The media type first, as axum's `Json` does, so that a body of another type is
        // never read.
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = read_body(req, state).await?;
        parse_object(&bytes).map(ApiJson)
    }
}

/// An optional JSON object body: nothing (or only whitespace) is `None`; anything else is read
/// as [`ApiJson`] reads it.
pub struct OptionalApiJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalApiJson(None));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        parse_object(&bytes).map(|v| OptionalApiJson(Some(v)))
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
            _ => ApiError::bad_request("unreadable-body", rejection.body_text()),
        })
}

/// Every request body of this API is one JSON object: `null`, `[]`, `"text"` or `3` is refused
/// as a whole, like broken JSON, before any field is looked at.
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            "malformed-json",
            "the body must be one JSON object, such as {\"field\": \"value\"}",
        ));
    }
    axum::Json::<T>::from_bytes(bytes)
        .map(|axum::Json(v)| v)
        .map_err(json_problem)
}

/// `application/json` or any `application/*+json`, parameters (`; charset=utf-8`) aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    match essence.split_once('/') {
        Some((kind, sub)) => {
            kind.eq_ignore_ascii_case("application")
                && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
        }
        None => false,
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "send the body as application/json",
    )
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "the request body is larger than this server accepts",
    )
}

fn json_problem(rejection: JsonRejection) -> ApiError {
    let detail = plain(&rejection.body_text());
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
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
        other => ApiError::bad_request("unreadable-body", other.body_text()),
    }
}

/// serde's and axum's words for a client: without axum's preamble, and with numbers and objects
/// instead of Rust's type names (`expected u64` is `expected a whole number`).
fn plain(detail: &str) -> String {
    let mut text = detail;
    for preamble in [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
        "Failed to deserialize query string: ",
    ] {
        text = text.strip_prefix(preamble).unwrap_or(text);
    }
    let mut text = text
        .replace("invalid digit found in string", "not a whole number")
        .replace(
            "number too large to fit in target type",
            "a number too large",
        );
    for rust in ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"] {
        text = text.replace(&format!("expected {rust}"), "expected a whole number");
    }
    // `expected struct CancelRequest` names a Rust type; the client sent something else than
    // an object there.
    while let Some(at) = text.find("expected struct ") {
        let rest = &text[at + "expected struct ".len()..];
        let name_end = rest
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        text = format!("{}expected an object{}", &text[..at], &rest[name_end..]);
    }
    text
}

/// A query string, with its errors as problems.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                "invalid-query",
                plain(&e.body_text()),
            )),
            Err(e) => Err(ApiError::bad_request(
                "invalid-query",
                plain(&e.body_text()),
            )),
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

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn serde_messages_are_told_without_rust_type_names() {
        assert_eq!(
            plain(
                "Failed to deserialize the JSON body into the target type: attendees: invalid type: string \"many\", expected u64 at line 1 column 50"
            ),
            "attendees: invalid type: string \"many\", expected a whole number at line 1 column 50"
        );
        assert_eq!(
            plain("Failed to deserialize query string: capacity: invalid digit found in string"),
            "capacity: not a whole number"
        );
        assert_eq!(
            plain("invalid type: null, expected struct CancelRequest at line 1"),
            "invalid type: null, expected an object at line 1"
        );
    }
}
