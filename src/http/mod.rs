//! HTTP: the API router, service endpoints (`/healthz`, `/readyz`, `/metrics`) and the layers
//! every request passes (request id, logging, body limit, metrics).

pub mod api;
pub mod error;
pub mod extract;
pub mod metrics;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::booking::Bookings;
use crate::directory::Directory;
use crate::identity::Identity;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub bookings: Bookings,
    pub identity: Arc<Identity>,
    pub directory: Arc<dyn Directory>,
    pub metrics: Arc<metrics::Metrics>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(crate::caldav::dav::routes())
        .merge(crate::caldav::feed::routes())
        .merge(crate::web::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(crate::web::fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), measure))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // A private feed's path is its secret: never in the logs.
            let path = req.uri().path();
            let path = if path.starts_with("/feeds/private/") {
                "/feeds/private/…"
            } else {
                path
            };
            tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

pub(crate) async fn not_found() -> error::ApiError {
    error::ApiError::not_found(
        "no such resource; the API is under /api/v1 (see /api/v1/openapi.json)",
    )
}

async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    state.metrics.request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the store answers. The directory may be down ("degraded"): reads and resident
/// bookings go on without it.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.bookings.store.ping().await;
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
