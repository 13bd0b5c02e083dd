//! Lokal's CalDAV server driven by libdav, a Rust CalDAV client written by others (see
//! docs/caldav-clients.md): discovery from the bare server address, the calendar home with one
//! read-only calendar per bookable room, a time-range `calendar-query`, and `sync-collection`
//! with an added and a cancelled booking, on SQLite and on PostgreSQL. Bookings are made
//! through the REST API.
//!
//! libdav runs on hyper-util's plain-http client with tower-http's Basic auth layer, against
//! the real server on 127.0.0.1. Its DNS-based service discovery is not used: it would ask a
//! resolver about `_caldav._tcp.127.0.0.1`, and the server is found without it.

use std::collections::{BTreeMap, BTreeSet};

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use libdav::caldav::{
    CalendarComponent, FindCalendarHomeSet, FindCalendars, GetCalendarResources,
    ListCalendarResources, TimeRange,
};
use libdav::dav::{CheckSupport, Propfind, SyncCollection, WebDavClient};
use libdav::sd::DiscoverableService;
use libdav::{CalDavClient, Depth, PropertyName, names};
use serde_json::{Value, json};
use tower_http::auth::AddAuthorization;

use crate::support::app::{TestApp, test_config};
use crate::support::postgres::Postgres;

const INGRID: (&str, &str) = ("ingrid.berg", "ingrid-demo-2027"); // staff, `kultur`: books halls directly

type Http = AddAuthorization<Client<HttpConnector, String>>;

/// A libdav CalDAV client for `url`, logging in as `login`.
fn caldav(url: &str, login: (&str, &str)) -> CalDavClient<Http> {
    let client = Client::builder(TokioExecutor::new()).build_http::<String>();
    let client = AddAuthorization::basic(client, login.0, login.1);
    let base: Uri = url.parse().unwrap();
    CalDavClient::new(WebDavClient::new(base, client))
}

/// Books through the API and returns the new booking's id.
async fn book(
    app: &TestApp,
    login: (&str, &str),
    room: &str,
    (start, end): (&str, &str),
    purpose: &str,
    extra: Value,
) -> (String, String) {
    let mut body = json!({"room_id": room, "start": start, "end": end, "purpose": purpose,
        "attendees": 40});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = app.post("/api/v1/bookings", Some(login), body).await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_str().unwrap().to_owned(),
        created["status"].as_str().unwrap().to_owned(),
    )
}

/// The booking id in an object href (`…/<id>.ics`).
fn booking_id(href: &str) -> String {
    href.rsplit('/')
        .next()
        .and_then(|s| s.strip_suffix(".ics"))
        .unwrap_or_else(|| panic!("not an object href: {href}"))
        .to_owned()
}

