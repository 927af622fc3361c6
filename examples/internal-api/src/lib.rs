//! The protected internal API of the classic M2M flow, as a library so that tests can start it
//! in-process. See `main.rs` for how to run it.

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::routing::{delete, get};
use serde_json::{Value, json};
use warrant_guard::axum::{GuardLayer, RequireScope};
use warrant_guard::{Algorithm, Claims, Verifier};

warrant_guard::scope!(pub DeleteDocuments = "delete:documents");

/// The algorithms the API accepts, from a comma-separated list such as `ES256` or
/// `RS256,ES256` (`WARRANT_ALGORITHMS`): the API's `signing_alg` at Warrant, plus the old one
/// while tokens it signed may still be valid after a change. Names are exact (`EdDSA`).
pub fn algorithms(list: &str) -> Result<Vec<Algorithm>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            Algorithm::from_name(name).ok_or_else(|| {
                format!(
                    "unknown algorithm {name:?} in WARRANT_ALGORITHMS; e.g. RS256, ES256, EdDSA"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|algs| {
            if algs.is_empty() {
                Err("WARRANT_ALGORITHMS names no algorithm".to_owned())
            } else {
                Ok(algs)
            }
        })
}

/// `GET /internal/data` for any valid token; `DELETE /internal/documents/{doc_id}` only with
/// `delete:documents`; `GET /healthz` for anyone.
pub fn app(verifier: Verifier) -> Router {
    app_with(GuardLayer::new(verifier))
}

/// The same routes behind a guard configured by the caller (DPoP, its public URL).
pub fn app_with(guard: GuardLayer) -> Router {
    let protected = Router::new()
        .route("/internal/data", get(internal_data))
        .route("/internal/documents/{doc_id}", delete(delete_document))
        .layer(guard.realm("internal-api"));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
}

async fn internal_data(claims: Claims) -> Json<Value> {
    // `sub` is the calling client, not a user.
    tracing::info!(client = claims.sub(), "GET /internal/data");
    Json(json!({"data": "sensitive internal data"}))
}

async fn delete_document(
    scoped: RequireScope<DeleteDocuments>,
    Path(doc_id): Path<String>,
) -> Json<Value> {
    tracing::info!(
        client = scoped.claims().sub(),
        doc_id,
        "DELETE /internal/documents"
    );
    Json(json!({"deleted": doc_id}))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
