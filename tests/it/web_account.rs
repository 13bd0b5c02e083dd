//! The portal's accounts, driven as a browser drives them: registering, signing in and out
//! (residents and directory staff), sessions in the store, CSRF, the failed-login limit,
//! the language switch, and the cookies' flags.

use crate::support::app::TestApp;
use crate::support::browser::{Browser, hidden};

#[tokio::test]
async fn a_resident_registers_signs_out_and_signs_in_again() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    let page = b
        .submit(
            "/register",
            "/register",
            &[
                ("name", "Siri Fjeld"),
                ("email", "siri@example.no"),
                ("password", "siri-password-1"),
                ("password_again", "siri-password-1"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/?notice=registered"));
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lokal_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");
    let start = b.get("/?notice=registered").await;
    assert!(
        start.body.contains("Siri Fjeld"),
        "signed in: the header names her"
    );
    assert!(start.body.contains("Kontoen din er opprettet"));

    // The account works for the API too.
    let (status, _) = app
        .get(
            "/api/v1/bookings?mine=true",
            Some(("siri@example.no", "siri-password-1")),
        )
        .await;
    assert_eq!(status, 200);

    // Signing out ends the session in the store, not only in the browser.
    let old_cookie = b.cookie("lokal_session").unwrap();
    let start = b.get("/").await;
    let out = b
        .post("/logout", &[("csrf", &hidden(&start.body, "csrf"))])
        .await;
    assert_eq!(out.status, 303);
    assert!(b.cookie("lokal_session").is_none());
    let replay = Browser::new(&app);
    replay.set_cookie("lokal_session", &old_cookie);
    let page = replay.get("/").await;
    assert!(
        !page.body.contains("Siri Fjeld"),
        "the old cookie opens nothing"
    );

    // Signing in again: a new session token, and back to the page that asked.
    let page = b
        .submit(
            "/login?next=/halls",
            "/login",
            &[
                ("login", "SIRI@example.no"),
                ("password", "siri-password-1"),
                ("next", "/halls"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/halls"));
    assert_ne!(b.cookie("lokal_session").unwrap(), old_cookie);
}

#[tokio::test]
async fn a_clerk_signs_in_with_the_directory_and_lands_in_the_console() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    let page = b
        .submit(
            "/login",
            "/login",
            &[("login", "erik.dahl"), ("password", "erik-clerk-2027")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/console"));
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lokal_session="))
        .unwrap();
    assert!(
        session.contains("Max-Age=43200"),
        "staff sessions last a working day at most: {session}"
    );
    let start = b.get("/").await;
    assert!(start.body.contains("Erik Dahl"));
    assert!(
        start.body.contains(r#"href="/console""#),
        "clerks get the console"
    );

    // Staff who are not clerks get no console links.
    let ingrid = Browser::new(&app);
    let page = ingrid
        .submit(
            "/login",
            "/login",
            &[("login", "ingrid.berg"), ("password", "ingrid-demo-2027")],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/"));
    let start = ingrid.get("/").await;
    assert!(start.body.contains("Ingrid"));
    assert!(!start.body.contains(r#"href="/console""#));
}

#[tokio::test]
async fn forms_without_their_token_or_from_another_site_change_nothing() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    b.get("/register").await;
    let fields = [
        ("name", "Ola"),
        ("email", "ola@example.no"),
        ("password", "ola-password-1"),
        ("password_again", "ola-password-1"),
    ];
    // No token.
    let page = b.post("/register", &fields).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Skjemaet er utløpt"), "{}", page.body);
    // Another visitor's token.
    let other = Browser::new(&app);
    let theirs = hidden(&other.get("/register").await.body, "csrf");
    let mut with_theirs = vec![("csrf", theirs.as_str())];
    with_theirs.extend_from_slice(&fields);
    assert_eq!(b.post("/register", &with_theirs).await.status, 403);
    // The right token, sent from another site's page.
    let mine = hidden(&b.get("/register").await.body, "csrf");
    let mut with_mine = vec![("csrf", mine.as_str())];
    with_mine.extend_from_slice(&fields);
    b.header("origin", "https://evil.example");
    assert_eq!(b.post("/register", &with_mine).await.status, 403);
    // Nothing was registered.
    let (status, _) = app
        .get(
            "/api/v1/bookings?mine=true",
            Some(("ola@example.no", "ola-password-1")),
        )
        .await;
    assert_eq!(status, 401);
    // The same form from this site goes through.
    b.clear_headers();
    b.header("origin", &app.base);
    assert_eq!(b.post("/register", &with_mine).await.status, 303);
    // A signed-in visitor's form needs the session's token, not the pre-sign-in cookie's.
    let out = b.post("/logout", &[("csrf", mine.as_str())]).await;
    assert_eq!(out.status, 403);
    assert!(b.cookie("lokal_session").is_some());
    assert!(
        b.get("/").await.body.contains("Innlogget som Ola"),
        "still signed in"
    );
}

#[tokio::test]
async fn wrong_passwords_are_limited_and_errors_name_their_fields() {
    let app = TestApp::sqlite().await;
    app.resident("limit@example.no").await;
    let b = Browser::new(&app);
    // Empty fields: each named at its field, linked from the summary.
    let page = b
        .submit("/login", "/login", &[("login", ""), ("password", "")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains(r##"href="#login""##), "{}", page.body);
    assert!(
        page.body
            .contains(r#"aria-describedby="login-hint login-error""#)
    );
    assert!(page.body.contains(r#"id="password-error""#));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let page = b
            .submit(
                "/login",
                "/login",
                &[
                    ("login", "limit@example.no"),
                    ("password", "wrong-password"),
                ],
            )
            .await;
        statuses.push(page.status);
        if page.status == 429 {
            assert!(
                page.body.contains("For mange mislykkede forsøk"),
                "{}",
                page.body
            );
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // Even the right password waits now.
    let page = b
        .submit(
            "/login",
            "/login",
            &[
                ("login", "limit@example.no"),
                ("password", "limit@example.no-password"),
            ],
        )
        .await;
    assert_eq!(page.status, 429);
    // Registering twice, and a password too short: field errors, not a 500.
    let page = b
        .submit(
            "/register",
            "/register",
            &[
                ("name", "X"),
                ("email", "limit@example.no"),
                ("password", "long-enough-pw"),
                ("password_again", "long-enough-pw"),
            ],
        )
        .await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains(r#"id="email-error""#));
    let page = b
        .submit(
            "/register",
            "/register",
            &[
                ("name", "X"),
                ("email", "new@example.no"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains(r#"id="password-error""#));
    // A body that is not a form at all.
    let token = hidden(&b.get("/login").await.body, "csrf");
    let req = b
        .request(reqwest::Method::POST, "/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&login=%ZZ&password"));
    let page = b.send(req).await;
    assert!((400..500).contains(&page.status), "{}", page.status);
}

#[tokio::test]
async fn the_language_follows_the_switch_then_the_browser() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    let page = b.get("/login").await;
    assert!(page.body.contains(r#"<html lang="nb">"#));
    assert!(page.body.contains("Logg inn"));
    b.header("accept-language", "en-GB,en;q=0.9");
    let page = b.get("/login").await;
    assert!(page.body.contains(r#"<html lang="en">"#));
    // The switch remembers the choice and comes back to the page; never to another site.
    let page = b.get("/lang/nb?next=/login").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/login"));
    let page = b.get("/login").await;
    assert!(
        page.body.contains(r#"<html lang="nb">"#),
        "the cookie wins over the header"
    );
    let page = b.get("/lang/en?next=//evil.example/").await;
    assert_eq!(page.location.as_deref(), Some("/"));
    let page = b
        .submit(
            "/login",
            "/login",
            &[
                ("login", "erik.dahl"),
                ("password", "erik-clerk-2027"),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/console"));
}

#[tokio::test]
async fn behind_a_tls_proxy_cookies_are_secure() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    b.header("x-forwarded-proto", "https");
    let page = b.get("/login").await;
    assert!(page.set_cookies.iter().all(|c| c.contains("; Secure")));
    let page = b
        .submit(
            "/login",
            "/login",
            &[("login", "erik.dahl"), ("password", "erik-clerk-2027")],
        )
        .await;
    let session = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lokal_session="))
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn pages_carry_their_safety_headers_and_browsers_get_html_errors() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    let response = reqwest::get(format!("{}/", app.base)).await.unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    b.header("accept", "text/html");
    let page = b.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Fant ikke siden"));
    // Programs still get problem+json.
    let (status, body) = app.get("/no/such/page", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not-found");
    // CalDAV discovery on `/` is unchanged.
    let response = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{}/", app.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_address_that_does_not_fit_is_a_page_in_the_visitors_language() {
    let app = TestApp::sqlite().await;
    let hall = app.room("Storsalen").await;
    let b = Browser::new(&app);
    b.submit(
        "/login",
        "/login",
        &[("login", "erik.dahl"), ("password", "erik-clerk-2027")],
    )
    .await;
    for path in [
        "/?date=2027-01-13&date=2027-01-14".to_owned(),
        format!("/halls/{hall}?week=2027-W02&week=2027-W03"),
        "/halls/%FF".to_owned(),
        "/my/bookings/%FF".to_owned(),
        "/console?notice=closed&affected=many".to_owned(),
        "/console/bookings/%FF".to_owned(),
        "/console/calendar?affected=-1".to_owned(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(page.body.contains("<h1"), "{path}: a page, {}", page.body);
        assert!(
            page.body.contains("Ugyldig adresse"),
            "{path}: {}",
            page.body
        );
    }
    let page = b.post("/console/bookings/%FF/approve", &[]).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Ugyldig adresse"), "{}", page.body);
}

#[tokio::test]
async fn pages_for_a_signed_in_person_are_not_stored_by_the_browser() {
    let app = TestApp::sqlite().await;
    let b = Browser::new(&app);
    // A public page for a visitor: private, checked again before reuse.
    let start = b.get("/").await;
    assert_eq!(start.cache_control, "private, no-cache");
    let done = b
        .submit(
            "/register",
            "/register",
            &[
                ("name", "Kari Nordmann"),
                ("email", "kari@example.no"),
                ("password", "kari-password-1"),
                ("password_again", "kari-password-1"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    // Signed in, pages name the person: nothing is kept on a shared computer, so the back
    // button after signing out shows nothing of theirs.
    for path in ["/my/bookings", "/", "/my/bookings/no-such-booking"] {
        let page = b.get(path).await;
        assert!(page.body.contains("Kari Nordmann"), "{path}");
        assert_eq!(page.cache_control, "private, no-store", "{path}");
    }
}
