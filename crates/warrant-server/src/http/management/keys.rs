//! `/api/v2/keys/signing`: list, rotate and revoke the token-signing keys.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use warrant_proto::SigningKeyView;

use serde::Deserialize;

use super::ApiError;
use super::auth::{Authorized, CreateSigningKeys, ReadSigningKeys, UpdateSigningKeys};
use super::body::QueryParams;
use crate::domain::SigningAlg;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateQuery {
    /// Rotate only this algorithm's keys (default: every algorithm's).
    alg: Option<String>,
}

/// Next becomes current, current becomes previous, a new next key is published: for the
/// algorithm `?alg=` names, else for every algorithm that has keys. Answers with the new
/// current key (RS256's when all were rotated), as Auth0's rotation answers with one.
pub async fn rotate(
    auth: Authorized<CreateSigningKeys>,
    QueryParams(query): QueryParams<RotateQuery>,
) -> Result<Response, ApiError> {
    let alg = query
        .alg
        .map(|a| SigningAlg::parse(&a))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("Query validation error: 'alg': {}", e.0)))?;
    let rotated = auth.admin(StatusCode::CREATED).rotate_keys(alg).await?;
    let key = rotated
        .first()
        .ok_or_else(|| ApiError::bad_request("there is no signing key to rotate"))?;
    Ok((StatusCode::CREATED, Json(SigningKeyView::from(key))).into_response())
}

/// Withdraws a previous key from the JWKS at once: tokens it signed stop verifying.
pub async fn revoke(
    auth: Authorized<UpdateSigningKeys>,
    Path(kid): Path<String>,
) -> Result<Json<SigningKeyView>, ApiError> {
    let key = auth.admin(StatusCode::OK).revoke_key(&kid).await?;
    Ok(Json(SigningKeyView::from(&key)))
}
