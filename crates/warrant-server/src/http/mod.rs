//! The HTTP edge: only this module knows axum. Handlers parse, call one domain function and
//! map its result.

pub mod connections;
pub(crate) mod dashboard;
mod error;
mod health;
pub mod management;
mod metrics;
pub mod overload;
mod token;
mod well_known;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::routing::{get, post};
use bytes::Bytes;

pub use error::OAuthError;
pub use token::ParsedRequest;

use crate::admin::Admin;
use crate::audit::AuditLog;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::issuance::Issuer;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The token path (it holds the settings, the failure throttles and the quotas).
    pub issuer: Issuer,
    /// Introspection (RFC 7662), from the catalog's memory.
    pub introspector: crate::introspection::Introspector,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    /// The RFC 8414 metadata document, serialized once.
    pub metadata: Bytes,
    /// `Basic realm="…"`, the challenge for failed HTTP Basic client authentication.
    pub basic_challenge: HeaderValue,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub audit: Arc<AuditLog>,
    pub sign_in_throttle: crate::limits::SignInThrottle,
    /// Whether cookies get `Secure`: the server terminates TLS or its issuer is `https://`
    /// (TLS ends at a proxy in front).
    pub secure_cookies: bool,
    pub limiter: Arc<overload::Limiter>,
    /// The one service layer for administration.
    pub admin: Admin,
    pub management: management::ManagementAuth,
    /// The management API's OpenAPI document, built once.
    pub openapi: Bytes,
    /// DPoP proofs sent to the token endpoint (RFC 9449 §5). Its replay cache is this
    /// instance's: see `http/token`.
    pub dpop: warrant_guard::DpopVerifier,
    /// Server nonces for the token endpoint's DPoP proofs (RFC 9449 §8), when they are on.
    pub dpop_nonces: Option<warrant_guard::DpopNonces>,
    /// The token endpoint's public URL (from the issuer's): what a proof's `htu` must name.
    pub token_url: String,
}

/// The address a connection came from, whichever listener accepted it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The address the request came from, for the audit log and throttling.
pub(crate) fn peer_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(addr))| addr.ip())
}

/// All of Warrant's public routes; `/metrics` too only when asked for (`metrics_public`): the
/// metrics name every API, which is no one's business on a public listener.
pub fn router(state: Arc<AppState>, with_metrics: bool) -> Router {
    let router = if with_metrics {
        Router::new().route("/metrics", get(metrics::metrics))
    } else {
        Router::new()
    };
    router
        .route(warrant_proto::TOKEN_PATH, post(token::token))
        .route(warrant_proto::INTROSPECTION_PATH, post(token::introspect))
        .route(warrant_proto::REVOCATION_PATH, post(token::revoke))
        .route(warrant_proto::JWKS_PATH, get(well_known::jwks))
        .route(
            warrant_proto::OPENID_CONFIGURATION_PATH,
            get(well_known::metadata),
        )
        .route(
            warrant_proto::OAUTH_METADATA_PATH,
            get(well_known::metadata),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest("/api/v2", management::router(Arc::clone(&state)))
        .nest("/dashboard", dashboard::router())
        // The dashboard's front door, with and without the slash.
        .route("/", get(dashboard::home))
        .route("/dashboard/", get(dashboard::home))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.limiter),
            overload::limit,
        ))
        .with_state(state)
}

/// What Warrant sends on every response it serves over TLS: browsers then refuse plain HTTP
/// to this host for a year (a dashboard session cookie never travels in the clear after a first
/// visit). Without `includeSubDomains`: Warrant answers for its own host, not for sibling
/// services under the same domain that may still need plain HTTP. Without `preload`: that is
/// a commitment to a browser-shipped list that only the domain's owner can make. Behind a
/// proxy that terminates TLS, the proxy sets the header.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// `router` with [`STRICT_TRANSPORT_SECURITY`] on every response, for a TLS listener.
pub fn with_strict_transport_security(router: Router) -> Router {
    router.layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            response.headers_mut().insert(
                axum::http::header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
            );
            response
        },
    ))
}

/// `/metrics` alone, for its own listener.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}
