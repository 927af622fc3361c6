//! `/api/v2/keys/signing`: list, rotate and revoke the token-signing keys.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use warrant_proto::SigningKeyView;

use super::ApiError;
use super::auth::{Authorized, CreateSigningKeys, ReadSigningKeys, UpdateSigningKeys};
use crate::http::AppState;

pub async fn list(
    _: Authorized<ReadSigningKeys>,
    State(app): State<Arc<AppState>>,
) -> Result<Json<Vec<SigningKeyView>>, ApiError> {
    let keys = app.admin.list_keys().await?;
    Ok(Json(keys.iter().map(SigningKeyView::from).collect()))
}

pub async fn get(
    _: Authorized<ReadSigningKeys>,
    State(app): State<Arc<AppState>>,
    Path(kid): Path<String>,
) -> Result<Json<SigningKeyView>, ApiError> {
    let key = app.admin.get_key(&kid).await?;
    Ok(Json(SigningKeyView::from(&key)))
}

/// Next becomes current, current becomes previous, a new next key is published. Answers with
/// the new current key.
pub async fn rotate(auth: Authorized<CreateSigningKeys>) -> Result<Response, ApiError> {
    let key = auth.admin(StatusCode::CREATED).rotate_keys().await?;
    Ok((StatusCode::CREATED, Json(SigningKeyView::from(&key))).into_response())
}

/// Withdraws a previous key from the JWKS at once: tokens it signed stop verifying.
pub async fn revoke(
    auth: Authorized<UpdateSigningKeys>,
    Path(kid): Path<String>,
) -> Result<Json<SigningKeyView>, ApiError> {
    let key = auth.admin(StatusCode::OK).revoke_key(&kid).await?;
    Ok(Json(SigningKeyView::from(&key)))
}
