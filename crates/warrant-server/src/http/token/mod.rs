//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4), with Auth0's JSON body and
//! `audience` parameter as well as the RFC's form body and RFC 8707's `resource`.
//!
//! The handler parses the wire form (`wire.rs`), hands the request to
//! [`Issuer::issue`](crate::issuance::Issuer::issue), and maps the outcome to HTTP: the token
//! response with its rate-limit headers, or the RFC 6749 error for the [`Refused`] reason; then
//! it records metrics and the audit event.
//!
//! **DPoP** (RFC 9449 §5): a request with a `DPoP` header gets a token bound to the proof's key
//! (`cnf.jkt`, `token_type: "DPoP"`). The proof is checked by warrant-guard's verifier (the one
//! every API uses) against `POST` and the token endpoint's public URL, the issuer's; its `jti` is
//! recorded only once the client authenticated, so that no one can fill the replay cache
//! without credentials. That cache is per instance: a proof replayed to another instance within
//! its `iat` window (±60 s) would get a second token bound to the same key. That token is worth
//! nothing without the private key, which only the proof's maker holds, so sharing the cache
//! (a database round trip on every token request) would buy nothing an API's own replay check
//! does not already give.
//!
//! **Server nonces** (RFC 9449 §8, `dpop_nonces`, off by default): a proof must then carry a
//! nonce this server issued; without a current one the answer is 400 `use_dpop_nonce` with a
//! `DPoP-Nonce` header, and every answer to a request with a proof carries a fresh one. The
//! nonces are an HMAC of the time slot under a key derived from the master key, so every
//! instance accepts every other's without a database round trip.

mod introspect;
mod revoke;
mod wire;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warrant_guard::{DpopProof, ProofCheck};
use warrant_proto::{OAuthErrorCode, TOKEN_TYPE_BEARER, TOKEN_TYPE_DPOP};

pub use self::introspect::introspect;
pub use self::revoke::revoke;
pub use self::wire::ParsedRequest;
use super::AppState;
use super::error::OAuthError;
use crate::catalog::LookupError;
use crate::domain::events::{AuditEvent, ClientAuthentication, types};
use crate::issuance::{AuthenticatedBy, Refusal, Refused, Throttled, cut, echoed};
use crate::limits::{Period, QuotaExceeded};
use crate::metrics::MetricAudience;

/// Token requests are small; anything larger is refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The longest user agent kept in an audit event.
const MAX_USER_AGENT: usize = 256;

pub async fn token(State(app): State<Arc<AppState>>, request: Request) -> Response {
    // Monotonic: a latency for metrics, not a time of day.
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let mut seen = Seen::default();
    let ip = super::peer_ip(&parts);
    let result = handle(&app, &parts.headers, ip, body, &mut seen).await;
    let nonce = nonce_header(&app, &parts.headers, app.clock.now_ms());
    let error = result.as_ref().err();
    // Audiences are labels only once the client authenticated: metrics say nothing about
    // which APIs exist to whoever sends requests.
    let audience = match seen.audience.as_deref() {
        _ if !seen.authenticated => MetricAudience::Unauthenticated,
        Some(audience) if seen.audience_known => MetricAudience::Known(audience),
        _ => MetricAudience::Unknown,
    };
    app.metrics
        .token_request(audience, error.map(|e| e.code), started.elapsed());
    let (kind, description) = match error {
        Some(e) => (types::TOKEN_FAILED, e.description.clone()),
        None => (
            types::TOKEN_ISSUED,
            issued_description(seen.method.as_deref(), seen.dpop_bound),
        ),
    };
    audit_request(&app, kind, description, seen, ip, &parts.headers);
    let mut response = match result {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    if let Some(nonce) = nonce {
        response
            .headers_mut()
            .insert(HeaderName::from_static("dpop-nonce"), nonce);
    }
    response
}

/// Records the audit event of a request to the token, introspection or revocation endpoint:
/// what it was about as far as it got (`seen`), where it came from, and the outcome (`kind`,
/// `description`). Refusals are aggregated by the audit log ([`crate::audit`]).
fn audit_request(
    app: &AppState,
    kind: &'static str,
    description: Cow<'static, str>,
    seen: Seen,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) {
    app.audit.record(AuditEvent {
        date_ms: app.clock.now_ms(),
        kind: Cow::Borrowed(kind),
        description,
        client_id: seen.client_id,
        audience: seen.audience,
        scope: seen.scope,
        ip: ip.map(|ip| ip.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| cut(ua, MAX_USER_AGENT).to_owned()),
        jti: seen.jti,
        count: 1,
        auth: seen.auth,
    });
}

/// What a request turned out to be about, as far as it got: for metrics and the audit log.
#[derive(Default)]
struct Seen {
    client_id: Option<String>,
    audience: Option<String>,
    /// Whether `audience` is an API this server knows (only those become metric labels).
    audience_known: bool,
    /// Whether the client authenticated (only then is the audience a metric label).
    authenticated: bool,
    scope: Option<String>,
    jti: Option<String>,
    /// Whether the token issued is bound to a DPoP key.
    dpop_bound: bool,
    /// How the client authenticated, when not with its secret: the audit event says so.
    method: Option<String>,
    /// How the client authenticated, for the audit event's details.
    auth: Option<ClientAuthentication>,
}

/// The request's DPoP proof, checked (not yet recorded against replay), if it has one.
fn dpop_proof(
    app: &AppState,
    headers: &HeaderMap,
    now_ms: u64,
) -> Result<Option<DpopProof>, OAuthError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(dpop_refused(&warrant_guard::DpopError::BadHeader));
    }
    let proof = value
        .to_str()
        .map_err(|_| dpop_refused(&warrant_guard::DpopError::BadHeader))?;
    let check = ProofCheck {
        method: "POST",
        url: &app.token_url,
        access_token: None,
        bound_key: None,
    };
    let now = now_ms / 1000;
    let proof = app
        .dpop
        .check_at(proof, &check, now)
        .map_err(|e| dpop_refused(&e))?;
    if let Some(nonces) = &app.dpop_nonces {
        if !proof.nonce().is_some_and(|n| nonces.accepts_at(n, now)) {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::UseDpopNonce,
                "this server requires a nonce in the DPoP proof: use the one in DPoP-Nonce",
            ));
        }
    }
    Ok(Some(proof))
}

