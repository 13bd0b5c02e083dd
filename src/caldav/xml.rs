//! DAV XML (RFC 4918, 4791, 6578): request bodies in, multistatus out, with quick-xml.
//!
//! Request bodies (PROPFIND, REPORT) are read with quick-xml's [`NsReader`] into a small,
//! bounded element tree, then interpreted. Prefixes do not matter, only the namespaces they
//! stand for (`<A:propfind xmlns:A="DAV:">` and `<propfind xmlns="DAV:">` are the same).
//! Unknown elements are ignored, as RFC 4918 §17 asks, except inside a CalDAV filter, where
//! ignoring a test would widen the answer.
//!
//! Bad input is refused, never trusted:
//!
//! - the body must be UTF-8 (a UTF-8 BOM is fine). XML 1.0 §4.3.3 would have UTF-16 read
//!   too; no CalDAV client sends it, so it is refused as malformed, as is a declared
//!   non-UTF-8 encoding over non-ASCII bytes;
//! - a `<!DOCTYPE>` is refused outright ([`XmlError::Entity`]), so no entity can be declared
//!   and none is ever expanded ("billion laughs"); only the five predefined entities and
//!   character references are accepted, any other `&name;` is an error;
//! - nesting depth, element count, attribute count, text length, namespace bindings,
//!   properties and hrefs are capped (see the `MAX_*` constants), so memory stays
//!   proportional to the input and bounded even when the caller forgets to cap the body.
//!
//! Responses are written by hand into a `String`, with every text and attribute escaped by
//! `quick_xml::escape`; the output is stable (same input, same bytes) for snapshot tests.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::escape::{escape, partial_escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceError, ResolveResult};
use quick_xml::reader::NsReader;

/// The WebDAV namespace (RFC 4918 §21).
pub const NS_DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791 §1.2).
pub const NS_CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's CalendarServer namespace (`getctag`).
pub const NS_CALENDARSERVER: &str = "http://calendarserver.org/ns/";
/// Apple's iCal namespace (`calendar-color`, `calendar-order`).
pub const NS_APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Deepest element nesting accepted in a request body. The deepest legitimate body, a
/// calendar-query with a param-filter, is about 7 levels deep.
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in a request body (a multiget with [`MAX_HREFS`] hrefs fits).
pub const MAX_ELEMENTS: usize = 20_000;
/// Most attributes on one element (namespace declarations included).
pub const MAX_ATTRIBUTES: usize = 32;
/// Most namespace bindings in scope at once.
pub const MAX_NAMESPACE_BINDINGS: usize = 64;
/// Longest text of one element or attribute value, in bytes (an href, a sync token).
pub const MAX_TEXT: usize = 16 * 1024;
/// Most properties asked for in one `<D:prop>` (or `<D:include>`).
pub const MAX_PROPS: usize = 1_000;
/// Most hrefs in one calendar-multiget.
pub const MAX_HREFS: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// An element or property name: a namespace and a local name (RFC 4918 §4.3). Printed in
/// Clark notation, `{DAV:}getetag`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    pub ns: Cow<'static, str>,
    pub name: Cow<'static, str>,
}

impl PropName {
    pub fn new(ns: impl Into<Cow<'static, str>>, name: impl Into<Cow<'static, str>>) -> Self {
        PropName {
            ns: ns.into(),
            name: name.into(),
        }
    }

    /// A name in the `DAV:` namespace.
    pub const fn dav(name: &'static str) -> Self {
        PropName {
            ns: Cow::Borrowed(NS_DAV),
            name: Cow::Borrowed(name),
        }
    }

    /// A name in the CalDAV namespace.
    pub const fn caldav(name: &'static str) -> Self {
        PropName {
            ns: Cow::Borrowed(NS_CALDAV),
            name: Cow::Borrowed(name),
        }
    }

    /// A name in the CalendarServer namespace.
    pub const fn calendarserver(name: &'static str) -> Self {
        PropName {
            ns: Cow::Borrowed(NS_CALENDARSERVER),
            name: Cow::Borrowed(name),
        }
    }

    /// A name in Apple's iCal namespace.
    pub const fn apple_ical(name: &'static str) -> Self {
        PropName {
            ns: Cow::Borrowed(NS_APPLE_ICAL),
            name: Cow::Borrowed(name),
        }
    }

    /// True when this is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    // Properties: RFC 4918 §15.
    pub const RESOURCETYPE: PropName = PropName::dav("resourcetype");
    pub const DISPLAYNAME: PropName = PropName::dav("displayname");
    pub const GETETAG: PropName = PropName::dav("getetag");
    pub const GETCONTENTTYPE: PropName = PropName::dav("getcontenttype");
    pub const GETCONTENTLENGTH: PropName = PropName::dav("getcontentlength");
    pub const GETLASTMODIFIED: PropName = PropName::dav("getlastmodified");
    pub const CREATIONDATE: PropName = PropName::dav("creationdate");
    // RFC 5397 §3.
    pub const CURRENT_USER_PRINCIPAL: PropName = PropName::dav("current-user-principal");
    // RFC 3744 §4.2, §5.1, §5.4.
    pub const PRINCIPAL_URL: PropName = PropName::dav("principal-URL");
    pub const OWNER: PropName = PropName::dav("owner");
    pub const CURRENT_USER_PRIVILEGE_SET: PropName = PropName::dav("current-user-privilege-set");
    // RFC 3253 §3.1.5.
    pub const SUPPORTED_REPORT_SET: PropName = PropName::dav("supported-report-set");
    // RFC 6578 §4.
    pub const SYNC_TOKEN: PropName = PropName::dav("sync-token");
    // RFC 4791 §5.2, §6.2, §9.6.
    pub const CALENDAR_DESCRIPTION: PropName = PropName::caldav("calendar-description");
    pub const CALENDAR_TIMEZONE: PropName = PropName::caldav("calendar-timezone");
    pub const SUPPORTED_CALENDAR_COMPONENT_SET: PropName =
        PropName::caldav("supported-calendar-component-set");
    pub const SUPPORTED_CALENDAR_DATA: PropName = PropName::caldav("supported-calendar-data");
    pub const MAX_RESOURCE_SIZE: PropName = PropName::caldav("max-resource-size");
    pub const CALENDAR_HOME_SET: PropName = PropName::caldav("calendar-home-set");
    pub const CALENDAR_DATA: PropName = PropName::caldav("calendar-data");
    // RFC 6638 §2.4.1.
    pub const CALENDAR_USER_ADDRESS_SET: PropName = PropName::caldav("calendar-user-address-set");
    // CalendarServer and Apple extensions.
    pub const GETCTAG: PropName = PropName::calendarserver("getctag");
    pub const CALENDAR_COLOR: PropName = PropName::apple_ical("calendar-color");
    pub const CALENDAR_ORDER: PropName = PropName::apple_ical("calendar-order");

    // Resource types: RFC 4918 §14.3, RFC 3744 §4, RFC 4791 §4.2.
    pub const COLLECTION: PropName = PropName::dav("collection");
    pub const PRINCIPAL: PropName = PropName::dav("principal");
    pub const CALENDAR: PropName = PropName::caldav("calendar");

    // Privileges: RFC 3744 §3.
    pub const READ: PropName = PropName::dav("read");
    pub const WRITE: PropName = PropName::dav("write");
    pub const WRITE_CONTENT: PropName = PropName::dav("write-content");
    pub const WRITE_PROPERTIES: PropName = PropName::dav("write-properties");
    pub const BIND: PropName = PropName::dav("bind");
    pub const UNBIND: PropName = PropName::dav("unbind");
    pub const READ_CURRENT_USER_PRIVILEGE_SET: PropName =
        PropName::dav("read-current-user-privilege-set");
    pub const ALL: PropName = PropName::dav("all");
    // RFC 4791 §6.1.1.
    pub const READ_FREE_BUSY: PropName = PropName::caldav("read-free-busy");

    // Reports: RFC 4791 §7.8-7.10, RFC 6578 §3.2.
    pub const CALENDAR_QUERY: PropName = PropName::caldav("calendar-query");
    pub const CALENDAR_MULTIGET: PropName = PropName::caldav("calendar-multiget");
    pub const FREE_BUSY_QUERY: PropName = PropName::caldav("free-busy-query");
    pub const SYNC_COLLECTION: PropName = PropName::dav("sync-collection");

    // Preconditions for `<D:error>` bodies.
    /// RFC 3253 §3.6: the REPORT is not supported on this resource.
    pub const SUPPORTED_REPORT: PropName = PropName::dav("supported-report");
    /// RFC 6578 §3.2: the sync token is not (or no longer) valid.
    pub const VALID_SYNC_TOKEN: PropName = PropName::dav("valid-sync-token");
    /// RFC 3744 §7.1.1.
    pub const NEED_PRIVILEGES: PropName = PropName::dav("need-privileges");
    /// RFC 6578 §3.6, §3.7: results were truncated (a 507 response for the collection) or a
    /// client limit cannot be honoured.
    pub const NUMBER_OF_MATCHES_WITHIN_LIMITS: PropName =
        PropName::dav("number-of-matches-within-limits");
    /// RFC 4791 §7.8.
    pub const VALID_FILTER: PropName = PropName::caldav("valid-filter");
    pub const SUPPORTED_FILTER: PropName = PropName::caldav("supported-filter");
    pub const SUPPORTED_COLLATION: PropName = PropName::caldav("supported-collation");
    pub const VALID_CALENDAR_DATA: PropName = PropName::caldav("valid-calendar-data");
}

impl fmt::Display for PropName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.name)
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// What a PROPFIND (or a REPORT's `<D:prop>`) asks for (RFC 4918 §9.1, §14.20).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropRequest {
    /// `<D:allprop/>`, with the extra properties of `<D:include>` (RFC 4918 §14.8).
    AllProp { include: Vec<PropName> },
    /// `<D:propname/>`: names only, no values.
    PropName,
    /// `<D:prop>`: these properties, in the order asked, without duplicates.
    Prop(Vec<PropName>),
}

impl PropRequest {
    /// `<D:allprop/>` without `<D:include>`.
    pub fn all() -> Self {
        PropRequest::AllProp {
            include: Vec::new(),
        }
    }
}

/// A CalDAV time range (RFC 4791 §9.9): either end may be open, not both. When both are
/// given, `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Fails unless at least one end is given and, when both are, `start < end`.
    pub fn new(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Result<Self, XmlError> {
        match (start, end) {
            (None, None) => Err(XmlError::InvalidTimeRange(
                "a time-range needs a start, an end or both".into(),
            )),
            (Some(s), Some(e)) if e <= s => Err(XmlError::InvalidTimeRange(format!(
                "the end ({}) is not after the start ({})",
                format_utc(e),
                format_utc(s)
            ))),
            _ => Ok(TimeRange { start, end }),
        }
    }
}

/// Parses an iCalendar "date with UTC time", `20270104T000000Z` (RFC 5545 §3.3.5 form 2, as
/// RFC 4791 §9.9 requires). Nothing else is accepted: no local time, no offset, no date alone.
pub fn parse_utc(value: &str) -> Result<DateTime<Utc>, XmlError> {
    let bad = || {
        XmlError::InvalidTimeRange(format!(
            "{value:?} is not a UTC date-time like 20270104T000000Z"
        ))
    };
    let s = value.trim().as_bytes();
    let shape_ok = s.len() == 16
        && s[8] == b'T'
        && s[15] == b'Z'
        && s[..8].iter().all(u8::is_ascii_digit)
        && s[9..15].iter().all(u8::is_ascii_digit);
    if !shape_ok {
        return Err(bad());
    }
    let num = |from: usize, to: usize| {
        s[from..to]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(num(0, 4)).map_err(|_| bad())?;
    NaiveDate::from_ymd_opt(year, num(4, 6), num(6, 8))
        .and_then(|d| d.and_hms_opt(num(9, 11), num(11, 13), num(13, 15)))
        .map(|dt| dt.and_utc())
        .ok_or_else(bad)
}

/// Formats an instant as an iCalendar UTC date-time, `20270104T000000Z`.
pub fn format_utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The collation of a text-match (RFC 4791 §7.5; RFC 4790 §9.2, §9.3). These are the two a
/// CalDAV server must support; anything else is [`XmlError::UnsupportedCollation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Collation {
    /// `i;ascii-casemap`, the default: ASCII letters compare case-insensitively.
    #[default]
    AsciiCasemap,
    /// `i;octet`: bytes compare exactly.
    Octet,
}

