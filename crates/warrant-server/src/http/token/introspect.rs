//! `POST /oauth/introspect` (RFC 7662): the caller authenticates as at the token endpoint (same
//! parsing, same throttles), and gets the answer
//! [`Introspector::introspect`](crate::introspection::Introspector::introspect) gives. Refusals
//! are audit events (`token_introspection_failed`), aggregated as the token endpoint's are.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::wire::TokenCall;
use super::{MAX_BODY_BYTES, Seen, audit_request, refused};
use crate::catalog::ClientEntry;
use crate::domain::events::types;
use crate::http::AppState;
use crate::http::error::{OAuthError, no_store_json};
use crate::issuance::{Refusal, echoed};
use crate::metrics::Introspection;

pub async fn introspect(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ip = crate::http::peer_ip(&parts);
    let mut seen = Seen::default();
    match handle(&app, &parts.headers, ip, body, &mut seen).await {
        Ok(answer) => answer,
        Err(error) => {
            // Aggregated as the token endpoint's refusals (per client ID, address and reason an
            // interval): a flood of bad credentials costs a counter each, not a row each.
            let description = error.description.clone();
            audit_request(
                &app,
                types::INTROSPECTION_FAILED,
                description,
                seen,
                ip,
                &parts.headers,
            );
            error.into_response()
        }
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    body: Body,
    seen: &mut Seen,
) -> Result<Response, OAuthError> {
    let now_ms = app.clock.now_ms();
    let call = read_call(app, headers, body)
        .await
        .inspect_err(|e| app.metrics.introspection(failed(e)))?;
    let caller = authenticated(app, &call, ip, now_ms, seen)
        .await
        .inspect_err(|e| app.metrics.introspection(failed(e)))?;
    let answer = app
        .introspector
        .introspect(&caller, call.token(), now_ms / 1000)
        .await
        .map_err(|e| {
            app.metrics.introspection(Introspection::Unavailable);
            OAuthError::from_lookup(&e)
        })?;
    // Who asked about which API's token (never the token): counted, written aggregated.
    let answer = match answer {
        Some((answer, audience)) => {
            app.metrics.introspection(Introspection::Active);
            app.audit
                .introspected(call.client_id(), Some(&audience), now_ms);
            answer
        }
        None => {
            app.metrics.introspection(Introspection::Inactive);
            app.audit.introspected(call.client_id(), None, now_ms);
            let mut inactive = Map::new();
            inactive.insert("active".into(), Value::Bool(false));
            inactive
        }
    };
    Ok(json_no_store(&answer))
}

/// How a request that failed before its answer is counted: refused (a bad request or failed
/// client authentication), or unavailable (storage).
fn failed(error: &OAuthError) -> Introspection {
    if error.status.is_server_error() {
        Introspection::Unavailable
    } else {
        Introspection::Refused
    }
}

/// Reads and parses an introspection or revocation request (16 KiB at most).
pub(super) async fn read_call(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenCall, OAuthError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                warrant_proto::OAuthErrorCode::InvalidRequest,
                "the request body is larger than 16 KiB",
            )
        })?;
    TokenCall::parse(headers, &bytes, &app.basic_challenge)
}

/// The caller, authenticated as at the token endpoint; a failure is answered as there, and
/// `seen` names the client ID it claimed unless it was throttled for its address.
pub(super) async fn authenticated(
    app: &AppState,
    call: &TokenCall,
    ip: Option<IpAddr>,
    now_ms: u64,
    seen: &mut Seen,
) -> Result<Arc<ClientEntry>, OAuthError> {
    seen.client_id = Some(echoed(call.client_id()));
    app.issuer
        .authenticate(call.client_id(), call.credential(), ip, now_ms)
        .await
        .map(|(client, _)| client)
        .map_err(|reason| {
            let refusal = Refusal {
                reason,
                audience_known: false,
            };
            refused(app, refusal, call.challenge(), seen, now_ms)
        })
}

/// A JSON answer that no cache keeps.
pub(super) fn json_no_store(body: &impl serde::Serialize) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        no_store_json(body),
    )
        .into_response()
}
