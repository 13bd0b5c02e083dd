//! The web face's one mapping of service errors to what a page shows: [`BookingError`] in
//! [`booking`], [`IdentityError`] in [`identity`]. Every page of `src/web` goes through
//! these; no other `match` over their variants decides a status or a sentence.
//!
//! The same error reads differently where it is shown ([`At`]): a clerk is told that a
//! booking is no longer pending, a resident that they cannot cancel it. The status code
//! follows the API's (`http::error`): 404 for what the visitor may not see, 409 for a state
//! that changed, 422 for a form to fix, 503 when the store does not answer. A 5xx is logged
//! here, once; its page says nothing of the cause.

use axum::http::StatusCode;
use axum::response::Response;

use super::{Lang, ToArg, Visitor, error_page};
use crate::booking::BookingError;
use crate::identity::{IdentityError, RegistrationError};

/// Where a booking error is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// A console page that cannot be shown (the whole page is the error).
    ConsolePage,
    /// A clerk's decision, refused: said at the top of the page it came from.
    ConsoleDecision,
    /// A clerk's closure form, refused: said at its field when it is about one.
    ConsoleClosure,
    /// A resident's own bookings.
    Mine,
    /// The booking form: said at its field when it is about one.
    BookForm,
    /// The start page's search for free halls: a search the service cannot answer is a
    /// date to fix.
    HallSearch,
}

/// What a page shows for an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub status: StatusCode,
    /// The message key of an error page's heading.
    pub heading: &'static str,
    pub message: String,
    /// The form field (`id` of the input) it belongs to, when shown on a form.
    pub field: Option<&'static str>,
}

impl Shown {
    fn page(status: StatusCode, heading: &'static str, message: String) -> Shown {
        Shown {
            status,
            heading,
            message,
            field: None,
        }
    }

    fn field(status: StatusCode, field: &'static str, message: String) -> Shown {
        Shown {
            status,
            heading: "error-bad-form",
            message,
            field: Some(field),
        }
    }

    fn unavailable(lang: Lang) -> Shown {
        Shown::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "error-unavailable",
            lang.t("error-unavailable-detail"),
        )
    }
}

/// A booking status in the words of the console (`console-status-*`) or of the residents'
/// pages (`status-*`); an unknown one as written.
pub fn status_words(lang: Lang, prefix: &str, status: &str) -> String {
    match status {
        "pending" | "approved" | "rejected" | "cancelled" | "expired" | "skipped" => {
            lang.t(&format!("{prefix}{status}"))
        }
        other => other.to_owned(),
    }
}