/// `<C:text-match>` (RFC 4791 §9.7.5): a substring test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMatch {
    /// The text to look for, exactly as sent (not trimmed).
    pub text: String,
    pub collation: Collation,
    /// `negate-condition="yes"`: match when the text is *not* found.
    pub negate: bool,
}

/// `<C:param-filter>` (RFC 4791 §9.7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamFilter {
    /// The parameter name, upper-cased (iCalendar names are case-insensitive, RFC 5545 §2).
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

/// `<C:prop-filter>` (RFC 4791 §9.7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropFilter {
    /// The property name, upper-cased.
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub param_filters: Vec<ParamFilter>,
}

/// `<C:comp-filter>` (RFC 4791 §9.7.1). The top one is always `VCALENDAR`.
///
/// Prop-filters are parsed and kept whole; this module does not evaluate them. A server that
/// only evaluates component and time-range tests should refuse a filter for which
/// [`CompFilter::has_prop_filters`] is true with 403 and `CALDAV:supported-filter`
/// (RFC 4791 §7.8) rather than silently answer too much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompFilter {
    /// The component name, upper-cased: `VCALENDAR`, `VEVENT`, ...
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub prop_filters: Vec<PropFilter>,
    /// Nested component tests, e.g. `VEVENT` inside `VCALENDAR`.
    pub comps: Vec<CompFilter>,
}

impl CompFilter {
    /// True when this filter or a nested one holds a prop-filter.
    pub fn has_prop_filters(&self) -> bool {
        !self.prop_filters.is_empty() || self.comps.iter().any(CompFilter::has_prop_filters)
    }
}

/// How `<C:calendar-data>` in a REPORT's `<D:prop>` asks for the iCalendar data
/// (RFC 4791 §9.6). `None` when calendar-data was not asked for.
///
/// `<C:comp>` (a subset of components and properties) and `<C:limit-freebusy-set>` are
/// accepted and ignored: the full object is returned, which RFC 4791 §9.6.1 permits clients to
/// receive. `content-type` other than `text/calendar` or `version` other than `2.0` is
/// [`XmlError::UnsupportedCalendarData`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarData {
    None,
    Full,
    /// `<C:expand>` (RFC 4791 §9.6.5): recurrences expanded into instances within the range.
    Expand(TimeRange),
    /// `<C:limit-recurrence-set>` (RFC 4791 §9.6.6): the master and the overrides within it.
    LimitRecurrenceSet(TimeRange),
}

/// `<D:sync-level>` (RFC 6578 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncLevel {
    One,
    Infinite,
}

/// A REPORT request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// RFC 4791 §7.8. Without `<D:prop>`, `props` is allprop. `limit` is a `<D:limit>` with
    /// `<D:nresults>` (RFC 5323 §5.17), which some clients add.
    CalendarQuery {
        props: PropRequest,
        data: CalendarData,
        filter: CompFilter,
        limit: Option<u32>,
    },
    /// RFC 4791 §7.9. The hrefs as sent (percent-encoded, maybe absolute URIs), without
    /// duplicates; see [`decode_href`].
    Multiget {
        props: PropRequest,
        data: CalendarData,
        hrefs: Vec<String>,
    },
    /// RFC 6578 §3.2. `token` is `None` for an empty `<D:sync-token/>` (initial sync).
    /// A missing `<D:sync-level>` is taken as `1` (some clients leave it out).
    SyncCollection {
        token: Option<String>,
        level: SyncLevel,
        limit: Option<u32>,
        props: PropRequest,
        data: CalendarData,
    },
    /// RFC 4791 §7.10: start and end are both present.
    FreeBusyQuery { range: TimeRange },
}

/// Why a request body was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    #[error(
        "DOCTYPE declarations and entity references other than &lt; &gt; &amp; &apos; &quot; \
         and character references are refused"
    )]
    Entity,
    #[error("elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("too many {what} in the body (at most {max})")]
    TooMany { what: &'static str, max: usize },
    #[error("a text or attribute value is longer than {MAX_TEXT} bytes")]
    TooLong,
    #[error("the body is empty")]
    EmptyBody,
    #[error("expected a {expected} body, found {found}")]
    UnexpectedRoot {
        expected: &'static str,
        found: String,
    },
    #[error("the REPORT {{{ns}}}{name} is not supported")]
    UnsupportedReport { ns: String, name: String },
    #[error("invalid time-range: {0}")]
    InvalidTimeRange(String),
    #[error("the <{0}> element is missing")]
    MissingElement(&'static str),
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    #[error("the collation {0:?} is not supported (only i;ascii-casemap and i;octet are)")]
    UnsupportedCollation(String),
    #[error("unsupported calendar-data: {0}")]
    UnsupportedCalendarData(String),
    #[error("invalid value: {0}")]
    InvalidValue(String),
}

impl XmlError {
    /// The HTTP status to answer with: 403 when a precondition fails (see
    /// [`XmlError::precondition`]), otherwise 400 Bad Request.
    pub fn status(&self) -> u16 {
        if self.precondition().is_some() {
            403
        } else {
            400
        }
    }

    /// The precondition element for a 403 `<D:error>` body ([`error`]), if any.
    pub fn precondition(&self) -> Option<super::error::Precondition> {
        use super::error::Precondition;
        match self {
            // RFC 3253 §3.6.
            XmlError::UnsupportedReport { .. } => Some(Precondition::SupportedReport),
            // RFC 4791 §7.8 preconditions of calendar-query.
            XmlError::InvalidFilter(_) => Some(Precondition::ValidFilter),
            XmlError::UnsupportedCollation(_) => Some(Precondition::SupportedCollation),
            XmlError::UnsupportedCalendarData(_) => Some(Precondition::SupportedCalendarData),
            _ => None,
        }
    }

    /// The error with the client's text it quotes cut to [`MAX_QUOTED`] characters: a
    /// refusal names what was wrong, it does not echo a body back (a 60 KiB element name
    /// made a 60 KiB message before, found by fuzzing).
    fn clipped(self) -> Self {
        let c = |s: String| clip(&s);
        match self {
            XmlError::Malformed(m) => XmlError::Malformed(c(m)),
            XmlError::UnexpectedRoot { expected, found } => XmlError::UnexpectedRoot {
                expected,
                found: c(found),
            },
            XmlError::UnsupportedReport { ns, name } => XmlError::UnsupportedReport {
                ns: c(ns),
                name: c(name),
            },
            XmlError::InvalidTimeRange(m) => XmlError::InvalidTimeRange(c(m)),
            XmlError::InvalidFilter(m) => XmlError::InvalidFilter(c(m)),
            XmlError::UnsupportedCollation(m) => XmlError::UnsupportedCollation(c(m)),
            XmlError::UnsupportedCalendarData(m) => XmlError::UnsupportedCalendarData(c(m)),
            XmlError::InvalidValue(m) => XmlError::InvalidValue(c(m)),
            other => other,
        }
    }
}

/// The most characters of one message part that quotes the client's text.
const MAX_QUOTED: usize = 120;

/// `text` cut to [`MAX_QUOTED`] characters, with `…` where it was cut, and each control
/// character shown as `�` (a quoted NUL would otherwise be escaped to `\0`, six bytes for
/// some: found by fuzzing).
fn clip(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_QUOTED)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(MAX_QUOTED).is_some() {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The bounded element tree
// ---------------------------------------------------------------------------------------------

/// One element of a request body: its expanded name, its unqualified attributes (the only
/// ones DAV uses), its child elements and, for leaves, its text.
#[derive(Debug)]
struct Element {
    ns: String,
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    /// Character data seen before the first child element; later text (the whitespace
    /// between children) is dropped, as DAV bodies have no mixed content.
    text: String,
}

impl Element {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn clark(&self) -> String {
        format!("{{{}}}{}", self.ns, self.name)
    }

    fn prop_name(&self) -> PropName {
        PropName::new(self.ns.clone(), self.name.clone())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn children_named<'a>(&'a self, ns: &str, name: &str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    fn has_child(&self, ns: &str, name: &str) -> bool {
        self.children.iter().any(|c| c.is(ns, name))
    }

    /// The child `{ns}name`, if any; more than one is an error.
    fn single(&self, ns: &str, name: &'static str) -> Result<Option<&Element>, XmlError> {
        let mut found = self.children_named(ns, name);
        let first = found.next();
        if found.next().is_some() {
            return Err(XmlError::Malformed(format!(
                "<{name}> appears more than once in <{}>",
                self.name
            )));
        }
        Ok(first)
    }

    fn text(&self) -> &str {
        self.text.trim()
    }
}

/// Parses a body into its root element, or `None` when it holds no element at all (empty,
/// whitespace, comments).
fn parse_document(body: &[u8]) -> Result<Option<Element>, XmlError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| XmlError::Malformed(format!("the body is not UTF-8: {e}")))?;
    let mut reader = NsReader::from_str(text);
    {
        let config = reader.config_mut();
        config.enable_all_checks(true);
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
    }
    reader
        .resolver_mut()
        .set_max_namespace_bindings(MAX_NAMESPACE_BINDINGS);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(from_quick_xml)?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() && stack.is_empty() => {
                return Err(XmlError::Malformed(format!(
                    "a second root element <{}> after the first",
                    start.name().as_ref()
                )));
            }
            Event::Start(start) => {
                let element = open_element(&reader, &start, &stack, &mut elements)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open_element(&reader, &start, &stack, &mut elements)?;
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                // quick-xml has checked that the end tag matches the start tag.
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("an end tag without a start".into()))?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut stack, &c.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => Cow::Owned(c.to_string()),
                        Ok(_) => {
                            return Err(XmlError::Malformed(format!(
                                "&{}; is not a character allowed in XML",
                                r.as_ref()
                            )));
                        }
                        Err(e) => return Err(XmlError::Malformed(e.to_string())),
                    }
                } else {
                    // Only the five predefined entities exist without a DTD, and DTDs are
                    // refused: anything else (`&lol9;`) is an undefined entity.
                    match resolve_predefined_entity(&r) {
                        Some(s) => Cow::Borrowed(s),
                        None => return Err(XmlError::Entity),
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::Entity),
            Event::Decl(decl) => {
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(|e| XmlError::Malformed(e.to_string()))?;
                    let utf8 = encoding.eq_ignore_ascii_case("utf-8")
                        || encoding.eq_ignore_ascii_case("utf8")
                        || encoding.eq_ignore_ascii_case("us-ascii");
                    if !utf8 && !body.is_ascii() {
                        return Err(XmlError::Malformed(format!(
                            "the body declares the encoding {encoding:?}; only UTF-8 is accepted"
                        )));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(XmlError::Malformed(format!(
                        "the element <{}> is not closed",
                        open.name
                    )));
                }
                return Ok(root);
            }
        }
    }
}

/// Builds an element from a start tag, enforcing the limits.
fn open_element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    stack: &[Element],
    elements: &mut usize,
) -> Result<Element, XmlError> {
    if stack.len() >= MAX_DEPTH {
        return Err(XmlError::TooDeep);
    }
    *elements += 1;
    if *elements > MAX_ELEMENTS {
        return Err(XmlError::TooMany {
            what: "elements",
            max: MAX_ELEMENTS,
        });
    }
    let (resolved, local) = reader.resolver().resolve_element(start.name());
    let ns = match resolved {
        ResolveResult::Bound(ns) => ns.into_inner().to_owned(),
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(prefix) => {
            return Err(XmlError::Malformed(format!(
                "the namespace prefix {prefix:?} is not declared"
            )));
        }
    };
    let name = local.as_ref();
    if !is_ncname(name) {
        return Err(XmlError::Malformed(format!(
            "{:?} is not a valid element name",
            start.name().as_ref()
        )));
    }
    if ns.len() > MAX_TEXT {
        return Err(XmlError::TooLong);
    }
    let mut attrs = Vec::new();
    for (count, attr) in start.attributes().enumerate() {
        if count >= MAX_ATTRIBUTES {
            return Err(XmlError::TooMany {
                what: "attributes on one element",
                max: MAX_ATTRIBUTES,
            });
        }
        let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
        if attr.value.len() > MAX_TEXT {
            return Err(XmlError::TooLong);
        }
        if attr.key.as_namespace_binding().is_some() {
            continue; // xmlns and xmlns:p, already handled by the resolver
        }
        // Normalizing also refuses undefined entities such as `&lol9;` (XML 1.0 §3.3.3).
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(from_quick_xml)?;
        if attr.key.prefix().is_none() {
            attrs.push((attr.key.as_ref().to_owned(), value.into_owned()));
        }
    }
    Ok(Element {
        ns,
        name: name.to_owned(),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Adds a finished element to its parent, or makes it the root.
fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => {
            if parent.children.is_empty() {
                parent.text.clear();
            }
            parent.children.push(element);
        }
        None => *root = Some(element),
    }
}

/// Adds character data to the open element; outside the root only whitespace is allowed.
fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        None if text.chars().all(is_xml_space) => Ok(()),
        None => Err(XmlError::Malformed(
            "text outside the root element".to_owned(),
        )),
        Some(parent) if !parent.children.is_empty() => Ok(()),
        Some(parent) => {
            if parent.text.len() + text.len() > MAX_TEXT {
                return Err(XmlError::TooLong);
            }
            parent.text.push_str(text);
            Ok(())
        }
    }
}

