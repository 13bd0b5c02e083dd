//! A Python virtualenv for tests that use Python tools from PyPI, made once per target
//! folder. Python 3 with venv is installed by the test command (`scripts/test`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// The venv's python, with `packages` installed (pinned specifiers, e.g. `name==1.2.3`).
pub fn venv(packages: &[&str]) -> PathBuf {
    venv_named("lokal-pyenv", packages)
}

/// As [`venv`], in a virtualenv of its own called `name`: for a tool whose dependencies cannot
/// live beside the others' (caldav 3 brings urllib3-future, which takes over the `urllib3`
/// module that requests-based tools such as schemathesis need).
pub fn venv_named(name: &str, packages: &[&str]) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = dir.join("bin/python");
    if !python.exists() {
        let out = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .output()
            .expect("python3 is missing: run the test command `scripts/test`, which installs it");
        assert!(
            out.status.success(),
            "python3 -m venv failed (scripts/test installs python3-venv): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let marker = dir.join(format!(
        "installed-{}",
        packages.join("+").replace(['/', '='], "_")
    ));
    if !marker.exists() {
        let out = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip install {packages:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, "").unwrap();
    }
    python
}
