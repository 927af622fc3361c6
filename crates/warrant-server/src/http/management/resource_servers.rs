//! `/api/v2/resource-servers`: the APIs tokens are issued for. `{id}` is the id or the
//! url-encoded identifier, as Auth0's.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use warrant_proto::{ProofOfPossessionView, ResourceServerView, ScopeView};

use super::ApiError;
use super::auth::{
    Authorized, CreateResourceServers, DeleteResourceServers, ReadResourceServers,
    UpdateResourceServers,
};
use super::body::{JsonBody, QueryParams};
use super::paging::Paging;
use crate::admin::{ApiPatch, NewApi};
use crate::domain::{
    DEFAULT_TOKEN_LIFETIME, MAX_SCOPES, ProofOfPossession, ResourceServer, Scope, SigningAlg,
};
use crate::http::AppState;
use crate::views::proof_of_possession_from_view;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateResourceServer {
    identifier: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<ScopeView>>,
    #[serde(default)]
    token_lifetime: Option<u32>,
    #[serde(default)]
    signing_alg: Option<String>,
    #[serde(default)]
    proof_of_possession: Option<ProofOfPossessionView>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateResourceServer {
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<ScopeView>>,
    #[serde(default)]
    token_lifetime: Option<u32>,
    #[serde(default)]
    signing_alg: Option<String>,
    /// `null` removes the setting: tokens are bound as the client chooses.
    #[serde(default, deserialize_with = "warrant_proto::present")]
    proof_of_possession: Option<Option<ProofOfPossessionView>>,
}

/// The scopes of a body; an entry repeated exactly (same value, same description) counts once,
/// as a grant's repeated scopes do. One value with two descriptions is refused (400), and so
/// are more than [`MAX_SCOPES`] entries, repeats or not.
fn scopes(list: Option<Vec<ScopeView>>) -> Option<Vec<Scope>> {
    list.map(|l| {
        let keep_repeats = l.len() > MAX_SCOPES;
        let mut out: Vec<Scope> = Vec::with_capacity(l.len());
        for s in l {
            let scope = Scope {
                value: s.value,
                description: s.description,
            };
            if keep_repeats || !out.contains(&scope) {
                out.push(scope);
            }
        }
        out
    })
}

/// Checks the fields a change gives by the domain's rules before anything is looked up: a body
/// that breaks them is a 400 whether or not the API exists.
fn check_fields(body: &UpdateResourceServer) -> Result<(), ApiError> {
    let probe = ResourceServer {
        id: String::new(),
        identifier: "urn:warrant:probe".to_owned(),
        name: body.name.clone().unwrap_or_else(|| "-".to_owned()),
        scopes: scopes(body.scopes.clone()).unwrap_or_default(),
        token_lifetime: body.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME),
        signing_alg: SigningAlg::RS256,
        proof_of_possession: None,
        created_at: 0,
        updated_at: 0,
    };
    probe.validate().map_err(|e| ApiError::bad_request(e.0))
}

/// An API created without a name is named after its identifier (names are at most 200
/// characters; identifiers up to 600).
fn default_name(identifier: &str) -> String {
    identifier.chars().take(200).collect()
}

fn proof_of_possession(
    view: Option<&ProofOfPossessionView>,
) -> Result<Option<ProofOfPossession>, ApiError> {
    view.map(proof_of_possession_from_view)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("Payload validation error: {e}")))
}

fn signing_alg(text: Option<String>) -> Result<Option<SigningAlg>, ApiError> {
    text.map(|t| SigningAlg::parse(&t))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("Payload validation error: 'signing_alg': {e}")))
}

pub async fn list(
    _: Authorized<ReadResourceServers>,
    State(app): State<Arc<AppState>>,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Json<Value>, ApiError> {
    let apis = app.admin.list_apis().await?;
    let views: Vec<ResourceServerView> = apis.iter().map(ResourceServerView::from).collect();
    Ok(Json(paging.page(views, "resource_servers")?))
}

pub async fn get(
    _: Authorized<ReadResourceServers>,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ResourceServerView>, ApiError> {
    let api = app.admin.get_api(&id).await?;
    Ok(Json(ResourceServerView::from(&api)))
}

pub async fn create(
    auth: Authorized<CreateResourceServers>,
    JsonBody(body): JsonBody<CreateResourceServer>,
) -> Result<Response, ApiError> {
    let api = auth
        .admin(StatusCode::CREATED)
        .create_api(NewApi {
            name: body.name.unwrap_or_else(|| default_name(&body.identifier)),
            identifier: body.identifier,
            scopes: scopes(body.scopes).unwrap_or_default(),
            token_lifetime: body.token_lifetime,
            signing_alg: signing_alg(body.signing_alg)?,
            proof_of_possession: proof_of_possession(body.proof_of_possession.as_ref())?,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(ResourceServerView::from(&api))).into_response())
}

pub async fn update(
    auth: Authorized<UpdateResourceServers>,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateResourceServer>,
) -> Result<Json<ResourceServerView>, ApiError> {
    check_fields(&body)?;
    let signing_alg = signing_alg(body.signing_alg)?;
    let pop = body
        .proof_of_possession
        .map(|pop| proof_of_possession(pop.as_ref()))
        .transpose()?;
    let current = app.admin.get_api(&id).await?;
    if body
        .identifier
        .as_ref()
        .is_some_and(|i| *i != current.identifier)
    {
        return Err(ApiError::bad_request(
            "Payload validation error: 'identifier' cannot be changed; create a new API instead",
        ));
    }
    let patch = ApiPatch {
        name: body.name,
        scopes: scopes(body.scopes),
        token_lifetime: body.token_lifetime,
        signing_alg,
        proof_of_possession: pop,
    };
    let api = auth
        .admin(StatusCode::OK)
        .update_api(&current.id, patch)
        .await?;
    Ok(Json(ResourceServerView::from(&api)))
}

pub async fn delete(
    auth: Authorized<DeleteResourceServers>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.admin(StatusCode::NO_CONTENT).delete_api(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
