//! The API's contract for what goes wrong: every problem each operation can answer, with its
//! status, its stable `code` values and its headers, written into the OpenAPI document that
//! `/api/v1/openapi.json` serves.
//!
//! The handlers' `#[utoipa::path]` attributes describe what goes right (parameters, bodies,
//! the success answer, the security scheme). The problems follow from two things:
//! - the operation's shape, because the extractors answer them the same way everywhere: an
//!   operation that needs a login can answer 401, 429 and 503 (`extract::Caller`), one with a
//!   JSON body 400, 413, 415 and 422 (`extract::ApiJson`), one with a query string 400
//!   (`extract::ApiQuery`), and every operation 503 when the database does not answer;
//! - [`problems_of`], the answers of the services behind each operation (`error.rs` maps them).
//!
//! Each answer's schema is [`Problem`](super::error::Problem) with `code` narrowed to the
//! listed values, so a client (and the schemathesis run in the tests) can rely on them.
//! Invariant: every operation of the document has its entry in [`problems_of`] (a test checks
//! that none is forgotten).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::api::ApiDoc;

/// Codes any operation that needs a login can answer, by status: wrong credentials, a client
/// that failed too often (throttled), password hashing busy, or the directory or the database
/// down.
const LOGIN: &[(u16, &[&str])] = &[
    (401, &["unauthorized"]),
    (429, &["too-many-failed-logins", "account-protected"]),
    (503, &["busy", "directory-unavailable", "store-unavailable"]),
];

/// Codes any operation with a JSON body can answer (`extract::ApiJson`).
const JSON_BODY: &[(u16, &[&str])] = &[
    (400, &["malformed-json", "unreadable-body"]),
    (413, &["body-too-large"]),
    (415, &["unsupported-media-type"]),
    (422, &["unknown-field", "missing-field", "invalid-field"]),
];

/// Codes any operation with query parameters can answer (`extract::ApiQuery`).
const QUERY: &[(u16, &[&str])] = &[(400, &["invalid-query"])];

/// Codes every operation can answer: the database is down, or (SQLite) its write lock busy.
const ALWAYS: &[(u16, &[&str])] = &[(503, &["store-unavailable", "store-busy"])];

/// The codes the scheduling core refuses a booking with as `422` (`conflict` is a `409`,
/// `not-allowed` a `403`); see docs/policies.md.
const CORE_REFUSALS: &[&str] = &[
    "outside-opening-hours",
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
    "too-many-skipped",
    "invalid-recurrence",
    "no-occurrences",
];

/// The problems an operation's service can answer, beyond those its shape implies; `None`
/// for an operation this table does not know.
fn problems_of(operation_id: &str) -> Option<Vec<(u16, Vec<&'static str>)>> {
    let booking_422: Vec<&str> = [
        "invalid-time",
        "ambiguous-local-time",
        "invalid-purpose",
        "invalid-recurrence",
        "too-many-occurrences",
        "too-long",
        "room-retired",
        "idempotency-key-reused",
    ]
    .into_iter()
    .chain(CORE_REFUSALS.iter().copied())
    .collect();
    let problems = match operation_id {
        "list_rooms" => vec![],
        "room_availability" => vec![
            (404, vec!["unknown-room"]),
            (422, vec!["invalid-time", "invalid-window", "room-retired"]),
        ],
        "free_rooms" => vec![(422, vec!["invalid-time", "invalid-window"])],
        // Registration hashes a password, so it shares the login's limits: a client that
        // registers too often is throttled, and a full hashing queue answers `busy`.
        "register" => vec![
            (409, vec!["email-taken"]),
            (422, vec!["invalid-registration"]),
            (429, vec!["too-many-registrations"]),
            (503, vec!["busy"]),
        ],
        "create_booking" => vec![
            (400, vec!["invalid-idempotency-key"]),
            (403, vec!["not-allowed"]),
            (404, vec!["unknown-room"]),
            (409, vec!["conflict", "exists"]),
            (422, booking_422),
        ],
        "list_bookings" => vec![(422, vec!["mine-required"])],
        "get_booking" | "booking_history" => vec![(404, vec!["not-found"])],
        "cancel_booking" => vec![(404, vec!["not-found"]), (409, vec!["wrong-status"])],
        "approvals" | "list_feeds" => vec![(403, vec!["forbidden"])],
        "approve_booking" | "approve_date" => vec![
            (403, vec!["forbidden"]),
            (404, vec!["not-found"]),
            (409, vec!["wrong-status", "conflict"]),
            (
                422,
                ["reason-required", "no-dates", "too-many-dates"]
                    .into_iter()
                    .chain(CORE_REFUSALS.iter().copied())
                    .collect(),
            ),
        ],
        "reject_date" => vec![
            (403, vec!["forbidden"]),
            (404, vec!["not-found"]),
            (409, vec!["wrong-status"]),
            (422, vec!["reason-required"]),
        ],
        "cancel_date" => vec![
            (404, vec!["not-found"]),
            (409, vec!["wrong-status"]),
            (422, vec!["reason-required"]),
        ],
        "amend_booking" => vec![
            (404, vec!["not-found"]),
            (409, vec!["wrong-status"]),
            (
                422,
                vec![
                    "invalid-purpose",
                    "invalid-attendees",
                    "nothing-to-change",
                    "over-capacity",
                ],
            ),
        ],
        "move_date" => vec![
            (403, vec!["not-allowed"]),
            (404, vec!["not-found"]),
            (409, vec!["wrong-status", "conflict"]),
            (
                422,
                [
                    "invalid-time",
                    "ambiguous-local-time",
                    "room-retired",
                    "change-waiting",
                    "date-passed",
                    "change-overlaps",
                ]
                .into_iter()
                .chain(CORE_REFUSALS.iter().copied())
                .collect(),
            ),
        ],
        "reject_booking" => vec![
            (403, vec!["forbidden"]),
            (404, vec!["not-found"]),
            (409, vec!["wrong-status"]),
            (422, vec!["reason-required"]),
        ],
        "closure_bookings" => vec![(403, vec!["forbidden"]), (404, vec!["unknown-closure"])],
        "decide_closure_booking" => vec![
            (403, vec!["forbidden"]),
            (404, vec!["unknown-closure", "not-found"]),
            (409, vec!["already-decided", "wrong-status"]),
            (422, vec!["reason-required"]),
        ],
        "create_closure" | "preview_closure" => vec![
            (403, vec!["forbidden"]),
            (404, vec!["unknown-room", "unknown-building"]),
            (
                422,
                vec![
                    "invalid-closure",
                    "invalid-time",
                    "reason-required",
                    "room-retired",
                ],
            ),
        ],
        "create_feed" => vec![
            (403, vec!["forbidden"]),
            (404, vec!["unknown-room"]),
            (422, vec!["too-many-feeds"]),
        ],
        "revoke_feed" => vec![(403, vec!["forbidden"]), (404, vec!["not-found"])],
        _ => return None,
    };
    Some(problems)
}