/// A fresh `DPoP-Nonce` for the answer to a request that sent a DPoP proof, when nonces are on.
fn nonce_header(app: &AppState, headers: &HeaderMap, now_ms: u64) -> Option<HeaderValue> {
    let nonces = app.dpop_nonces.as_ref()?;
    headers.contains_key("dpop").then_some(())?;
    HeaderValue::from_str(&nonces.issue_at(now_ms / 1000)).ok()
}

/// The audit description of an issued token: how the client authenticated when not with its
/// secret, and whether the token is bound to a DPoP key.
fn issued_description(method: Option<&str>, dpop_bound: bool) -> Cow<'static, str> {
    const ISSUED: &str = "Client Credentials for Access Token";
    match (method, dpop_bound) {
        (None, false) => Cow::Borrowed(ISSUED),
        (None, true) => Cow::Borrowed("Client Credentials for Access Token (DPoP-bound)"),
        (Some(method), false) => Cow::Owned(format!("{ISSUED} ({method})")),
        (Some(method), true) => Cow::Owned(format!("{ISSUED} ({method}; DPoP-bound)")),
    }
}

/// 400 `invalid_dpop_proof` (RFC 9449 §5).
fn dpop_refused(error: &warrant_guard::DpopError) -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        OAuthErrorCode::InvalidDpopProof,
        error.to_string(),
    )
}

/// A proof that passed every check but could not be recorded against replay: replayed (400
/// `invalid_dpop_proof`), or the replay cache is full, which is not the proof's fault (503
/// `temporarily_unavailable`, the server is overloaded).
fn not_recorded(error: &warrant_guard::DpopError) -> OAuthError {
    match error {
        warrant_guard::DpopError::ReplayCacheFull => OAuthError {
            description: Cow::Owned(error.to_string()),
            ..OAuthError::temporarily_unavailable("")
        },
        other => dpop_refused(other),
    }
}

