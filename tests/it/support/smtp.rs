//! A real SMTP server for tests: Python's aiosmtpd (from PyPI, pinned) running
//! `tests/smtp/sink.py` on a free loopback port, saving every message it accepts into a temp
//! folder. [`SmtpSink::wait_for`] polls that folder with a deadline and hands back the
//! messages, parsed with `mailparse`.
//!
//! The server stops when the [`SmtpSink`] is dropped: its stdin closes (the script exits on
//! that) and the process is killed and reaped.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use lokal::notify::mail::{MailConfig, MailTransport, SmtpTls};
use mailparse::{MailHeaderMap, ParsedMail};

use super::app::TempDir;
use super::python::venv;
use super::slapd::repo;

/// The aiosmtpd release the tests run.
pub const AIOSMTPD: &str = "aiosmtpd==1.4.6";

/// How long [`SmtpSink::wait_for`] waits by default.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct SmtpSink {
    pub port: u16,
    folder: TempDir,
    child: Child,
    _stdin: ChildStdin,
}

/// How the sink answers.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// Answer the first N messages' DATA with `451 4.3.0 Try again later`.
    pub fail_first: usize,
    /// Refuse recipients whose address contains this text with `550 5.1.1`.
    pub reject_rcpt: Option<String>,
}

impl SmtpSink {
    /// A sink that accepts every message.
    pub fn start() -> SmtpSink {
        SmtpSink::with(SinkOptions::default())
    }

    pub fn with(options: SinkOptions) -> SmtpSink {
        let python = venv(&[AIOSMTPD]);
        let folder = TempDir::new("smtp");
        let mut cmd = Command::new(python);
        cmd.arg(repo().join("tests/smtp/sink.py"))
            .arg(&folder.0)
            .arg("--fail-first")
            .arg(options.fail_first.to_string());
        if let Some(text) = &options.reject_rcpt {
            cmd.arg("--reject-rcpt").arg(text);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/smtp/sink.py");
        let stdin = child.stdin.take().expect("sink stdin");
        let stdout = child.stdout.take().expect("sink stdout");
        // The first line says the port; the script prints it once it listens. If the script
        // dies first, the read ends with EOF and the test fails here with its stderr above.
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the sink's first line");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start: {line:?}"));
        SmtpSink {
            port,
            folder,
            child,
            _stdin: stdin,
        }
    }

    /// Lokal's mail settings for this sink: SMTP on loopback without TLS.
    pub fn mail_config(&self) -> MailConfig {
        let mut config = MailConfig {
            transport: MailTransport::Smtp,
            from: "Lokal Fjordvik <booking@fjordvik.example>".to_owned(),
            ..MailConfig::default()
        };
        config.smtp.host = "127.0.0.1".to_owned();
        config.smtp.port = self.port;
        config.smtp.tls = SmtpTls::None;
        config.smtp.timeout_secs = 10;
        config
    }

    /// The messages received so far, in the order received.
    pub fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for n in 1.. {
            let eml = self.folder.0.join(format!("{n}.eml"));
            let Ok(raw) = std::fs::read(&eml) else {
                break;
            };
            let rcpt = std::fs::read_to_string(self.folder.0.join(format!("{n}.rcpt")))
                .unwrap_or_default();
            out.push(Received {
                raw,
                envelope_to: rcpt.lines().map(str::to_owned).collect(),
            });
        }
        out
    }

    /// How many SMTP connections the sink has accepted so far.
    pub fn connections(&self) -> usize {
        std::fs::read_to_string(self.folder.0.join("connections"))
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until at least `n` messages have arrived (at most `timeout`), then returns all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} messages arrived within {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub raw: Vec<u8>,
    /// The envelope's RCPT TO addresses.
    pub envelope_to: Vec<String>,
}

impl Received {
    pub fn parsed(&self) -> ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).expect("a parseable message")
    }

    /// A top-level header, decoded (RFC 2047).
    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().headers.get_first_value(name)
    }

    /// Every leaf part, in order.
    pub fn parts(&self) -> Vec<Part> {
        fn walk(p: &ParsedMail, out: &mut Vec<Part>) {
            if p.subparts.is_empty() {
                let disposition = p.get_content_disposition();
                out.push(Part {
                    mimetype: p.ctype.mimetype.to_ascii_lowercase(),
                    params: p.ctype.params.clone().into_iter().collect(),
                    body: p.get_body().unwrap_or_default(),
                    raw: p.get_body_raw().unwrap_or_default(),
                    filename: disposition.params.get("filename").cloned(),
                });
            }
            for s in &p.subparts {
                walk(s, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.parsed(), &mut out);
        out
    }

    /// The plain-text body, with LF line ends.
    pub fn text(&self) -> String {
        self.parts()
            .into_iter()
            .find(|p| p.mimetype == "text/plain")
            .map(|p| p.body.replace("\r\n", "\n"))
            .unwrap_or_default()
    }

    /// The `text/calendar` parts.
    pub fn calendars(&self) -> Vec<Part> {
        self.parts()
            .into_iter()
            .filter(|p| p.mimetype == "text/calendar")
            .collect()
    }
}

/// A leaf MIME part.
#[derive(Clone, Debug)]
pub struct Part {
    pub mimetype: String,
    pub params: std::collections::BTreeMap<String, String>,
    /// The body decoded by its charset.
    pub body: String,
    /// The body's bytes (transfer encoding undone, no charset applied).
    pub raw: Vec<u8>,
    pub filename: Option<String>,
}
