//! `/api/v2/clients`: machine-to-machine applications. Secrets are shown only in the answers
//! that create or rotate them: Warrant stores hashes, never secrets.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use warrant_proto::{ClientAuthenticationMethods, GRANT_CLIENT_CREDENTIALS, TokenQuotaView};

use super::ApiError;
use super::auth::{
    Authorized, CreateClients, DeleteClients, ReadClients, UpdateClientKeys, UpdateClients,
};
use super::body::{JsonBody, QueryParams};
use super::paging::Paging;
use crate::admin::{ApplicationPatch, NewClient};
use crate::domain::CustomClaims;
use crate::domain::{Application, AuthMethod, MAX_CREDENTIALS};
use crate::http::AppState;
use crate::views::{claims_from_view, client_view, token_quota_from_view};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    app_type: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    custom_claims: Option<Map<String, Value>>,
    #[serde(default)]
    token_quota: Option<TokenQuotaView>,
    /// When the secret stops working, Unix seconds (RFC 7591); 0 or absent: never.
    #[serde(default)]
    client_secret_expires_at: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    app_type: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    client_metadata: Option<BTreeMap<String, String>>,
    /// Replaces the application's custom claims (`{}`: none).
    #[serde(default)]
    custom_claims: Option<Map<String, Value>>,
    /// `null` removes the application's own quota.
    #[serde(default, deserialize_with = "warrant_proto::present")]
    token_quota: Option<Option<TokenQuotaView>>,
    /// `null` (or no `private_key_jwt`) goes back to the secret.
    #[serde(default, deserialize_with = "warrant_proto::present")]
    client_authentication_methods: Option<Option<ClientAuthenticationMethods>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateQuery {
    /// Seconds during which the previous secret keeps working (default 0).
    grace_period: Option<u64>,
    /// When the new secret stops working, Unix seconds; 0 or absent: never.
    client_secret_expires_at: Option<u64>,
}

/// Warrant's applications are all M2M: other app types and grant types are refused, not ignored.
fn check_kind(app_type: Option<&str>, grant_types: Option<&[String]>) -> Result<(), ApiError> {
    if let Some(t) = app_type.filter(|t| *t != "non_interactive") {
        return Err(ApiError::bad_request(format!(
            "Payload validation error: 'app_type': {t:?} is not supported; Warrant serves non_interactive (machine-to-machine) applications"
        )));
    }
    if let Some(g) =
        grant_types.and_then(|g| g.iter().find(|g| g.as_str() != GRANT_CLIENT_CREDENTIALS))
    {
        return Err(ApiError::bad_request(format!(
            "Payload validation error: 'grant_types': {g:?} is not supported; use client_credentials"
        )));
    }
    Ok(())
}

/// Checks the fields a body gives by the domain's rules before anything is looked up: a body
/// that breaks them is a 400 whether or not the application exists.
fn check_fields(
    name: Option<&str>,
    description: Option<&str>,
    client_metadata: Option<&BTreeMap<String, String>>,
    token_quota: Option<&TokenQuotaView>,
) -> Result<(), ApiError> {
    let probe = Application {
        client_id: String::new(),
        name: name.unwrap_or("-").to_owned(),
        description: description.unwrap_or_default().to_owned(),
        token_endpoint_auth_method: AuthMethod::default(),
        client_metadata: client_metadata.cloned().unwrap_or_default(),
        // Checked apart ([`custom_claims`]); references by the admin, against the stored
        // metadata.
        custom_claims: CustomClaims::default(),
        // Checked whether enforced or not: `per_hour: 0` is never a quota.
        token_quota: token_quota.map(token_quota_from_view),
        private_key_jwt: None,
        config_key: None,
        created_at: 0,
        updated_at: 0,
    };
    probe.validate().map_err(|e| ApiError::bad_request(e.0))
}

/// Custom claims as a body gives them, checked (names, value types, size): a 400 that names
/// the claim. Whether references resolve is the application's business ([`crate::admin`]).
pub(super) fn custom_claims(
    view: Option<Map<String, Value>>,
) -> Result<Option<CustomClaims>, ApiError> {
    view.map(claims_from_view)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("Payload validation error: {e}")))
}

fn auth_method(text: Option<String>) -> Result<Option<AuthMethod>, ApiError> {
    text.map(|t| AuthMethod::parse(&t))
        .transpose()
        .map_err(|e| {
            ApiError::bad_request(format!(
                "Payload validation error: 'token_endpoint_auth_method': {e}"
            ))
        })
}

