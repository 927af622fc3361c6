//! Bearer tokens for the management API: issued by this server for `<issuer>api/v2/`, verified
//! with `warrant-guard` against this server's own keys (handed over in memory, not fetched),
//! each route requiring its Auth0 scope. A verified token must also still stand, checked per
//! request from the catalog's memory: its application and its grant still exist, and no
//! rotation revoked the credentials it was issued under. Its scopes count only as far as the
//! grant still holds them.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use warrant_guard::Verifier;
use warrant_guard::axum::{AuthError, ScopeName, bearer_token};

use super::ApiError;
use crate::admin::{Actor, Admin, ManagementCaller, scopes};
use crate::catalog::{CatalogVerifier, Standing};
use crate::http::AppState;

const REALM: &str = "warrant-management";

/// The management API's verifier, kept in step with the catalog's published keys.
#[derive(Debug)]
pub struct ManagementAuth {
    verifier: CatalogVerifier,
    audience: String,
}

impl ManagementAuth {
    pub fn new(issuer: &str, audience: &str) -> Result<Self, warrant_guard::BuildError> {
        Ok(Self {
            verifier: CatalogVerifier::new(Verifier::builder(issuer, audience))?,
            audience: audience.to_owned(),
        })
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

/// A request whose bearer token carries the scope `S`, still granted. Writes go through
/// [`admin`](Self::admin): the service layer acting for the caller.
#[derive(Debug)]
pub struct Authorized<S: ScopeName> {
    admin: Admin,
    caller: ManagementCaller,
    scope: PhantomData<S>,
}

impl<S: ScopeName> Authorized<S> {
    /// The service layer acting for the caller, with the rights its scopes give. `answer` is
    /// the status a success answers with: the audit log names the request with it.
    pub(super) fn admin(&self, answer: StatusCode) -> Admin {
        self.admin.acting_as(Actor::Management(ManagementCaller {
            request: format!("{} ({})", self.caller.request, answer.as_u16()),
            ..self.caller.clone()
        }))
    }
}

fn revoked(why: &str) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        format!("Invalid token: {why}"),
    );
    error.challenge = challenge(&format!(
        ", error=\"invalid_token\", error_description=\"{why}\""
    ));
    error
}

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
            .verifier
            .get(&app.catalog)
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
        let client_id = claims.client_id().unwrap_or(claims.sub());
        let issued_at = claims
            .get("iat")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let standing = app
            .catalog
            .standing(
                client_id,
                &app.management.audience,
                issued_at,
                app.clock.now(),
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot look up a management caller");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "storage is unavailable; nothing was changed, retry later",
                )
            })?;
        let granted = match &standing {
            Standing::Stands(client) => client.grant_scopes(&app.management.audience),
            Standing::NoClient => return Err(revoked("its application was deleted")),
            Standing::NoGrant => {
                return Err(revoked(
                    "its application's grant on the management API was revoked",
                ));
            }
            Standing::Revoked => {
                return Err(revoked(
                    "it was issued before its application's secret was rotated",
                ));
            }
        };
        let held: Vec<String> = claims
            .scopes()
            .filter(|s| granted.iter().any(|g| g == s))
            .map(str::to_owned)
            .collect();
        if !held.iter().any(|s| s == S::SCOPE) {
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
            let _ = caller.0.set(client_id.to_owned());
        }
        tracing::info!(
            client = client_id,
            scope = S::SCOPE,
            method = %parts.method,
            path = %parts.uri.path(),
            "management request"
        );
        Ok(Self {
            admin: app.admin.clone(),
            caller: ManagementCaller {
                client_id: client_id.to_owned(),
                scopes: held,
                request: super::request_line(&parts.method, parts.uri.path()),
                ip: super::peer_ip(&parts.extensions),
            },
            scope: PhantomData,
        })
    }
}

/// Declares a [`ScopeName`] type for a management scope of [`crate::admin::scopes`].
macro_rules! management_scope {
    ($name:ident = $value:ident) => {
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl ScopeName for $name {
            const SCOPE: &'static str = scopes::$value;
        }
    };
}

management_scope!(ReadClients = READ_CLIENTS);
management_scope!(CreateClients = CREATE_CLIENTS);
management_scope!(UpdateClients = UPDATE_CLIENTS);
management_scope!(DeleteClients = DELETE_CLIENTS);
management_scope!(UpdateClientKeys = UPDATE_CLIENT_KEYS);
management_scope!(ReadClientCredentials = READ_CLIENT_CREDENTIALS);
management_scope!(CreateClientCredentials = CREATE_CLIENT_CREDENTIALS);
management_scope!(UpdateClientCredentials = UPDATE_CLIENT_CREDENTIALS);
management_scope!(DeleteClientCredentials = DELETE_CLIENT_CREDENTIALS);
management_scope!(ReadResourceServers = READ_RESOURCE_SERVERS);
management_scope!(CreateResourceServers = CREATE_RESOURCE_SERVERS);
management_scope!(UpdateResourceServers = UPDATE_RESOURCE_SERVERS);
management_scope!(DeleteResourceServers = DELETE_RESOURCE_SERVERS);
management_scope!(ReadClientGrants = READ_CLIENT_GRANTS);
management_scope!(CreateClientGrants = CREATE_CLIENT_GRANTS);
management_scope!(UpdateClientGrants = UPDATE_CLIENT_GRANTS);
management_scope!(DeleteClientGrants = DELETE_CLIENT_GRANTS);
management_scope!(ReadSigningKeys = READ_SIGNING_KEYS);
management_scope!(CreateSigningKeys = CREATE_SIGNING_KEYS);
management_scope!(UpdateSigningKeys = UPDATE_SIGNING_KEYS);
management_scope!(ReadLogs = READ_LOGS);
management_scope!(ReadConfig = READ_CONFIG);
management_scope!(UpdateConfig = UPDATE_CONFIG);
management_scope!(ReadTrustedIssuers = READ_TRUSTED_ISSUERS);
management_scope!(CreateTrustedIssuers = CREATE_TRUSTED_ISSUERS);
management_scope!(UpdateTrustedIssuers = UPDATE_TRUSTED_ISSUERS);
management_scope!(DeleteTrustedIssuers = DELETE_TRUSTED_ISSUERS);
