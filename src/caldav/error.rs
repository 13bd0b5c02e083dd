//! The CalDAV face's one error type and its one rendering: a DAV status with an XML
//! `DAV:error` body naming the precondition that failed where RFC 4918 §16 / RFC 4791 /
//! RFC 6578 name one, plain text otherwise.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::xml::{self, PropName};
use crate::calendar::StoreError;
use crate::calendar::schedule::{Rule, WriteError};
use crate::identity::IdentityError;

/// A precondition or postcondition a request failed, as RFC 4918 §16, RFC 3744 §7.1.1,
/// RFC 3253 §3.6, RFC 4791 §5.3.2.1/§7.8, RFC 6578 §3.2 and RFC 6638 §3.2.4/§6.1 name them:
/// rendered by [`Precondition::body`] as the element inside `DAV:error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    // RFC 4791 §5.3.2.1 (PUT) and §7.8 (REPORT), RFC 6638 §6.1 (outbox POST).
    SupportedCalendarData,
    ValidCalendarData,
    ValidCalendarObjectResource,
    SupportedCalendarComponent,
    MaxResourceSize,
    NoUidConflict,
    ValidFilter,
    SupportedFilter,
    SupportedCollation,
    // RFC 6638 §3.2.4, §6.1.
    ValidOrganizer,
    SameOrganizerInAllComponents,
    OrganizerAllowed,
    ValidSchedulingMessage,
    // RFC 6578 §3.2.
    ValidSyncToken,
    // RFC 3253 §3.6.
    SupportedReport,
    // RFC 4918 §9.1.
    PropfindFiniteDepth,
    /// RFC 3744 §7.1.1: the resource and the privilege the viewer lacks on it.
    NeedPrivileges {
        href: String,
        privilege: PropName,
    },
}

impl Precondition {
    /// The element's expanded name.
    pub fn name(&self) -> PropName {
        match self {
            Precondition::SupportedCalendarData => PropName::SUPPORTED_CALENDAR_DATA,
            Precondition::ValidCalendarData => PropName::caldav("valid-calendar-data"),
            Precondition::ValidCalendarObjectResource => {
                PropName::caldav("valid-calendar-object-resource")
            }
            Precondition::SupportedCalendarComponent => {
                PropName::caldav("supported-calendar-component")
            }
            Precondition::MaxResourceSize => PropName::caldav("max-resource-size"),
            Precondition::NoUidConflict => PropName::caldav("no-uid-conflict"),
            Precondition::ValidFilter => PropName::VALID_FILTER,
            Precondition::SupportedFilter => PropName::SUPPORTED_FILTER,
            Precondition::SupportedCollation => PropName::SUPPORTED_COLLATION,
            Precondition::ValidOrganizer => PropName::caldav("valid-organizer"),
            Precondition::SameOrganizerInAllComponents => {
                PropName::caldav("same-organizer-in-all-components")
            }
            Precondition::OrganizerAllowed => PropName::caldav("organizer-allowed"),
            Precondition::ValidSchedulingMessage => PropName::caldav("valid-scheduling-message"),
            Precondition::ValidSyncToken => PropName::VALID_SYNC_TOKEN,
            Precondition::SupportedReport => PropName::SUPPORTED_REPORT,
            Precondition::PropfindFiniteDepth => PropName::dav("propfind-finite-depth"),
            Precondition::NeedPrivileges { .. } => PropName::NEED_PRIVILEGES,
        }
    }

