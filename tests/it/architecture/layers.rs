//! The layers of `docs/architecture.md`, enforced from the code: every `crate::…` path (and
//! `super::…` that climbs out of a top-level module) in `src/` is an arrow from one top-level
//! module to another, and an arrow may only point down.
//!
//! ```text
//! wiring     startup cli config explain main lib   composes everything
//! faces      http web caldav notify                 never import each other
//! app        app                                    AppState: the services
//! services   booking calendar identity              rules, authorization, transactions
//! leaves     i18n telemetry limits clock            shared, import no service
//! bottom     store directory scheduling ical        storage, directory, the pure core and its
//!                                                   iCalendar reader
//! ```
//!
//! Besides "down only", the store is reached only from services (and from the wiring that
//! opens it), and no service hands its store out (`pub store`).
//!
//! `cargo test --test it architecture::layers::the_import_graph -- --nocapture` prints the graph;
//! `LOKAL_SRC=/path/to/other/checkout/src` prints another tree's (e.g. an older commit's,
//! checked out with `git worktree add`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    Bottom,
    Leaf,
    Service,
    App,
    Face,
    Wiring,
}

/// Each top-level module's tier. A module missing here fails the test: a new module must be
/// placed in a layer on purpose.
fn tier(module: &str) -> Option<Tier> {
    Some(match module {
        "startup" | "cli" | "config" | "explain" | "main" | "lib" => Tier::Wiring,
        "http" | "web" | "caldav" | "notify" => Tier::Face,
        "app" => Tier::App,
        "booking" | "calendar" | "identity" => Tier::Service,
        "i18n" | "telemetry" | "limits" | "clock" => Tier::Leaf,
        // `ical` is pure (no I/O, no clock) and imports nothing of Lokal's, so the pure core
        // reads closure calendars with it.
        "store" | "directory" | "scheduling" | "ical" => Tier::Bottom,
        _ => return None,
    })
}

/// One source file: its path below `src/` and its text.
struct Source {
    path: String,
    text: String,
}

