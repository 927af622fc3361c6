//! `/api/v2/client-grants`: which application may get tokens for which API, with which scopes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use warrant_proto::ClientGrantView;

use super::ApiError;
use super::auth::{
    Authorized, CreateClientGrants, DeleteClientGrants, ReadClientGrants, UpdateClientGrants,
};
use super::body::{JsonBody, QueryParams};
use super::clients::custom_claims;
use super::paging::Paging;
use crate::admin::{AdminError, GrantPatch, GrantSpec};
use crate::domain::validate_scope_value;
use crate::http::AppState;
use crate::store::GrantFilter;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    client_id: String,
    audience: String,
    scope: Vec<String>,
    #[serde(default)]
    custom_claims: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateGrant {
    #[serde(default)]
    scope: Option<Vec<String>>,
    /// Replaces the grant's custom claims (`{}`: none).
    #[serde(default)]
    custom_claims: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    audience: Option<String>,
    client_id: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
    include_totals: Option<bool>,
}

/// Scope values are checked before the application and the API are looked up: a malformed one
/// is a 400 whether or not they exist.
fn check_scopes(scopes: &[String]) -> Result<(), ApiError> {
    scopes
        .iter()
        .try_for_each(|s| validate_scope_value(s))
        .map_err(|e| ApiError::bad_request(format!("Payload validation error: 'scope': {e}")))
}

/// Once [`check_scopes`] passed, the one rule a grant can still break is naming a scope its
/// API does not define: a conflict with the API's current scopes (409), which adding the scope
/// to the API resolves. Not a 400: the request itself is well formed. Custom claims that do
/// not resolve in the application's metadata, or do not fit with the application's, are a 400
/// (the message names the claim).
fn scope_conflict(e: AdminError) -> ApiError {
    match e {
        AdminError::Invalid(message) if !message.starts_with("custom_claims") => {
            ApiError::new(StatusCode::CONFLICT, "conflict", message)
        }
        other => other.into(),
    }
}

pub async fn list(
    _: Authorized<ReadClientGrants>,
    State(app): State<Arc<AppState>>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let grants = app
        .admin
        .list_grants(&GrantFilter {
            client_id: query.client_id,
            audience: query.audience,
        })
        .await?;
    let views: Vec<ClientGrantView> = grants.iter().map(ClientGrantView::from).collect();
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
        include_totals: query.include_totals,
    };
    Ok(Json(paging.page(views, "client_grants")?))
}

pub async fn get(
    _: Authorized<ReadClientGrants>,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ClientGrantView>, ApiError> {
    let grant = app.admin.get_grant(&id).await?;
    Ok(Json(ClientGrantView::from(&grant)))
}

pub async fn create(
    auth: Authorized<CreateClientGrants>,
    JsonBody(body): JsonBody<CreateGrant>,
) -> Result<Response, ApiError> {
    check_scopes(&body.scope)?;
    let custom_claims = custom_claims(body.custom_claims)?;
    let grant = auth
        .admin(StatusCode::CREATED)
        .create_grant(
            &body.client_id,
            GrantSpec {
                audience: body.audience,
                scopes: body.scope,
                custom_claims,
            },
        )
        .await
        .map_err(scope_conflict)?;
    Ok((StatusCode::CREATED, Json(ClientGrantView::from(&grant))).into_response())
}

pub async fn update(
    auth: Authorized<UpdateClientGrants>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateGrant>,
) -> Result<Json<ClientGrantView>, ApiError> {
    if let Some(scopes) = &body.scope {
        check_scopes(scopes)?;
    }
    let patch = GrantPatch {
        scopes: body.scope,
        custom_claims: custom_claims(body.custom_claims)?,
    };
    let grant = auth
        .admin(StatusCode::OK)
        .update_grant(&id, patch)
        .await
        .map_err(scope_conflict)?;
    Ok(Json(ClientGrantView::from(&grant)))
}

pub async fn delete(
    auth: Authorized<DeleteClientGrants>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.admin(StatusCode::NO_CONTENT).delete_grant(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
