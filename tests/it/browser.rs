//! End-to-end tests in a real browser: Debian's Chromium, driven by the Node scripts in
//! `tests/browser` (playwright-core, axe-core), against the real Lokal on SQLite with a real
//! slapd as its directory. One test per script; `FLOWS=a,b` narrows a script to some flows.
//!
//! `scripts/test` installs Chromium, Node and the scripts' npm packages; if Chromium is
//! missing the tests fail saying so (they never skip). Screenshots and the pages of failures
//! land in `<target dir>/browser-artifacts/<script>/`. See docs/browser-tests.md.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::support::app::{TempDir, TestApp, test_config};
use crate::support::slapd::{Options, Slapd, repo};

const CHROMIUM: &str = "/usr/bin/chromium";
/// A whole script may take this long before it is stopped.
const SCRIPT_LIMIT: Duration = Duration::from_secs(600);

/// One browser at a time: the machines have two cores, and Chromium is heavy.
static ONE_BROWSER: Mutex<()> = Mutex::new(());
static NPM: Mutex<()> = Mutex::new(());

/// Lokal as in production, but on a temp SQLite and the test clock (Monday 2027-01-04
/// 09:00 UTC), with a throwaway slapd loaded with the seed directory.
struct Lokal {
    app: TestApp,
    _slapd: Slapd,
    _dir: TempDir,
}

async fn start_lokal() -> Lokal {
    let slapd = Slapd::start(Options::default());
    let dir = TempDir::new("browser");
    let mut config = test_config(&format!("sqlite:{}", dir.0.join("lokal.db").display()));
    config.directory.url = slapd.url.clone();
    config.directory.bind_password = "lokal-service-secret".into();
    // A webhook nobody answers, given up after one attempt: the console's notifications page
    // then has dead letters for axe to look at.
    config.notify.poll_interval_secs = 0.1;
    config.notify.max_attempts = 1;
    config.notify.mail_residents = false;
    config.notify.mail_clerks = false;
    config.notify.webhooks = vec![lokal::notify::WebhookConfig {
        name: "nobody-home".into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "browser-test-secret".into(),
        secret_file: None,
        buildings: vec![],
        events: vec![],
        format: lokal::notify::WebhookFormat::Json,
    }];
    let app = TestApp::start(config.clone()).await;
    // Runs until the test's runtime ends.
    let _worker = lokal::notify::Notifier::new(&app.state, &config.notify, &app.base)
        .unwrap()
        .spawn();
    Lokal {
        app,
        _slapd: slapd,
        _dir: dir,
    }
}

/// The cargo target folder: `CARGO_TARGET_DIR` when set, else the one this test was built in.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            repo().join(dir)
        };
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// `tests/browser/node_modules`, installed from the lock when missing.
fn npm_packages() {
    let _guard = NPM.lock().unwrap_or_else(|p| p.into_inner());
    let dir = repo().join("tests/browser");
    if dir.join("node_modules/playwright-core").is_dir()
        && dir.join("node_modules/axe-core").is_dir()
    {
        return;
    }
    let out = Command::new("npm")
        .args([
            "ci",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run npm ({e}): run the test command `scripts/test`, which installs Node and npm")
        });
    assert!(
        out.status.success(),
        "npm ci in tests/browser failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `node tests/browser/<script>` against `base`; returns the artifacts folder, or the
/// script's whole output when it did not exit 0.
fn run_script(script: &str, base: &str) -> Result<PathBuf, String> {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's chromium. Run the test command \
         `scripts/test`, which installs it (apt-get install --no-install-recommends chromium)"
    );
    npm_packages();
    let name = script.trim_end_matches(".mjs");
    let artifacts = target_dir().join("browser-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let mut child = Command::new("node")
        .arg(repo().join("tests/browser").join(script))
        .current_dir(repo().join("tests/browser"))
        .env("LOKAL_URL", base)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run node ({e}): run the test command `scripts/test`, which installs Node"
            )
        });
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let status = child.wait();
        let _ = done.send(());
        (status, out, err.join().unwrap_or_default())
    });
    let timed_out = finished.recv_timeout(SCRIPT_LIMIT).is_err();
    if timed_out {
        // SIGTERM: Playwright closes its Chromium when node is told to stop.
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let (status, out, err) = waiter.join().unwrap();
    let report = format!(
        "node tests/browser/{script} (LOKAL_URL={base}, ARTIFACTS={})\n--- output\n{out}--- errors\n{err}",
        artifacts.display()
    );
    if timed_out {
        return Err(format!("stopped after {SCRIPT_LIMIT:?}: {report}"));
    }
    match status {
        Ok(status) if status.success() => {
            println!("{report}");
            Ok(artifacts)
        }
        Ok(status) => Err(format!("{status}: {report}")),
        Err(e) => Err(format!("waiting for node failed ({e}): {report}")),
    }
}

/// Runs a script in a blocking thread, so the server in this process keeps serving.
async fn browse(script: &'static str, lokal: &Lokal) -> PathBuf {
    let base = lokal.app.base.clone();
    tokio::task::spawn_blocking(move || run_script(script, &base))
        .await
        .unwrap()
        .unwrap_or_else(|report| panic!("{report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_foundation_pages_work_in_a_browser_and_pass_axe() {
    let lokal = start_lokal().await;
    browse("foundation.mjs", &lokal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_books_a_clerk_approves_and_a_second_resident_meets_the_conflict() {
    let lokal = start_lokal().await;
    browse("booking.mjs", &lokal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_approves_all_but_the_closed_date_and_a_resident_cancels_one_and_moves_another() {
    let lokal = start_lokal().await;
    browse("dates.mjs", &lokal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_books_with_the_keyboard_only() {
    let lokal = start_lokal().await;
    browse("keyboard.mjs", &lokal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_no_violations_on_the_residents_and_clerks_pages() {
    let lokal = start_lokal().await;
    browse("axe.mjs", &lokal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_start_page_and_the_queue_on_mobile_and_desktop() {
    let lokal = start_lokal().await;
    let artifacts = browse("screenshots.mjs", &lokal).await;
    for name in ["start-390", "start-1280", "queue-390", "queue-1280"] {
        let file = artifacts.join(format!("{name}.png"));
        let bytes = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("the screenshot {} is missing: {e}", file.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR"),
            "{} is not a PNG",
            file.display()
        );
        // The IHDR chunk: width and height, big-endian, at bytes 16..24.
        let size = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let (width, height) = (size(16), size(20));
        let want: u32 = name
            .rsplit('-')
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        assert_eq!(width, want, "{} is {width} px wide", file.display());
        // Full page: at least the window's height (844 px on the phone, 800 px on the desktop).
        let window = if want < 600 { 844 } else { 800 };
        assert!(
            height >= window,
            "{} is {height} px high, less than the window",
            file.display()
        );
        println!("screenshot: {} ({width}×{height})", file.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_token_and_public_pages_show_no_residents() {
    let lokal = start_lokal().await;
    browse("security.mjs", &lokal).await;
}
