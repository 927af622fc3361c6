use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: storage answers and a signing key is loaded.
pub async fn readyz(State(app): State<Arc<AppState>>) -> (StatusCode, Json<serde_json::Value>) {
    let storage = matches!(
        tokio::time::timeout(Duration::from_secs(2), app.directory.store().ping()).await,
        Ok(Ok(()))
    );
    let signing_key = app.directory.snapshot().has_signing_key();
    let status = if storage && signing_key {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "checks": {
            "storage": if storage { "ok" } else { "unreachable" },
            "signing_key": if signing_key { "ok" } else { "missing" },
        }
    });
    (status, Json(body))
}
