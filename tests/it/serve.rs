//! `lokal serve` as a newcomer runs it: the README's run command on the embedded defaults
//! (SQLite under data/, seed/directory.ldif, seed/policies.toml), demo data on first start,
//! the URL printed, and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::app::TempDir;
use crate::support::browser::Browser;
use crate::support::slapd::repo;

#[test]
fn the_readme_run_command_serves_the_demo_and_stops_gracefully() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.lines().any(|l| l.trim() == "cargo run -- serve"),
        "the README's run command is `cargo run -- serve`"
    );
    // A working directory laid out like the repository, so the relative defaults resolve.
    let dir = TempDir::new("serve");
    for name in ["seed", "calendars"] {
        std::os::unix::fs::symlink(repo().join(name), dir.0.join(name)).unwrap();
    }
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_lokal"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(&dir.0)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let url_of = |child: &mut std::process::Child| {
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        first
            .trim()
            .strip_prefix("Lokal is running at ")
            .unwrap_or_else(|| panic!("no URL printed: {first:?}"))
            .trim_end_matches('/')
            .to_owned()
    };
    let get = |url: String, user: Option<(&str, &str)>| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let mut req = reqwest::Client::new().get(url);
            if let Some((u, p)) = user {
                req = req.basic_auth(u, Some(p));
            }
            crate::support::app::read(req.send().await.unwrap()).await
        })
    };
    let stop = |child: std::process::Child| {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "lokal serve did not stop cleanly on SIGTERM: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let mut child = start();
    let base = url_of(&mut child);
    let (status, ready) = get(format!("{base}/readyz"), None);
    assert_eq!(status, 200, "{ready}");
    // The printed URL is the portal, with the demo's halls.
    let (status, portal) = get(format!("{base}/"), None);
    assert_eq!(status, 200);
    let portal = portal.as_str().unwrap_or_default().to_owned();
    assert!(portal.contains(r#"<html lang="nb">"#), "{portal}");
    assert!(portal.contains("Storsalen") && portal.contains("Klubbrommet"));
    // The demo logins work on the portal: Kari sees her two requests, Erik the pending one.
    let kari_page = portal_page(
        &base,
        "kari.nordmann@example.no",
        "kari-demo-2027",
        "/my/bookings",
    );
    assert_eq!(
        kari_page.matches("class=\"status status-").count(),
        2,
        "{kari_page}"
    );
    assert!(kari_page.contains("status-approved") && kari_page.contains("status-pending"));
    let queue = portal_page(&base, "erik.dahl", "erik-clerk-2027", "/console");
    assert!(queue.contains("<article class=\"request"), "{queue}");
    let (_, rooms) = get(format!("{base}/api/v1/rooms"), None);
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 18);
    let kari = Some(("kari.nordmann@example.no", "kari-demo-2027"));
    let (status, mine) = get(format!("{base}/api/v1/bookings?mine=true"), kari);
    assert_eq!(status, 200, "{mine}");
    let statuses: Vec<&str> = mine["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2, "{mine}");
    assert!(statuses.contains(&"approved") && statuses.contains(&"pending"));
    stop(child);
    assert!(dir.0.join("data/lokal.db").exists(), "SQLite under data/");

    // A second start keeps the data and makes no second set of demo bookings.
    let mut child = start();
    let base = url_of(&mut child);
    let (_, again) = get(format!("{base}/api/v1/bookings?mine=true"), kari);
    assert_eq!(again["bookings"], mine["bookings"]);
    stop(child);
}

/// Signs in on the portal's form as a browser would and returns the HTML of `page`.
fn portal_page(base: &str, login: &str, password: &str, page: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let browser = Browser::at(base);
        browser.sign_in(login, password).await;
        let answer = browser.get(page).await;
        assert_eq!(answer.status, 200);
        answer.body
    })
}
