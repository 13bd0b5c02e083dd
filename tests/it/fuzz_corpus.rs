//! The fuzz targets' short run in the normal test suite: every file of every target's corpus
//! (`fuzz/corpus/<target>/`, the long runs' minimized corpus and each crash they found) goes
//! through the same harness functions the coverage-guided targets call (`fuzz/harness.rs`,
//! included here with `#[path]`), then a few thousand inputs per target mutated from that
//! corpus by a seeded PRNG, the same every run. No instrumented build: CI compiles nothing
//! extra. The long runs and their figures: docs/security.md ("Fuzzing").

use std::path::{Path, PathBuf};

#[path = "../../fuzz/harness.rs"]
mod harness;

/// Mutated inputs per target.
const MUTANTS: usize = 3_000;
/// The largest mutated input, in bytes.
const MAX_LEN: usize = 64 * 1024;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Runs `f` on `input`, and on a panic says which input it was before failing.
fn run(target: &str, what: &str, f: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = std::panic::catch_unwind(|| f(input)) {
        eprintln!(
            "fuzz target {target} failed on {what} ({} bytes): {:?}",
            input.len(),
            String::from_utf8_lossy(&input[..input.len().min(2000)])
        );
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn every_corpus_file_of_every_target_passes_its_harness() {
    let mut total = 0;
    for (target, f) in harness::TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "no corpus for {target}");
        for (name, data) in &files {
            run(target, name, f, data);
        }
        total += files.len();
    }
    assert!(total >= 5);
}

/// xorshift64*: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens worth splicing in, per target: the grammar's own words.
fn tokens(target: &str) -> &'static [&'static str] {
    match target {
        "ical" => &[
            "BEGIN:VEVENT\r\n",
            "END:VEVENT\r\n",
            "BEGIN:VCALENDAR\r\n",
            "END:VCALENDAR\r\n",
            "\r\n ",
            "\r\n\t",
            ";TZID=Europe/Oslo",
            ";VALUE=DATE",
            "RRULE:FREQ=DAILY;COUNT=3\r\n",
            "RECURRENCE-ID:20270106T100000Z\r\n",
            "DURATION:P1W\r\n",
            "ATTENDEE;CUTYPE=ROOM:urn:uuid:r\r\n",
            "\"",
            "\\,",
            "Z",
        ],
        "dav_xml" => &[
            "<D:prop>",
            "</D:prop>",
            "xmlns:D=\"DAV:\"",
            "<C:comp-filter name=\"VEVENT\">",
            "</C:comp-filter>",
            "<C:time-range start=\"20270104T000000Z\"/>",
            "&amp;",
            "&#x41;",
            "<![CDATA[x]]>",
            "<!--c-->",
            "<?pi?>",
            "\"",
        ],
        "rrule" => &[
            ";COUNT=",
            ";UNTIL=20270101T000000Z",
            ";BYDAY=-1MO,2TU",
            ";BYSETPOS=-1",
            ";INTERVAL=",
            ";BYMONTHDAY=31",
            ";BYWEEKNO=53",
            ";BYYEARDAY=-366",
            "FREQ=SECONDLY",
            ";WKST=SU",
        ],
        "ldif" => &[
            "\ndn: cn=x\n",
            "\n ",
            ":: ",
            ":< ",
            "\n\n",
            "#",
            "changetype: add\n",
            "version: 1\n",
        ],
        _ => &[
            "{",
            "}",
            "\"recurrence\":\"FREQ=DAILY\"",
            "\"start\":\"2027-03-28T02:30\"",
            "null",
            "1e400",
            "\"\\ud800\"",
            "&",
            "=",
            "%FF",
        ],
    }
}

fn mutate(rng: &mut Rng, input: &[u8], others: &[(String, Vec<u8>)], tokens: &[&str]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => {
                let t = tokens[rng.below(tokens.len())].as_bytes();
                out.splice(at..at, t.iter().copied());
            }
            4 if !out.is_empty() => {
                // Repeat a slice: long lines, deep nesting, many values.
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(64)).min(out.len());
                let piece = out[start..end].repeat(1 + rng.below(32));
                out.splice(at..at, piece);
            }
            5 if !others.is_empty() => {
                let other = &others[rng.below(others.len())].1;
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                const BYTES: &[u8] = b"0123456789:;,=\r\n \"<>/-";
                out.insert(at, BYTES[rng.below(BYTES.len())]);
            }
        }
    }
    out.truncate(MAX_LEN);
    out
}

#[test]
fn seeded_mutations_of_the_corpus_pass_every_harness() {
    for (n, (target, f)) in harness::TARGETS.into_iter().enumerate() {
        let files = corpus(target);
        let mut rng = Rng(0x5EED_0000_0000_0001 + n as u64);
        for i in 0..MUTANTS {
            let (_, base) = &files[rng.below(files.len())];
            let input = mutate(&mut rng, base, &files, tokens(target));
            run(target, &format!("mutant {i}"), f, &input);
        }
    }
}
