//! Coverage-guided fuzz target: see `harness::dav_xml` for what it reads and checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::dav_xml(data));
