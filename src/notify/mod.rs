//! Notifications.

pub mod mail;