/// Parse, issue, answer.
async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    body: Body,
    seen: &mut Seen,
) -> Result<Response, OAuthError> {
    let now_ms = app.clock.now_ms();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                warrant_proto::OAuthErrorCode::InvalidRequest,
                "the request body is larger than 16 KiB",
            )
        })?;
    let parsed = ParsedRequest::parse(headers, &bytes, &app.basic_challenge)?;
    let mut request = parsed.request(ip);
    seen.client_id = Some(echoed(request.client_id));
    seen.audience = app.issuer.audience(request.target).map(echoed);
    let proof = dpop_proof(app, headers, now_ms)?;
    request.dpop_jkt = proof.as_ref().map(DpopProof::jkt);

    let issued = match app.issuer.issue(&request, now_ms).await {
        Ok(issued) => issued,
        Err(refusal) => return Err(refused(app, refusal, parsed.challenge(), seen, now_ms)),
    };
    if let Some(proof) = &proof {
        // Only now that the client authenticated does its proof take a place in the cache.
        app.dpop
            .record(proof, now_ms / 1000)
            .map_err(|e| not_recorded(&e))?;
        seen.dpop_bound = true;
    }
    seen.audience_known = true;
    seen.authenticated = true;
    match issued.by {
        AuthenticatedBy::PrivateKeyJwt { credential_id } => {
            seen.method = Some(format!("private_key_jwt, credential {credential_id}"));
            seen.auth = Some(ClientAuthentication {
                method: Cow::Borrowed("private_key_jwt"),
                credential_id: Some(credential_id),
                issuer: None,
                subject: None,
            });
        }
        AuthenticatedBy::Federated {
            credential_id,
            issuer,
            subject,
        } => {
            seen.method = Some(format!(
                "federated, credential {credential_id}, {issuer} subject {subject}"
            ));
            seen.auth = Some(ClientAuthentication {
                method: Cow::Borrowed("federated"),
                credential_id: Some(credential_id),
                issuer: Some(issuer),
                subject: Some(subject),
            });
        }
        AuthenticatedBy::Secret { secret_id } => {
            seen.auth = Some(ClientAuthentication {
                method: Cow::Borrowed("secret"),
                credential_id: Some(secret_id.to_string()),
                issuer: None,
                subject: None,
            });
        }
        AuthenticatedBy::VouchedByOperator => {}
    }
    let token = issued.token;
    let token_type = if proof.is_some() {
        TOKEN_TYPE_DPOP
    } else {
        TOKEN_TYPE_BEARER
    };
    let body = token_response_body(
        &token.access_token,
        token_type,
        token.expires_in,
        token.scope.as_deref(),
    );
    seen.scope = token.scope;
    seen.jti = Some(token.jti);
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response();
    if let Some(state) = issued.quota {
        let headers = response.headers_mut();
        for (name, value) in rate_limit_headers(state.limit, state.remaining, state.reset) {
            headers.insert(name, value);
        }
        if state.warn {
            app.audit.record(AuditEvent {
                date_ms: now_ms,
                kind: types::QUOTA_WARNING.into(),
                description: Cow::Owned(format!(
                    "{} of the {} token quota of {} used",
                    u64::from(state.limit) - state.remaining,
                    state.period.as_str(),
                    state.limit
                )),
                client_id: seen.client_id.clone(),
                ..AuditEvent::default()
            });
        }
        if state.over {
            record_quota_reached(app, seen, state.period, state.limit, false, now_ms);
        }
    }
    Ok(response)
}

/// The RFC 6749 answer to a refusal, with the metrics and audit events it makes.
fn refused(
    app: &AppState,
    refusal: Refusal,
    challenge: Option<&HeaderValue>,
    seen: &mut Seen,
    now_ms: u64,
) -> OAuthError {
    seen.audience_known = refusal.audience_known;
    seen.authenticated = refusal.reason.authenticated();
    match refusal.reason {
        Refused::Lookup(e) => {
            if let LookupError::Unavailable(_) = e {
                app.metrics.storage_error();
            }
            OAuthError::from_lookup(&e)
        }
        Refused::LookupThrottled { wait } => {
            app.metrics.storage_error();
            app.metrics.throttled();
            OAuthError::too_many_requests(
                format!(
                    "too many lookups of unknown clients from this address while the \
                     database is unreachable; retry in {wait} s"
                ),
                wait,
            )
        }
        // A wrong secret or an unknown client: 401. (A vouched-for request never comes here.)
        Refused::BadCredentials | Refused::NoSuchClient => {
            OAuthError::invalid_client(challenge.cloned())
        }
        // A known client's credential refused, with what was wrong (never the credential).
        Refused::BadCredential(description) => OAuthError {
            description,
            ..OAuthError::invalid_client(challenge.cloned())
        },
        Refused::ReplayCheckUnavailable => {
            app.metrics.storage_error();
            OAuthError::temporarily_unavailable(
                "the client assertion cannot be checked for reuse while the database is unreachable or behind; retry shortly with a fresh assertion",
            )
        }
        // The same beyond a failure budget: 429 instead.
        Refused::Throttled { by, wait } => {
            let what = match by {
                Throttled::Address => {
                    // Refused for its address: the audit log counts it under the address
                    // alone, so that random client IDs from one address add up to one event,
                    // not one each.
                    seen.client_id = None;
                    "too many failed client authentications from this address"
                }
                Throttled::Client => "too many failed authentications for this client",
            };
            app.metrics.throttled();
            OAuthError::too_many_requests(
                format!("{what}; retry in {wait} s (the right secret is always accepted)"),
                wait,
            )
        }
        Refused::Quota { exceeded, first } => quota_exceeded(app, seen, exceeded, first, now_ms),
        Refused::Issue(e) => OAuthError::from_issue(e),
    }
}

