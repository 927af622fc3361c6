//! The HTTP edge: only this module knows axum. Handlers parse, call one domain function and
//! map its result.

mod error;
mod health;
pub mod management;
mod token;
mod well_known;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use bytes::Bytes;

pub use error::OAuthError;

use crate::admin::Admin;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::issuance::IssuerSettings;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub settings: IssuerSettings,
    pub directory: Arc<Directory>,
    pub clock: Arc<dyn Clock>,
    /// The RFC 8414 metadata document, serialized once.
    pub metadata: Bytes,
    /// `Basic realm="…"`, the challenge for failed HTTP Basic client authentication.
    pub basic_challenge: HeaderValue,
    pub counters: Arc<RequestCounters>,
    /// The one service layer for administration.
    pub admin: Admin,
    pub management: management::ManagementAuth,
    /// The management API's OpenAPI document, built once.
    pub openapi: Bytes,
}

/// Requests served, by endpoint: one relaxed atomic increment each, cheap enough for the hot
/// path. Tests read them to count what clients and verifiers really asked for.
#[derive(Debug, Default)]
pub struct RequestCounters {
    pub token_requests: AtomicU64,
    pub jwks_requests: AtomicU64,
}

impl RequestCounters {
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    pub fn jwks_requests(&self) -> u64 {
        self.jwks_requests.load(Ordering::Relaxed)
    }
}

/// All of Warrant's public routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(warrant_proto::TOKEN_PATH, post(token::token))
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
        .nest("/api/v2", management::router())
        .with_state(state)
}
