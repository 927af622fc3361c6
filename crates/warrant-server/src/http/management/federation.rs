//! Workload identity federation, a Warrant extension of `/api/v2`: `/trusted-issuers` (the
//! external issuers whose tokens are accepted as client assertions) and
//! `/clients/{id}/federated-credentials` (which of their workloads an application is).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warrant_proto::{
    CreateFederatedCredential, CreateTrustedIssuer, FederatedCredentialView, TrustedIssuerView,
    UpdateTrustedIssuer,
};

use super::ApiError;
use super::auth::{
    Authorized, CreateClientCredentials, CreateTrustedIssuers, DeleteClientCredentials,
    DeleteTrustedIssuers, ReadClientCredentials, ReadTrustedIssuers, UpdateClientCredentials,
    UpdateTrustedIssuers,
};
use super::body::JsonBody;
use super::credentials::expiry;
use crate::admin::{
    Admin, AdminError, new_federated_credential, new_trusted_issuer, trusted_issuer_patch,
};
use crate::domain::FederatedCredential;
use crate::views::federated_credential_view;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFederatedCredential {
    /// `null`: never expires.
    expires_at: Option<String>,
}

pub async fn create_issuer(
    auth: Authorized<CreateTrustedIssuers>,
    JsonBody(body): JsonBody<CreateTrustedIssuer>,
) -> Result<Response, ApiError> {
    let issuer = auth
        .admin(StatusCode::CREATED)
        .create_trusted_issuer(new_trusted_issuer(body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(TrustedIssuerView::from(&issuer))).into_response())
}

pub async fn list_issuers(
    auth: Authorized<ReadTrustedIssuers>,
) -> Result<Json<Vec<TrustedIssuerView>>, ApiError> {
    let issuers = auth.admin(StatusCode::OK).list_trusted_issuers().await?;
    Ok(Json(issuers.iter().map(Into::into).collect()))
}

pub async fn get_issuer(
    auth: Authorized<ReadTrustedIssuers>,
    Path(id): Path<String>,
) -> Result<Json<TrustedIssuerView>, ApiError> {
    let issuer = auth.admin(StatusCode::OK).get_trusted_issuer(&id).await?;
    Ok(Json((&issuer).into()))
}

pub async fn update_issuer(
    auth: Authorized<UpdateTrustedIssuers>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateTrustedIssuer>,
) -> Result<Json<TrustedIssuerView>, ApiError> {
    let issuer = auth
        .admin(StatusCode::OK)
        .update_trusted_issuer(&id, trusted_issuer_patch(body)?)
        .await?;
    Ok(Json((&issuer).into()))
}

pub async fn delete_issuer(
    auth: Authorized<DeleteTrustedIssuers>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.admin(StatusCode::NO_CONTENT)
        .delete_trusted_issuer(&id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `cred` in its wire shape, with its trusted issuer's URL.
async fn view(
    admin: &Admin,
    cred: &FederatedCredential,
) -> Result<FederatedCredentialView, AdminError> {
    let issuer = admin.get_trusted_issuer(&cred.issuer_id).await?;
    Ok(federated_credential_view(cred, &issuer.issuer))
}

pub async fn create_credential(
    auth: Authorized<CreateClientCredentials>,
    Path(client_id): Path<String>,
    JsonBody(body): JsonBody<CreateFederatedCredential>,
) -> Result<Response, ApiError> {
    let admin = auth.admin(StatusCode::CREATED);
    let credential = admin
        .create_federated_credential(&client_id, new_federated_credential(body)?)
        .await?;
    let view = view(&admin, &credential).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn list_credentials(
    auth: Authorized<ReadClientCredentials>,
    Path(client_id): Path<String>,
) -> Result<Json<Vec<FederatedCredentialView>>, ApiError> {
    let admin = auth.admin(StatusCode::OK);
    let credentials = admin.list_federated_credentials(&client_id).await?;
    let issuers = admin.list_trusted_issuers().await?;
    Ok(Json(
        credentials
            .iter()
            .map(|c| {
                let issuer = issuers
                    .iter()
                    .find(|i| i.id == c.issuer_id)
                    .map_or("", |i| i.issuer.as_str());
                federated_credential_view(c, issuer)
            })
            .collect(),
    ))
}

pub async fn get_credential(
    auth: Authorized<ReadClientCredentials>,
    Path((client_id, id)): Path<(String, String)>,
) -> Result<Json<FederatedCredentialView>, ApiError> {
    let admin = auth.admin(StatusCode::OK);
    let credential = admin.get_federated_credential(&client_id, &id).await?;
    Ok(Json(view(&admin, &credential).await?))
}

pub async fn update_credential(
    auth: Authorized<UpdateClientCredentials>,
    Path((client_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateFederatedCredential>,
) -> Result<Json<FederatedCredentialView>, ApiError> {
    let expires_at = expiry(body.expires_at.as_deref())?;
    let admin = auth.admin(StatusCode::OK);
    let credential = admin
        .update_federated_credential(&client_id, &id, expires_at)
        .await?;
    Ok(Json(view(&admin, &credential).await?))
}

pub async fn delete_credential(
    auth: Authorized<DeleteClientCredentials>,
    Path((client_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.admin(StatusCode::NO_CONTENT)
        .delete_federated_credential(&client_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
