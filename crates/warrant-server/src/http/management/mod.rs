//! The management API, in Auth0's `/api/v2` shapes, protected by Warrant's own tokens for the
//! audience `<issuer>api/v2/` and Auth0's scope names, checked with `warrant-guard`.

mod auth;
mod body;
mod clients;
mod error;
mod grants;
mod keys;
mod openapi;
mod paging;
mod resource_servers;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

pub use auth::ManagementAuth;
pub use error::ApiError;
pub(crate) use openapi::openapi_document;

use super::AppState;

/// The routes, relative to `/api/v2`.
pub fn router() -> Router<Arc<AppState>> {
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
        .route("/openapi.json", get(openapi::serve))
        .fallback(|| async { ApiError::not_found("no such management endpoint") })
}

/// Makes a write visible to this instance's token endpoint at once (others follow within the
/// poll interval).
pub(super) async fn refresh(app: &AppState) {
    if let Err(e) = app.directory.refresh_if_changed().await {
        tracing::warn!(error = %e, "refreshing after a management write failed; the poll will retry");
    }
}
