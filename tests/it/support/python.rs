//! A Python virtualenv for tests that use Python tools from PyPI, made once per target
//! folder. Python 3 with venv is installed by the test command (`scripts/test`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// The venv's python, with `packages` installed (pinned specifiers, e.g. `name==1.2.3`).
pub fn venv(packages: &[&str]) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lokal-pyenv");
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
