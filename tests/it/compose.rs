//! docker-compose.yml and the Dockerfiles stay in step with the setup the other tests check,
//! without Docker: the paths they mount, build and copy from exist and reach the images, every
//! `LOKAL_*` variable is a configuration key that `lokal` accepts, the service account is the
//! seed's, and the OpenLDAP image runs the tests' cn=config template
//! (tests/fixtures/slapd/config.ldif.in). The last test runs the whole setup for real outside
//! containers: a throwaway PostgreSQL set up as the postgres service's environment says, the
//! OpenLDAP image's entrypoint on the files the compose file mounts, and `lokal serve` with the
//! lokal service's command and environment in a folder laid out like the server image.
//!
//! There is no YAML parser among the dependencies, so [`Yaml`] reads the small subset the
//! compose file keeps to (block mappings and lists, quoted and plain scalars, one-line flow
//! lists) and refuses anything else, rather than misreading it.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lokal::config::Config;

use crate::support::app::TempDir;
use crate::support::postgres::Postgres;
use crate::support::slapd::{SLAPADD, SLAPD, repo};

const COMPOSE: &str = "docker-compose.yml";
/// The cn=config template the tests' slapd loads (tests/it/support/slapd.rs, `Data::Seed`).
const SLAPD_TEMPLATE: &str = "tests/fixtures/slapd/config.ldif.in";

// ---- a YAML subset ------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Yaml {
    Null,
    Str(String),
    List(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list; nothing for a missing or empty value.
    fn items(&self) -> &[Yaml] {
        match self {
            Yaml::List(items) => items,
            Yaml::Null => &[],
            other => panic!("{COMPOSE}: expected a list, found {other:?}"),
        }
    }

    /// The entries of a mapping; nothing for a missing or empty value.
    fn entries(&self) -> &[(String, Yaml)] {
        match self {
            Yaml::Map(entries) => entries,
            Yaml::Null => &[],
            other => panic!("{COMPOSE}: expected a mapping, found {other:?}"),
        }
    }
}

struct Line {
    number: usize,
    indent: usize,
    text: String,
}

/// Parses the subset; panics, naming the line, on anything outside it.
fn parse_yaml(source: &str) -> Yaml {
    let mut lines = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let number = i + 1;
        let text = strip_comment(raw).trim_end();
        if text.trim().is_empty() {
            continue;
        }
        let body = text.trim_start_matches(' ');
        assert!(
            !body.starts_with('\t'),
            "line {number}: indent with spaces, not tabs"
        );
        assert!(
            body != "---" && body != "...",
            "line {number}: one document only"
        );
        lines.push(Line {
            number,
            indent: text.len() - body.len(),
            text: body.to_owned(),
        });
    }
    if lines.is_empty() {
        return Yaml::Null;
    }
    assert_eq!(lines[0].indent, 0, "line {}: indented", lines[0].number);
    let mut at = 0;
    let doc = parse_block(&lines, &mut at, 0);
    if let Some(line) = lines.get(at) {
        panic!("line {}: unexpected {:?}", line.number, line.text);
    }
    doc
}

/// Drops a `#` comment: one at the start or after a space, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    let mut after_space = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' && after_space => return &line[..i],
            None if (c == '"' || c == '\'') && after_space => quote = Some(c),
            None => {}
        }
        after_space = c.is_whitespace() || c == '[' || c == ',';
    }
    line
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

fn parse_block(lines: &[Line], at: &mut usize, indent: usize) -> Yaml {
    if is_item(&lines[*at].text) {
        parse_list(lines, at, indent)
    } else {
        parse_map(lines, at, indent)
    }
}

fn parse_list(lines: &[Line], at: &mut usize, indent: usize) -> Yaml {
    let mut items = Vec::new();
    while let Some(line) = lines.get(*at) {
        if line.indent < indent || (line.indent == indent && !is_item(&line.text)) {
            break;
        }
        assert!(
            line.indent == indent,
            "line {}: unexpected indentation",
            line.number
        );
        let rest = line.text[1..].trim_start();
        assert!(
            !rest.is_empty() && split_key(rest, line.number).is_none(),
            "line {}: only scalars and flow lists may be list items (use the short syntax)",
            line.number
        );
        items.push(scalar(rest, line.number));
        *at += 1;
    }
    Yaml::List(items)
}

fn parse_map(lines: &[Line], at: &mut usize, indent: usize) -> Yaml {
    let mut entries: Vec<(String, Yaml)> = Vec::new();
    while let Some(line) = lines.get(*at) {
        if line.indent < indent {
            break;
        }
        assert!(
            line.indent == indent && !is_item(&line.text),
            "line {}: unexpected indentation or list item",
            line.number
        );
        let (key, rest) = split_key(&line.text, line.number)
            .unwrap_or_else(|| panic!("line {}: expected `key: value`", line.number));
        assert!(
            entries.iter().all(|(k, _)| *k != key),
            "line {}: duplicate key {key:?}",
            line.number
        );
        *at += 1;
        let value = if !rest.is_empty() {
            scalar(rest, line.number)
        } else {
            match lines.get(*at) {
                Some(next) if next.indent > indent => parse_block(lines, at, next.indent),
                Some(next) if next.indent == indent && is_item(&next.text) => {
                    parse_list(lines, at, indent)
                }
                _ => Yaml::Null,
            }
        };
        entries.push((key, value));
    }
    Yaml::Map(entries)
}