// --- the string constraints the services enforce, as JSON Schema ---
//
// The services trim text with `str::trim` (Unicode White_Space) and refuse control characters
// (`char::is_control`); the patterns below name exactly those characters, rather than `\s`,
// whose meaning differs between regex dialects.

/// The characters `str::trim` removes (`char::is_whitespace`), for a character class.
const WHITE: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// `char::is_control` (Unicode Cc), for a character class.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// A string matching `pattern`. The services count a text's length once the white space
/// around it is dropped, which `maxLength` cannot say (it would count that white space too, and
/// refuse what the server takes), and a bounded repetition in the pattern makes schemathesis's
/// generation crawl; so the limit is in the description.
fn text(pattern: String, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .pattern(Some(pattern))
        .description(Some(description))
        .build()
}

/// Text that is not only white space (its limit is in `description`).
fn not_blank(description: &str) -> Object {
    let edge = format!("[^{WHITE}]");
    text(
        format!("^[{WHITE}]*{edge}([\\s\\S]*{edge})?[{WHITE}]*$"),
        description,
    )
}

/// A resident's email (`identity::register`): something before the first `@`, a dot after it,
/// no white space or control character inside; white space around it is dropped. (Its limit of
/// 254 bytes is in the description: a pattern cannot count bytes.)
pub fn email() -> Object {
    let inner = format!("{WHITE}{CONTROL}");
    text(
        format!("^[{WHITE}]*[^@{inner}]+@[^{inner}]*\\.[^{inner}]*[{WHITE}]*$"),
        "An address like `name@example.no`, at most 254 bytes; compared without regard to case.",
    )
}

/// A resident's name (`identity::register`): 1 to 200 characters once the white space around
/// it is dropped, and no control character.
pub fn person_name() -> Object {
    let edge = format!("[^{WHITE}{CONTROL}]");
    text(
        format!("^[{WHITE}]*{edge}([^{CONTROL}]*{edge})?[{WHITE}]*$"),
        "1 to 200 characters (white space around it is dropped), no control characters.",
    )
}

/// A booking's purpose (`limits::PURPOSE_CHARS`).
pub fn purpose() -> Object {
    not_blank("1 to 500 characters, not only white space; shown to clerks, never in public views.")
}

/// The reason a clerk gives for a rejection (`limits::DECISION_REASON_CHARS`).
pub fn decision_reason() -> Object {
    not_blank("Shown to the requester: 1 to 2000 characters, not only white space.")
}

/// The reason for a closure (`limits::CLOSURE_REASON_CHARS`).
pub fn closure_reason() -> Object {
    not_blank("1 to 500 characters, not only white space.")
}

/// Operations whose JSON body may be left out (`extract::OptionalApiJson`).
const OPTIONAL_BODIES: &[&str] = &[
    "cancel_booking",
    "approve_booking",
    "approve_date",
    "cancel_date",
];

