//! A throwaway PostgreSQL cluster for tests: initdb and pg_ctl in a temp folder, a free
//! 127.0.0.1 port, trust authentication, stopped and removed when dropped.
//!
//! PostgreSQL itself is installed by the test command (`scripts/test`) when it is missing.
//! As root, the server runs as the `postgres` user (initdb refuses to run as root).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub url: String,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run the test \
             command `scripts/test`, which installs it"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root.
fn run_as_postgres(program: &Path, args: &[&str], what: &str) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = bin_dir();
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lokal-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let out = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "chown postgres {}", dir.display());
        }
        let data = dir.join("data");
        let d = dir.display().to_string();
        run_as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
            "initdb",
        );
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let options = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off");
            let ok = {
                let mut cmd = if is_root() {
                    let mut c = Command::new("runuser");
                    c.arg("-u")
                        .arg("postgres")
                        .arg("--")
                        .arg(bin.join("pg_ctl"));
                    c
                } else {
                    Command::new(bin.join("pg_ctl"))
                };
                cmd.args(["-D", &data.display().to_string(), "-o", &options, "-l"])
                    .arg(dir.join("log"))
                    .args(["-w", "-t", "20", "start"])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false)
            };
            if ok {
                return Postgres {
                    dir,
                    bin,
                    url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                };
            }
        }
        panic!("PostgreSQL did not start; see {}/log", dir.display());
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Never panic in drop: a failed stop must not abort a test that is already failing.
        let data = self.dir.join("data").display().to_string();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.arg("-u").arg("postgres").arg("--").arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
