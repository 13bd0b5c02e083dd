//! The API keeps its OpenAPI contract. schemathesis (pinned, from PyPI, installed in a
//! virtualenv of the tests') reads `/api/v1/openapi.json` from a live Lokal and sends it generated requests,
//! valid and invalid, with every check on (`--checks all`): no 5xx, every status, header,
//! content type and body as the document says, invalid input refused, valid input accepted,
//! a login required where the document says so. It runs as a resident and as a clerk, bounded
//! in time, and the test fails on any failure or error, printing schemathesis's report.
//!
//! The few rules JSON Schema cannot state are in `tests/it/schemathesis.toml`, with why.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::support::app::{TempDir, TestApp, test_config};

/// The schemathesis release this contract is checked with, and the hypothesis release it
/// generates with (pinned too: it decides which requests are made).
const SCHEMATHESIS: &[&str] = &["schemathesis==4.32.5", "hypothesis==6.170.27"];

/// Seconds of generated requests as a resident, then as a clerk: together about two minutes,
/// so that CI on two cores stays fast.
const RESIDENT_SECS: u32 = 70;
const CLERK_SECS: u32 = 50;

/// The fewest generated requests a run must have sent for its pass to mean something.
const MIN_CASES: u64 = 300;

/// A Lokal whose login throttling is out of the way: schemathesis checks that wrong credentials
/// are refused by sending them for the account it runs as, and a throttled account would answer
/// 429 for the rest of the run (issue 15). Throttling itself is tested elsewhere.
/// Its folder holds the database and schemathesis's own files (`.hypothesis`, reports).
async fn app() -> (TestApp, TempDir) {
    let dir = TempDir::new("schemathesis");
    let mut config = test_config(&format!("sqlite:{}", dir.0.join("lokal.db").display()));
    config.auth.max_failures = 1_000_000;
    config.auth.address_max_failures = 1_000_000;
    (TestApp::start(config).await, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keeps_its_openapi_contract_for_a_resident_and_a_clerk() {
    let (app, dir) = app().await;
    let kari = app.resident("kari@example.no").await;
    // Something to find: a booking of the resident's, so that the generated requests that follow
    // links from it (history, cancel, approve) reach real records.
    let room = app.room("Klubbrommet").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            Some((&kari.0, &kari.1)),
            json!({"room_id": room, "start": "2027-01-06T18:00", "end": "2027-01-06T20:00",
                   "purpose": "Strikkeklubb", "attendees": 8}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A virtualenv of its own: the CalDAV tests' caldav package replaces urllib3, which breaks
    // schemathesis's HTTP client ("'TrafficPolice' object has no attribute 'keys'").
    let python = crate::support::python::venv_named("lokal-pyenv-schemathesis", SCHEMATHESIS);
    let st = python.with_file_name("st");
    let base = app.base.clone();
    let runs = [
        (format!("{}:{}", kari.0, kari.1), RESIDENT_SECS),
        ("erik.dahl:erik-clerk-2027".to_owned(), CLERK_SECS),
    ];
    for (login, secs) in runs {
        let (st, base, cwd) = (st.clone(), base.clone(), dir.0.clone());
        let report = tokio::task::spawn_blocking(move || run(&st, &cwd, &base, &login, secs))
            .await
            .unwrap();
        let who = report.login.split(':').next().unwrap_or("").to_owned();
        assert!(
            report.success,
            "schemathesis found contract failures as {who}:\n{}",
            report.output
        );
        assert!(
            report.cases >= MIN_CASES,
            "schemathesis sent only {} requests as {who}:\n{}",
            report.cases,
            report.output
        );
        eprintln!(
            "schemathesis as {who}: {} generated requests, no failure",
            report.cases
        );
    }
}

struct Report {
    login: String,
    success: bool,
    cases: u64,
    output: String,
}

/// One bounded schemathesis run as `login`, with its report.
fn run(st: &Path, cwd: &Path, base: &str, login: &str, secs: u32) -> Report {
    let config = crate::support::slapd::repo().join("tests/it/schemathesis.toml");
    let out = Command::new(st)
        .current_dir(cwd)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/api/v1/openapi.json"), "--url", base])
        .args(["--auth", login, "--checks", "all"])
        .args(["--max-time", &secs.to_string()])
        // One worker: with two, hypothesis describes its strategies from two threads at once and
        // Python 3.11's parser fails on that ("AST constructor recursion depth mismatch"), an
        // error of the tool, not of Lokal. The server is the bottleneck on two cores anyway.
        .args(["--workers", "1", "--no-color"])
        // A fixed seed, so that a failure in CI can be replayed: unseeded, a rare negative case
        // ("no Authorization header") was sent with the header that `--auth` adds to every
        // request, was rightly answered 200, and failed the run as "invalid data accepted".
        .args(["--seed", "20270107"])
        .output()
        .expect("schemathesis runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // "Test cases:" is followed by "  N generated, …".
    let cases = output
        .lines()
        .skip_while(|l| !l.starts_with("Test cases:"))
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Report {
        login: login.to_owned(),
        success: out.status.success(),
        cases,
        output,
    }
}