/// The module path of a file: `web/resident/mine.rs` → `[web, resident, mine]`,
/// `web/mod.rs` → `[web]`, `app.rs` → `[app]`.
fn module_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Drops `//` comments (doc comments included): prose may name any module. Unit tests
/// (`#[cfg(test)] mod tests`) are code of their module and are checked like it.
fn code_only(source: &str) -> String {
    let mut out = String::new();
    for line in source.lines() {
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The first identifiers of the items of a `{…}` group starting at `s` (after the `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_item_start = true;
    let mut i = 0;
    let bytes: Vec<char> = s.chars().collect();
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            '{' => {
                depth += 1;
                at_item_start = false;
            }
            '}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            ',' if depth == 0 => at_item_start = true,
            c if c.is_whitespace() => {}
            _ => {
                if at_item_start && depth == 0 {
                    let rest: String = bytes[i..].iter().collect();
                    let head = ident(&rest).to_owned();
                    if !head.is_empty() {
                        i += head.chars().count();
                        heads.push(head);
                        at_item_start = false;
                        continue;
                    }
                }
                at_item_start = false;
            }
        }
        i += 1;
    }
    heads
}

/// The top-level modules a file's code names: `crate::x…`, `crate::{x…, y…}`, and `super::`
/// chains that climb to the crate root.
fn imports(path: &str, source: &str) -> BTreeSet<String> {
    let code = code_only(source);
    let own = module_path(path);
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            let head = ident(rest);
            if !head.is_empty() {
                found.insert(head.to_owned());
            }
        }
    }
    // `super::super::x` from `a/b/c.rs` climbs from [a, b, c] to [a] and names `x` in `a`: the
    // same module. Only a climb past the top-level module names another one.
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let mut rest = &code[i..];
        let mut depth = own.len() + inline_modules_open(&code[..i]);
        while let Some(r) = rest.strip_prefix("super::") {
            depth = depth.saturating_sub(1);
            rest = r;
        }
        if depth == 0 {
            if let Some(group) = rest.strip_prefix('{') {
                found.extend(group_heads(group));
            } else {
                let head = ident(rest);
                if !head.is_empty() {
                    found.insert(head.to_owned());
                }
            }
        }
    }
    found
}

/// How many inline modules (`mod tests { … }`) are open at the end of `code`: a `super::`
/// inside one climbs one level less out of the file's module.
fn inline_modules_open(code: &str) -> usize {
    let mut depth = 0usize;
    let mut open: Vec<usize> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut word_start = None;
    for (i, c) in code.char_indices() {
        if is_ident(c) {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = word_start.take() {
            words.push(&code[start..i]);
        }
        match c {
            '{' => {
                depth += 1;
                let n = words.len();
                if n >= 2 && words[n - 2] == "mod" {
                    open.push(depth);
                }
                words.clear();
            }
            '}' => {
                if open.last() == Some(&depth) {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
                words.clear();
            }
            ';' => words.clear(),
            _ => {}
        }
    }
    open.len()
}

/// Which top-level module a file belongs to.
fn top(path: &str) -> String {
    module_path(path).into_iter().next().unwrap_or_default()
}

/// module → the other top-level modules it names.
fn graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources {
        let from = top(&s.path);
        let entry = g.entry(from.clone()).or_default();
        for to in imports(&s.path, &s.text) {
            if to != from && !matches!(to.as_str(), "self" | "super" | "crate") {
                entry.insert(to);
            }
        }
    }
    g
}

/// Every arrow that breaks a rule, as a sentence naming the file.
fn violations(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    for s in sources {
        let from = top(&s.path);
        let Some(from_tier) = tier(&from) else {
            found.push(format!(
                "src/{}: module `{from}` is in no layer (add it to `tier` in tests/it/layers.rs and to docs/architecture.md)",
                s.path
            ));
            continue;
        };
        for to in imports(&s.path, &s.text) {
            if to == from || matches!(to.as_str(), "self" | "super" | "crate") {
                continue;
            }
            let Some(to_tier) = tier(&to) else {
                // `crate::foo` where foo is an item of lib.rs, or a module in no layer.
                found.push(format!(
                    "src/{}: names `crate::{to}`, which is in no layer",
                    s.path
                ));
                continue;
            };
            let upward = to_tier > from_tier;
            let sideways =
                to_tier == from_tier && matches!(from_tier, Tier::Face | Tier::Leaf | Tier::App);
            if from_tier == Tier::Face && to_tier == Tier::Face {
                found.push(format!(
                    "src/{}: the face `{from}` imports the face `{to}` (faces never import each other)",
                    s.path
                ));
            } else if upward || sideways {
                found.push(format!(
                    "src/{}: `{from}` ({from_tier:?}) imports `{to}` ({to_tier:?}): arrows only point down",
                    s.path
                ));
            }
            if to == "store" && !matches!(from_tier, Tier::Service | Tier::Wiring | Tier::Bottom) {
                found.push(format!(
                    "src/{}: `{from}` reaches the store; only services do",
                    s.path
                ));
            }
        }
        if matches!(from_tier, Tier::Face | Tier::App | Tier::Leaf) && reaches_store(&s.text) {
            found.push(format!(
                "src/{}: `{from}` reaches a service's store (`.store`); only services do",
                s.path
            ));
        }
        if from_tier == Tier::Service {
            let code = code_only(&s.text);
            if code.contains("pub store:") || code.contains("pub store :") {
                found.push(format!(
                    "src/{}: a service hands out its store (`pub store`); keep it private",
                    s.path
                ));
            }
        }
    }
    found
}

/// Whether code uses a `.store` field or accessor (`state.bookings.store.ping()`,
/// `calendars.store()`), which would reach the store without naming `crate::store`. An
/// atomic's `.store(value, ordering)` takes arguments and is not matched.
fn reaches_store(source: &str) -> bool {
    let code = code_only(source);
    code.match_indices(".store").any(|(i, _)| {
        let after = &code[i + ".store".len()..];
        after.starts_with('.') || after.starts_with("()") || after.starts_with(".clone")
    })
}

fn rust_files(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push(Source {
                path: rel,
                text: std::fs::read_to_string(&path).unwrap(),
            });
        }
    }
}

fn sources() -> Vec<Source> {
    let root = std::env::var_os("LOKAL_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut files = Vec::new();
    rust_files(&root, &root, &mut files);
    files
}

#[test]
fn every_arrow_between_modules_points_down() {
    if std::env::var_os("LOKAL_SRC").is_some() {
        return; // another tree, for the graph only
    }
    let files = sources();
    assert!(
        files.len() > 40,
        "expected Lokal's sources, found {}",
        files.len()
    );
    let report = violations(&files);
    assert!(
        report.is_empty(),
        "the layers of docs/architecture.md are broken:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_import_graph() {
    let files = sources();
    let g = graph(&files);
    let mut lines = Vec::new();
    let mut arrows = 0;
    for (from, tos) in &g {
        arrows += tos.len();
        let tier = tier(from).map_or("?".to_owned(), |t| format!("{t:?}"));
        lines.push(format!(
            "{from:<11} {tier:<8} -> {}",
            tos.iter().cloned().collect::<Vec<_>>().join(" ")
        ));
    }
    let broken = violations(&files);
    println!(
        "{} modules, {arrows} arrows, {} broken:\n{}",
        g.len(),
        broken.len(),
        lines.join("\n")
    );
    for b in &broken {
        println!("  broken: {b}");
    }
}

fn planted(path: &str, text: &str) -> Vec<Source> {
    vec![Source {
        path: path.to_owned(),
        text: text.to_owned(),
    }]
}

#[test]
fn each_rule_catches_a_planted_violation() {
    let cases = [
        // a face imports another face
        ("web/console.rs", "use crate::caldav::xml;"),
        ("caldav/dav.rs", "let x = crate::web::resident::start;"),
        (
            "notify/mod.rs",
            "use crate::{i18n::Lang, http::error::ApiError};",
        ),
        // a face imports http (a face too)
        ("caldav/feed.rs", "use crate::http::AppState;"),
        // a face reaches the store
        ("web/resident/mine.rs", "use crate::store::BookingRecord;"),
        (
            "http/api.rs",
            "state.bookings.store.ping()\n; use crate::{booking, store::Store};",
        ),
        // a service imports a face, the app or the wiring
        ("booking/mod.rs", "use crate::web::Lang;"),
        ("calendar/mod.rs", "use crate::app::AppState;"),
        ("identity/mod.rs", "use crate::config::Config;"),
        // a service hands out its store
        (
            "booking/mod.rs",
            "pub struct Bookings {\n    pub store: Arc<Store>,\n}",
        ),
        // a leaf imports a service, a face, or the store
        ("i18n/reasons.rs", "use crate::booking::ReasonView;"),
        ("ical/mod.rs", "use crate::caldav::xml;"),
        ("ical/mod.rs", "use crate::i18n::Lang;"),
        ("telemetry.rs", "use crate::store::Store;"),
        // the bottom imports upward
        ("scheduling/decision.rs", "use crate::i18n::Lang;"),
        ("store/booking.rs", "use crate::booking::Rules;"),
        // `super::` climbing out of a module
        (
            "web/resident/mine.rs",
            "use super::super::super::caldav::ical;",
        ),
        // `super::` inside an inline module climbs from there
        (
            "web/mod.rs",
            "mod tests {\n    use super::super::caldav::xml;\n}",
        ),
        // a face, the app or a leaf reaches a service's store without naming `crate::store`
        ("http/mod.rs", "let up = state.bookings.store.ping().await;"),
        (
            "web/session.rs",
            "let s = state.bookings.store().session(id).await;",
        ),
        ("app.rs", "let s = bookings.store.clone();"),
        ("i18n/mod.rs", "let s = x.store().clone();"),
        // the app imports a face
        ("app.rs", "use crate::web::Visitor;"),
        // a module in no layer
        ("stats.rs", "pub fn f() {}"),
    ];
    for (path, text) in cases {
        assert!(
            !violations(&planted(path, text)).is_empty(),
            "{path}: {text:?} should be caught"
        );
    }
}

#[test]
fn allowed_arrows_and_prose_are_not_reported() {
    let cases = [
        (
            "web/console.rs",
            "use crate::booking::Bookings;\nuse crate::i18n::Lang;",
        ),
        (
            "web/resident/mine.rs",
            "use super::super::Page;\nuse super::book;",
        ),
        (
            "caldav/dav.rs",
            "use crate::{app::AppState, calendar::Calendars, ical};",
        ),
        (
            "booking/mod.rs",
            "use crate::store::{Store, StoreError};\nuse crate::identity::Principal;",
        ),
        (
            "calendar/mod.rs",
            "pub use crate::store::CalendarEntry;\nuse crate::booking::Bookings;",
        ),
        (
            "store/mod.rs",
            "use crate::directory::DirRoom;\nuse crate::scheduling::Interval;",
        ),
        (
            "startup.rs",
            "use crate::{http, web, caldav, notify, store::Store};",
        ),
        (
            "notify/mod.rs",
            "//! Unlike `crate::web`, mails are plain text.\nuse crate::i18n::Lang;",
        ),
        ("i18n/reasons.rs", "use crate::scheduling::Reason;"),
        (
            "scheduling/recurrence.rs",
            "#[cfg(test)]\nmod tests {\n    use super::super::time::parse_local;\n}",
        ),
        ("scheduling/closure.rs", "use crate::ical;"),
        ("booking/mod.rs", "struct Bookings { store: Arc<Store> }"),
        ("calendar/mod.rs", "let s = bookings.store().clone();"),
        (
            "telemetry.rs",
            "self.directory_up.store(up, Ordering::Relaxed);",
        ),
        (
            "web/console.rs",
            "let stored = state.bookings.stored_room(id);",
        ),
    ];
    for (path, text) in cases {
        assert_eq!(
            violations(&planted(path, text)),
            Vec::<String>::new(),
            "{path}: {text:?}"
        );
    }
}