/// What a status means, for the answer's description.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed: fix it before sending it again.",
        401 => "No login, or a wrong one (HTTP Basic; see `WWW-Authenticate`).",
        403 => "Logged in, but not allowed to do this.",
        404 => "No such resource, or not one the caller may see.",
        409 => "Conflicts with the current state (another booking, or a status that changed).",
        413 => "The body is larger than `server.max_body_bytes`.",
        415 => "The body is not `application/json`.",
        422 => {
            "Well-formed, but refused: `detail` says why, `reasons` lists the rules a booking broke."
        }
        429 => "Too many attempts: wait for `Retry-After` seconds.",
        503 => "Temporarily unavailable: try again after `Retry-After` seconds.",
        _ => "A problem.",
    }
}

/// The OpenAPI document, as served: built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
        add_problems(&mut doc);
        serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The operations of `doc` that [`problems_of`] does not know (should be none).
pub fn unknown_operations(doc: &Value) -> Vec<String> {
    operations(doc)
        .filter_map(|(_, op)| {
            let id = op["operationId"].as_str().unwrap_or("");
            problems_of(id).is_none().then(|| id.to_owned())
        })
        .collect()
}

fn operations(doc: &Value) -> impl Iterator<Item = (&String, &Value)> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|methods| methods.iter())
}

fn add_problems(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for methods in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in methods.values_mut() {
            let mut codes: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
            let mut add = |list: &[(u16, &[&'static str])]| {
                for (status, list) in list {
                    let entry = codes.entry(*status).or_default();
                    for code in *list {
                        if !entry.contains(code) {
                            entry.push(code);
                        }
                    }
                }
            };
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let has_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if secured {
                add(LOGIN);
            }
            if op.get("requestBody").is_some() {
                add(JSON_BODY);
            }
            if has_query {
                add(QUERY);
            }
            add(ALWAYS);
            let id = op["operationId"].as_str().unwrap_or("").to_owned();
            let id = id.as_str();
            // utoipa infers `required` from an `Option` body, which would also allow `null`;
            // these bodies may be left out, but are an object when sent.
            if OPTIONAL_BODIES.contains(&id)
                && let Some(body) = op.get_mut("requestBody")
            {
                body["required"] = json!(false);
            }
            for (status, list) in problems_of(id).unwrap_or_default() {
                add(&[(status, &list)]);
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, list) in codes {
                responses.insert(status.to_string(), problem_response(status, &list));
            }
        }
    }
}

/// One problem answer: `application/problem+json` whose `code` is one of `codes`, with the
/// headers that status carries.
fn problem_response(status: u16, codes: &[&str]) -> Value {
    let listed = codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = json!({
        "description": format!("{} Codes: {listed}.", meaning(status)),
        "content": {
            "application/problem+json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {
                            "type": "object",
                            "properties": {
                                "status": {"const": status},
                                "code": {"type": "string", "enum": codes},
                            },
                        },
                    ],
                },
            },
        },
    });
    let header = match status {
        401 => Some((
            "WWW-Authenticate",
            "The login scheme: `Basic realm=\"Lokal\", charset=\"UTF-8\"`.",
        )),
        429 | 503 => Some(("Retry-After", "Seconds to wait before trying again.")),
        _ => None,
    };
    if let Some((name, description)) = header {
        let schema = if name == "Retry-After" {
            json!({"type": "string", "pattern": "^[0-9]+$"})
        } else {
            json!({"type": "string"})
        };
        response["headers"] = json!({
            name: {"description": description, "required": true, "schema": schema},
        });
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_problems_listed() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        assert_eq!(unknown_operations(&doc), Vec::<String>::new());
        assert!(operations(&doc).count() >= 16);
    }

    #[test]
    fn an_operation_that_needs_a_login_documents_401_with_its_challenge_and_429_and_503() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        let op = &doc["paths"]["/api/v1/bookings/{id}/approve"]["post"];
        let unauthorized = &op["responses"]["401"];
        assert!(unauthorized["headers"]["WWW-Authenticate"]["required"] == true);
        let schema = &unauthorized["content"]["application/problem+json"]["schema"];
        assert_eq!(
            schema["allOf"][1]["properties"]["code"]["enum"],
            json!(["unauthorized"])
        );
        assert_eq!(
            op["responses"]["404"]["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]
                ["code"]["enum"],
            json!(["not-found"])
        );
        for status in ["429", "503"] {
            assert!(op["responses"][status]["headers"]["Retry-After"].is_object());
        }
        // The cancel body may be left out, but is not `null`.
        let cancel = &doc["paths"]["/api/v1/bookings/{id}/cancel"]["post"]["requestBody"];
        assert_eq!(cancel["required"], json!(false));
        assert_eq!(
            cancel["content"]["application/json"]["schema"]["$ref"],
            json!("#/components/schemas/CancelRequest")
        );
        // A public operation has neither.
        let rooms = &doc["paths"]["/api/v1/rooms"]["get"];
        assert!(rooms["responses"]["401"].is_null());
        assert!(rooms["security"].is_null());
        assert!(rooms["responses"]["400"].is_object());
    }
}
