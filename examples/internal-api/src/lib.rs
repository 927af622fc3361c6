//! The protected internal API of the classic M2M flow, as a library so that tests can start it
//! in-process. See `main.rs` for how to run it.

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::routing::{delete, get};
use serde_json::{Value, json};
use warrant_guard::axum::{GuardLayer, RequireScope};
use warrant_guard::{Algorithm, Claims, DpopNonces, DpopVerifier, Verifier};

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

/// The guard's DPoP settings from `WARRANT_DPOP` (`mode`: `required` refuses every request
/// without a DPoP-bound token and its proof, `optional` accepts both, unset or empty is off) and
/// `WARRANT_DPOP_NONCE_SECRET` (`nonce_secret`, at least 16 bytes: proofs must then carry a nonce
/// this API issued, RFC 9449 §9; give every instance the same secret and each accepts the
/// others' nonces). Returns the guard and how DPoP is set, for the log.
pub fn with_dpop(
    guard: GuardLayer,
    mode: Option<&str>,
    nonce_secret: Option<&str>,
) -> Result<(GuardLayer, &'static str), String> {
    let (guard, required) = match mode.unwrap_or_default() {
        "required" => (guard.require_dpop(), true),
        "optional" => (guard.dpop(DpopVerifier::new()), false),
        "" if nonce_secret.is_some_and(|s| !s.is_empty()) => {
            return Err(
                "WARRANT_DPOP_NONCE_SECRET needs DPoP on: set WARRANT_DPOP=required or optional"
                    .to_owned(),
            );
        }
        "" => return Ok((guard, "off")),
        other => {
            return Err(format!(
                "WARRANT_DPOP must be required or optional, not {other:?}"
            ));
        }
    };
    let Some(secret) = nonce_secret.filter(|s| !s.is_empty()) else {
        return Ok((guard, if required { "required" } else { "optional" }));
    };
    let nonces = DpopNonces::new(secret.as_bytes(), DpopNonces::DEFAULT_LIFETIME).map_err(|e| {
        format!("WARRANT_DPOP_NONCE_SECRET: {e}; e.g. the output of `openssl rand -base64 32`")
    })?;
    let how = if required {
        "required, with nonces"
    } else {
        "optional, with nonces"
    };
    Ok((guard.dpop_nonces(nonces), how))
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
