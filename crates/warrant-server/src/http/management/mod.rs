//! The management API, in Auth0's `/api/v2` shapes, protected by Warrant's own tokens for the
//! audience `<issuer>api/v2/` and Auth0's scope names, checked with `warrant-guard`.

mod auth;
mod body;
mod clients;
mod config;
mod credentials;
mod error;
mod federation;
mod grants;
mod keys;
mod logs;
mod openapi;
mod paging;
mod resource_servers;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};

use auth::Caller;
pub use auth::ManagementAuth;
pub use error::ApiError;
pub(crate) use openapi::openapi_document;

use super::AppState;
use std::borrow::Cow;

use crate::domain::events::{AuditEvent, types};

/// The routes, relative to `/api/v2`.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/clients", get(clients::list).post(clients::create))
        .route(
            "/clients/{id}",
            get(clients::get)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route("/clients/{id}/rotate-secret", post(clients::rotate_secret))
        .route(
            "/clients/{id}/credentials",
            get(credentials::list).post(credentials::create),
        )
        .route(
            "/clients/{id}/credentials/{credential_id}",
            get(credentials::get)
                .patch(credentials::update)
                .delete(credentials::delete),
        )
        .route(
            "/clients/{id}/federated-credentials",
            get(federation::list_credentials).post(federation::create_credential),
        )
        .route(
            "/clients/{id}/federated-credentials/{credential_id}",
            get(federation::get_credential)
                .patch(federation::update_credential)
                .delete(federation::delete_credential),
        )
        .route(
            "/trusted-issuers",
            get(federation::list_issuers).post(federation::create_issuer),
        )
        .route(
            "/trusted-issuers/{id}",
            get(federation::get_issuer)
                .patch(federation::update_issuer)
                .delete(federation::delete_issuer),
        )
        .route(
            "/resource-servers",
            get(resource_servers::list).post(resource_servers::create),
        )
        .route(
            "/resource-servers/{id}",
            get(resource_servers::get)
                .patch(resource_servers::update)
                .delete(resource_servers::delete),
        )
        .route("/client-grants", get(grants::list).post(grants::create))
        .route(
            "/client-grants/{id}",
            get(grants::get)
                .patch(grants::update)
                .delete(grants::delete),
        )
        .route("/keys/signing", get(keys::list))
        .route("/keys/signing/rotate", post(keys::rotate))
        .route("/keys/signing/{kid}", get(keys::get))
        .route("/keys/signing/{kid}/revoke", put(keys::revoke))
        .route("/config", get(config::export))
        .route("/config/plan", post(config::plan))
        .route("/config/apply", post(config::apply))
        .route("/logs", get(logs::list))
        .route("/logs/{id}", get(logs::get))
        .route("/openapi.json", get(openapi::serve))
        .fallback(|| async { ApiError::not_found("no such management endpoint") })
        .layer(axum::middleware::from_fn_with_state(state, audit_refusals))
}

/// Records every refused management write (not reads) in the audit log: `fapi`, with the
/// caller's client ID once its token was accepted. A write that succeeded was recorded by the
/// service layer that made it (`sapi`, see [`crate::admin`]).
async fn audit_refusals(
    State(app): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let caller = Caller::default();
    request.extensions_mut().insert(caller.clone());
    let description = request_line(request.method(), request.uri().path());
    let ip = peer_ip(request.extensions());
    let response = next.run(request).await;
    let status = response.status();
    if status.is_success() {
        return response;
    }
    app.audit.record(AuditEvent {
        date_ms: app.clock.now_ms(),
        kind: Cow::Borrowed(types::MANAGEMENT_FAILED),
        description: format!("{description} ({})", status.as_u16()).into(),
        client_id: caller.get(),
        ip,
        ..AuditEvent::default()
    });
    response
}

/// A management request as the audit log names it: `POST /api/v2/clients`.
fn request_line(method: &Method, path: &str) -> String {
    // Nested under /api/v2, the router sees the path without that prefix.
    format!("{method} /api/v2{path}")
}

/// The address a request came from.
fn peer_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<crate::http::PeerAddr>>()
        .map(|c| c.0.0.ip().to_string())
}