fn from_quick_xml(error: quick_xml::Error) -> XmlError {
    use quick_xml::escape::EscapeError;
    match error {
        quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(..)) => XmlError::Entity,
        quick_xml::Error::Namespace(NamespaceError::TooManyBindings(max)) => XmlError::TooMany {
            what: "namespace declarations",
            max,
        },
        quick_xml::Error::Namespace(NamespaceError::TooDeeplyNested(_)) => XmlError::TooDeep,
        other => XmlError::Malformed(other.to_string()),
    }
}

/// XML 1.0 §2.3 `S`.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// XML 1.0 §2.2 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A local name (Namespaces in XML §3 `NCName`), slightly simplified: ASCII name characters
/// and any non-ASCII letter-like character. Enough to make sure a name read from a request
/// can be written back into a response without breaking it.
fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && is_name_char(c));
    start(first)
        && chars.all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '.' | '_')
                || (!c.is_ascii() && is_name_char(c))
        })
}

/// Non-ASCII characters allowed in XML names (XML 1.0 5th ed. §2.3 `NameChar`).
fn is_name_char(c: char) -> bool {
    matches!(c,
        '\u{B7}' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{203F}'..='\u{2040}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

// ---------------------------------------------------------------------------------------------
// PROPFIND
// ---------------------------------------------------------------------------------------------

/// Parses a PROPFIND body (RFC 4918 §9.1, §14.20). An empty body, or a `<D:propfind/>`
/// without allprop, propname or prop, is allprop.
pub fn parse_propfind(body: &[u8]) -> Result<PropRequest, XmlError> {
    propfind_of(body).map_err(XmlError::clipped)
}

fn propfind_of(body: &[u8]) -> Result<PropRequest, XmlError> {
    // RFC 4918 §9.1: "A client may choose not to submit a request body. An empty PROPFIND
    // request body MUST be treated as if it were an 'allprop' request."
    let Some(root) = parse_document(body)? else {
        return Ok(PropRequest::all());
    };
    if !root.is(NS_DAV, "propfind") {
        return Err(XmlError::UnexpectedRoot {
            expected: "{DAV:}propfind",
            found: root.clark(),
        });
    }
    Ok(parse_prop_request(&root)?.unwrap_or_else(PropRequest::all))
}

/// Reads `propname | (allprop, include?) | prop` among `parent`'s children.
fn parse_prop_request(parent: &Element) -> Result<Option<PropRequest>, XmlError> {
    let mut found = None;
    for child in parent.children.iter().filter(|c| c.ns == NS_DAV) {
        let request = match child.name.as_str() {
            "allprop" => {
                let include = match parent.single(NS_DAV, "include")? {
                    Some(include) => parse_prop_list(include)?,
                    None => Vec::new(),
                };
                PropRequest::AllProp { include }
            }
            "propname" => PropRequest::PropName,
            "prop" => PropRequest::Prop(parse_prop_list(child)?),
            _ => continue,
        };
        if found.is_some() {
            return Err(XmlError::Malformed(format!(
                "<{}> asks for only one of allprop, propname and prop",
                parent.name
            )));
        }
        found = Some(request);
    }
    Ok(found)
}

/// The property names in `<D:prop>` or `<D:include>`, without duplicates.
fn parse_prop_list(prop: &Element) -> Result<Vec<PropName>, XmlError> {
    if prop.children.len() > MAX_PROPS {
        return Err(XmlError::TooMany {
            what: "properties",
            max: MAX_PROPS,
        });
    }
    let mut seen = HashSet::new();
    Ok(prop
        .children
        .iter()
        .map(Element::prop_name)
        .filter(|name| seen.insert(name.clone()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// REPORT
// ---------------------------------------------------------------------------------------------

/// Parses a REPORT body: calendar-query, calendar-multiget, sync-collection or
/// free-busy-query. Any other root is [`XmlError::UnsupportedReport`], which the server
/// answers with 403 and `<D:supported-report/>` (RFC 3253 §3.6).
pub fn parse_report(body: &[u8]) -> Result<Report, XmlError> {
    report_of(body).map_err(XmlError::clipped)
}

fn report_of(body: &[u8]) -> Result<Report, XmlError> {
    let root = parse_document(body)?.ok_or(XmlError::EmptyBody)?;
    match (root.ns.as_str(), root.name.as_str()) {
        (NS_CALDAV, "calendar-query") => parse_calendar_query(&root),
        (NS_CALDAV, "calendar-multiget") => parse_multiget(&root),
        (NS_DAV, "sync-collection") => parse_sync_collection(&root),
        (NS_CALDAV, "free-busy-query") => parse_free_busy_query(&root),
        _ => Err(XmlError::UnsupportedReport {
            ns: root.ns,
            name: root.name,
        }),
    }
}

/// The props and calendar-data asked for by a REPORT; allprop when there is no `<D:prop>`.
fn parse_report_props(root: &Element) -> Result<(PropRequest, CalendarData), XmlError> {
    let props = parse_prop_request(root)?.unwrap_or_else(PropRequest::all);
    let data = match (&props, root.single(NS_DAV, "prop")?) {
        (PropRequest::Prop(_), Some(prop)) => parse_calendar_data(prop)?,
        _ => CalendarData::None,
    };
    Ok((props, data))
}

/// `<C:calendar-data>` inside `<D:prop>` (RFC 4791 §9.6).
fn parse_calendar_data(prop: &Element) -> Result<CalendarData, XmlError> {
    let Some(data) = prop.children_named(NS_CALDAV, "calendar-data").next() else {
        return Ok(CalendarData::None);
    };
    // RFC 4791 §9.6: content-type defaults to text/calendar and version to 2.0.
    if let Some(content_type) = data.attr("content-type") {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("text/calendar") {
            return Err(XmlError::UnsupportedCalendarData(format!(
                "content-type {content_type:?} (only text/calendar is served)"
            )));
        }
    }
    if let Some(version) = data.attr("version")
        && version.trim() != "2.0"
    {
        return Err(XmlError::UnsupportedCalendarData(format!(
            "version {version:?} (only 2.0 is served)"
        )));
    }
    let expand = data.single(NS_CALDAV, "expand")?;
    let limit = data.single(NS_CALDAV, "limit-recurrence-set")?;
    match (expand, limit) {
        (None, None) => Ok(CalendarData::Full),
        // RFC 4791 §9.6.5 and §9.6.6: both need start and end.
        (Some(e), None) => Ok(CalendarData::Expand(parse_time_range(e, true)?)),
        (None, Some(l)) => Ok(CalendarData::LimitRecurrenceSet(parse_time_range(l, true)?)),
        (Some(_), Some(_)) => Err(XmlError::InvalidValue(
            "calendar-data holds both expand and limit-recurrence-set".into(),
        )),
    }
}

/// `<C:time-range start=".." end=".."/>` (RFC 4791 §9.9); `both` when start and end are
/// required (expand, limit-recurrence-set, free-busy-query).
fn parse_time_range(element: &Element, both: bool) -> Result<TimeRange, XmlError> {
    let start = element.attr("start").map(parse_utc).transpose()?;
    let end = element.attr("end").map(parse_utc).transpose()?;
    if both && (start.is_none() || end.is_none()) {
        return Err(XmlError::InvalidTimeRange(format!(
            "<{}> needs both a start and an end",
            element.name
        )));
    }
    TimeRange::new(start, end)
}

/// `<D:limit><D:nresults>n</D:nresults></D:limit>` (RFC 5323 §5.17, RFC 6578 §3.7).
fn parse_limit(root: &Element) -> Result<Option<u32>, XmlError> {
    let Some(limit) = root.single(NS_DAV, "limit")? else {
        return Ok(None);
    };
    let nresults = limit
        .single(NS_DAV, "nresults")?
        .ok_or(XmlError::MissingElement("nresults"))?;
    match nresults.text().parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(XmlError::InvalidValue(format!(
            "nresults {:?} is not a positive integer",
            nresults.text()
        ))),
    }
}

/// RFC 4791 §7.8, §9.5.
fn parse_calendar_query(root: &Element) -> Result<Report, XmlError> {
    let (props, data) = parse_report_props(root)?;
    let filter = root
        .single(NS_CALDAV, "filter")?
        .ok_or(XmlError::MissingElement("filter"))?;
    // `<C:timezone>` only matters for floating times; room bookings have none, so it is
    // ignored.
    Ok(Report::CalendarQuery {
        props,
        data,
        filter: parse_filter(filter)?,
        limit: parse_limit(root)?,
    })
}

/// `<C:filter>` holds exactly one comp-filter, for VCALENDAR (RFC 4791 §9.7).
fn parse_filter(filter: &Element) -> Result<CompFilter, XmlError> {
    let mut comps = filter.children_named(NS_CALDAV, "comp-filter");
    let (Some(top), None) = (comps.next(), comps.next()) else {
        return Err(XmlError::InvalidFilter(
            "a filter holds exactly one comp-filter".into(),
        ));
    };
    let top = parse_comp_filter(top)?;
    if top.name != "VCALENDAR" {
        return Err(XmlError::InvalidFilter(format!(
            "the top comp-filter must be VCALENDAR, not {}",
            top.name
        )));
    }
    Ok(top)
}

/// The `name` attribute of a filter element, upper-cased; it must be an iCalendar name
/// (RFC 5545 §3.1: letters, digits and dashes).
fn filter_name(element: &Element) -> Result<String, XmlError> {
    let name = element.attr("name").map(str::trim).unwrap_or_default();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(XmlError::InvalidFilter(format!(
            "<{}> needs a name attribute holding an iCalendar name, not {name:?}",
            element.name
        )));
    }
    Ok(name.to_ascii_uppercase())
}

/// Refuses CalDAV children of a filter element other than `allowed`; ignoring a test would
/// answer more than was asked.
fn check_filter_children(element: &Element, allowed: &[&str]) -> Result<(), XmlError> {
    match element
        .children
        .iter()
        .find(|c| c.ns == NS_CALDAV && !allowed.contains(&c.name.as_str()))
    {
        Some(child) => Err(XmlError::InvalidFilter(format!(
            "<{}> is not allowed in <{}>",
            child.name, element.name
        ))),
        None => Ok(()),
    }
}

/// RFC 4791 §9.7.1: `(is-not-defined | (time-range?, prop-filter*, comp-filter*))`.
fn parse_comp_filter(element: &Element) -> Result<CompFilter, XmlError> {
    check_filter_children(
        element,
        &["is-not-defined", "time-range", "prop-filter", "comp-filter"],
    )?;
    let filter = CompFilter {
        name: filter_name(element)?,
        is_not_defined: element.has_child(NS_CALDAV, "is-not-defined"),
        time_range: element
            .single(NS_CALDAV, "time-range")?
            .map(|t| parse_time_range(t, false))
            .transpose()?,
        prop_filters: element
            .children_named(NS_CALDAV, "prop-filter")
            .map(parse_prop_filter)
            .collect::<Result<_, _>>()?,
        comps: element
            .children_named(NS_CALDAV, "comp-filter")
            .map(parse_comp_filter)
            .collect::<Result<_, _>>()?,
    };
    if filter.is_not_defined
        && (filter.time_range.is_some()
            || !filter.prop_filters.is_empty()
            || !filter.comps.is_empty())
    {
        return Err(XmlError::InvalidFilter(format!(
            "comp-filter {} has is-not-defined with other tests",
            filter.name
        )));
    }
    Ok(filter)
}

/// RFC 4791 §9.7.2: `(is-not-defined | ((time-range | text-match)?, param-filter*))`.
fn parse_prop_filter(element: &Element) -> Result<PropFilter, XmlError> {
    check_filter_children(
        element,
        &["is-not-defined", "time-range", "text-match", "param-filter"],
    )?;
    let filter = PropFilter {
        name: filter_name(element)?,
        is_not_defined: element.has_child(NS_CALDAV, "is-not-defined"),
        time_range: element
            .single(NS_CALDAV, "time-range")?
            .map(|t| parse_time_range(t, false))
            .transpose()?,
        text_match: element
            .single(NS_CALDAV, "text-match")?
            .map(parse_text_match)
            .transpose()?,
        param_filters: element
            .children_named(NS_CALDAV, "param-filter")
            .map(parse_param_filter)
            .collect::<Result<_, _>>()?,
    };
    if filter.time_range.is_some() && filter.text_match.is_some() {
        return Err(XmlError::InvalidFilter(format!(
            "prop-filter {} has both time-range and text-match",
            filter.name
        )));
    }
    if filter.is_not_defined
        && (filter.time_range.is_some()
            || filter.text_match.is_some()
            || !filter.param_filters.is_empty())
    {
        return Err(XmlError::InvalidFilter(format!(
            "prop-filter {} has is-not-defined with other tests",
            filter.name
        )));
    }
    Ok(filter)
}

/// RFC 4791 §9.7.3: `(is-not-defined | text-match?)`.
fn parse_param_filter(element: &Element) -> Result<ParamFilter, XmlError> {
    check_filter_children(element, &["is-not-defined", "text-match"])?;
    let filter = ParamFilter {
        name: filter_name(element)?,
        is_not_defined: element.has_child(NS_CALDAV, "is-not-defined"),
        text_match: element
            .single(NS_CALDAV, "text-match")?
            .map(parse_text_match)
            .transpose()?,
    };
    if filter.is_not_defined && filter.text_match.is_some() {
        return Err(XmlError::InvalidFilter(format!(
            "param-filter {} has is-not-defined with text-match",
            filter.name
        )));
    }
    Ok(filter)
}

/// RFC 4791 §9.7.5: `collation` defaults to `i;ascii-casemap`, `negate-condition` to `no`.
fn parse_text_match(element: &Element) -> Result<TextMatch, XmlError> {
    let collation = match element.attr("collation").map(str::trim) {
        None | Some("i;ascii-casemap") => Collation::AsciiCasemap,
        Some("i;octet") => Collation::Octet,
        Some(other) => return Err(XmlError::UnsupportedCollation(other.to_owned())),
    };
    let negate = match element.attr("negate-condition").map(str::trim) {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => {
            return Err(XmlError::InvalidFilter(format!(
                "negate-condition must be yes or no, not {other:?}"
            )));
        }
    };
    Ok(TextMatch {
        text: element.text.clone(),
        collation,
        negate,
    })
}

/// RFC 4791 §7.9, §9.10.
fn parse_multiget(root: &Element) -> Result<Report, XmlError> {
    let (props, data) = parse_report_props(root)?;
    let mut seen = HashSet::new();
    let mut hrefs = Vec::new();
    for href in root.children_named(NS_DAV, "href") {
        let text = href.text();
        if text.is_empty() {
            return Err(XmlError::InvalidValue("an empty <href>".into()));
        }
        if seen.insert(text) {
            if hrefs.len() >= MAX_HREFS {
                return Err(XmlError::TooMany {
                    what: "hrefs",
                    max: MAX_HREFS,
                });
            }
            hrefs.push(text.to_owned());
        }
    }
    if hrefs.is_empty() {
        return Err(XmlError::MissingElement("href"));
    }
    Ok(Report::Multiget { props, data, hrefs })
}

/// RFC 6578 §3.2, §6.1: `(sync-token, sync-level, limit?, prop)`.
fn parse_sync_collection(root: &Element) -> Result<Report, XmlError> {
    let token = root
        .single(NS_DAV, "sync-token")?
        .ok_or(XmlError::MissingElement("sync-token"))?
        .text();
    let level = match root.single(NS_DAV, "sync-level")? {
        None => SyncLevel::One,
        Some(level) => match level.text() {
            "1" => SyncLevel::One,
            l if l.eq_ignore_ascii_case("infinite") => SyncLevel::Infinite,
            other => {
                return Err(XmlError::InvalidValue(format!(
                    "sync-level must be 1 or infinite, not {other:?}"
                )));
            }
        },
    };
    let (props, data) = parse_report_props(root)?;
    Ok(Report::SyncCollection {
        token: (!token.is_empty()).then(|| token.to_owned()),
        level,
        limit: parse_limit(root)?,
        props,
        data,
    })
}

/// RFC 4791 §7.10, §9.11: one time-range with start and end.
fn parse_free_busy_query(root: &Element) -> Result<Report, XmlError> {
    let range = root
        .single(NS_CALDAV, "time-range")?
        .ok_or(XmlError::MissingElement("time-range"))?;
    Ok(Report::FreeBusyQuery {
        range: parse_time_range(range, true)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Hrefs
// ---------------------------------------------------------------------------------------------

/// Percent-encodes a path for `<D:href>` (RFC 4918 §8.3, RFC 3986 §3.3): every byte but the
/// path characters (unreserved, sub-delims, `:`, `@`) and `/` is encoded, `%` included, so
/// the path must be given decoded.
pub fn encode_href(path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
    out
}

/// The decoded path of an href from a request (RFC 4918 §8.3: an absolute path or an
/// absolute `http(s)` URI; query and fragment are dropped). `None` for a relative reference,
/// another scheme, a bad `%` escape, a path that is not UTF-8 or one holding NUL. Dot
/// segments (`/../`) are not resolved: the caller looks the path up as it is.
pub fn decode_href(href: &str) -> Option<String> {
    let href = href.trim();
    let has_scheme = |scheme: &str| {
        href.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    };
    let path = if has_scheme("http://") || has_scheme("https://") {
        let after = href.find("//").map(|i| &href[i + 2..])?;
        after.find('/').map_or("/", |i| &after[i..])
    } else if href.starts_with('/') {
        href
    } else {
        return None;
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| char::from(b).to_digit(16);
            let hi = bytes.get(i + 1).copied().and_then(hex)?;
            let lo = bytes.get(i + 2).copied().and_then(hex)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A property value in a multistatus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropValue {
    /// `<x/>`: no value, for 404 propstats and propname answers.
    Empty,
    /// Escaped text: displayname, getetag, getctag, sync-token, calendar-color...
    Text(String),
    /// `<x><d:href>..</d:href></x>`: the path, decoded (it is percent-encoded on output).
    Href(String),
    /// Several hrefs (calendar-home-set, calendar-user-address-set).
    Hrefs(Vec<String>),
    /// `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>`.
    ResourceType(Vec<PropName>),
    /// `<cal:comp name="VEVENT"/>`... (RFC 4791 §5.2.3).
    SupportedComponents(Vec<String>),
    /// `<d:privilege><d:read/></d:privilege>`... (RFC 3744 §5.4).
    Privileges(Vec<PropName>),
    /// `<d:supported-report><d:report><cal:calendar-query/></d:report></d:supported-report>`...
    /// (RFC 3253 §3.1.5).
    SupportedReports(Vec<PropName>),
    /// calendar-data (RFC 4791 §9.6): the iCalendar text, escaped; its CRs are kept as
    /// `&#13;` so the CRLF line ends survive XML's line-end normalization.
    CData(String),
}

/// One `<d:propstat>`: a status and its properties (RFC 4918 §14.22).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropStat {
    pub status: u16,
    pub props: Vec<(PropName, PropValue)>,
}

/// One `<d:response>` (RFC 4918 §14.24).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The path, decoded (it is percent-encoded on output).
    pub href: String,
    pub body: ResponseBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// Properties grouped by status. Empty propstats are left out; when none is left, an
    /// empty `200 OK` propstat keeps the response valid (`propstat+`).
    PropStats(Vec<PropStat>),
    /// A bare status, e.g. 404 for a member removed since the sync token (RFC 6578 §3.5.2).
    Status(u16),
}

/// Writes a `207 Multi-Status` body (RFC 4918 §13, §14.16), with the sync token after the
/// responses when given (RFC 6578 §6.4 adds `sync-token?` at the end of `multistatus`).
pub fn multistatus(responses: &[Response], sync_token: Option<&str>) -> String {
    let mut out = Out::new(&PropName::dav("multistatus"));
    for response in responses {
        out.open(&PropName::dav("response"));
        out.text(&D_HREF, &encode_href(&response.href));
        match &response.body {
            ResponseBody::Status(code) => out.text(&D_STATUS, &status_line(*code)),
            ResponseBody::PropStats(propstats) => {
                let mut written = false;
                for propstat in propstats.iter().filter(|p| !p.props.is_empty()) {
                    write_propstat(&mut out, propstat.status, &propstat.props);
                    written = true;
                }
                if !written {
                    write_propstat(&mut out, 200, &[]);
                }
            }
        }
        out.close();
    }
    if let Some(token) = sync_token {
        out.text(&PropName::SYNC_TOKEN, token);
    }
    out.finish()
}

/// Writes a `<d:error>` body (RFC 4918 §16) holding one precondition element, e.g.
/// `<d:valid-sync-token/>` or `<d:supported-report/>`, and an optional human-readable
/// `<d:responsedescription>` (`error` is `ANY`, RFC 4918 §14.5).
pub fn error(precondition: &PropName, description: Option<&str>) -> String {
    let mut out = Out::new(&PropName::dav("error"));
    out.empty(precondition, &[]);
    if let Some(description) = description {
        out.text(&PropName::dav("responsedescription"), description);
    }
    out.finish()
}

/// One recipient's answer in a `CALDAV:schedule-response` (RFC 6638 §10.2–§10.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleItem {
    /// The recipient's calendar-user address, as the request named it.
    pub recipient: String,
    /// An iTIP REQUEST-STATUS (RFC 5546 §3.6), e.g. `2.0;Success`; a failure says why in its
    /// third part (`3.7;Invalid calendar user;<why>`).
    pub request_status: String,
    /// The iCalendar reply (a VFREEBUSY with `METHOD:REPLY`), when there is one.
    pub calendar_data: Option<String>,
}

/// Writes a `CALDAV:schedule-response` body (RFC 6638 §10.2): one `response` per recipient
/// with `recipient/href`, `request-status`, and `calendar-data` where there is one. No
/// `DAV:responsedescription` (which §10.3 allows): python caldav 3.6 refuses a response with
/// any other child, so the reason travels in the request-status's third part.
pub fn schedule_response(items: &[ScheduleItem]) -> String {
    let mut out = Out::new(&PropName::caldav("schedule-response"));
    for item in items {
        out.open(&PropName::caldav("response"));
        out.open(&PropName::caldav("recipient"));
        out.text(&D_HREF, &encode_href(&item.recipient));
        out.close();
        out.text(&PropName::caldav("request-status"), &item.request_status);
        if let Some(data) = &item.calendar_data {
            out.text(&PropName::CALENDAR_DATA, data);
        }
        out.close();
    }
    out.finish()
}

/// Writes the `<d:need-privileges>` error of RFC 3744 §7.1.1: `href` (decoded) lacks
/// `privilege`.
pub fn need_privileges(href: &str, privilege: &PropName) -> String {
    let mut out = Out::new(&PropName::dav("error"));
    out.open(&PropName::NEED_PRIVILEGES);
    out.open(&PropName::dav("resource"));
    out.text(&D_HREF, &encode_href(href));
    out.open(&D_PRIVILEGE);
    out.empty(privilege, &[]);
    out.close();
    out.close();
    out.close();
    out.finish()
}

const D_HREF: PropName = PropName::dav("href");
const D_STATUS: PropName = PropName::dav("status");
const D_PRIVILEGE: PropName = PropName::dav("privilege");

fn write_propstat(out: &mut Out, status: u16, props: &[(PropName, PropValue)]) {
    out.open(&PropName::dav("propstat"));
    if props.is_empty() {
        out.empty(&PropName::dav("prop"), &[]);
    } else {
        out.open(&PropName::dav("prop"));
        for (name, value) in props {
            write_prop(out, name, value);
        }
        out.close();
    }
    out.text(&D_STATUS, &status_line(status));
    out.close();
}

fn write_prop(out: &mut Out, name: &PropName, value: &PropValue) {
    match value {
        PropValue::Empty => out.empty(name, &[]),
        PropValue::Text(text) | PropValue::CData(text) => out.text(name, text),
        PropValue::Href(href) => {
            out.open(name);
            out.text(&D_HREF, &encode_href(href));
            out.close();
        }
        PropValue::Hrefs(hrefs) if hrefs.is_empty() => out.empty(name, &[]),
        PropValue::Hrefs(hrefs) => {
            out.open(name);
            for href in hrefs {
                out.text(&D_HREF, &encode_href(href));
            }
            out.close();
        }
        PropValue::ResourceType(types) if types.is_empty() => out.empty(name, &[]),
        PropValue::ResourceType(types) => {
            out.open(name);
            for t in types {
                out.empty(t, &[]);
            }
            out.close();
        }
        PropValue::SupportedComponents(comps) if comps.is_empty() => out.empty(name, &[]),
        PropValue::SupportedComponents(comps) => {
            out.open(name);
            for comp in comps {
                out.empty(&PropName::caldav("comp"), &[("name", comp)]);
            }
            out.close();
        }
        PropValue::Privileges(privileges) if privileges.is_empty() => out.empty(name, &[]),
        PropValue::Privileges(privileges) => {
            out.open(name);
            for privilege in privileges {
                out.open(&D_PRIVILEGE);
                out.empty(privilege, &[]);
                out.close();
            }
            out.close();
        }
        PropValue::SupportedReports(reports) if reports.is_empty() => out.empty(name, &[]),
        PropValue::SupportedReports(reports) => {
            out.open(name);
            for report in reports {
                out.open(&PropName::dav("supported-report"));
                out.open(&PropName::dav("report"));
                out.empty(report, &[]);
                out.close();
                out.close();
            }
            out.close();
        }
    }
}

/// `HTTP/1.1 200 OK` (RFC 4918 §14.28).
fn status_line(code: u16) -> String {
    let reason = axum::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    format!("HTTP/1.1 {code} {reason}")
}

/// The prefixes declared on every root element.
const PREFIXES: [(&str, &str); 4] = [
    ("d", NS_DAV),
    ("cal", NS_CALDAV),
    ("cs", NS_CALENDARSERVER),
    ("ical", NS_APPLE_ICAL),
];

/// A tiny indenting writer: elements on their own lines, text inline, everything escaped.
struct Out {
    buf: String,
    open: Vec<String>,
}

impl Out {
    /// Starts a document with its root element, declaring the four known prefixes.
    fn new(root: &PropName) -> Self {
        let mut out = Out {
            buf: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"),
            open: Vec::new(),
        };
        let (tag, decl) = qualify(root);
        out.buf.push('<');
        out.buf.push_str(&tag);
        for (prefix, ns) in PREFIXES {
            out.buf.push_str(" xmlns:");
            out.buf.push_str(prefix);
            out.buf.push_str("=\"");
            out.buf.push_str(&escape_attr(ns));
            out.buf.push('"');
        }
        out.buf.push_str(&decl);
        out.buf.push_str(">\n");
        out.open.push(tag);
        out
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.buf.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &PropName, attrs: &[(&str, &str)], close: &str) -> String {
        self.indent();
        let (tag, decl) = qualify(name);
        self.buf.push('<');
        self.buf.push_str(&tag);
        self.buf.push_str(&decl);
        for (key, value) in attrs {
            self.buf.push(' ');
            self.buf.push_str(key);
            self.buf.push_str("=\"");
            self.buf.push_str(&escape_attr(value));
            self.buf.push('"');
        }
        self.buf.push_str(close);
        tag
    }

    fn open(&mut self, name: &PropName) {
        let tag = self.start_tag(name, &[], ">\n");
        self.open.push(tag);
    }

    fn close(&mut self) {
        if let Some(tag) = self.open.pop() {
            self.indent();
            self.buf.push_str("</");
            self.buf.push_str(&tag);
            self.buf.push_str(">\n");
        }
    }

    fn empty(&mut self, name: &PropName, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs, "/>\n");
    }

    fn text(&mut self, name: &PropName, text: &str) {
        let tag = self.start_tag(name, &[], ">");
        self.buf.push_str(&escape_text(text));
        self.buf.push_str("</");
        self.buf.push_str(&tag);
        self.buf.push_str(">\n");
    }

    fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.buf
    }
}

/// The qualified tag for a name, and the namespace declaration it needs, if any: the four
/// known namespaces use the root's prefixes, others get a local `x` prefix.
fn qualify(name: &PropName) -> (String, String) {
    let local = &name.name;
    if name.ns.is_empty() {
        return (local.to_string(), String::new());
    }
    match PREFIXES.iter().find(|(_, ns)| *ns == name.ns) {
        Some((prefix, _)) => (format!("{prefix}:{local}"), String::new()),
        None => (
            format!("x:{local}"),
            format!(" xmlns:x=\"{}\"", escape_attr(&name.ns)),
        ),
    }
}

/// Characters XML 1.0 cannot carry at all (most C0 controls, unpaired surrogates cannot
/// occur in a `str`, U+FFFE/U+FFFF) become U+FFFD.
fn sanitize(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// Escapes text content: `<`, `>`, `&` and `\r` (as `&#13;`).
fn escape_text(text: &str) -> String {
    partial_escape(sanitize(text)).into_owned()
}

/// Escapes an attribute value: also quotes, and tabs and newlines, which attribute-value
/// normalization would turn into spaces (XML 1.0 §3.3.3).
fn escape_attr(value: &str) -> String {
    escape(sanitize(value))
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn props(names: &[PropName]) -> PropRequest {
        PropRequest::Prop(names.to_vec())
    }

    // ---- PROPFIND ----------------------------------------------------------------------

    #[test]
    fn empty_propfind_is_allprop() {
        assert_eq!(parse_propfind(b"").unwrap(), PropRequest::all());
        assert_eq!(parse_propfind(b"  \r\n ").unwrap(), PropRequest::all());
        assert_eq!(
            parse_propfind(b"<?xml version=\"1.0\"?><!-- nothing -->").unwrap(),
            PropRequest::all()
        );
        assert_eq!(
            parse_propfind(br#"<D:propfind xmlns:D="DAV:"/>"#).unwrap(),
            PropRequest::all()
        );
    }

    #[test]
    fn python_caldav_principal_discovery() {
        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[PropName::CURRENT_USER_PRINCIPAL])
        );

        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/></D:prop></D:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[PropName::CALENDAR_HOME_SET])
        );
    }

    #[test]
    fn vdirsyncer_propfinds() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
            <propfind xmlns="DAV:">
                <prop>
                    <resourcetype />
                    <getcontenttype />
                    <getetag />
                </prop>
            </propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[
                PropName::RESOURCETYPE,
                PropName::GETCONTENTTYPE,
                PropName::GETETAG
            ])
        );
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
            <d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/">
                <d:prop>
                    <cs:getctag />
                </d:prop>
            </d:propfind>"#;
        assert_eq!(parse_propfind(body).unwrap(), props(&[PropName::GETCTAG]));
    }

    #[test]
    fn thunderbird_propfind() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:resourcetype/><D:owner/><D:current-user-principal/><D:current-user-privilege-set/><D:supported-report-set/><C:supported-calendar-component-set/><CS:getctag/></D:prop></D:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[
                PropName::RESOURCETYPE,
                PropName::OWNER,
                PropName::CURRENT_USER_PRINCIPAL,
                PropName::CURRENT_USER_PRIVILEGE_SET,
                PropName::SUPPORTED_REPORT_SET,
                PropName::SUPPORTED_CALENDAR_COMPONENT_SET,
                PropName::GETCTAG,
            ])
        );
    }

    #[test]
    fn apple_calendar_propfind_with_odd_prefixes() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:">
  <A:prop>
    <B:calendar-color xmlns:B="http://apple.com/ns/ical/"/>
    <B:calendar-order xmlns:B="http://apple.com/ns/ical/"/>
    <C:calendar-home-set xmlns:C="urn:ietf:params:xml:ns:caldav"/>
    <A:current-user-principal/>
    <A:displayname/>
    <D:getctag xmlns:D="http://calendarserver.org/ns/"/>
    <A:sync-token/>
    <A:resourcetype/>
    <E:unknown-thing xmlns:E="http://example.com/x/"/>
    <A:displayname/>
  </A:prop>
