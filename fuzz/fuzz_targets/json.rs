//! Coverage-guided fuzz target: see `harness::json` for what it reads and checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::json(data));
