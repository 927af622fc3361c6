//! `POST /oauth/introspect` (RFC 7662): the caller authenticates as at the token endpoint (same
//! parsing, same throttles), and gets the answer
//! [`Introspector::introspect`](crate::introspection::Introspector::introspect) gives.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::wire::TokenCall;
use super::{MAX_BODY_BYTES, Seen, refused};
use crate::catalog::ClientEntry;
use crate::http::AppState;
use crate::http::error::{OAuthError, no_store_json};
use crate::issuance::Refusal;

pub async fn introspect(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ip = crate::http::peer_ip(&parts);
    match handle(&app, &parts.headers, ip, body).await {
        Ok(answer) => answer,
        Err(error) => error.into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    body: Body,
) -> Result<Response, OAuthError> {
    let now_ms = app.clock.now_ms();
    let call = read_call(app, headers, body).await?;
    let caller = authenticated(app, &call, ip, now_ms).await?;
    let answer = app
        .introspector
        .introspect(&caller, call.token(), now_ms / 1000)
        .await
        .map_err(|e| OAuthError::from_lookup(&e))?;
    let answer = answer.unwrap_or_else(|| {
        let mut inactive = Map::new();
        inactive.insert("active".into(), Value::Bool(false));
        inactive
    });
    Ok(json_no_store(&answer))
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

/// The caller, authenticated as at the token endpoint; a failure is answered as there.
pub(super) async fn authenticated(
    app: &AppState,
    call: &TokenCall,
    ip: Option<IpAddr>,
    now_ms: u64,
) -> Result<Arc<ClientEntry>, OAuthError> {
    app.issuer
        .authenticate(call.client_id(), call.credential(), ip, now_ms)
        .await
        .map(|(client, _)| client)
        .map_err(|reason| {
            let refusal = Refusal {
                reason,
                audience_known: false,
            };
            refused(app, refusal, call.challenge(), &mut Seen::default(), now_ms)
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