pub async fn list(
    _: Authorized<ReadClients>,
    State(app): State<Arc<AppState>>,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Json<Value>, ApiError> {
    // Paged in storage: a million applications cost one page.
    let (start, per_page) = paging.bounds()?;
    let (apps, total) = app
        .admin
        .list_applications_page(start as u64, per_page as u32)
        .await?;
    let views: Vec<_> = apps.iter().map(|a| client_view(a, None)).collect();
    Ok(Json(paging.answer(
        &views,
        start,
        usize::try_from(total).unwrap_or(usize::MAX),
        "clients",
    )?))
}

pub async fn get(
    _: Authorized<ReadClients>,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let details = app.admin.get_application(&id).await?;
    Ok(Json(
        serde_json::to_value(client_view(&details.application, None)).unwrap_or_default(),
    ))
}

pub async fn create(
    auth: Authorized<CreateClients>,
    JsonBody(body): JsonBody<CreateClient>,
) -> Result<Response, ApiError> {
    check_kind(body.app_type.as_deref(), body.grant_types.as_deref())?;
    check_fields(
        Some(&body.name),
        body.description.as_deref(),
        body.client_metadata.as_ref(),
        body.token_quota.as_ref(),
    )?;
    let custom_claims = custom_claims(body.custom_claims)?;
    let created = auth
        .admin(StatusCode::CREATED)
        .create_client(NewClient {
            name: body.name,
            description: body.description.unwrap_or_default(),
            token_endpoint_auth_method: auth_method(body.token_endpoint_auth_method)?,
            client_metadata: body.client_metadata,
            custom_claims,
            token_quota: body.token_quota.as_ref().map(token_quota_from_view),
            grants: Vec::new(),
            secret_expires_at: body.client_secret_expires_at.filter(|at| *at != 0),
        })
        .await?;
    let mut view = client_view(&created.application, Some(created.secret.expose()));
    view.client_secret_expires_at = body.client_secret_expires_at.filter(|at| *at != 0);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn update(
    auth: Authorized<UpdateClients>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateClient>,
) -> Result<Json<Value>, ApiError> {
    check_kind(body.app_type.as_deref(), body.grant_types.as_deref())?;
    check_fields(
        body.name.as_deref(),
        body.description.as_deref(),
        body.client_metadata.as_ref(),
        body.token_quota.flatten().as_ref(),
    )?;
    let custom_claims = custom_claims(body.custom_claims)?;
    let listed = body
        .client_authentication_methods
        .as_ref()
        .and_then(|m| m.as_ref()?.private_key_jwt.as_ref())
        .map_or(0, |p| p.credentials.len());
    if listed > MAX_CREDENTIALS {
        return Err(ApiError::bad_request(format!(
            "Payload validation error: 'client_authentication_methods.private_key_jwt.credentials': at most {MAX_CREDENTIALS}"
        )));
    }
    let patch = ApplicationPatch {
        name: body.name,
        description: body.description,
        token_endpoint_auth_method: auth_method(body.token_endpoint_auth_method)?,
        client_metadata: body.client_metadata,
        custom_claims,
        token_quota: body
            .token_quota
            .map(|q| q.as_ref().map(token_quota_from_view)),
        private_key_jwt: body.client_authentication_methods.map(|methods| {
            methods
                .and_then(|m| m.private_key_jwt)
                .map(|p| p.credentials.into_iter().map(|c| c.id).collect())
        }),
    };
    let updated = auth
        .admin(StatusCode::OK)
        .update_application(&id, patch)
        .await?;
    Ok(Json(
        serde_json::to_value(client_view(&updated, None)).unwrap_or_default(),
    ))
}

pub async fn delete(
    auth: Authorized<DeleteClients>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.admin(StatusCode::NO_CONTENT)
        .delete_application(&id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate_secret(
    auth: Authorized<UpdateClientKeys>,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<RotateQuery>,
) -> Result<Json<Value>, ApiError> {
    let expires_at = query.client_secret_expires_at.filter(|at| *at != 0);
    let secret = auth
        .admin(StatusCode::OK)
        .rotate_secret_until(&id, query.grace_period.unwrap_or(0), expires_at)
        .await?;
    let details = app.admin.get_application(&id).await?;
    let mut view = client_view(&details.application, Some(secret.expose()));
    view.client_secret_expires_at = expires_at;
    Ok(Json(serde_json::to_value(view).unwrap_or_default()))
}
