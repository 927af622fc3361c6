//! `/api/v2/clients/{id}/credentials`: an application's public keys for private_key_jwt, in
//! Auth0's shapes. The key itself is never shown back; its `kid` (RFC 7638 thumbprint) is.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warrant_proto::ClientCredentialView;

use super::ApiError;
use super::auth::{
    Authorized, CreateClientCredentials, DeleteClientCredentials, ReadClientCredentials,
    UpdateClientCredentials,
};
use super::body::JsonBody;
use crate::admin::NewCredential;
use crate::clock::parse_rfc3339_expiry;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    credential_type: String,
    #[serde(default)]
    name: Option<String>,
    pem: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// `null`: never expires.
    expires_at: Option<String>,
}

/// Auth0's ISO 8601 `expires_at` as Unix seconds.
pub(super) fn expiry(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|t| {
        parse_rfc3339_expiry(t).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Payload validation error: 'expires_at': {t:?} is not an ISO 8601 date-time (e.g. 2027-01-31T00:00:00Z)"
            ))
        })
    })
    .transpose()
}

pub async fn create(
    auth: Authorized<CreateClientCredentials>,
    Path(client_id): Path<String>,
    JsonBody(body): JsonBody<CreateCredential>,
) -> Result<Response, ApiError> {
    if body.credential_type != "public_key" {
        return Err(ApiError::bad_request(format!(
            "Payload validation error: 'credential_type': {:?} is not supported; use public_key",
            body.credential_type
        )));
    }
    let Some(pem) = body.pem else {
        return Err(ApiError::bad_request(
            "Payload validation error: 'pem' is required: the public key, PEM-encoded",
        ));
    };
    let expires_at = expiry(body.expires_at.as_deref())?;
    let credential = auth
        .admin(StatusCode::CREATED)
        .create_credential(
            &client_id,
            NewCredential {
                name: body.name.unwrap_or_default(),
                // Auth0's default.
                alg: body.alg.unwrap_or_else(|| "RS256".to_owned()),
                pem,
                expires_at,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientCredentialView::from(&credential)),
    )
        .into_response())
}

pub async fn list(
    auth: Authorized<ReadClientCredentials>,
    Path(client_id): Path<String>,
) -> Result<Json<Vec<ClientCredentialView>>, ApiError> {
    let credentials = auth
        .admin(StatusCode::OK)
        .list_credentials(&client_id)
        .await?;
    Ok(Json(credentials.iter().map(Into::into).collect()))
}

pub async fn get(
    auth: Authorized<ReadClientCredentials>,
    Path((client_id, id)): Path<(String, String)>,
) -> Result<Json<ClientCredentialView>, ApiError> {
    let credential = auth
        .admin(StatusCode::OK)
        .get_credential(&client_id, &id)
        .await?;
    Ok(Json((&credential).into()))
}

pub async fn update(
    auth: Authorized<UpdateClientCredentials>,
    Path((client_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateCredential>,
) -> Result<Json<ClientCredentialView>, ApiError> {
    let expires_at = expiry(body.expires_at.as_deref())?;
    let credential = auth
        .admin(StatusCode::OK)
        .update_credential(&client_id, &id, expires_at)
        .await?;
    Ok(Json((&credential).into()))
}

pub async fn delete(
    auth: Authorized<DeleteClientCredentials>,
    Path((client_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.admin(StatusCode::NO_CONTENT)
        .delete_credential(&client_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
