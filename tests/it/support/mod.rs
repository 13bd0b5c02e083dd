//! Test support: real services started by the tests themselves.

pub mod app;
pub mod postgres;
pub mod slapd;