/// The one mapping of a [`BookingError`] for the web.
pub fn booking(lang: Lang, e: &BookingError, at: At) -> Shown {
    use At::*;
    let console = matches!(at, ConsolePage | ConsoleDecision | ConsoleClosure);
    // What a clerk reads when the service refused for a reason of its own.
    let console_other = || {
        Shown::page(
            StatusCode::CONFLICT,
            "console-problem-title",
            lang.t_args(
                "console-problem-other",
                &[("detail", e.to_string().to_arg())],
            ),
        )
    };
    match e {
        BookingError::Store(_) => Shown::unavailable(lang),
        _ if at == HallSearch => Shown::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "date",
            lang.t("search-error-date"),
        ),
        BookingError::NotFound { .. } => match at {
            ConsolePage | ConsoleClosure => Shown::page(
                StatusCode::NOT_FOUND,
                "error-not-found",
                lang.t("error-not-found-detail"),
            ),
            ConsoleDecision => Shown::page(
                StatusCode::NOT_FOUND,
                "console-problem-title",
                lang.t("console-problem-not-found"),
            ),
            Mine | HallSearch => Shown::page(
                StatusCode::NOT_FOUND,
                "error-not-found",
                lang.t("mine-not-found"),
            ),
            BookForm => Shown::page(
                StatusCode::NOT_FOUND,
                "error-not-found",
                lang.t("hall-not-found"),
            ),
        },
        BookingError::RoomRetired(_) => match at {
            BookForm => Shown::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "book-not-bookable",
                lang.t("hall-retired"),
            ),
            Mine => Shown::unavailable(lang),
            _ => booking(
                lang,
                &BookingError::NotFound {
                    what: "room",
                    id: String::new(),
                },
                at,
            ),
        },
        // Someone else's booking is not found for a resident; a clerk is told why not.
        BookingError::Forbidden(_) => match at {
            Mine | HallSearch => booking(
                lang,
                &BookingError::NotFound {
                    what: "booking",
                    id: String::new(),
                },
                at,
            ),
            BookForm => Shown::page(
                StatusCode::FORBIDDEN,
                "book-not-bookable",
                lang.t("reason-not-allowed"),
            ),
            ConsolePage | ConsoleClosure => Shown::page(
                StatusCode::FORBIDDEN,
                "error-forbidden",
                lang.t("console-problem-forbidden"),
            ),
            ConsoleDecision => Shown::page(
                StatusCode::FORBIDDEN,
                "console-problem-title",
                lang.t("console-problem-forbidden"),
            ),
        },
        BookingError::WrongStatus { status, .. } => match at {
            Mine => Shown::page(
                StatusCode::CONFLICT,
                "mine-cannot-cancel",
                lang.t_args(
                    "mine-cannot-cancel-detail",
                    &[(
                        "status",
                        status_words(lang, "status-", status.as_str()).to_arg(),
                    )],
                ),
            ),
            BookForm => Shown::page(
                StatusCode::CONFLICT,
                "book-not-bookable",
                lang.t("book-refused"),
            ),
            _ => Shown::page(
                StatusCode::CONFLICT,
                "console-problem-title",
                lang.t_args(
                    "console-problem-wrong-status",
                    &[(
                        "status",
                        status_words(lang, "console-status-", status.as_str()).to_arg(),
                    )],
                ),
            ),
        },
        BookingError::DateWrongStatus { status, .. } => match at {
            Mine => Shown::page(
                StatusCode::CONFLICT,
                "mine-cannot-cancel",
                lang.t_args(
                    "mine-cannot-cancel-detail",
                    &[(
                        "status",
                        status_words(lang, "status-", status.as_str()).to_arg(),
                    )],
                ),
            ),
            _ => Shown::page(
                StatusCode::CONFLICT,
                "console-problem-title",
                lang.t_args(
                    "console-problem-date-status",
                    &[(
                        "status",
                        status_words(lang, "console-status-", status.as_str()).to_arg(),
                    )],
                ),
            ),
        },
        // An approval of which no date can be approved: the core's reasons, in words.
        BookingError::Refused { decision, zone, .. } if console => Shown::page(
            StatusCode::CONFLICT,
            "console-problem-title",
            lang.t_args(
                "console-problem-refused",
                &[(
                    "reasons",
                    decision
                        .all_reasons()
                        .map(|r| crate::i18n::reasons::sentence(lang, r, *zone))
                        .collect::<Vec<_>>()
                        .join(" ")
                        .to_arg(),
                )],
            ),
        ),
        BookingError::Invalid {
            field,
            code,
            message,
        } => match at {
            BookForm => {
                let field = match *field {
                    "start" => "start",
                    "purpose" => "purpose",
                    "recurrence" => "repeat_until",
                    _ => "end",
                };
                let key = match *code {
                    "invalid-purpose" => "book-error-purpose",
                    "too-many-occurrences" => "book-error-too-many",
                    "too-long" => "book-error-too-long",
                    "ambiguous-local-time" => "book-error-ambiguous",
                    "invalid-recurrence" => "reason-invalid-recurrence",
                    "change-overlaps" => "book-error-change-overlaps",
                    "change-waiting" => "book-error-change-waiting",
                    "date-passed" => "book-error-date-passed",
                    _ => "book-error-time",
                };
                Shown::field(StatusCode::UNPROCESSABLE_ENTITY, field, lang.t(key))
            }
            ConsoleClosure => {
                let field = match *field {
                    "start" => "start_date",
                    "reason" => "reason",
                    _ => "end_time",
                };
                Shown::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    field,
                    lang.t_args("console-problem-other", &[("detail", message.to_arg())]),
                )
            }
            Mine | HallSearch => Shown::unavailable(lang),
            ConsolePage | ConsoleDecision => console_other(),
        },
        BookingError::Refused { code, .. } => match at {
            BookForm => Shown::field(
                if *code == "conflict" {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                "check-result",
                lang.t("book-refused"),
            ),
            Mine => Shown::unavailable(lang),
            _ => console_other(),
        },
        BookingError::Overlap => match at {
            BookForm => Shown::field(StatusCode::CONFLICT, "check-result", lang.t("book-overlap")),
            Mine => Shown::unavailable(lang),
            _ => console_other(),
        },
        BookingError::KeyReused => match at {
            BookForm => Shown::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "check-result",
                lang.t("book-key-reused"),
            ),
            Mine => Shown::unavailable(lang),
            _ => console_other(),
        },
        BookingError::AlreadyDecided(_) => match at {
            Mine => Shown::unavailable(lang),
            _ => console_other(),
        },
        BookingError::Misconfigured(_) if console => console_other(),
        BookingError::Misconfigured(_) => match at {
            BookForm => Shown::page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error-unavailable",
                lang.t("error-unavailable-detail"),
            ),
            _ => Shown::unavailable(lang),
        },
    }
}

