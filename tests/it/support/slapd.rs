//! A throwaway OpenLDAP slapd for tests and benches: its own config and database in a temp
//! folder, a free 127.0.0.1 port, stopped by PID when dropped.
//!
//! slapd itself is installed by the test command (`scripts/test`); if it is missing, starting
//! a fixture fails with a message saying so. Tests never skip.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SLAPD: &str = "/usr/sbin/slapd";
pub const SLAPADD: &str = "/usr/sbin/slapadd";

/// Which directory data to load.
#[derive(Clone, Copy, Debug)]
pub enum Data {
    /// seed/directory.ldif, Lokal's schema: base dc=fjordvik,dc=kommune,dc=no.
    Seed,
    /// tests/fixtures/ad: an AD-shaped schema and data, base dc=ad,dc=fjordvik,dc=no.
    ActiveDirectory,
}

/// How to start the server.
#[derive(Clone, Debug)]
pub struct Options {
    pub data: Data,
    /// Extra LDIF files loaded after the data (e.g. generated rooms).
    pub extra_ldif: Vec<PathBuf>,
    /// A plain search returns at most this many entries; paged searches are unlimited.
    pub size_limit: u32,
    /// Serve TLS with a throwaway CA (see [`Tls`]).
    pub tls: bool,
    /// `olcAllows: bind_anon_dn`: a DN with an empty password binds as anonymous, as on AD.
    pub allow_anon_dn: bool,
    /// Listen on this port rather than a free one (to restart a server where it was).
    pub port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data: Data::Seed,
            extra_ldif: Vec::new(),
            size_limit: 500,
            tls: false,
            allow_anon_dn: false,
            port: None,
        }
    }
}

/// The throwaway CA and server certificate of a TLS fixture.
pub struct Tls {
    pub ca_pem: PathBuf,
}

pub struct Slapd {
    dir: PathBuf,
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub tls: Option<Tls>,
    pub base_dn: &'static str,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn make_tls(dir: &Path) -> (Tls, String) {
    let sh = format!(
        r#"set -e
cd '{d}'
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=Lokal test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 -extfile server.ext 2>/dev/null
"#,
        d = dir.display()
    );
    run(
        Command::new("sh").arg("-c").arg(sh),
        "making a throwaway CA with openssl",
    );
    let config = format!(
        "olcTLSCACertificateFile: {d}/ca.pem\nolcTLSCertificateFile: {d}/server.pem\nolcTLSCertificateKeyFile: {d}/server.key",
        d = dir.display()
    );
    (
        Tls {
            ca_pem: dir.join("ca.pem"),
        },
        config,
    )
}

impl Slapd {
    pub fn start(options: Options) -> Slapd {
        assert!(
            Path::new(SLAPD).exists() && Path::new(SLAPADD).exists(),
            "slapd is not installed: run the test command `scripts/test`, which installs it \
             (or: apt-get install slapd ldap-utils with slapd/no_configuration preseeded)"
        );
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lokal-slapd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::create_dir_all(dir.join("slapd.d")).unwrap();

        let repo = repo();
        let (template, data, base_dn) = match options.data {
            Data::Seed => (
                repo.join("tests/fixtures/slapd/config.ldif.in"),
                repo.join("seed/directory.ldif"),
                "dc=fjordvik,dc=kommune,dc=no",
            ),
            Data::ActiveDirectory => (
                repo.join("tests/fixtures/ad/config.ldif.in"),
                repo.join("tests/fixtures/ad/directory.ldif"),
                "dc=ad,dc=fjordvik,dc=no",
            ),
        };
        let (tls, mut extra_config) = if options.tls {
            let (t, c) = make_tls(&dir);
            (Some(t), c)
        } else {
            (None, String::new())
        };
        if options.allow_anon_dn {
            if !extra_config.is_empty() {
                extra_config.push('\n');
            }
            extra_config.push_str("olcAllows: bind_anon_dn");
        }
        let config = std::fs::read_to_string(&template)
            .unwrap()
            .replace("@SCHEMA_DIR@", "/etc/ldap/schema")
            .replace(
                "@LOKAL_SCHEMA@",
                &repo.join("seed/schema/lokal.ldif").display().to_string(),
            )
            .replace(
                "@AD_SCHEMA@",
                &repo
                    .join("tests/fixtures/ad/ad-schema.ldif")
                    .display()
                    .to_string(),
            )
            .replace("@DB_DIR@", &dir.join("db").display().to_string())
            .replace("@SIZE_LIMIT@", &options.size_limit.to_string())
            .replace("@MODULE_DIR@", "/usr/lib/ldap")
            .replace("@TLS_CONFIG@", &extra_config);
        std::fs::write(dir.join("config.ldif"), config).unwrap();
        let conf_dir = dir.join("slapd.d");
        run(
            Command::new(SLAPADD)
                .arg("-n0")
                .arg("-F")
                .arg(&conf_dir)
                .arg("-l")
                .arg(dir.join("config.ldif")),
            "slapadd (config)",
        );
        for ldif in std::iter::once(&data).chain(options.extra_ldif.iter()) {
            run(
                Command::new(SLAPADD)
                    .arg("-q")
                    .arg("-n1")
                    .arg("-F")
                    .arg(&conf_dir)
                    .arg("-l")
                    .arg(ldif),
                &format!("slapadd {}", ldif.display()),
            );
        }

        // A port can be taken between finding it and slapd binding it; try a few.
        for _ in 0..5 {
            let port = options.port.unwrap_or_else(free_port);
            let mut child = Command::new(SLAPD)
                .arg("-F")
                .arg(&conf_dir)
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{port}/"))
                .arg("-d")
                .arg("0")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting slapd");
            if wait_ready(&mut child, port, Duration::from_secs(10)) {
                return Slapd {
                    dir,
                    child: Some(child),
                    port,
                    url: format!("ldap://127.0.0.1:{port}"),
                    tls,
                    base_dn,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "slapd did not start on any free port; see {}",
            dir.display()
        );
    }

    /// Stops the server (SIGKILL by PID) and waits for it, leaving the files.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until slapd accepts connections; false if it exited or did not within `limit`.
fn wait_ready(child: &mut Child, port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return false; // exited: the port was taken, or the config is bad
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    false
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
