//! The application state every face shares: the services, and nothing that belongs to one
//! face. Faces (`http`, `web`, `caldav`, `notify`) take an [`AppState`] and call its services;
//! they never reach the store or each other.

use std::sync::Arc;

use crate::booking::Bookings;
use crate::directory::Directory;
use crate::identity::Identity;
use crate::telemetry::Metrics;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub bookings: Bookings,
    pub identity: Arc<Identity>,
    pub directory: Arc<dyn Directory>,
    pub metrics: Arc<Metrics>,
}