/// `key: value` or `key:`; the key plain or double-quoted.
fn split_key(text: &str, number: usize) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let end = quoted.find('"')?;
        let rest = quoted[end + 1..].strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        return Some((quoted[..end].to_owned(), rest.trim()));
    }
    if text.starts_with(['\'', '[', '{']) {
        return None;
    }
    let end = match text.find(": ") {
        Some(i) => i,
        None if text.ends_with(':') => text.len() - 1,
        None => return None,
    };
    let key = &text[..end];
    assert!(
        !key.contains(['"', '\'', '#', '{', '}', '[', ']', '&', '*', '!', '|', '>']) && key != "<<",
        "line {number}: unsupported key {key:?}"
    );
    Some((key.to_owned(), text[end + 1..].trim()))
}

fn scalar(text: &str, number: usize) -> Yaml {
    let text = text.trim();
    if let Some(body) = text.strip_prefix('[') {
        let body = body
            .strip_suffix(']')
            .unwrap_or_else(|| panic!("line {number}: a flow list must end on its line"));
        let mut items = Vec::new();
        let mut item = String::new();
        let mut quote = None;
        let mut escaped = false;
        for c in body.chars() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == ',' => {
                    items.push(scalar(&item, number));
                    item.clear();
                    continue;
                }
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '[' || c == '{' => panic!("line {number}: nested flow collection"),
                None => {}
            }
            item.push(c);
        }
        if !item.trim().is_empty() {
            items.push(scalar(&item, number));
        } else {
            assert!(items.is_empty(), "line {number}: empty flow list item");
        }
        return Yaml::List(items);
    }
    if let Some(body) = text.strip_prefix('"') {
        let body = body
            .strip_suffix('"')
            .unwrap_or_else(|| panic!("line {number}: unterminated \"string\""));
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    other => panic!("line {number}: unsupported escape \\{other:?}"),
                },
                '"' => panic!("line {number}: text after a \"string\""),
                c => out.push(c),
            }
        }
        return Yaml::Str(out);
    }
    if let Some(body) = text.strip_prefix('\'') {
        let body = body
            .strip_suffix('\'')
            .unwrap_or_else(|| panic!("line {number}: unterminated 'string'"));
        assert!(
            !body.replace("''", "").contains('\''),
            "line {number}: text after a 'string'"
        );
        return Yaml::Str(body.replace("''", "'"));
    }
    assert!(
        !text.starts_with(['{', '&', '*', '!', '|', '>', '%', '@', '`']),
        "line {number}: unsupported YAML {text:?} (anchors, tags, block scalars, flow maps)"
    );
    assert!(
        !text.contains(": ") && !text.ends_with(':'),
        "line {number}: quote the value {text:?}"
    );
    match text {
        "~" | "null" => Yaml::Null,
        _ => Yaml::Str(text.to_owned()),
    }
}

// ---- the compose file -----------------------------------------------------------------------

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn compose() -> Yaml {
    parse_yaml(&read(COMPOSE))
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    compose
        .get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("{COMPOSE} has no service {name:?}"))
}

/// A service's environment, in either of compose's forms (`KEY: value` or `- KEY=value`).
fn environment(service: &Yaml) -> Vec<(String, String)> {
    match service.get("environment") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Map(entries)) => entries
            .iter()
            .map(|(k, v)| match v {
                Yaml::Str(s) => (k.clone(), s.clone()),
                Yaml::Null => (k.clone(), String::new()),
                other => panic!("{COMPOSE}: environment {k}: not a scalar: {other:?}"),
            })
            .collect(),
        Some(Yaml::List(items)) => items
            .iter()
            .map(|item| {
                let s = item.str().expect("environment items are strings");
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Some(other) => panic!("{COMPOSE}: environment: {other:?}"),
    }
}

fn env_value<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A bind mount `./HOST:CONTAINER[:MODE]`, or a named volume `NAME:CONTAINER[:MODE]`.
struct Mount {
    source: String,
    target: String,
}

impl Mount {
    fn is_bind(&self) -> bool {
        self.source.starts_with(['.', '/', '~'])
    }
}

fn mounts(service: &Yaml) -> Vec<Mount> {
    service
        .get("volumes")
        .map(Yaml::items)
        .unwrap_or_default()
        .iter()
        .map(|v| {
            let spec = v.str().expect("volumes use the short syntax");
            let mut parts = spec.split(':');
            let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
                panic!("{COMPOSE}: volume {spec:?} needs SOURCE:TARGET");
            };
            Mount {
                source: source.to_owned(),
                target: target.to_owned(),
            }
        })
        .collect()
}

/// The build context and Dockerfile of a service that is built here.
fn build(service: &Yaml) -> Option<(String, String)> {
    match service.get("build")? {
        Yaml::Str(context) => Some((context.clone(), "Dockerfile".into())),
        build @ Yaml::Map(_) => Some((
            build
                .get("context")
                .and_then(Yaml::str)
                .unwrap_or(".")
                .to_owned(),
            build
                .get("dockerfile")
                .and_then(Yaml::str)
                .unwrap_or("Dockerfile")
                .to_owned(),
        )),
        other => panic!("{COMPOSE}: build: {other:?}"),
    }
}

