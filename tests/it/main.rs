//! Lokal's integration tests: one binary, one module per area.

mod api;
mod architecture;
mod browser;
mod caldav;
mod caldav_clients;
mod compose;
mod concurrency;
mod console;
mod directory;
mod explain;
mod freebusy;
mod hardening_server;
mod holidays;
mod libdav;
mod mail;
mod notify;
mod notify_mail;
mod scheduling;
mod scheduling_input;
mod scheduling_race;
mod serve;
mod store;
mod support;
mod web;
mod web_account;
