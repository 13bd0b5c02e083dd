//! The architecture, checked from the code: the layers (`layers`) and the purity of the
//! scheduling core.
//!
//! The scheduling core stays pure: no async runtime, database, web, directory, logging, file
//! system, environment or clock. This test reads `src/scheduling` and fails on any of them.

mod layers;

use std::path::{Path, PathBuf};

/// What the core must not mention, and why. Matched on code with comments removed.
const FORBIDDEN: &[(&str, &str)] = &[
    ("tokio", "an async runtime"),
    ("sqlx", "the database"),
    ("axum", "the web layer"),
    ("ldap3", "the directory"),
    ("tracing", "logging"),
    ("std::fs", "the file system"),
    ("std::env", "the environment"),
    ("std::net", "the network"),
    ("std::process", "processes"),
    ("env!", "build-time environment"),
    ("Utc::now", "the clock"),
    ("Local::now", "the clock and the machine's zone"),
    ("SystemTime", "the clock"),
    ("Instant::now", "the clock"),
    ("chrono::Local", "the machine's zone"),
    ("Tz::LOCAL", "the machine's zone"),
];

/// Drops `//` comments (doc comments included) so that prose may name what code may not use.
fn code_only(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every forbidden name in `source`, matched as a whole word, and every `use std::{..}` list
/// that brings in `fs`, `env`, `net` or `process`.
fn violations(source: &str) -> Vec<String> {
    let code = code_only(source);
    let mut found = Vec::new();
    for (needle, what) in FORBIDDEN {
        let mut from = 0;
        while let Some(i) = code[from..].find(needle) {
            let at = from + i;
            let before = code[..at].chars().next_back();
            let after = code[at + needle.len()..].chars().next();
            let word_start = before.is_none_or(|c| !is_ident_char(c));
            let word_end = needle.ends_with('!') || after.is_none_or(|c| !is_ident_char(c));
            if word_start && word_end {
                found.push(format!("`{needle}` ({what})"));
                break;
            }
            from = at + needle.len();
        }
    }
    for statement in code
        .split(';')
        .filter(|s| s.trim_start().starts_with("use std::{"))
    {
        for banned in ["fs", "env", "net", "process"] {
            if statement
                .split(|c: char| !is_ident_char(c))
                .any(|word| word == banned)
            {
                found.push(format!("`std::{banned}` in a grouped use"));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_scheduling_core_uses_no_io_runtime_or_clock() {
    let (files, report) = impurities("src/scheduling");
    assert!(
        files >= 8,
        "expected the core's modules under src/scheduling, found {files}"
    );
    assert!(
        report.is_empty(),
        "the scheduling core must stay pure:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_ical_reader_the_core_uses_is_pure_too() {
    let (files, report) = impurities("src/ical");
    assert!(files > 0, "expected src/ical");
    assert!(
        report.is_empty(),
        "src/ical must stay pure (the core reads closure calendars with it):\n{}",
        report.join("\n")
    );
}

/// How many Rust files `dir` (below the crate) holds, and every forbidden use in them.
fn impurities(dir: &str) -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut report = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for v in violations(&source) {
            report.push(format!("{}: uses {v}", file.display()));
        }
    }
    (files.len(), report)
}

#[test]
fn the_purity_check_catches_each_kind_of_leak() {
    let leaks = [
        "use tokio::time::sleep;",
        "let pool = sqlx::PgPool::connect(url);",
        "use axum::Router;",
        "use ldap3::LdapConn;",
        "tracing::info!(\"x\");",
        "let s = std::fs::read_to_string(p);",
        "let v = std::env::var(\"X\");",
        "use std::{collections::HashMap, env};",
        "use std::{fs, io};",
        "let now = Utc::now();",
        "let now = chrono::Utc::now();",
        "let t = std::time::SystemTime::now();",
        "let t = Instant::now();",
        "let z = chrono::Local;",
    ];
    for leak in leaks {
        assert!(!violations(leak).is_empty(), "{leak:?} should be caught");
    }
}

#[test]
fn the_purity_check_ignores_prose_and_lookalike_names() {
    let clean = [
        "//! Never reads the clock (no Utc::now), no tokio, no std::fs.",
        "/// See std::env for why not.\nfn f() {}",
        "let environment = 1; let fs_count = 2; let tracing_id = 3;",
        "use std::{collections::HashMap, fmt};",
    ];
    for text in clean {
        assert_eq!(violations(text), Vec::<String>::new(), "{text:?}");
    }
}