/// A path relative to the repository, normalized; panics on one that leaves it.
fn in_repo(path: &str) -> String {
    assert!(
        !path.starts_with(['/', '~']),
        "{COMPOSE}: {path:?} is absolute; use a path relative to the repository"
    );
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                assert!(parts.pop().is_some(), "{path:?} leaves the repository");
            }
            _ => panic!("{path:?} is not a relative path"),
        }
    }
    parts.join("/")
}

fn join(dir: &str, path: &str) -> String {
    if dir.is_empty() {
        in_repo(path)
    } else {
        in_repo(&format!("{dir}/{path}"))
    }
}

// ---- Dockerfiles and .dockerignore ------------------------------------------------------------

/// The instructions of a Dockerfile (continuation lines joined, comments dropped).
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if (trimmed.starts_with('#') && current.is_empty()) || trimmed.is_empty() {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (op, args) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

/// `COPY` instructions that copy from the build context: (sources, destination).
fn copies_from_context(instructions: &[(String, String)]) -> Vec<(Vec<String>, String)> {
    instructions
        .iter()
        .filter(|(op, _)| op == "COPY" || op == "ADD")
        .filter_map(|(_, args)| {
            let words: Vec<&str> = args.split_whitespace().collect();
            assert!(!args.starts_with('['), "use the plain form of COPY: {args}");
            if words.iter().any(|w| w.starts_with("--from")) {
                return None;
            }
            let mut paths: Vec<String> = words
                .into_iter()
                .filter(|w| !w.starts_with("--"))
                .map(str::to_owned)
                .collect();
            let dest = paths.pop().expect("COPY has a destination");
            Some((paths, dest))
        })
        .collect()
}

/// Whether `.dockerignore` (its patterns in order, `!` re-including) leaves `path` out of the
/// build context. A pattern that matches a folder leaves out all it holds.
fn ignored(dockerignore: &str, path: &str) -> bool {
    let mut out = false;
    for line in dockerignore.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (include, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').collect();
        let matches = (1..=segments.len()).any(|n| glob(pattern, &segments[..n].join("/")));
        if matches {
            out = !include;
        }
    }
    out
}

/// `*` and `?` within a path segment, `**` across segments.
fn glob(pattern: &str, path: &str) -> bool {
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| segments(rest, &s[i..])),
            Some((first, rest)) => {
                !s.is_empty()
                    && segment(first.as_bytes(), s[0].as_bytes())
                    && segments(rest, &s[1..])
            }
        }
    }
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| segment(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && segment(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && segment(rest, &s[1..]),
        }
    }
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    segments(&p, &s)
}

/// Every file `cargo build` of the crate reads besides `src/`: the manifest's targets, the
/// migrations sqlx embeds, and the files the sources embed with `include_str!`/`include_bytes!`.
fn build_inputs() -> BTreeSet<String> {
    let mut inputs: BTreeSet<String> = ["Cargo.toml", "Cargo.lock", "src"]
        .into_iter()
        .map(String::from)
        .collect();
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    if let Some(path) = manifest.get("lib").and_then(|l| l.get("path")) {
        inputs.insert(in_repo(path.as_str().unwrap()));
    }
    for (kind, folder) in [
        ("bin", "src/bin"),
        ("bench", "benches"),
        ("test", "tests"),
        ("example", "examples"),
    ] {
        for target in manifest
            .get(kind)
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            let path = match target.get("path") {
                Some(p) => p.as_str().unwrap().to_owned(),
                None => format!("{folder}/{}.rs", target["name"].as_str().unwrap()),
            };
            inputs.insert(in_repo(&path));
        }
    }
    if repo().join("build.rs").exists() {
        inputs.insert("build.rs".into());
    }
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let dir = file
            .parent()
            .unwrap()
            .strip_prefix(repo())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (macro_name, relative_to_file) in [
            ("include_str!(\"", true),
            ("include_bytes!(\"", true),
            ("migrate!(\"", false),
        ] {
            for (i, _) in source.match_indices(macro_name) {
                let rest = &source[i + macro_name.len()..];
                let arg = &rest[..rest.find('"').unwrap()];
                inputs.insert(if relative_to_file {
                    join(&dir, arg)
                } else {
                    in_repo(arg)
                });
            }
        }
        if source.contains("migrate!()") {
            inputs.insert("migrations".into());
        }
    }
    inputs
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

// ---- running things -----------------------------------------------------------------------

/// Runs the `lokal` binary in `cwd` with exactly the given `LOKAL_*` variables (none are
/// inherited from the test's own environment).
fn lokal(args: &[&str], env: &[(String, String)], cwd: &Path, stdin: &str) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_lokal"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOKAL_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .current_dir(cwd)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lokal_env(compose: &Yaml) -> Vec<(String, String)> {
    environment(service(compose, "lokal"))
        .into_iter()
        .filter(|(k, _)| k.starts_with("LOKAL_"))
        .collect()
}

/// The keys `lokal gen-config` leaves out of its output (it prints them empty).
const SECRETS: &[&str] = &["directory.bind_password"];

/// `LOKAL_A__B_C` → `a.b_c`, as figment's `Env::prefixed("LOKAL_").split("__")` reads it.
fn config_key(variable: &str) -> String {
    variable["LOKAL_".len()..].to_lowercase().replace("__", ".")
}