/// The `api_limit` event, once a window: the quota is used up, and either refuses tokens from
/// now on or (observe mode) only reports.
fn record_quota_reached(
    app: &AppState,
    seen: &Seen,
    period: Period,
    limit: u32,
    enforced: bool,
    now_ms: u64,
) {
    let what = if enforced {
        "tokens are refused until the window ends"
    } else {
        "not enforced: tokens are still issued"
    };
    app.audit.record(AuditEvent {
        date_ms: now_ms,
        kind: types::QUOTA_REACHED.into(),
        description: Cow::Owned(format!(
            "the {} token quota of {limit} is used up ({what})",
            period.as_str()
        )),
        client_id: seen.client_id.clone(),
        ..AuditEvent::default()
    });
}

/// Over a quota: 429 with the window's reset time, and an `api_limit` event once a window.
fn quota_exceeded(
    app: &AppState,
    seen: &Seen,
    exceeded: QuotaExceeded,
    first: bool,
    now_ms: u64,
) -> OAuthError {
    app.metrics.throttled();
    if first {
        record_quota_reached(app, seen, exceeded.period, exceeded.limit, true, now_ms);
    }
    let wait = exceeded.reset.saturating_sub(now_ms / 1000).max(1);
    let mut error = OAuthError::too_many_requests(
        format!(
            "this application used its token quota of {} per {}; cache tokens until they expire \
             instead of requesting one per call, or ask for a higher quota (retry in {wait} s)",
            exceeded.limit,
            exceeded.period.as_str()
        ),
        wait,
    );
    error
        .limit_headers
        .extend(rate_limit_headers(exceeded.limit, 0, exceeded.reset));
    error
}

/// The token response (RFC 6749 §5.1), as `warrant_proto::TokenResponse` serializes it, written
/// straight into a buffer of the right size: the access token, most of the body, is a compact
/// JWS (base64url and dots), which needs no escaping and is copied as it is.
fn token_response_body(
    access_token: &str,
    token_type: &str,
    expires_in: u32,
    scope: Option<&str>,
) -> Vec<u8> {
    debug_assert!(
        access_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
        "an access token is a compact JWS"
    );
    let mut out =
        Vec::with_capacity(access_token.len() + token_type.len() + scope.map_or(0, str::len) + 96);
    out.extend_from_slice(b"{\"access_token\":\"");
    out.extend_from_slice(access_token.as_bytes());
    out.extend_from_slice(b"\",\"token_type\":");
    // Writing strings and integers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, token_type);
    out.extend_from_slice(b",\"expires_in\":");
    let _ = serde_json::to_writer(&mut out, &expires_in);
    if let Some(scope) = scope {
        out.extend_from_slice(b",\"scope\":");
        let _ = serde_json::to_writer(&mut out, scope);
    }
    out.push(b'}');
    out
}

fn rate_limit_headers(limit: u32, remaining: u64, reset: u64) -> [(HeaderName, HeaderValue); 3] {
    [
        (
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from(limit),
        ),
        (
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(remaining),
        ),
        (
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(reset),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use warrant_proto::TokenResponse;

    use super::*;

    #[test]
    fn a_full_replay_cache_is_the_servers_overload_not_a_bad_proof() {
        let full = not_recorded(&warrant_guard::DpopError::ReplayCacheFull);
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(full.code, OAuthErrorCode::TemporarilyUnavailable);
        assert!(
            full.description.contains("overloaded"),
            "{}",
            full.description
        );
        let replayed = not_recorded(&warrant_guard::DpopError::Replayed);
        assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
        assert_eq!(replayed.code, OAuthErrorCode::InvalidDpopProof);
    }

    /// The body written by hand is byte for byte what serializing `TokenResponse` gives.
    #[test]
    fn the_token_response_is_what_serde_writes() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhQGNsaWVudHMifQ.c2ln-_";
        for (token_type, expires_in, scope) in [
            (
                TOKEN_TYPE_BEARER,
                86_400,
                Some("read:data delete:documents"),
            ),
            ("DPoP", 0, None),
            (
                TOKEN_TYPE_BEARER,
                u32::MAX,
                Some("quote\" back\\slash \u{e9}t\u{e9} \u{1}"),
            ),
            (TOKEN_TYPE_BEARER, 60, Some("")),
        ] {
            let expected = serde_json::to_vec(&TokenResponse {
                access_token: token.to_owned(),
                token_type: token_type.to_owned(),
                expires_in: u64::from(expires_in),
                scope: scope.map(str::to_owned),
            })
            .unwrap();
            let body = token_response_body(token, token_type, expires_in, scope);
            assert_eq!(
                String::from_utf8(body).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
