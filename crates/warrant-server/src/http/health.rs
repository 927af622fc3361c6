use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the last look at storage succeeded, recently enough that what is served from
/// memory is known to be current, and a signing key is loaded. Reads what the catalog's
/// watcher found (every 250 ms by default), so it never waits on storage itself. `catalog`
/// says since when the instance serves from memory unconfirmed: `confirmed_at_ms` (Unix
/// milliseconds) and `age_ms`.
pub async fn readyz(State(app): State<Arc<AppState>>) -> (StatusCode, Json<serde_json::Value>) {
    let catalog = &app.catalog;
    let storage = catalog.storage_reachable();
    let current = catalog.is_current();
    let age_ms = u64::try_from(catalog.staleness().as_millis()).unwrap_or(u64::MAX);
    let signing_key = catalog.snapshot().has_signing_key();
    let status = if storage && current && signing_key {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "checks": {
            "storage": if storage { "ok" } else { "unreachable" },
            "catalog": if current { "current" } else { "stale" },
            "signing_key": if signing_key { "ok" } else { "missing" },
        },
        "catalog": {
            "confirmed_at_ms": app.clock.now_ms().saturating_sub(age_ms),
            "age_ms": age_ms,
        },
    });
    (status, Json(body))
}