/// Whether the error is the store not answering: a page of its own, wherever it happens.
pub fn unavailable(e: &BookingError) -> bool {
    matches!(e, BookingError::Store(_))
}

/// A booking error as a whole page (5xx logged, once).
pub fn booking_page(v: &Visitor, e: &BookingError, at: At) -> Response {
    let shown = booking(v.lang, e, at);
    log(&shown, e);
    error_page(v, shown.status, shown.heading, shown.message)
}

/// Logs what a 5xx page does not say.
pub fn log(shown: &Shown, e: &BookingError) {
    if shown.status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "a page hit a configuration error");
    } else if shown.status.is_server_error() {
        tracing::warn!(error = %e, "a page could not be served");
    }
}

/// A refused sign-in or registration as the web shows it: status, sentence, and the seconds
/// for `Retry-After` when waiting helps.
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// Adds `Retry-After` to the page, when waiting helps.
    pub fn mark(&self, mut page: axum::response::Response) -> axum::response::Response {
        if let Some(secs) = self.retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            page.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        page
    }
}

/// The one mapping of an [`IdentityError`] (a refused sign-in) for the web.
pub fn identity(lang: Lang, e: &IdentityError) -> Refusal {
    let (status, message, retry_after) = match e {
        IdentityError::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            lang.t("login-error-invalid"),
            None,
        ),
        IdentityError::TooManyFailures { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            lang.t_args(
                "login-error-too-many",
                &[("seconds", retry_after_secs.to_arg())],
            ),
            Some(*retry_after_secs),
        ),
        IdentityError::AccountGuarded { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            lang.t_args(
                "login-error-account-guarded",
                &[("seconds", retry_after_secs.to_arg())],
            ),
            Some(*retry_after_secs),
        ),
        IdentityError::Busy { retry_after_secs } => (
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t_args(
                "login-error-busy",
                &[("seconds", retry_after_secs.to_arg())],
            ),
            Some(*retry_after_secs),
        ),
        IdentityError::Unavailable(_) | IdentityError::StoreUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t("login-error-unavailable"),
            Some(5),
        ),
    };
    Refusal {
        status,
        message,
        retry_after,
    }
}

/// The web's mapping of a registration refused for the client's address or a busy server
/// (the other [`RegistrationError`]s are field errors or the unavailable page).
pub fn registration_wait(lang: Lang, e: &RegistrationError) -> Option<Refusal> {
    let (status, key, secs) = match e {
        RegistrationError::TooMany { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "register-error-too-many",
            *retry_after_secs,
        ),
        RegistrationError::Busy { retry_after_secs } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "register-error-busy",
            *retry_after_secs,
        ),
        _ => return None,
    };
    Some(Refusal {
        status,
        message: lang.t_args(key, &[("seconds", secs.to_arg())]),
        retry_after: Some(secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::BookingStatus;

    #[test]
    fn a_residents_foreign_booking_is_not_found_and_a_clerk_is_told_why() {
        let e = BookingError::Forbidden("not yours".into());
        assert_eq!(
            booking(Lang::En, &e, At::Mine).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            booking(Lang::En, &e, At::ConsolePage).status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn a_decided_booking_is_a_conflict_in_each_face_s_words() {
        let e = BookingError::WrongStatus {
            status: BookingStatus::Approved,
            action: "cancelled",
        };
        let clerk = booking(Lang::En, &e, At::ConsoleDecision);
        let resident = booking(Lang::En, &e, At::Mine);
        assert_eq!(clerk.status, StatusCode::CONFLICT);
        assert_eq!(resident.status, StatusCode::CONFLICT);
        assert_ne!(clerk.message, resident.message);
    }

    #[test]
    fn form_errors_land_on_their_fields() {
        let e = BookingError::Invalid {
            code: "invalid-purpose",
            field: "purpose",
            message: "too long".into(),
        };
        assert_eq!(booking(Lang::Nb, &e, At::BookForm).field, Some("purpose"));
        let e = BookingError::Invalid {
            code: "invalid",
            field: "start",
            message: "x".into(),
        };
        assert_eq!(
            booking(Lang::Nb, &e, At::ConsoleClosure).field,
            Some("start_date")
        );
        assert_eq!(
            booking(Lang::Nb, &BookingError::Overlap, At::BookForm).status,
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn status_words_leave_unknown_statuses_as_written() {
        assert_eq!(status_words(Lang::En, "status-", "weird"), "weird");
        assert_ne!(status_words(Lang::En, "status-", "pending"), "pending");
    }
}
