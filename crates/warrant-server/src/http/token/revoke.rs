//! `POST /oauth/revoke` (RFC 7009): the application a token was issued to revokes it. The
//! caller authenticates as at the token endpoint; the token's `jti` goes on the revocation list
//! until the token expires ([`Admin::revoke_token`](crate::admin::Admin::revoke_token)), and
//! introspection answers it inactive from then on, on every instance.
//!
//! As RFC 7009 §2.2 says, a token that is invalid, expired or revoked already is answered 200
//! all the same; so is one the caller may not introspect (it learns nothing). A valid token of
//! another application is refused (§2.1), with `unauthorized_client`. Refusals are audit events
//! (`token_revocation_failed`), aggregated as the token endpoint's are.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use warrant_proto::OAuthErrorCode;

use super::introspect::{authenticated, read_call};
use super::{Seen, audit_request};
use crate::admin::AdminError;
use crate::domain::events::types;
use crate::http::AppState;
use crate::http::error::OAuthError;
use crate::metrics::Revocation;

pub async fn revoke(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ip = crate::http::peer_ip(&parts);
    let mut seen = Seen::default();
    let result = handle(&app, &parts.headers, ip, body, &mut seen).await;
    app.metrics.revocation(match &result {
        Ok(true) => Revocation::Revoked,
        Ok(false) => Revocation::Ignored,
        Err(e) if e.code == OAuthErrorCode::UnauthorizedClient => Revocation::UnauthorizedClient,
        Err(e) if e.status.is_server_error() => Revocation::Unavailable,
        Err(_) => Revocation::Refused,
    });
    match result {
        Ok(_) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        )
            .into_response(),
        Err(error) => {
            // Aggregated as introspection's refusals are.
            let description = error.description.clone();
            audit_request(
                &app,
                types::REVOCATION_FAILED,
                description,
                seen,
                ip,
                &parts.headers,
            );
            error.into_response()
        }
    }
}

/// Whether a token was revoked (`false`: nothing to revoke, answered 200 all the same).
async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    body: Body,
    seen: &mut Seen,
) -> Result<bool, OAuthError> {
    let now_ms = app.clock.now_ms();
    let call = read_call(app, headers, body).await?;
    let caller = authenticated(app, &call, ip, now_ms, seen).await?;
    let Some(claims) = app
        .introspector
        .active(&caller, call.token(), now_ms / 1000)
        .await
        .map_err(|e| OAuthError::from_lookup(&e))?
    else {
        return Ok(false);
    };
    if claims.client_id() != Some(call.client_id()) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::UnauthorizedClient,
            "only the application a token was issued to may revoke it",
        ));
    }
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        // Every token this server issues has one; `active` answers those without inactive.
        return Ok(false);
    };
    let audience = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    app.admin
        .revoke_token(call.client_id(), audience, jti, claims.exp(), ip)
        .await
        .map(|()| true)
        .map_err(|e| match e {
            AdminError::Conflict(message) => OAuthError::invalid_request(message),
            other => {
                tracing::error!(error = %other, "cannot store a token revocation");
                OAuthError::temporarily_unavailable(
                    "the revocation could not be stored; nothing was revoked, retry later",
                )
            }
        })
}