    /// The status a failure of it answers with where the request does not say otherwise:
    /// 403 (RFC 4918 §16), 413 for a body too large (RFC 4791 §5.3.2.1 allows either).
    pub fn status(&self) -> StatusCode {
        match self {
            Precondition::MaxResourceSize => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// The `DAV:error` body naming it, with a sentence for people where there is one. The one
    /// place a precondition is written.
    pub fn body(&self, message: Option<&str>) -> String {
        match self {
            Precondition::NeedPrivileges { href, privilege } => {
                xml::need_privileges(href, privilege)
            }
            other => xml::error(&other.name(), message),
        }
    }
}

/// A CalDAV error: a DAV status, with an XML `DAV:error` body naming the precondition that
/// failed where RFC 4918 §16 / RFC 4791 / RFC 6578 name one, plain text otherwise.
#[derive(Debug)]
pub enum DavError {
    /// No or wrong credentials: 401 with a Basic challenge.
    Unauthorized(String),
    TooManyFailures(u64),
    /// The account's failed directory logins are spent; only its known clients may try.
    AccountGuarded(u64),
    /// 503: the password-hashing queue is full; try again after this many seconds.
    Busy(u64),
    /// A failed precondition: its status and `DAV:error` body, with a sentence for people.
    Precondition {
        status: StatusCode,
        condition: Precondition,
        message: Option<String>,
    },
    /// 412 (RFC 7232 §3.1, §3.2), with a sentence.
    ConditionFailed(String),
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

impl DavError {
    /// A failed precondition with its usual status.
    pub fn precondition(condition: Precondition, message: impl Into<Option<String>>) -> Self {
        DavError::Precondition {
            status: condition.status(),
            condition,
            message: message.into(),
        }
    }

    /// The viewer lacks `privilege` on `href` (RFC 3744 §7.1.1).
    pub fn need_privileges(href: String, privilege: PropName) -> Self {
        DavError::precondition(Precondition::NeedPrivileges { href, privilege }, None)
    }
}

/// A staff write's refusal in CalDAV terms: each rule is the precondition of the same name;
/// an unreadable body is 400 (RFC 4791 §5.3.2.1 lets the server choose), the rest 403 or 413.
impl From<WriteError> for DavError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::NotFound => DavError::NotFound,
            WriteError::Store(e) => e.into(),
            WriteError::Stale(message) => DavError::ConditionFailed(message),
            WriteError::Refused { rule, message } => {
                let condition = match rule {
                    Rule::MaxResourceSize => Precondition::MaxResourceSize,
                    Rule::SupportedCalendarData => Precondition::SupportedCalendarData,
                    Rule::ValidCalendarData => Precondition::ValidCalendarData,
                    Rule::ValidCalendarObjectResource => Precondition::ValidCalendarObjectResource,
                    Rule::SupportedCalendarComponent => Precondition::SupportedCalendarComponent,
                    Rule::NoUidConflict => Precondition::NoUidConflict,
                    Rule::ValidOrganizer => Precondition::ValidOrganizer,
                    Rule::SameOrganizerInAllComponents => {
                        Precondition::SameOrganizerInAllComponents
                    }
                };
                let status = match rule {
                    Rule::SupportedCalendarData | Rule::ValidCalendarData => {
                        StatusCode::BAD_REQUEST
                    }
                    _ => condition.status(),
                };
                DavError::Precondition {
                    status,
                    condition,
                    message: Some(message),
                }
            }
        }
    }
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
            IdentityError::AccountGuarded { retry_after_secs } => {
                DavError::AccountGuarded(retry_after_secs)
            }
            IdentityError::Busy { retry_after_secs } => DavError::Busy(retry_after_secs),
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
            DavError::TooManyFailures(secs) | DavError::AccountGuarded(secs) => {
                let text = if matches!(self, DavError::AccountGuarded(_)) {
                    format!(
                        "this account had too many failed logins lately; so that the directory does not lock it, only devices that signed in to it before may try for the next {secs} s\n"
                    )
                } else {
                    format!(
                        "too many failed logins from your address; wait {secs} s before the next try\n"
                    )
                };
                let mut response = (StatusCode::TOO_MANY_REQUESTS, text).into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
            DavError::Busy(secs) => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the server is busy checking other passwords; try again in {secs} s\n"),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
            DavError::Precondition {
                status,
                condition,
                message,
            } => (status, XML, condition.body(message.as_deref())),
            DavError::ConditionFailed(message) => (
                StatusCode::PRECONDITION_FAILED,
                TEXT,
                format!("{message}\n"),
            ),
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
                Some(p) => (p.status(), XML, p.body(Some(&e.to_string()))),
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
