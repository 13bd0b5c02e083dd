//! Lokal: a public-space booking engine for municipalities.
//!
//! - [`scheduling`]: the pure core that decides booking requests;
//! - [`explain`]: loading a "what if" scenario from files for `lokal explain`;
//! - [`cli`]: the command line;
//! - [`web`]: the residents' portal and the clerks' console.

pub mod app;
pub mod booking;
pub mod caldav;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod explain;
pub mod http;
pub mod i18n;
pub mod ical;
pub mod identity;
pub mod limits;
pub mod notify;
pub mod scheduling;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
