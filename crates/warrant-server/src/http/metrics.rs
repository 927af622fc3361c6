//! `GET /metrics`: Prometheus' text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::Gauges;

pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let cache = app.catalog.client_cache_stats();
    let snapshot = app.catalog.snapshot();
    let now = app.clock.now();
    let audit = app.audit.stats();
    let gauges = Gauges {
        client_cache_entries: cache.entries,
        client_cache_capacity: cache.capacity,
        client_cache_hits: cache.hits,
        client_cache_misses: cache.misses,
        audit_queue_depth: audit.depth,
        audit_queue_capacity: audit.capacity,
        audit_dropped: audit.dropped,
        audit_written: audit.written,
        credential_expiry: snapshot
            .nearest_expiries(now)
            .map(|(client_id, at)| (client_id.to_owned(), at - now))
            .collect(),
        ready: snapshot.has_signing_key()
            && app.catalog.storage_reachable()
            && app.catalog.is_current(),
        catalog_age_seconds: app.catalog.staleness().as_secs_f64(),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(&gauges),
    )
        .into_response()
}