/// The value of the first `name` property line of the first VEVENT, unfolded.
fn event_prop(ics: &str, name: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "");
    let event = unfolded.split("BEGIN:VEVENT").nth(1)?;
    event.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.split(';').next()?;
        (key == name).then(|| value.to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libdav_discovers_lists_queries_and_syncs_the_room_calendars_on_sqlite() {
    discover_list_query_and_sync(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libdav_discovers_lists_queries_and_syncs_the_room_calendars_on_postgres() {
    let pg = Postgres::start();
    discover_list_query_and_sync(&TestApp::start(test_config(&pg.url)).await).await;
}

async fn discover_list_query_and_sync(app: &TestApp) {
    let storsalen = app.room("Storsalen").await;
    let lillesalen = app.room("Lillesalen").await;

    // Bookings through the API. The window searched below is the week of 11 January 2027.
    let (koroving, status) = book(
        app,
        INGRID,
        &storsalen,
        ("2027-01-13T18:00", "2027-01-13T21:00"),
        "Korøving",
        json!({}),
    )
    .await;
    assert_eq!(status, "approved");
    // A weekly series from the week before: only its second date is in the window.
    let (series, _) = book(
        app,
        INGRID,
        &storsalen,
        ("2027-01-07T18:00", "2027-01-07T20:00"),
        "Kulturskolen, teaterøving",
        json!({"recurrence": "FREQ=WEEKLY;COUNT=4"}),
    )
    .await;
    // A resident's request: pending, so tentative in the calendar.
    let kari = app.resident("kari@example.no").await;
    let (request, status) = book(
        app,
        (&kari.0, &kari.1),
        &storsalen,
        ("2027-01-12T18:00", "2027-01-12T20:00"),
        "Bursdagsfeiring",
        json!({}),
    )
    .await;
    assert_eq!(status, "pending");
    // Outside the window, and in another room.
    let (arsmote, _) = book(
        app,
        INGRID,
        &storsalen,
        ("2027-01-20T18:00", "2027-01-20T20:00"),
        "Årsmøte i Velforeningen",
        json!({}),
    )
    .await;
    let (elsewhere, _) = book(
        app,
        INGRID,
        &lillesalen,
        ("2027-01-13T18:00", "2027-01-13T20:00"),
        "Lesesirkel",
        json!({}),
    )
    .await;

    // Discovery from the bare server address, as an app is given it.
    let bare = format!("{}/", app.base);
    let client = caldav(&bare, INGRID);
    let bare_uri: Uri = bare.parse().unwrap();
    client
        .request(CheckSupport::caldav(&bare_uri))
        .await
        .expect("OPTIONS / advertises calendar-access");
    let port = bare_uri.port_u16().unwrap();
    let context = client
        .find_context_path(DiscoverableService::CalDav, "127.0.0.1", port)
        .await
        .unwrap()
        .expect("/.well-known/caldav leads to the context path");
    assert_eq!(context.path(), "/dav/");
    let principal = client
        .find_current_user_principal()
        .await
        .unwrap()
        .expect("PROPFIND / names the current user's principal");
    assert_eq!(principal.path(), "/dav/principals/users/ingrid.berg/");
    // The context path names the same principal.
    let mut client = client;
    client.webdav_client.base_url = context;
    let from_context = client.find_current_user_principal().await.unwrap().unwrap();
    assert_eq!(from_context.path(), principal.path());
    let homes = client
        .request(FindCalendarHomeSet::new(principal.path()))
        .await
        .unwrap()
        .home_sets;
    let home_paths: Vec<&str> = homes.iter().map(Uri::path).collect();
    assert_eq!(home_paths, ["/dav/calendars/users/ingrid.berg/"]);
    let home = home_paths[0];

    // The calendars in the home: one per bookable room, named after it, syncable.
    let calendars = client
        .request(FindCalendars::new(home))
        .await
        .unwrap()
        .calendars;
    let (_, rooms) = app.get("/api/v1/rooms", None).await;
    let mut bookable: BTreeMap<String, String> = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["bookable"] == true)
        .map(|r| {
            (
                format!("{home}{}/", r["id"].as_str().unwrap()),
                r["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(bookable.len() >= 10, "{rooms}");
    // And the staff member's own calendar, for inviting rooms (docs/scheduling.md).
    bookable.insert(format!("{home}meetings/"), "Lokal: møter".into());
    let found: BTreeMap<String, String> = calendars
        .iter()
        .map(|c| {
            let name = c
                .properties
                .iter()
                .find(|(p, _)| **p == names::DISPLAY_NAME)
                .and_then(|(_, v)| v.clone())
                .unwrap_or_default();
            (c.href.clone(), name)
        })
        .collect();
    assert_eq!(found, bookable);
    assert!(calendars.iter().all(|c| c.supports_sync), "{calendars:?}");
    assert!(calendars.iter().all(|c| c.etag.is_none()), "{calendars:?}");

    // No room calendar is writable: the only privileges are reading ones. (The staff
    // member's own calendar, inbox and outbox are theirs: docs/scheduling.md.)
    bookable.remove(&format!("{home}meetings/"));
    let privileges = PropertyName::new("DAV:", "current-user-privilege-set");
    let listing = client
        .request(
            Propfind::new(home)
                .with_properties(&[&privileges])
                .with_depth(Depth::One),
        )
        .await
        .unwrap();
    let doc = listing.xml_tree().unwrap();
    let mut checked = 0;
    for response in doc
        .descendants()
        .filter(|n| n.tag_name().name() == "response")
    {
        let href = response
            .descendants()
            .find(|n| n.tag_name().name() == "href")
            .and_then(|n| n.text())
            .unwrap();
        let granted: BTreeSet<&str> = response
            .descendants()
            .filter(|n| n.tag_name().name() == "privilege")
            .flat_map(|p| p.children().filter(|c| c.is_element()))
            .map(|c| c.tag_name().name())
            .collect();
        if href != home && !bookable.contains_key(href) {
            continue;
        }
        assert!(granted.contains("read"), "{href}: {granted:?}");
        assert!(
            granted.iter().all(|p| p.starts_with("read")),
            "{href} grants {granted:?}"
        );
        checked += usize::from(bookable.contains_key(href));
    }
    assert_eq!(checked, bookable.len());

    // A time-range calendar-query on Storsalen's calendar: the week of 11 January.
    let calendar = format!("{home}{storsalen}/");
    let week = TimeRange::Between(
        "20270111T000000Z".parse().unwrap(),
        "20270118T000000Z".parse().unwrap(),
    );
    let listed = client
        .request(
            ListCalendarResources::new(&calendar)
                .with_component_and_time_range(CalendarComponent::VEvent, week.clone()),
        )
        .await
        .unwrap()
        .resources;
    let in_week: BTreeSet<String> = listed.iter().map(|r| booking_id(&r.href)).collect();
    assert_eq!(
        in_week,
        BTreeSet::from([koroving.clone(), series.clone(), request.clone()]),
        "not {arsmote} (the week after) nor {elsewhere} (Lillesalen)"
    );
    for r in &listed {
        assert!(r.href.starts_with(&calendar), "{}", r.href);
        assert!(r.etag.is_some(), "{r:?}");
        assert!(
            r.content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("text/calendar")),
            "{r:?}"
        );
        assert!(!r.resource_type.is_collection, "{r:?}");
    }

    // Their content, as an app fetches it (calendar-multiget).
    let hrefs: Vec<&str> = listed.iter().map(|r| r.href.as_str()).collect();
    let fetched = client
        .request(GetCalendarResources::new(&calendar).with_hrefs(&hrefs))
        .await
        .unwrap()
        .resources;
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    let mut events: BTreeMap<String, String> = BTreeMap::new();
    for f in fetched {
        let content = f.content.unwrap_or_else(|s| panic!("{}: {s}", f.href));
        let etag = listed
            .iter()
            .find(|r| r.href == f.href)
            .unwrap()
            .etag
            .clone();
        assert_eq!(Some(content.etag), etag, "{}", f.href);
        events.insert(booking_id(&f.href), content.data);
    }
    let expect = [
        (&koroving, "Korøving", "CONFIRMED"),
        (&series, "Kulturskolen, teaterøving", "CONFIRMED"),
        (&request, "Bursdagsfeiring", "TENTATIVE"),
    ];
    for (id, purpose, status) in expect {
        let ics = &events[id.as_str()];
        assert_eq!(event_prop(ics, "UID"), Some(format!("{id}@lokal")), "{ics}");
        assert_eq!(
            event_prop(ics, "SUMMARY"),
            Some(purpose.replace(',', "\\,")),
            "{ics}"
        );
        assert_eq!(event_prop(ics, "STATUS").as_deref(), Some(status), "{ics}");
    }
    // The series comes as a series, from its first date to its fourth (Lokal writes the end
    // of a series as UNTIL its last date, 28 January at 18:00 in Oslo).
    let series_ics = &events[series.as_str()];
    assert_eq!(
        event_prop(series_ics, "RRULE").as_deref(),
        Some("FREQ=WEEKLY;UNTIL=20270128T170000Z"),
        "{series_ics}"
    );
    assert_eq!(
        event_prop(series_ics, "DTSTART").as_deref(),
        Some("20270107T180000"),
        "{series_ics}"
    );
    // Times are the room's local time, with its zone.
    assert!(
        series_ics.contains("DTSTART;TZID=Europe/Oslo:"),
        "{series_ics}"
    );

    // sync-collection: everything at first…
    let first = client
        .request(SyncCollection::new(&calendar))
        .await
        .unwrap();
    let all: BTreeSet<String> = first.changed.iter().map(|r| booking_id(&r.href)).collect();
    assert_eq!(
        all,
        BTreeSet::from([
            koroving.clone(),
            series.clone(),
            request.clone(),
            arsmote.clone()
        ])
    );
    assert!(first.deleted.is_empty(), "{first:?}");
    assert!(first.changed.iter().all(|r| r.etag.is_some()), "{first:?}");
    // …nothing when nothing changed…
    let again = client
        .request(SyncCollection::new(&calendar).with_sync_token(&first.new_sync_token))
        .await
        .unwrap();
    assert!(
        again.changed.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.new_sync_token, first.new_sync_token);

    // …then just a new booking…
    let (added, _) = book(
        app,
        INGRID,
        &storsalen,
        ("2027-01-15T18:00", "2027-01-15T20:00"),
        "Jazzklubben",
        json!({}),
    )
    .await;
    let second = client
        .request(SyncCollection::new(&calendar).with_sync_token(&first.new_sync_token))
        .await
        .unwrap();
    let changed: Vec<String> = second.changed.iter().map(|r| booking_id(&r.href)).collect();
    assert_eq!(changed, std::slice::from_ref(&added));
    assert!(second.deleted.is_empty(), "{second:?}");
    assert_ne!(second.new_sync_token, first.new_sync_token);
    let got = client
        .request(GetCalendarResources::new(&calendar).with_hrefs([&second.changed[0].href]))
        .await
        .unwrap()
        .resources;
    let content = got[0].content.as_ref().unwrap();
    assert_eq!(Some(&content.etag), second.changed[0].etag.as_ref());
    assert_eq!(
        event_prop(&content.data, "UID"),
        Some(format!("{added}@lokal"))
    );
    assert_eq!(
        event_prop(&content.data, "SUMMARY").as_deref(),
        Some("Jazzklubben")
    );

    // …and a cancelled booking is reported as removed.
    let (status, cancelled) = app
        .post(
            &format!("/api/v1/bookings/{arsmote}/cancel"),
            Some(INGRID),
            json!({"reason": "Flyttet til februar"}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let third = client
        .request(SyncCollection::new(&calendar).with_sync_token(&second.new_sync_token))
        .await
        .unwrap();
    assert!(third.changed.is_empty(), "{third:?}");
    assert_eq!(third.deleted, [format!("{calendar}{arsmote}.ics")]);
    // A fresh sync no longer lists it; the query for the week is unchanged by it.
    let fresh = client
        .request(SyncCollection::new(&calendar))
        .await
        .unwrap();
    let now_in: BTreeSet<String> = fresh.changed.iter().map(|r| booking_id(&r.href)).collect();
    assert_eq!(
        now_in,
        BTreeSet::from([koroving, series, request, added.clone()])
    );
    assert_eq!(fresh.new_sync_token, third.new_sync_token);
    let listed = client
        .request(
            ListCalendarResources::new(&calendar)
                .with_component_and_time_range(CalendarComponent::VEvent, week),
        )
        .await
        .unwrap()
        .resources;
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(listed.iter().any(|r| booking_id(&r.href) == added));
}
