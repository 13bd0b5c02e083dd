//! `lokal explain`, run as a user runs it: the real binary, the shipped seed files.

use std::path::Path;
use std::process::{Command, Output};

fn lokal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lokal"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const NOW: &str = "--now=2027-01-10T12:00:00Z";

#[test]
fn the_readme_example_explains_a_weekly_series_with_its_skipped_dates() {
    let out = lokal(&[
        "explain",
        "seed/requests/choir-weekly.toml",
        "--bookings",
        "seed/bookings.toml",
        NOW,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Decision: PENDING"), "{stdout}");
    // The approved booking b-1001, Easter Monday, the clerk's block and 17 May are skipped.
    assert!(
        stdout.contains("[conflict] clashes with booking b-1001"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[closure] the room is closed: Andre påskedag"),
        "{stdout}"
    );
    assert!(stdout.contains("Floor polishing"), "{stdout}");
    assert!(stdout.contains("Grunnlovsdag"), "{stdout}");
    assert!(
        !stdout.contains("b-1003"),
        "a cancelled booking must not conflict: {stdout}"
    );
    assert!(
        stdout.contains("Mon 2027-03-29 18:00 to 20:00 SKIPPED"),
        "{stdout}"
    );
}

#[test]
fn the_readme_shows_what_the_run_command_really_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let command = readme
        .lines()
        .find(|l| l.starts_with("cargo run -- explain "))
        .expect("the README gives the run command");
    let args: Vec<&str> = command
        .trim_start_matches("cargo run -- ")
        .split_whitespace()
        .collect();
    let out = lokal(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let example = readme
        .split("```text\nDecision:")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README shows example output");
    for line in format!("Decision:{example}")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        assert!(
            stdout.contains(line),
            "README line {line:?} is not in the output:\n{stdout}"
        );
    }
}

#[test]
fn json_output_carries_the_machine_codes() {
    let out = lokal(&[
        "explain",
        "seed/requests/wedding-party.toml",
        NOW,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "rejected");
    let codes: Vec<&str> = v["occurrences"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["outside-opening-hours", "too-long", "over-capacity"]
    );
}

#[test]
fn staff_in_a_book_in_group_are_approved() {
    let out = lokal(&["explain", "seed/requests/staff-meeting.toml", NOW]);
    assert!(
        text(&out.stdout).contains("Decision: APPROVED"),
        "{}",
        text(&out.stdout)
    );
}

/// Writes a request file with the given `[request]` body and room zone into a temp dir.
fn scenario(dir: &Path, zone: &str, request_body: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("request-{n}.toml"));
    std::fs::write(
        &path,
        format!(
            "[room]\nid = \"r\"\nzone = \"{zone}\"\npolicy = \"hall\"\n\n[requester]\nid = \"k\"\nkind = \"resident\"\n\n[request]\n{request_body}\n"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lokal-explain-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bad input ends with exit code 2 and a message naming the problem, never a panic.
fn assert_clear_error(args: &[&str], expected: &str) {
    let out = lokal(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: expected {expected:?} in {stderr:?}"
    );
}

#[test]
fn bad_input_files_give_clear_errors_not_panics() {
    let dir = temp_dir("bad");
    let ok_times = "start = \"2027-01-20T18:00\"\nend = \"2027-01-20T20:00\"";
    let cases = [
        (
            scenario(&dir, "Europe/Atlantis", ok_times),
            "unknown time zone \"Europe/Atlantis\"",
        ),
        (
            scenario(
                &dir,
                "Europe/Oslo",
                "start = \"2027-01-20T20:00\"\nend = \"2027-01-20T18:00\"",
            ),
            "is before the start",
        ),
        (
            scenario(
                &dir,
                "Europe/Oslo",
                "start = \"2027-01-20T18:00\"\nend = \"2027-01-20T18:00\"",
            ),
            "the booking is empty",
        ),
        (
            scenario(
                &dir,
                "Europe/Oslo",
                &format!("{ok_times}\nrrule = \"FREQ=OFTEN\""),
            ),
            "request.rrule",
        ),
        (
            scenario(
                &dir,
                "Europe/Oslo",
                &format!("{ok_times}\nrrule = \"FREQ=DAILY;COUNT=99999999\""),
            ),
            "COUNT=99999999 is too large",
        ),
        (
            scenario(
                &dir,
                "Europe/Oslo",
                "start = \"tomorrow\"\nend = \"2027-01-20T20:00\"",
            ),
            "request.start",
        ),
    ];
    for (path, expected) in cases {
        assert_clear_error(&["explain", &path, NOW], expected);
    }

    let good = scenario(&dir, "Europe/Oslo", ok_times);
    let broken_ics = dir.join("broken.ics");
    std::fs::write(
        &broken_ics,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    assert_clear_error(
        &[
            "explain",
            &good,
            NOW,
            "--closures",
            broken_ics.to_str().unwrap(),
        ],
        "it has no DTSTART",
    );
    assert_clear_error(
        &["explain", &good, NOW, "--bookings", "no/such/file.toml"],
        "cannot read no/such/file.toml",
    );
    assert_clear_error(
        &["explain", &good, "--now", "yesterday"],
        "--now \"yesterday\"",
    );
    let bad_policy = dir.join("policies.toml");
    std::fs::write(&bad_policy, "[policy.hall]\ngranularity = \"7m\"\n").unwrap();
    assert_clear_error(
        &[
            "explain",
            &good,
            NOW,
            "--policies",
            bad_policy.to_str().unwrap(),
        ],
        "policy \"hall\", granularity",
    );
    std::fs::remove_dir_all(&dir).ok();
}