/// The demo-logins page's service account: (DN, password).
fn seed_service_account() -> (String, String) {
    let page = read("seed/demo-logins.md");
    let section = page
        .split("**Service account**")
        .nth(1)
        .expect("seed/demo-logins.md has a **Service account** section");
    let field = |name: &str| -> String {
        let line = section
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("- {name}:")))
            .unwrap_or_else(|| panic!("seed/demo-logins.md: no `- {name}:` line"));
        line.split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("seed/demo-logins.md: {line:?} has no `value`"))
            .to_owned()
    };
    (field("DN"), field("password"))
}

/// A demo login's password from the table in seed/demo-logins.md.
fn seed_password(login: &str) -> String {
    let page = read("seed/demo-logins.md");
    let row = page
        .lines()
        .find(|l| l.starts_with(&format!("| `{login}` |")))
        .unwrap_or_else(|| panic!("seed/demo-logins.md: no row for {login}"));
    row.split('|')
        .nth(2)
        .unwrap()
        .trim()
        .trim_matches('`')
        .to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// The OpenLDAP image's entrypoint, run outside a container: stopped by PID when dropped.
struct Entrypoint {
    child: Child,
    log: PathBuf,
}

impl Entrypoint {
    fn start(script: &Path, env: &[(&str, String)], log: PathBuf, port: u16) -> Entrypoint {
        let file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new("bash")
            .arg(script)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("running the OpenLDAP entrypoint with bash");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the OpenLDAP entrypoint exited ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Entrypoint { child, log };
            }
            std::thread::park_timeout(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "slapd did not listen on port {port}:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Entrypoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the tests ------------------------------------------------------------------------------

#[test]
fn the_compose_reader_understands_this_subset_of_yaml_and_refuses_the_rest() {
    let doc = parse_yaml(
        "# a comment\n\
         services:\n\
         \x20 app:   # trailing comment\n\
         \x20   command: [\"serve\", '--listen', 0.0.0.0:8080]\n\
         \x20   environment:\n\
         \x20     A: \"x # not a comment\"\n\
         \x20     B: it's\n\
         \x20   volumes:\n\
         \x20   - ./seed:/seed:ro\n\
         \x20 db:\n\
         volumes:\n\
         \x20 data:\n",
    );
    let app = doc.get("services").unwrap().get("app").unwrap();
    assert_eq!(
        app.get("command"),
        Some(&Yaml::List(vec![
            Yaml::Str("serve".into()),
            Yaml::Str("--listen".into()),
            Yaml::Str("0.0.0.0:8080".into()),
        ]))
    );
    assert_eq!(
        environment(app),
        [
            ("A".into(), "x # not a comment".into()),
            ("B".into(), "it's".into())
        ]
    );
    assert_eq!(app.get("volumes").unwrap().items().len(), 1);
    assert_eq!(doc.get("services").unwrap().get("db"), Some(&Yaml::Null));
    assert_eq!(
        doc.get("volumes").unwrap().entries(),
        [("data".into(), Yaml::Null)]
    );

    for unsupported in [
        "a: &anchor x\n",
        "a: |\n  text\n",
        "a:\n  - type: bind\n",
        "a: {b: c}\n",
        "a: 1\na: 2\n",
        "a:\n  b: 1\n   c: 2\n",
        "a: \"open\n",
    ] {
        let result = std::panic::catch_unwind(|| parse_yaml(unsupported));
        assert!(result.is_err(), "accepted {unsupported:?}");
    }
}

#[test]
fn the_compose_file_mounts_and_builds_only_from_paths_that_exist() {
    let compose = compose();
    let services = compose.get("services").expect("services:").entries();
    let names: Vec<&str> = services.iter().map(|(k, _)| k.as_str()).collect();
    for wanted in ["postgres", "openldap", "lokal"] {
        assert!(names.contains(&wanted), "no service {wanted}: {names:?}");
    }
    let declared: Vec<&str> = compose
        .get("volumes")
        .map(Yaml::entries)
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    let (mut binds, mut builds) = (0, 0);
    for (name, svc) in services {
        assert!(
            svc.get("image").is_some() || svc.get("build").is_some(),
            "service {name} has neither image nor build"
        );
        if let Some((context, dockerfile)) = build(svc) {
            let context = in_repo(&context);
            assert!(
                repo().join(&context).is_dir(),
                "service {name}: build context {context:?} is not a folder of the repository"
            );
            let dockerfile = join(&context, &dockerfile);
            assert!(
                repo().join(&dockerfile).is_file(),
                "service {name}: {dockerfile} does not exist"
            );
            builds += 1;
        }
        for mount in mounts(svc) {
            if mount.is_bind() {
                let host = in_repo(&mount.source);
                assert!(
                    repo().join(&host).exists(),
                    "service {name} mounts {host}, which does not exist (Docker would mount an \
                     empty folder in its place)"
                );
                binds += 1;
            } else {
                assert!(
                    declared.contains(&mount.source.as_str()),
                    "service {name}: volume {:?} is not declared under the top-level volumes:",
                    mount.source
                );
            }
            assert!(mount.target.starts_with('/'), "{}", mount.target);
        }
        if let Some(files) = svc.get("env_file") {
            let files = match files {
                Yaml::Str(_) => std::slice::from_ref(files),
                other => other.items(),
            };
            for file in files {
                let file = in_repo(file.str().unwrap());
                assert!(repo().join(&file).is_file(), "service {name}: {file}");
            }
        }
    }
    assert!(
        binds >= 2 && builds >= 2,
        "expected the seed and template mounts and two builds: {binds} mounts, {builds} builds"
    );
}

#[test]
fn the_images_copy_only_files_their_build_contexts_hold() {
    let compose = compose();
    for (name, svc) in compose.get("services").unwrap().entries() {
        let Some((context, dockerfile)) = build(svc) else {
            continue;
        };
        let context = in_repo(&context);
        let dockerfile = join(&context, &dockerfile);
        let ignore = std::fs::read_to_string(repo().join(join(&context, ".dockerignore")))
            .unwrap_or_default();
        let copies = copies_from_context(&instructions(&read(&dockerfile)));
        assert!(!copies.is_empty(), "{dockerfile} copies nothing");
        for (sources, _) in copies {
            for source in sources {
                if source == "." {
                    // The whole context: everything cargo reads must be in it.
                    for input in build_inputs() {
                        let path = join(&context, &input);
                        assert!(repo().join(&path).exists(), "{path} does not exist");
                        assert!(
                            !ignored(&ignore, &input),
                            "service {name}: the build reads {input}, but {context}/.dockerignore \
                             leaves it out"
                        );
                    }
                    continue;
                }
                let path = join(&context, &source);
                assert!(
                    repo().join(&path).exists(),
                    "{dockerfile} copies {source}, which does not exist"
                );
                assert!(
                    !ignored(&ignore, &in_repo(&source)),
                    "{dockerfile} copies {source}, which .dockerignore leaves out"
                );
            }
        }
    }
    // The ignore file is read the way Docker reads it.
    let ignore = read(".dockerignore");
    assert!(ignored(&ignore, "target/release/lokal") && ignored(&ignore, ".git/HEAD"));
    assert!(!ignored(&ignore, "src/main.rs") && !ignored(&ignore, "seed/policies.toml"));
}

#[test]
fn the_server_image_holds_the_files_the_default_configuration_reads() {
    let steps = instructions(&read("Dockerfile"));
    let last_from = steps.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let runtime = &steps[last_from..];
    let workdir = runtime
        .iter()
        .rev()
        .find(|(op, _)| op == "WORKDIR")
        .map(|(_, dir)| dir.clone())
        .expect("the runtime stage sets a WORKDIR");
    assert!(workdir.starts_with('/'), "WORKDIR {workdir}");
    let copies = copies_from_context(runtime);
    let defaults = Config::default();
    let file_directory = defaults
        .directory
        .url
        .strip_prefix("file:")
        .map(PathBuf::from);
    let relative: Vec<PathBuf> = [
        Some(defaults.scheduling.policies.clone()),
        Some(defaults.scheduling.calendars.clone()),
        file_directory,
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(relative.len(), 3, "{relative:?}");
    for path in relative {
        assert!(path.is_relative(), "{}", path.display());
        let path = in_repo(&path.to_string_lossy());
        assert!(repo().join(&path).exists(), "{path} does not exist");
        // `COPY DIR/ DIR/` puts the folder's files at the same place under WORKDIR.
        let copied = copies.iter().any(|(sources, dest)| {
            let dest = match dest.strip_prefix('/') {
                Some(absolute) => match absolute.strip_prefix(workdir.trim_start_matches('/')) {
                    Some(under) => under.trim_start_matches('/').to_owned(),
                    None => return false,
                },
                None => dest.clone(),
            };
            let dest = in_repo(&dest);
            sources.iter().any(|source| {
                let source = in_repo(source);
                source == dest && (path == source || path.starts_with(&format!("{source}/")))
            })
        });
        assert!(
            copied,
            "the runtime stage of Dockerfile does not copy {path} to {workdir}/{path}, where the \
             default configuration reads it"
        );
    }
}

#[test]
fn every_lokal_variable_in_the_compose_file_is_a_configuration_key_that_lokal_accepts() {
    let env = lokal_env(&compose());
    assert!(
        env.len() >= 3,
        "expected the store URL, directory URL and service password: {env:?}"
    );
    // The real loader (defaults, then LOKAL_*), with unknown keys refused and values checked:
    // `lokal gen-config` prints the configuration in effect. In an empty folder, so that no
    // lokal.toml is read.
    let cwd = TempDir::new("gen-config");
    let out = lokal(&["gen-config"], &env, &cwd.0, "");
    assert!(
        out.status.success(),
        "lokal refuses the compose file's environment: {}",
        text(&out.stderr)
    );
    let printed = text(&out.stdout);
    let config: toml::Table = toml::from_str(&printed).unwrap();
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    for (variable, value) in &env {
        let key = config_key(variable);
        let path: Vec<&str> = key.split('.').collect();
        assert!(
            path.len() >= 2 && defaults.contains_key(path[0]),
            "{variable}: {key:?} is not in a configuration section ({:?})",
            defaults.keys().collect::<Vec<_>>()
        );
        let mut found = config.get(path[0]);
        for part in &path[1..] {
            found = found.and_then(|v| v.get(*part));
        }
        let found = found.unwrap_or_else(|| {
            panic!("{variable}: lokal does not show {key} in its configuration:\n{printed}")
        });
        if SECRETS.contains(&key.as_str()) {
            assert!(
                printed.contains(&format!("# {key} is set but not shown")),
                "{variable}: the secret {key} did not arrive:\n{printed}"
            );
            continue;
        }
        let shown = match found {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(&shown, value, "{variable}: lokal reads {key} = {found}");
    }
}

#[test]
fn the_compose_file_uses_the_service_account_the_seed_directory_publishes() {
    let env = lokal_env(&compose());
    let (dn, password) = seed_service_account();
    assert_eq!(
        env_value(&env, "LOKAL_DIRECTORY__BIND_PASSWORD"),
        Some(password.as_str()),
        "the lokal service's LOKAL_DIRECTORY__BIND_PASSWORD is not the seed's service password \
         (seed/demo-logins.md)"
    );
    let defaults = Config::default();
    let bind_dn =
        env_value(&env, "LOKAL_DIRECTORY__BIND_DN").unwrap_or(&defaults.directory.bind_dn);
    assert_eq!(bind_dn, dn, "the service account DN");
    let base_dn =
        env_value(&env, "LOKAL_DIRECTORY__BASE_DN").unwrap_or(&defaults.directory.base_dn);
    assert!(
        read("seed/directory.ldif").contains(&format!("\ndn: {bind_dn}\n"))
            && bind_dn.ends_with(&format!(",{base_dn}")),
        "{bind_dn} is not an entry of seed/directory.ldif under {base_dn}"
    );
    assert!(
        read(SLAPD_TEMPLATE).contains(&format!("olcSuffix: {base_dn}\n")),
        "{SLAPD_TEMPLATE} does not serve {base_dn}"
    );
}

#[test]
fn the_lokal_service_reaches_postgres_and_openldap_by_their_service_names() {
    let compose = compose();
    let env = lokal_env(&compose);
    let lokal_service = service(&compose, "lokal");

    let store = env_value(&env, "LOKAL_STORE__URL").expect("LOKAL_STORE__URL");
    let rest = store
        .strip_prefix("postgres://")
        .unwrap_or_else(|| panic!("LOKAL_STORE__URL {store:?} is not postgres://"));
    let (credentials, rest) = rest.split_once('@').expect("USER:PASSWORD@HOST/DB");
    let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
    let (host, db) = rest.split_once('/').expect("HOST/DB");
    let host = host.split(':').next().unwrap();
    let pg = environment(service(&compose, host));
    assert_eq!(env_value(&pg, "POSTGRES_USER"), Some(user));
    assert_eq!(env_value(&pg, "POSTGRES_PASSWORD"), Some(password));
    assert_eq!(env_value(&pg, "POSTGRES_DB"), Some(db));

    let directory = env_value(&env, "LOKAL_DIRECTORY__URL").expect("LOKAL_DIRECTORY__URL");
    let authority = directory
        .strip_prefix("ldap://")
        .unwrap_or_else(|| panic!("LOKAL_DIRECTORY__URL {directory:?} is not ldap://"))
        .trim_end_matches('/');
    let (ldap_host, port) = authority.split_once(':').unwrap_or((authority, "389"));
    assert_eq!(
        port, "389",
        "the entrypoint's slapd listens on ldap:/// (389)"
    );
    let ldap = service(&compose, ldap_host);
    assert!(build(ldap).is_some(), "{ldap_host} is not built here");

    let depends = lokal_service.get("depends_on").expect("depends_on");
    for dependency in [host, ldap_host] {
        assert_eq!(
            depends
                .get(dependency)
                .and_then(|d| d.get("condition"))
                .and_then(Yaml::str),
            Some("service_healthy"),
            "lokal waits for {dependency} to be healthy"
        );
        assert!(
            service(&compose, dependency).get("healthcheck").is_some(),
            "{dependency} has no healthcheck, so it never becomes healthy"
        );
    }

    // One port everywhere: --listen, the published port, the health check, EXPOSE.
    let command: Vec<&str> = lokal_service
        .get("command")
        .expect("command")
        .items()
        .iter()
        .map(|c| c.str().unwrap())
        .collect();
    let listen = command
        .iter()
        .position(|c| *c == "--listen")
        .map(|i| command[i + 1])
        .expect("--listen");
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        listen.starts_with("0.0.0.0:"),
        "{listen}: reachable from outside the container"
    );
    let published: Vec<&str> = lokal_service
        .get("ports")
        .expect("ports")
        .items()
        .iter()
        .map(|p| p.str().unwrap())
        .collect();
    assert!(
        published.iter().any(|p| p.rsplit(':').next() == Some(port)),
        "{published:?} does not publish {port}"
    );
    let health = lokal_service
        .get("healthcheck")
        .and_then(|h| h.get("test"))
        .expect("healthcheck")
        .items()
        .iter()
        .map(|c| c.str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        health.contains(&format!("http://localhost:{port}/healthz")),
        "{health}"
    );
    let dockerfile = instructions(&read("Dockerfile"));
    assert!(
        dockerfile
            .iter()
            .any(|(op, args)| op == "EXPOSE" && args.split_whitespace().any(|p| p == port)),
        "Dockerfile does not EXPOSE {port}"
    );
}

/// The template and seed the OpenLDAP container reads, and its entrypoint script.
struct OpenLdap {
    template_mount: String,
    seed_mount: String,
    entrypoint: String,
}

fn openldap(compose: &Yaml) -> OpenLdap {
    let svc = service(compose, "openldap");
    let mounts = mounts(svc);
    let target = |host: &str| -> String {
        mounts
            .iter()
            .find(|m| m.is_bind() && in_repo(&m.source) == host)
            .unwrap_or_else(|| panic!("the openldap service does not mount ./{host}"))
            .target
            .clone()
    };
    let (context, dockerfile) = build(svc).expect("the openldap image is built here");
    let steps = instructions(&read(&join(&in_repo(&context), &dockerfile)));
    let entrypoint_in_image = steps
        .iter()
        .rev()
        .find(|(op, _)| op == "ENTRYPOINT")
        .map(|(_, args)| args.trim_matches(['[', ']', '"', ' ']).to_owned())
        .expect("the openldap Dockerfile has an ENTRYPOINT");
    let script = copies_from_context(&steps)
        .into_iter()
        .find(|(_, dest)| *dest == entrypoint_in_image)
        .map(|(sources, _)| join(&in_repo(&context), &sources[0]))
        .unwrap_or_else(|| panic!("the openldap Dockerfile does not COPY {entrypoint_in_image}"));
    OpenLdap {
        template_mount: target(SLAPD_TEMPLATE),
        seed_mount: target("seed"),
        entrypoint: script,
    }
}

#[test]
fn the_openldap_image_loads_the_same_cn_config_template_as_the_tests() {
    let compose = compose();
    let ldap = openldap(&compose);
    assert!(
        read("tests/it/support/slapd.rs").contains(&format!("\"{SLAPD_TEMPLATE}\"")),
        "the tests' slapd no longer loads {SLAPD_TEMPLATE}; mount the template it loads"
    );
    let script = read(&ldap.entrypoint);
    let svc_env = environment(service(&compose, "openldap"));
    for (variable, mounted) in [
        ("SLAPD_TEMPLATE", &ldap.template_mount),
        ("SLAPD_SEED_DIR", &ldap.seed_mount),
    ] {
        let read_from = env_value(&svc_env, variable)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let marker = format!("${{{variable}:-");
                let at = script
                    .find(&marker)
                    .unwrap_or_else(|| panic!("{} has no default for {variable}", ldap.entrypoint));
                let rest = &script[at + marker.len()..];
                rest[..rest.find('}').unwrap()].to_owned()
            });
        assert_eq!(
            &read_from, mounted,
            "{}: {variable} is not where docker-compose.yml mounts it",
            ldap.entrypoint
        );
    }
    // Every placeholder of the template is filled in, and the template is the only config.
    let template = read(SLAPD_TEMPLATE);
    let placeholders: BTreeSet<&str> = template
        .split('@')
        .skip(1)
        .step_by(2)
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(placeholders.contains("DB_DIR"), "{placeholders:?}");
    for placeholder in placeholders {
        assert!(
            script.contains(&format!("@{placeholder}@")),
            "{} does not fill in @{placeholder}@ of {SLAPD_TEMPLATE}",
            ldap.entrypoint
        );
    }
    let mut files = Vec::new();
    collect_files(&repo().join("docker"), &mut files);
    for file in files {
        let content = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !content.contains("olcDatabase:") && !content.contains("olcAccess:"),
            "{} holds a second copy of the slapd config; use {SLAPD_TEMPLATE}",
            file.display()
        );
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `postgres://USER:PASSWORD@HOST[:PORT]/DB` with the host and port replaced.
fn moved(url: &str, host_port: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (credentials, rest) = match rest.split_once('@') {
        Some((c, r)) => (format!("{c}@"), r),
        None => (String::new(), rest),
    };
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
    format!("{scheme}://{credentials}{host_port}{path}")
}

/// The compose setup for real, without Docker: PostgreSQL as the postgres service creates it
/// (role and database from its environment), slapd started by the OpenLDAP image's entrypoint
/// on the files docker-compose.yml mounts, and `lokal serve` with the lokal service's command
/// and environment (only hosts and ports changed) in a working folder holding just what the
/// server image copies there. Then slapd starts again on the same data, as after a restart.
#[test]
fn the_compose_setup_runs_without_docker_from_the_images_files_and_settings() {
    assert!(
        Path::new(SLAPD).exists() && Path::new(SLAPADD).exists(),
        "slapd is not installed: run the test command `scripts/test`, which installs it"
    );
    let compose = compose();
    let ldap = openldap(&compose);
    let lokal_service = service(&compose, "lokal");
    let env = lokal_env(&compose);
    let dir = TempDir::new("compose");

    // postgres: the role and database the image makes from POSTGRES_USER/PASSWORD/DB.
    let postgres = Postgres::start();
    let pg_env = environment(service(&compose, "postgres"));
    let pg = |key: &str| env_value(&pg_env, key).unwrap_or_else(|| panic!("postgres: {key}"));
    let (user, password, db) = (
        pg("POSTGRES_USER"),
        pg("POSTGRES_PASSWORD"),
        pg("POSTGRES_DB"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&postgres.url).await.unwrap();
        for statement in [
            format!("CREATE ROLE \"{user}\" LOGIN SUPERUSER PASSWORD '{password}'"),
            format!("CREATE DATABASE \"{db}\" OWNER \"{user}\""),
        ] {
            sqlx::raw_sql(&statement).execute(&mut admin).await.unwrap();
        }
    });
    let pg_port = postgres
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();

    // openldap: the entrypoint, reading the repository's files where the container has mounts.
    let script = repo().join(&ldap.entrypoint);
    let start_ldap = |run: &str| -> (Entrypoint, u16) {
        let port = free_port();
        let env = [
            ("SLAPD_SEED_DIR", repo().join("seed").display().to_string()),
            (
                "SLAPD_TEMPLATE",
                repo().join(SLAPD_TEMPLATE).display().to_string(),
            ),
            ("SLAPD_DATA_DIR", dir.0.join("ldap").display().to_string()),
            ("SLAPD_URLS", format!("ldap://127.0.0.1:{port}/")),
            ("SLAPD_USER", String::new()),
        ];
        let server = Entrypoint::start(&script, &env, dir.0.join(format!("{run}.log")), port);
        (server, port)
    };
    let (slapd, ldap_port) = start_ldap("first");
    assert!(slapd.log().contains("first start"), "{}", slapd.log());

    // lokal: the compose environment, pointed at the two servers above.
    let settings = |ldap_port: u16| -> Vec<(String, String)> {
        env.iter()
            .map(|(k, v)| match k.as_str() {
                "LOKAL_STORE__URL" => (k.clone(), moved(v, &format!("127.0.0.1:{pg_port}"))),
                "LOKAL_DIRECTORY__URL" => (k.clone(), moved(v, &format!("127.0.0.1:{ldap_port}"))),
                _ => (k.clone(), v.clone()),
            })
            .collect()
    };
    // The server image's working folder: what its runtime stage copies there, and data/.
    let steps = instructions(&read("Dockerfile"));
    let runtime = &steps[steps.iter().rposition(|(op, _)| op == "FROM").unwrap()..];
    let app = dir.0.join("app");
    std::fs::create_dir_all(app.join("data")).unwrap();
    for (sources, dest) in copies_from_context(runtime) {
        assert_eq!(sources.len(), 1, "one source per COPY: {sources:?}");
        if dest.starts_with('/') {
            continue; // not into the working folder
        }
        let dest = app.join(in_repo(&dest));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(repo().join(in_repo(&sources[0])), dest).unwrap();
    }
    let mut command: Vec<String> = lokal_service
        .get("command")
        .expect("command")
        .items()
        .iter()
        .map(|c| c.str().unwrap().to_owned())
        .collect();
    let listen = command.iter().position(|c| c == "--listen").unwrap() + 1;
    let port = command[listen].rsplit(':').next().unwrap().to_owned();
    command[listen] = "127.0.0.1:0".into();
    let mut server = Command::new(env!("CARGO_BIN_EXE_lokal"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOKAL_") {
            server.env_remove(key);
        }
    }
    let server = server
        .args(&command)
        .current_dir(&app)
        .envs(settings(ldap_port))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Serving(Option<Child>);
    impl Drop for Serving {
        fn drop(&mut self) {
            if let Some(mut child) = self.0.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let mut serving = Serving(Some(server));
    let first_line = {
        use std::io::BufRead;
        let stdout = serving.0.as_mut().unwrap().stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    };
    let base = first_line
        .trim()
        .strip_prefix("Lokal is running at ")
        .unwrap_or_else(|| {
            let out = serving.0.take().unwrap().wait_with_output().unwrap();
            panic!(
                "lokal serve did not start with the compose settings: {first_line:?}\n{}",
                text(&out.stderr)
            )
        })
        .trim_end_matches('/')
        .to_owned();
    // The health check's path, on the port the compose file's health check uses.
    let health = lokal_service
        .get("healthcheck")
        .and_then(|h| h.get("test"))
        .expect("healthcheck")
        .items()
        .iter()
        .filter_map(Yaml::str)
        .find_map(|a| a.strip_prefix(&format!("http://localhost:{port}")))
        .expect("the health check requests http://localhost:PORT/...")
        .to_owned();
    let get = |path: &str| -> (u16, String) {
        let url = format!("{base}{path}");
        rt.block_on(async {
            let response = reqwest::get(&url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    let (status, body) = get(&health);
    assert_eq!(status, 200, "{health}: {body}");
    let (status, body) = get("/readyz");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(ready["store"], "ok", "{body}");
    assert_eq!(ready["directory"], "ok", "{body}");
    let (status, body) = get("/api/v1/rooms");
    let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 18, "{body}");
    // mari.strand's password is {ARGON2}: she binds only if the argon2 module is loaded.
    let out = lokal(
        &[
            "directory",
            "check-login",
            "mari.strand",
            "--password-stdin",
        ],
        &settings(ldap_port),
        &app,
        &format!("{}\n", seed_password("mari.strand")),
    );
    assert!(
        out.status.success() && text(&out.stdout).contains("Login OK"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // Containers are stopped with SIGTERM.
    let child = serving.0.take().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "lokal serve on SIGTERM: {}",
        text(&out.stderr)
    );
    drop(slapd);

    // A restart keeps the directory's data rather than loading the seed again.
    let (again, ldap_port) = start_ldap("again");
    assert!(
        !again.log().contains("first start"),
        "the second start loaded the seed again: {}",
        again.log()
    );
    let out = lokal(
        &["directory", "rooms", "--format", "json"],
        &settings(ldap_port),
        &app,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rooms: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rooms.as_array().unwrap().len(), 18);
}
