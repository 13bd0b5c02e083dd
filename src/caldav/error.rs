//! The CalDAV face's one error type and its one rendering: a DAV status with an XML
//! `DAV:error` body naming the precondition that failed where RFC 4918 §16 / RFC 4791 /
//! RFC 6578 name one, plain text otherwise.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::identity::IdentityError;
use crate::store::StoreError;

/// A CalDAV error: a DAV status, with an XML `DAV:error` body naming the precondition that
/// failed where RFC 4918 §16 / RFC 4791 / RFC 6578 name one, plain text otherwise.
#[derive(Debug)]
pub enum DavError {
    /// No or wrong credentials: 401 with a Basic challenge.
    Unauthorized(String),
    TooManyFailures(u64),
    /// 403 with a `DAV:error` body (need-privileges, a precondition).
    Precondition(String),
    /// 403 with a message.
    Forbidden(String),
    NotFound,
    /// 405, with the methods the resource does allow.
    MethodNotAllowed(&'static str),
    BadRequest(String),
    TooLarge,
    Xml(super::xml::XmlError),
    Unavailable(String),
}

impl From<StoreError> for DavError {
    fn from(e: StoreError) -> Self {
        DavError::Unavailable(e.to_string())
    }
}

impl From<super::xml::XmlError> for DavError {
    fn from(e: super::xml::XmlError) -> Self {
        DavError::Xml(e)
    }
}

impl From<IdentityError> for DavError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::InvalidCredentials => {
                DavError::Unauthorized("invalid login or password".into())
            }
            IdentityError::TooManyFailures { retry_after_secs } => {
                DavError::TooManyFailures(retry_after_secs)
            }
            IdentityError::Unavailable(why) | IdentityError::StoreUnavailable(why) => {
                DavError::Unavailable(why)
            }
        }
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        const XML: &str = "application/xml; charset=utf-8";
        const TEXT: &str = "text/plain; charset=utf-8";
        let (status, content_type, body) = match self {
            DavError::Unauthorized(message) => {
                let mut response =
                    (StatusCode::UNAUTHORIZED, format!("{message}\n")).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Lokal\", charset=\"UTF-8\""),
                );
                return response;
            }
            DavError::TooManyFailures(secs) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many failed logins for this account; try again in {secs} s\n"),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
            DavError::Precondition(xml) => (StatusCode::FORBIDDEN, XML, xml),
            DavError::Forbidden(message) => (StatusCode::FORBIDDEN, TEXT, format!("{message}\n")),
            DavError::NotFound => (StatusCode::NOT_FOUND, TEXT, "no such resource\n".into()),
            DavError::MethodNotAllowed(allow) => {
                let mut response =
                    (StatusCode::METHOD_NOT_ALLOWED, "method not allowed here\n").into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                return response;
            }
            DavError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, TEXT, format!("{message}\n"))
            }
            DavError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                TEXT,
                "the request body is larger than this server accepts\n".into(),
            ),
            DavError::Xml(e) => match e.precondition() {
                Some(p) => (
                    StatusCode::FORBIDDEN,
                    XML,
                    super::xml::error(&p, Some(&e.to_string())),
                ),
                None => (
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                    TEXT,
                    format!("{e}\n"),
                ),
            },
            DavError::Unavailable(why) => {
                tracing::warn!(error = %why, "caldav: unavailable");
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the calendar service is unavailable right now; try again shortly\n",
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return response;
            }
        };
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}
