use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Verifiers may cache keys for this long. New keys are published before they sign
/// (rotation), so a cached JWKS is never missing the key of a fresh token for long, and
/// verifiers refetch on an unknown `kid` anyway.
const JWKS_CACHE_CONTROL: &str = "public, max-age=300, stale-while-revalidate=60";

pub async fn jwks(State(app): State<Arc<AppState>>) -> Response {
    app.metrics.jwks_request();
    let body = app.catalog.snapshot().jwks().clone();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(JWKS_CACHE_CONTROL),
            ),
        ],
        body,
    )
        .into_response()
}

pub async fn metadata(State(app): State<Arc<AppState>>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        app.metadata.clone(),
    )
        .into_response()
}
