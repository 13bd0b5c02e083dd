//! Test support: real services started by the tests themselves.

pub mod postgres;
pub mod slapd;
