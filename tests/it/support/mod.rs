//! Test support: real services started by the tests themselves.

pub mod app;
pub mod browser;
pub mod postgres;
pub mod python;
pub mod slapd;
pub mod smtp;
