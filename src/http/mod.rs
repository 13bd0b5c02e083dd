//! The API face: `/api/v1` and the service endpoints (`/healthz`, `/readyz`, `/metrics`).
//! The layers every request passes (request id, logging, body limit, metrics) are composed in
//! `startup`, over all faces.
//!
//! Handlers reach the services only (`AppState`), never the store, and no other face.
//! `/metrics` renders this application's own recorder (see `telemetry`).

pub mod api;
pub mod contract;
pub mod error;
pub mod extract;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

/// The API and the service endpoints. `startup` composes them with the other faces.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(api::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// The API's 404 (problem+json), for requests no face answers.
pub async fn not_found() -> error::ApiError {
    error::ApiError::not_found(
        "no such resource; the API is under /api/v1 (see /api/v1/openapi.json)",
    )
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the store answers. The directory may be down ("degraded"): reads and resident
/// bookings go on without it.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.bookings.store_health().await;
    let directory = state.directory.health().await;
    state.metrics.set_directory_up(directory.is_ok());
    let body = serde_json::json!({
        "store": if store.is_ok() { "ok" } else { "unavailable" },
        "directory": if directory.is_ok() { "ok" } else { "degraded" },
    });
    let status = if store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