</A:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[
                PropName::CALENDAR_COLOR,
                PropName::CALENDAR_ORDER,
                PropName::CALENDAR_HOME_SET,
                PropName::CURRENT_USER_PRINCIPAL,
                PropName::DISPLAYNAME,
                PropName::GETCTAG,
                PropName::SYNC_TOKEN,
                PropName::RESOURCETYPE,
                PropName::new("http://example.com/x/", "unknown-thing"),
            ])
        );
    }

    #[test]
    fn davx5_propfind_with_default_namespace() {
        let body = br#"<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:ICAL="http://apple.com/ns/ical/"><prop><resourcetype /><displayname /><ICAL:calendar-color /><CAL:supported-calendar-component-set /><current-user-privilege-set /><CS:getctag /><sync-token /><getetag /></prop></propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[
                PropName::RESOURCETYPE,
                PropName::DISPLAYNAME,
                PropName::CALENDAR_COLOR,
                PropName::SUPPORTED_CALENDAR_COMPONENT_SET,
                PropName::CURRENT_USER_PRIVILEGE_SET,
                PropName::GETCTAG,
                PropName::SYNC_TOKEN,
                PropName::GETETAG,
            ])
        );
    }

    #[test]
    fn propname_allprop_and_include() {
        assert_eq!(
            parse_propfind(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            PropRequest::PropName
        );
        let body = br#"<D:propfind xmlns:D="DAV:">
            <!-- a comment -->
            <D:allprop/>
            <D:include><C:calendar-home-set xmlns:C="urn:ietf:params:xml:ns:caldav"/></D:include>
        </D:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            PropRequest::AllProp {
                include: vec![PropName::CALENDAR_HOME_SET]
            }
        );
        let both =
            br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:prop><D:getetag/></D:prop></D:propfind>"#;
        assert!(matches!(parse_propfind(both), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn unprefixed_property_without_namespace() {
        let body = br#"<D:propfind xmlns:D="DAV:"><D:prop><foo/></D:prop></D:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            props(&[PropName::new("", "foo")])
        );
    }

    #[test]
    fn wrong_root_is_refused() {
        let body = br#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>"#;
        let err = parse_propfind(body).unwrap_err();
        assert_eq!(
            err,
            XmlError::UnexpectedRoot {
                expected: "{DAV:}propfind",
                found: "{DAV:}propertyupdate".into()
            }
        );
        assert!(err.to_string().contains("propertyupdate"));
        // The right name in no namespace is not DAV:propfind.
        assert!(matches!(
            parse_propfind(b"<propfind><prop/></propfind>"),
            Err(XmlError::UnexpectedRoot { .. })
        ));
    }

    #[test]
    fn too_many_props() {
        let mut body = String::from(r#"<D:propfind xmlns:D="DAV:"><D:prop>"#);
        for i in 0..=MAX_PROPS {
            body.push_str(&format!("<D:p{i}/>"));
        }
        body.push_str("</D:prop></D:propfind>");
        assert_eq!(
            parse_propfind(body.as_bytes()),
            Err(XmlError::TooMany {
                what: "properties",
                max: MAX_PROPS
            })
        );
    }

    // ---- Safety ------------------------------------------------------------------------

    #[test]
    fn a_refusal_quotes_a_long_name_briefly() {
        // Found by fuzzing (fuzz/corpus/dav_xml/crash-long-name): the whole name came back.
        let mut body = br#"<?xml version="1.0" encoding="utf-8"?><D:propfind"#.to_vec();
        body.extend(std::iter::repeat_n(0x18, 20_000));
        for err in [
            parse_propfind(&body).unwrap_err(),
            parse_report(&body).unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(text.len() < 1_000, "{} bytes: {text:.300}", text.len());
            assert_eq!(err.status(), 400);
        }
        // Control characters quoted are not escaped six bytes each (found by fuzzing:
        // fuzz/corpus/dav_xml/crash-collation-controls).
        let collation = include_bytes!("../../fuzz/corpus/dav_xml/crash-collation-controls");
        let text = parse_report(collation).unwrap_err().to_string();
        assert!(text.len() < 600, "{} bytes: {text:.300}", text.len());
        let long = format!("<{}/>", "a".repeat(5_000));
        let text = parse_report(long.as_bytes()).unwrap_err().to_string();
        assert!(text.len() < 1_000 && text.contains('…'), "{text:.300}");
    }

    const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>"#;

    #[test]
    fn billion_laughs_is_refused() {
        assert_eq!(
            parse_propfind(BILLION_LAUGHS.as_bytes()),
            Err(XmlError::Entity)
        );
        assert_eq!(
            parse_report(BILLION_LAUGHS.as_bytes()),
            Err(XmlError::Entity)
        );
    }

    #[test]
    fn undefined_entities_are_refused_predefined_ones_are_not() {
        // Without the DTD, the reference is undefined: refused in text...
        let body = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:href>/a/&lol9;.ics</D:href></C:calendar-multiget>"#;
        assert_eq!(parse_report(body), Err(XmlError::Entity));
        // ...and in attributes.
        let body = br#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="&lol9;" end="20270105T000000Z"/></C:free-busy-query>"#;
        assert_eq!(parse_report(body), Err(XmlError::Entity));
        // The predefined entities and character references are fine.
        let body = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:href>/a/&lt;&amp;&gt;&quot;&apos;&#x41;&#66;.ics</D:href></C:calendar-multiget>"#;
        let Report::Multiget { hrefs, .. } = parse_report(body).unwrap() else {
            panic!("not a multiget");
        };
        assert_eq!(hrefs, vec!["/a/<&>\"'AB.ics".to_owned()]);
        // A character reference to a character XML forbids is malformed.
        let body = br#"<D:propfind xmlns:D="DAV:"><D:prop>&#1;</D:prop></D:propfind>"#;
        assert!(matches!(parse_propfind(body), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut body = String::from(r#"<D:propfind xmlns:D="DAV:"><D:prop>"#);
        for _ in 0..1_000 {
            body.push_str("<D:x>");
        }
        for _ in 0..1_000 {
            body.push_str("</D:x>");
        }
        body.push_str("</D:prop></D:propfind>");
        assert_eq!(parse_propfind(body.as_bytes()), Err(XmlError::TooDeep));
        // Unclosed, too: the depth is refused before the end is reached.
        let body = "<a>".repeat(100_000);
        assert_eq!(parse_propfind(body.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn too_many_elements_hrefs_and_attributes() {
        let mut body = String::from(
            r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">"#,
        );
        for i in 0..=MAX_HREFS {
            body.push_str(&format!("<D:href>/c/{i}.ics</D:href>"));
        }
        body.push_str("</C:calendar-multiget>");
        assert_eq!(
            parse_report(body.as_bytes()),
            Err(XmlError::TooMany {
                what: "hrefs",
                max: MAX_HREFS
            })
        );

        let body = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS + 1));
        assert_eq!(
            parse_propfind(body.as_bytes()),
            Err(XmlError::TooMany {
                what: "elements",
                max: MAX_ELEMENTS
            })
        );

        let attrs: String = (0..100).map(|i| format!(" a{i}=\"v\"")).collect();
        let body = format!("<D:propfind xmlns:D=\"DAV:\"{attrs}/>");
        assert!(matches!(
            parse_propfind(body.as_bytes()),
            Err(XmlError::TooMany { .. })
        ));

        let decls: String = (0..200)
            .map(|i| format!(" xmlns:p{i}=\"urn:x:{i}\""))
            .collect();
        let body = format!("<D:propfind xmlns:D=\"DAV:\"><D:prop{decls}/></D:propfind>");
        assert!(matches!(
            parse_propfind(body.as_bytes()),
            Err(XmlError::TooMany { .. })
        ));
    }

    #[test]
    fn long_text_is_refused() {
        let body = format!(
            r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{}</D:sync-token></D:sync-collection>"#,
            "x".repeat(MAX_TEXT + 1)
        );
        assert_eq!(parse_report(body.as_bytes()), Err(XmlError::TooLong));
        // Whitespace between many children is not text and does not count.
        let hrefs = "\n    <D:href>/c/1.ics</D:href>".repeat(5_000);
        let body = format!(
            r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{hrefs}
</C:calendar-multiget>"#
        );
        assert!(parse_report(body.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_documents() {
        let cases: &[&[u8]] = &[
            br#"<D:propfind xmlns:D="DAV:">"#,
            br#"<D:propfind xmlns:D="DAV:"><D:prop></D:propfind>"#,
            b"<a></b>",
            b"</a>",
            b"garbage",
            b"<<<>>>",
            b"\xff\xfe<\x00a\x00/\x00>\x00",
            b"<D:propfind xmlns:D=\"DAV:\"/>\xc3\x28",
            br#"<x:propfind/>"#,
            br#"<D:propfind xmlns:D="DAV:"/><D:propfind xmlns:D="DAV:"/>"#,
            br#"<D:propfind xmlns:D="DAV:"/>trailing"#,
            br#"<D:propfind xmlns:D="DAV:"><D:prop a="1/></D:propfind>"#,
            br#"<D:propfind xmlns:D="DAV:" a="1" a="2"/>"#,
            br#"<D:propfind xmlns:D="DAV:">a & b</D:propfind>"#,
            br#"<D:propfind xmlns:D="DAV:"><!-- unclosed comment </D:propfind>"#,
            br#"<D:propfind xmlns:D="DAV:"><D:prop><D:a"b/></D:prop></D:propfind>"#,
            br#"<?xml version="1.0" encoding="ISO-8859-1"?><D:propfind xmlns:D="DAV:"><D:prop><D:caf)"#,
        ];
        for (i, body) in cases.iter().enumerate() {
            let result = parse_propfind(body);
            assert!(
                matches!(result, Err(XmlError::Malformed(_))),
                "case {i}: {result:?}"
            );
        }
        assert!(matches!(parse_report(b"<a>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn bom_cdata_and_processing_instructions_are_fine() {
        let body = "\u{FEFF}<?xml version=\"1.0\"?>\n<?client hint?>\n<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token><![CDATA[t<1>]]></D:sync-token><D:prop/></D:sync-collection>\n<!-- bye -->\n";
        let Report::SyncCollection { token, props, .. } = parse_report(body.as_bytes()).unwrap()
        else {
            panic!("not a sync-collection");
        };
        assert_eq!(token.as_deref(), Some("t<1>"));
        assert_eq!(props, PropRequest::Prop(vec![]));
    }

    #[test]
    fn declared_latin1_with_latin1_bytes_is_refused() {
        let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:caf\xe9/></D:prop></D:propfind>";
        assert!(matches!(parse_propfind(body), Err(XmlError::Malformed(_))));
        // ASCII under any declared encoding is the same text.
        let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><D:propfind xmlns:D=\"DAV:\"><D:propname/></D:propfind>";
        assert_eq!(parse_propfind(body).unwrap(), PropRequest::PropName);
    }

    #[test]
    fn every_truncation_of_real_bodies_is_an_error_or_a_value_never_a_panic() {
        let bodies = [
            BILLION_LAUGHS,
            r#"<?xml version="1.0" encoding="utf-8" ?><C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><D:getetag/><C:calendar-data><C:expand start="20270104T000000Z" end="20270111T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20270104T000000Z" end="20270111T000000Z"/><C:prop-filter name="UID"><C:text-match collation="i;octet">a&amp;b&#x41;</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
            r#"<sync-collection xmlns="DAV:"><sync-token>t&lt;1</sync-token><sync-level>1</sync-level><prop><getetag /></prop><limit><nresults>10</nresults></limit></sync-collection>"#,
        ];
        for body in bodies {
            for end in 0..=body.len() {
                let prefix = &body.as_bytes()[..end];
                let _ = parse_propfind(prefix);
                let _ = parse_report(prefix);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_propfind(&body);
            let _ = parse_report(&body);
        }

        #[test]
        fn xml_like_text_never_panics(body in "(<|>|/|D:|C:|xmlns:D=\"DAV:\"|xmlns:C=\"urn:ietf:params:xml:ns:caldav\"| |prop|propfind|href|calendar-multiget|calendar-query|filter|comp-filter|name=\"VCALENDAR\"|time-range|start=\"20270104T000000Z\"|&amp;|&#x0;|&lol;|<!DOCTYPE|<!\\[CDATA\\[|\\]\\]>|\"|=){0,64}") {
            let _ = parse_propfind(body.as_bytes());
            let _ = parse_report(body.as_bytes());
        }

        #[test]
        fn written_text_always_reads_back(text in "\\PC{0,40}", href in "\\PC{0,40}") {
            let xml = multistatus(
                &[Response {
                    href: href.clone(),
                    body: ResponseBody::PropStats(vec![PropStat {
                        status: 200,
                        props: vec![(PropName::DISPLAYNAME, PropValue::Text(text))],
                    }]),
                }],
                Some(&href),
            );
            proptest::prop_assert_eq!(root_children(&xml), vec!["{DAV:}response", "{DAV:}sync-token"]);
        }
    }

    // ---- REPORT ------------------------------------------------------------------------

    #[test]
    fn unknown_report() {
        let body = br#"<D:expand-property xmlns:D="DAV:"><D:property name="calendar-proxy-read-for" namespace="http://calendarserver.org/ns/"/></D:expand-property>"#;
        let err = parse_report(body).unwrap_err();
        assert_eq!(
            err,
            XmlError::UnsupportedReport {
                ns: NS_DAV.into(),
                name: "expand-property".into()
            }
        );
        assert_eq!(err.status(), 403);
        assert_eq!(
            err.precondition().map(|p| p.name()),
            Some(PropName::SUPPORTED_REPORT)
        );
        assert_eq!(parse_report(b""), Err(XmlError::EmptyBody));
    }

    #[test]
    fn thunderbird_calendar_query_with_default_caldav_namespace() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<calendar-query xmlns:D="DAV:" xmlns="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><filter><comp-filter name="VCALENDAR"><comp-filter name="VEVENT"><time-range start="20261221T000000Z"/></comp-filter></comp-filter></filter></calendar-query>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::CalendarQuery {
                props: props(&[PropName::GETETAG]),
                data: CalendarData::None,
                filter: CompFilter {
                    name: "VCALENDAR".into(),
                    is_not_defined: false,
                    time_range: None,
                    prop_filters: vec![],
                    comps: vec![CompFilter {
                        name: "VEVENT".into(),
                        is_not_defined: false,
                        time_range: Some(TimeRange {
                            start: Some(utc(2026, 12, 21, 0)),
                            end: None
                        }),
                        prop_filters: vec![],
                        comps: vec![],
                    }],
                },
                limit: None,
            }
        );
    }

    #[test]
    fn python_caldav_calendar_query_with_expand() {
        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:">
  <D:prop>
    <D:getetag/>
    <C:calendar-data>
      <C:expand start="20270104T000000Z" end="20270111T000000Z"/>
    </C:calendar-data>
  </D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="vevent">
        <C:time-range start="20270104T000000Z" end="20270111T000000Z"/>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#;
        let range = TimeRange {
            start: Some(utc(2027, 1, 4, 0)),
            end: Some(utc(2027, 1, 11, 0)),
        };
        let Report::CalendarQuery {
            props: p,
            data,
            filter,
            limit,
        } = parse_report(body).unwrap()
        else {
            panic!("not a calendar-query");
        };
        assert_eq!(p, props(&[PropName::GETETAG, PropName::CALENDAR_DATA]));
        assert_eq!(data, CalendarData::Expand(range));
        assert_eq!(filter.comps[0].name, "VEVENT");
        assert_eq!(filter.comps[0].time_range, Some(range));
        assert!(!filter.has_prop_filters());
        assert_eq!(limit, None);
    }

    #[test]
    fn calendar_data_variants() {
        let query = |data: &str| {
            format!(
                r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop>{data}</D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#
            )
        };
        let data = |body: String| match parse_report(body.as_bytes()) {
            Ok(Report::CalendarQuery { data, .. }) => Ok(data),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(data(query("<C:calendar-data/>")), Ok(CalendarData::Full));
        assert_eq!(
            data(query(
                r#"<C:calendar-data content-type="text/calendar" version="2.0"><C:comp name="VCALENDAR"><C:allprop/><C:comp name="VEVENT"><C:allprop/></C:comp></C:comp></C:calendar-data>"#
            )),
            Ok(CalendarData::Full)
        );
        assert_eq!(
            data(query(
                r#"<C:calendar-data><C:limit-recurrence-set start="20270104T000000Z" end="20270105T000000Z"/></C:calendar-data>"#
            )),
            Ok(CalendarData::LimitRecurrenceSet(TimeRange {
                start: Some(utc(2027, 1, 4, 0)),
                end: Some(utc(2027, 1, 5, 0)),
            }))
        );
        // Expand needs both ends.
        assert!(matches!(
            data(query(
                r#"<C:calendar-data><C:expand start="20270104T000000Z"/></C:calendar-data>"#
            )),
            Err(XmlError::InvalidTimeRange(_))
        ));
        let err = data(query(
            r#"<C:calendar-data content-type="application/calendar+json"/>"#,
        ))
        .unwrap_err();
        assert!(matches!(err, XmlError::UnsupportedCalendarData(_)));
        assert_eq!(
            err.precondition().map(|p| p.name()),
            Some(PropName::SUPPORTED_CALENDAR_DATA)
        );
        // Without <D:prop>: allprop, and calendar-data is not part of allprop.
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#;
        let Report::CalendarQuery { props, data, .. } = parse_report(body).unwrap() else {
            panic!("not a calendar-query");
        };
        assert_eq!(props, PropRequest::all());
        assert_eq!(data, CalendarData::None);
    }

    #[test]
    fn time_range_end_before_or_at_start() {
        for (start, end) in [
            ("20270111T000000Z", "20270104T000000Z"),
            ("20270104T000000Z", "20270104T000000Z"),
        ] {
            let body = format!(
                r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
            );
            let err = parse_report(body.as_bytes()).unwrap_err();
            assert!(matches!(err, XmlError::InvalidTimeRange(_)), "{err:?}");
            assert_eq!(err.status(), 400);
        }
        for bad in [
            "2027-01-04T00:00:00Z",
            "20270104T000000",
            "20270104",
            "20271304T000000Z",
            "20270230T000000Z",
            "20270104T250000Z",
            "2027010４T000000Z",
            "",
        ] {
            assert!(parse_utc(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_utc(" 20270104T093000Z ").unwrap().to_rfc3339(),
            "2027-01-04T09:30:00+00:00"
        );
        assert_eq!(format_utc(utc(2027, 1, 4, 9)), "20270104T090000Z");
        // A time-range with neither end.
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
        assert!(matches!(
            parse_report(body),
            Err(XmlError::InvalidTimeRange(_))
        ));
    }

    #[test]
    fn prop_filters_are_kept() {
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:">
  <D:prop><D:getetag/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:prop-filter name="UID">
          <C:text-match collation="i;octet">abc-123</C:text-match>
        </C:prop-filter>
        <C:prop-filter name="ATTENDEE">
          <C:text-match negate-condition="yes">mailto:x@example.org</C:text-match>
          <C:param-filter name="PARTSTAT"><C:is-not-defined/></C:param-filter>
        </C:prop-filter>
        <C:prop-filter name="X-ABC"><C:is-not-defined/></C:prop-filter>
      </C:comp-filter>
      <C:comp-filter name="VTODO"><C:is-not-defined/></C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#;
        let Report::CalendarQuery { filter, .. } = parse_report(body).unwrap() else {
            panic!("not a calendar-query");
        };
        assert!(filter.has_prop_filters());
        let vevent = &filter.comps[0];
        assert_eq!(
            vevent.prop_filters[0],
            PropFilter {
                name: "UID".into(),
                is_not_defined: false,
                time_range: None,
                text_match: Some(TextMatch {
                    text: "abc-123".into(),
                    collation: Collation::Octet,
                    negate: false
                }),
                param_filters: vec![],
            }
        );
        let attendee = &vevent.prop_filters[1];
        assert_eq!(attendee.text_match.as_ref().map(|t| t.negate), Some(true));
        assert_eq!(
            attendee.text_match.as_ref().map(|t| t.collation),
            Some(Collation::AsciiCasemap)
        );
        assert!(attendee.param_filters[0].is_not_defined);
        assert!(vevent.prop_filters[2].is_not_defined);
        assert!(filter.comps[1].is_not_defined);
    }

    #[test]
    fn invalid_filters() {
        let query = |filter: &str| {
            let body = format!(
                r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>{filter}</C:calendar-query>"#
            );
            parse_report(body.as_bytes())
        };
        assert_eq!(query(""), Err(XmlError::MissingElement("filter")));
        for filter in [
            "<C:filter/>",
            r#"<C:filter><C:comp-filter name="VEVENT"/></C:filter>"#,
            r#"<C:filter><C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/></C:filter>"#,
            r#"<C:filter><C:comp-filter><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>"#,
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="V EVENT"/></C:comp-filter></C:filter>"#,
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:is-not-defined/><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>"#,
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:text-match>x</C:text-match></C:comp-filter></C:filter>"#,
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match negate-condition="maybe">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter>"#,
        ] {
            let err = query(filter).unwrap_err();
            assert!(
                matches!(err, XmlError::InvalidFilter(_)),
                "{filter}: {err:?}"
            );
            assert_eq!(
                err.precondition().map(|p| p.name()),
                Some(PropName::VALID_FILTER)
            );
        }
        let err = query(
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;unicode-casemap">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter>"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            XmlError::UnsupportedCollation("i;unicode-casemap".into())
        );
        assert_eq!(
            err.precondition().map(|p| p.name()),
            Some(PropName::SUPPORTED_COLLATION)
        );
        // Elements of other namespaces inside a filter are ignored (RFC 4918 §17).
        assert!(
            query(r#"<C:filter><C:comp-filter name="VCALENDAR"><X:hint xmlns:X="urn:x"/></C:comp-filter></C:filter>"#)
                .is_ok()
        );
    }

    #[test]
    fn calendar_query_with_limit() {
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter><D:limit><D:nresults>50</D:nresults></D:limit></C:calendar-query>"#;
        let Report::CalendarQuery { limit, .. } = parse_report(body).unwrap() else {
            panic!("not a calendar-query");
        };
        assert_eq!(limit, Some(50));
    }

    #[test]
    fn vdirsyncer_multiget() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
            <C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
                <D:prop>
                    <D:getetag/>
                    <C:calendar-data/>
                </D:prop>
                <D:href>/dav/calendars/rooms/salle-1/a.ics</D:href>
                <D:href>/dav/calendars/rooms/salle-1/b%20c.ics</D:href>
                <D:href>
                    https://lokal.example/dav/calendars/rooms/salle-1/d.ics
                </D:href>
                <D:href>/dav/calendars/rooms/salle-1/a.ics</D:href>
            </C:calendar-multiget>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::Multiget {
                props: props(&[PropName::GETETAG, PropName::CALENDAR_DATA]),
                data: CalendarData::Full,
                hrefs: vec![
                    "/dav/calendars/rooms/salle-1/a.ics".into(),
                    "/dav/calendars/rooms/salle-1/b%20c.ics".into(),
                    "https://lokal.example/dav/calendars/rooms/salle-1/d.ics".into(),
                ],
            }
        );
        let none = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop></C:calendar-multiget>"#;
        assert_eq!(parse_report(none), Err(XmlError::MissingElement("href")));
    }

    #[test]
    fn sync_collection_initial_and_incremental() {
        // Apple Calendar's initial sync: empty token.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<A:sync-collection xmlns:A="DAV:">
  <A:sync-token/>
  <A:sync-level>1</A:sync-level>
  <A:prop>
    <A:getetag/>
    <A:getcontenttype/>
  </A:prop>
</A:sync-collection>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::SyncCollection {
                token: None,
                level: SyncLevel::One,
                limit: None,
                props: props(&[PropName::GETETAG, PropName::GETCONTENTTYPE]),
                data: CalendarData::None,
            }
        );
        // DAVx5: a token, a limit, default namespace.
        let body = br#"<?xml version='1.0' encoding='UTF-8' ?><sync-collection xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><sync-token>https://lokal.example/sync/42</sync-token><sync-level>1</sync-level><prop><getcontenttype /><getetag /></prop><limit><nresults>100</nresults></limit></sync-collection>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::SyncCollection {
                token: Some("https://lokal.example/sync/42".into()),
                level: SyncLevel::One,
                limit: Some(100),
                props: props(&[PropName::GETCONTENTTYPE, PropName::GETETAG]),
                data: CalendarData::None,
            }
        );
        // python caldav with calendar-data and an infinite level.
        let body = br#"<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token>t1</D:sync-token><D:sync-level>infinite</D:sync-level><D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>"#;
        let Report::SyncCollection { level, data, .. } = parse_report(body).unwrap() else {
            panic!("not a sync-collection");
        };
        assert_eq!(level, SyncLevel::Infinite);
        assert_eq!(data, CalendarData::Full);

        let bad_level = br#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>2</D:sync-level><D:prop/></D:sync-collection>"#;
        assert!(matches!(
            parse_report(bad_level),
            Err(XmlError::InvalidValue(_))
        ));
        let bad_limit = br#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:limit><D:nresults>0</D:nresults></D:limit><D:prop/></D:sync-collection>"#;
        assert!(matches!(
            parse_report(bad_limit),
            Err(XmlError::InvalidValue(_))
        ));
        let no_token =
            br#"<D:sync-collection xmlns:D="DAV:"><D:sync-level>1</D:sync-level><D:prop/></D:sync-collection>"#;
        assert_eq!(
            parse_report(no_token),
            Err(XmlError::MissingElement("sync-token"))
        );
    }

    #[test]
    fn free_busy_query() {
        // RFC 4791 §7.10.1's example.
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
  <C:time-range start="20060104T140000Z"
                  end="20060105T220000Z"/>
</C:free-busy-query>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::FreeBusyQuery {
                range: TimeRange {
                    start: Some(utc(2006, 1, 4, 14)),
                    end: Some(utc(2006, 1, 5, 22)),
                }
            }
        );
        let open = br#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060104T140000Z"/></C:free-busy-query>"#;
        assert!(matches!(
            parse_report(open),
            Err(XmlError::InvalidTimeRange(_))
        ));
        let none = br#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
        assert_eq!(
            parse_report(none),
            Err(XmlError::MissingElement("time-range"))
        );
    }

    // ---- Hrefs -------------------------------------------------------------------------

    #[test]
    fn hrefs_encode_and_decode() {
        let path = "/dav/calendars/rooms/Salle des fêtes & co/<1>%?#.ics";
        let encoded = encode_href(path);
        assert_eq!(
            encoded,
            "/dav/calendars/rooms/Salle%20des%20f%C3%AAtes%20&%20co/%3C1%3E%25%3F%23.ics"
        );
        assert_eq!(decode_href(&encoded).as_deref(), Some(path));
        assert_eq!(
            decode_href("HTTPS://lokal.example:8443/dav/a%20b.ics?x=1").as_deref(),
            Some("/dav/a b.ics")
        );
        assert_eq!(decode_href("http://lokal.example").as_deref(), Some("/"));
        assert_eq!(decode_href("a.ics"), None);
        assert_eq!(decode_href("/a%zz"), None);
        assert_eq!(decode_href("/a%"), None);
        assert_eq!(decode_href("/a%ff"), None);
        assert_eq!(decode_href("mailto:x@example.org"), None);
        assert_eq!(decode_href("/a%00b"), None);
    }

    // ---- Output ------------------------------------------------------------------------

    /// Reads a document back with quick-xml and returns the Clark names of the root's
    /// children, in order; panics if it is not well-formed.
    fn root_children(xml: &str) -> Vec<String> {
        let mut reader = NsReader::from_str(xml);
        reader.config_mut().enable_all_checks(true);
        let mut depth = 0usize;
        let mut children = Vec::new();
        loop {
            let (ns, event) = reader.read_resolved_event().unwrap();
            let ns = match ns {
                ResolveResult::Bound(ns) => ns.into_inner().to_owned(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(p) => panic!("unknown prefix {p}"),
            };
            match event {
                Event::Start(e) => {
                    if depth == 1 {
                        children.push(format!("{{{ns}}}{}", e.local_name().as_ref()));
                    }
                    depth += 1;
                }
                Event::Empty(e) if depth == 1 => {
                    children.push(format!("{{{ns}}}{}", e.local_name().as_ref()));
                }
                Event::End(_) => depth -= 1,
                Event::DocType(_) => panic!("doctype in output"),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0);
        children
    }

    fn sample_responses() -> Vec<Response> {
        vec![
            Response {
                href: "/dav/calendars/rooms/salle-des-fêtes/".into(),
                body: ResponseBody::PropStats(vec![
                    PropStat {
                        status: 200,
                        props: vec![
                            (
                                PropName::RESOURCETYPE,
                                PropValue::ResourceType(vec![
                                    PropName::COLLECTION,
                                    PropName::CALENDAR,
                                ]),
                            ),
                            (
                                PropName::DISPLAYNAME,
                                PropValue::Text("Salle des fêtes <A&B>".into()),
                            ),
                            (PropName::GETCTAG, PropValue::Text("\"ctag-7\"".into())),
                            (
                                PropName::CALENDAR_COLOR,
                                PropValue::Text("#3A7BD5FF".into()),
                            ),
                            (
                                PropName::SUPPORTED_CALENDAR_COMPONENT_SET,
                                PropValue::SupportedComponents(vec!["VEVENT".into()]),
                            ),
                            (
                                PropName::CURRENT_USER_PRIVILEGE_SET,
                                PropValue::Privileges(vec![
                                    PropName::READ,
                                    PropName::READ_FREE_BUSY,
                                ]),
                            ),
                            (
                                PropName::SUPPORTED_REPORT_SET,
                                PropValue::SupportedReports(vec![
                                    PropName::CALENDAR_QUERY,
                                    PropName::SYNC_COLLECTION,
                                ]),
                            ),
                            (
                                PropName::CURRENT_USER_PRINCIPAL,
                                PropValue::Href("/dav/principals/anne@example.org/".into()),
                            ),
                            (
                                PropName::CALENDAR_HOME_SET,
                                PropValue::Hrefs(vec!["/dav/calendars/rooms/".into()]),
                            ),
                        ],
                    },
                    PropStat {
                        status: 404,
                        props: vec![
                            (
                                PropName::new("http://example.com/x/", "color"),
                                PropValue::Empty,
                            ),
                            (PropName::new("", "bare"), PropValue::Empty),
                        ],
                    },
                ]),
            },
            Response {
                href: "/dav/calendars/rooms/salle-des-fêtes/b 1&2.ics".into(),
                body: ResponseBody::PropStats(vec![PropStat {
                    status: 200,
                    props: vec![
                        (PropName::GETETAG, PropValue::Text("\"e1\"".into())),
                        (
                            PropName::CALENDAR_DATA,
                            PropValue::CData(
                                "BEGIN:VCALENDAR\r\nSUMMARY:A <b> & c\r\nEND:VCALENDAR\r\n".into(),
                            ),
                        ),
                    ],
                }]),
            },
            Response {
                href: "/dav/calendars/rooms/salle-des-fêtes/gone.ics".into(),
                body: ResponseBody::Status(404),
            },
        ]
    }

    #[test]
    fn multistatus_output() {
        let xml = multistatus(&sample_responses(), Some("https://lokal.example/sync/43"));
        let expected = r##"<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ical="http://apple.com/ns/ical/">
  <d:response>
    <d:href>/dav/calendars/rooms/salle-des-f%C3%AAtes/</d:href>
    <d:propstat>
      <d:prop>
        <d:resourcetype>
          <d:collection/>
          <cal:calendar/>
        </d:resourcetype>
        <d:displayname>Salle des fêtes &lt;A&amp;B&gt;</d:displayname>
        <cs:getctag>"ctag-7"</cs:getctag>
        <ical:calendar-color>#3A7BD5FF</ical:calendar-color>
        <cal:supported-calendar-component-set>
          <cal:comp name="VEVENT"/>
        </cal:supported-calendar-component-set>
        <d:current-user-privilege-set>
          <d:privilege>
            <d:read/>
          </d:privilege>
          <d:privilege>
            <cal:read-free-busy/>
          </d:privilege>
        </d:current-user-privilege-set>
        <d:supported-report-set>
          <d:supported-report>
            <d:report>
              <cal:calendar-query/>
            </d:report>
          </d:supported-report>
          <d:supported-report>
            <d:report>
              <d:sync-collection/>
            </d:report>
          </d:supported-report>
        </d:supported-report-set>
        <d:current-user-principal>
          <d:href>/dav/principals/anne@example.org/</d:href>
        </d:current-user-principal>
        <cal:calendar-home-set>
          <d:href>/dav/calendars/rooms/</d:href>
        </cal:calendar-home-set>
      </d:prop>
      <d:status>HTTP/1.1 200 OK</d:status>
    </d:propstat>
    <d:propstat>
      <d:prop>
        <x:color xmlns:x="http://example.com/x/"/>
        <bare/>
      </d:prop>
      <d:status>HTTP/1.1 404 Not Found</d:status>
    </d:propstat>
  </d:response>
  <d:response>
    <d:href>/dav/calendars/rooms/salle-des-f%C3%AAtes/b%201&amp;2.ics</d:href>
    <d:propstat>
      <d:prop>
        <d:getetag>"e1"</d:getetag>
        <cal:calendar-data>BEGIN:VCALENDAR&#13;
SUMMARY:A &lt;b&gt; &amp; c&#13;
END:VCALENDAR&#13;
</cal:calendar-data>
      </d:prop>
      <d:status>HTTP/1.1 200 OK</d:status>
    </d:propstat>
  </d:response>
  <d:response>
    <d:href>/dav/calendars/rooms/salle-des-f%C3%AAtes/gone.ics</d:href>
    <d:status>HTTP/1.1 404 Not Found</d:status>
  </d:response>
  <d:sync-token>https://lokal.example/sync/43</d:sync-token>
</d:multistatus>
"##;
        assert_eq!(xml, expected);
        // Stable: the same input gives the same bytes.
        assert_eq!(
            xml,
            multistatus(&sample_responses(), Some("https://lokal.example/sync/43"))
        );
    }

    #[test]
    fn multistatus_parses_back_with_the_sync_token_last() {
        let xml = multistatus(&sample_responses(), Some("https://lokal.example/sync/43"));
        assert_eq!(
            root_children(&xml),
            vec![
                "{DAV:}response",
                "{DAV:}response",
                "{DAV:}response",
                "{DAV:}sync-token"
            ]
        );
        // The escaped href and calendar data read back exactly, CRLF included.
        let mut reader = NsReader::from_str(&xml);
        let mut texts = Vec::new();
        let mut current = String::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Text(t) => current.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                    Some(c) => current.push(c),
                    None => current.push_str(resolve_predefined_entity(&r).unwrap()),
                },
                Event::End(_) => {
                    if !current.trim().is_empty() {
                        texts.push(current.clone());
                    }
                    current.clear();
                }
                Event::Start(_) | Event::Empty(_) => current.clear(),
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(texts.contains(&"/dav/calendars/rooms/salle-des-f%C3%AAtes/b%201&2.ics".into()));
        assert!(texts.contains(&"Salle des fêtes <A&B>".into()));
        assert!(
            texts.contains(&"BEGIN:VCALENDAR\r\nSUMMARY:A <b> & c\r\nEND:VCALENDAR\r\n".into())
        );
        // Decoding the written href gives the path back.
        assert_eq!(
            decode_href("/dav/calendars/rooms/salle-des-f%C3%AAtes/b%201&2.ics").as_deref(),
            Some("/dav/calendars/rooms/salle-des-fêtes/b 1&2.ics")
        );
    }

    #[test]
    fn multistatus_edge_cases() {
        // No responses, no token.
        let xml = multistatus(&[], None);
        assert!(root_children(&xml).is_empty());
        // A response whose propstats are all empty still holds a propstat.
        let xml = multistatus(
            &[Response {
                href: "/a".into(),
                body: ResponseBody::PropStats(vec![PropStat {
                    status: 404,
                    props: vec![],
                }]),
            }],
            Some(""),
        );
        assert!(xml.contains("<d:prop/>\n      <d:status>HTTP/1.1 200 OK</d:status>"));
        assert_eq!(
            root_children(&xml),
            vec!["{DAV:}response", "{DAV:}sync-token"]
        );
        // Control characters XML cannot carry are replaced, not written.
        let xml = multistatus(
            &[Response {
                href: "/a\u{1}".into(),
                body: ResponseBody::PropStats(vec![PropStat {
                    status: 200,
                    props: vec![(
                        PropName::DISPLAYNAME,
                        PropValue::Text("a\u{1}b\u{FFFE}".into()),
                    )],
                }]),
            }],
            None,
        );
        assert!(xml.contains("<d:href>/a%01</d:href>"));
        assert!(xml.contains("<d:displayname>a\u{FFFD}b\u{FFFD}</d:displayname>"));
        root_children(&xml);
        // A status without a canonical reason.
        let xml = multistatus(
            &[Response {
                href: "/a".into(),
                body: ResponseBody::Status(599),
            }],
            None,
        );
        assert!(xml.contains("HTTP/1.1 599 Unknown"));
        assert!(xml.contains("HTTP/1.1 599"));
        let xml = multistatus(
            &[Response {
                href: "/a".into(),
                body: ResponseBody::Status(507),
            }],
            None,
        );
        assert!(xml.contains("HTTP/1.1 507 Insufficient Storage"));
    }

    #[test]
    fn error_bodies() {
        let xml = error(&PropName::VALID_SYNC_TOKEN, None);
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ical="http://apple.com/ns/ical/">
  <d:valid-sync-token/>
</d:error>
"#
        );
        assert_eq!(root_children(&xml), vec!["{DAV:}valid-sync-token"]);

        let xml = error(
            &PropName::SUPPORTED_REPORT,
            Some("REPORT <x> & co is not supported"),
        );
        assert!(xml.contains("<d:supported-report/>"));
        assert!(xml.contains(
            "<d:responsedescription>REPORT &lt;x&gt; &amp; co is not supported</d:responsedescription>"
        ));
        assert_eq!(
            root_children(&xml),
            vec!["{DAV:}supported-report", "{DAV:}responsedescription"]
        );
        let xml = error(&PropName::VALID_FILTER, None);
        assert_eq!(
            root_children(&xml),
            vec!["{urn:ietf:params:xml:ns:caldav}valid-filter"]
        );
    }

    #[test]
    fn need_privileges_body() {
        let xml = need_privileges("/dav/calendars/rooms/salle 1/a.ics", &PropName::WRITE);
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ical="http://apple.com/ns/ical/">
  <d:need-privileges>
    <d:resource>
      <d:href>/dav/calendars/rooms/salle%201/a.ics</d:href>
      <d:privilege>
        <d:write/>
      </d:privilege>
    </d:resource>
  </d:need-privileges>
</d:error>
"#
        );
        assert_eq!(root_children(&xml), vec!["{DAV:}need-privileges"]);
    }

    #[test]
    fn a_404_propstat_for_names_read_from_a_request_round_trips() {
        // Names and namespaces read from a request are written back well-formed.
        let body = r#"<D:propfind xmlns:D="DAV:"><D:prop><Z:weird-name.1 xmlns:Z="urn:x:&quot;q&quot;&amp;"/><é xmlns="urn:y"/></D:prop></D:propfind>"#;
        let PropRequest::Prop(names) = parse_propfind(body.as_bytes()).unwrap() else {
            panic!("not a prop request");
        };
        let xml = multistatus(
            &[Response {
                href: "/a".into(),
                body: ResponseBody::PropStats(vec![PropStat {
                    status: 404,
                    props: names.into_iter().map(|n| (n, PropValue::Empty)).collect(),
                }]),
            }],
            None,
        );
        assert_eq!(root_children(&xml), vec!["{DAV:}response"]);
        assert!(xml.contains("<x:é xmlns:x=\"urn:y\"/>"));
    }
}
