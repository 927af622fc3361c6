//! Bearer tokens for the management API: issued by this server for `<issuer>api/v2/`, verified
//! with `warrant-guard` against this server's own keys (handed over in memory, not fetched),
//! each route requiring its Auth0 scope.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use warrant_guard::Verifier;
use warrant_guard::axum::{AuthError, ScopeName, bearer_token};

use super::ApiError;
use crate::directory::Directory;
use crate::http::AppState;

const REALM: &str = "warrant-management";

/// The management API's verifier, kept in step with the directory's published keys.
#[derive(Debug)]
pub struct ManagementAuth {
    verifier: Verifier,
    keys_version: AtomicI64,
}

impl ManagementAuth {
    pub fn new(issuer: &str, audience: &str) -> Result<Self, warrant_guard::BuildError> {
        Ok(Self {
            verifier: Verifier::builder(issuer, audience).manual_keys().build()?,
            keys_version: AtomicI64::new(i64::MIN),
        })
    }

    /// The verifier, with the keys of the current snapshot.
    fn verifier(&self, directory: &Directory) -> &Verifier {
        let snapshot = directory.snapshot();
        if self.keys_version.swap(snapshot.version(), Ordering::AcqRel) != snapshot.version() {
            self.verifier.set_keys(snapshot.published_keys());
        }
        &self.verifier
    }
}

/// Who made a management request, once their token was accepted: the audit middleware puts an
/// empty one in the request, the extractor fills it in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller(Arc<std::sync::OnceLock<String>>);

impl Caller {
    pub(crate) fn get(&self) -> Option<String> {
        self.0.get().cloned()
    }
}

/// A request whose bearer token carries the scope `S`.
#[derive(Debug)]
pub struct Authorized<S: ScopeName>(PhantomData<S>);

fn challenge(extra: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer realm=\"{REALM}\"{extra}")).ok()
}

impl<S: ScopeName> FromRequestParts<Arc<AppState>> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = match bearer_token(&parts.headers) {
            Ok(Some(token)) => token,
            Ok(None) => {
                let mut e = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing_authentication",
                    "Missing authentication: send a bearer token for the management API",
                );
                e.challenge = challenge("");
                return Err(e);
            }
            Err(AuthError::InvalidRequest(what)) => {
                let mut e = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("Bad HTTP authentication header format: {what}"),
                );
                e.challenge = challenge(", error=\"invalid_request\"");
                return Err(e);
            }
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Bad HTTP authentication header format",
                ));
            }
        };
        let claims = app
            .management
            .verifier(&app.directory)
            .verify(token)
            .await
            .map_err(|e| {
                let mut error = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    format!("Invalid token: {e}"),
                );
                error.challenge = challenge(&format!(
                    ", error=\"invalid_token\", error_description=\"{e}\""
                ));
                error
            })?;
        if !claims.has_scope(S::SCOPE) {
            let mut e = ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("Insufficient scope, expected: {}", S::SCOPE),
            );
            e.challenge = challenge(&format!(
                ", error=\"insufficient_scope\", scope=\"{}\"",
                S::SCOPE
            ));
            return Err(e);
        }
        if let Some(caller) = parts.extensions.get::<Caller>() {
            let _ = caller
                .0
                .set(claims.client_id().unwrap_or(claims.sub()).to_owned());
        }
        tracing::info!(
            client = claims.client_id().unwrap_or(claims.sub()),
            scope = S::SCOPE,
            method = %parts.method,
            path = %parts.uri.path(),
            "management request"
        );
        Ok(Self(PhantomData))
    }
}

warrant_guard::scope!(pub ReadClients = "read:clients");
warrant_guard::scope!(pub CreateClients = "create:clients");
warrant_guard::scope!(pub UpdateClients = "update:clients");
warrant_guard::scope!(pub DeleteClients = "delete:clients");
warrant_guard::scope!(pub UpdateClientKeys = "update:client_keys");
warrant_guard::scope!(pub ReadResourceServers = "read:resource_servers");
warrant_guard::scope!(pub CreateResourceServers = "create:resource_servers");
warrant_guard::scope!(pub UpdateResourceServers = "update:resource_servers");
warrant_guard::scope!(pub DeleteResourceServers = "delete:resource_servers");
warrant_guard::scope!(pub ReadClientGrants = "read:client_grants");
warrant_guard::scope!(pub CreateClientGrants = "create:client_grants");
warrant_guard::scope!(pub UpdateClientGrants = "update:client_grants");
warrant_guard::scope!(pub DeleteClientGrants = "delete:client_grants");
warrant_guard::scope!(pub ReadSigningKeys = "read:signing_keys");
warrant_guard::scope!(pub CreateSigningKeys = "create:signing_keys");
warrant_guard::scope!(pub UpdateSigningKeys = "update:signing_keys");
warrant_guard::scope!(pub ReadLogs = "read:logs");
