//! The OpenAPI 3 description of the management API, built from the route table below, which a
//! test checks against the router (every documented operation is routed, with its scope).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::admin::MANAGEMENT_SCOPES;
use crate::http::AppState;

/// One documented operation.
pub(crate) struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub scope: &'static str,
    pub summary: &'static str,
    pub request: Option<&'static str>,
    pub response: Option<&'static str>,
    pub status: u16,
}

const fn op(
    method: &'static str,
    path: &'static str,
    scope: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: Option<&'static str>,
    status: u16,
) -> Operation {
    Operation {
        method,
        path,
        scope,
        summary,
        request,
        response,
        status,
    }
}

pub(crate) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/clients",
        "read:clients",
        "List applications (paged: page, per_page, include_totals). Secrets are never returned: Warrant stores only their hashes.",
        None,
        Some("ClientList"),
        200,
    ),
    op(
        "post",
        "/clients",
        "create:clients",
        "Create an application; the answer holds its client_secret, shown only this once.",
        Some("ClientCreate"),
        Some("Client"),
        201,
    ),
    op(
        "get",
        "/clients/{id}",
        "read:clients",
        "Get an application (without its secret).",
        None,
        Some("Client"),
        200,
    ),
    op(
        "patch",
        "/clients/{id}",
        "update:clients",
        "Change an application's name, description, auth method or metadata.",
        Some("ClientUpdate"),
        Some("Client"),
        200,
    ),
    op(
        "delete",
        "/clients/{id}",
        "delete:clients",
        "Delete an application with its secrets and grants.",
        None,
        None,
        204,
    ),
    op(
        "post",
        "/clients/{id}/rotate-secret",
        "update:client_keys",
        "Issue a new secret (shown once). Query grace_period=SECONDS keeps the old one working that long (default 0).",
        None,
        Some("Client"),
        200,
    ),
    op(
        "get",
        "/resource-servers",
        "read:resource_servers",
        "List APIs (paged).",
        None,
        Some("ResourceServerList"),
        200,
    ),
    op(
        "post",
        "/resource-servers",
        "create:resource_servers",
        "Create an API.",
        Some("ResourceServerCreate"),
        Some("ResourceServer"),
        201,
    ),
    op(
        "get",
        "/resource-servers/{id}",
        "read:resource_servers",
        "Get an API by id or url-encoded identifier.",
        None,
        Some("ResourceServer"),
        200,
    ),
    op(
        "patch",
        "/resource-servers/{id}",
        "update:resource_servers",
        "Change an API; the identifier cannot change.",
        Some("ResourceServerUpdate"),
        Some("ResourceServer"),
        200,
    ),
    op(
        "delete",
        "/resource-servers/{id}",
        "delete:resource_servers",
        "Delete an API and every grant for it.",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/client-grants",
        "read:client_grants",
        "List grants (filters audience, client_id; paged).",
        None,
        Some("ClientGrantList"),
        200,
    ),
    op(
        "post",
        "/client-grants",
        "create:client_grants",
        "Authorize an application for an API (409 if it already is; 400 if a scope is not the API's).",
        Some("ClientGrantCreate"),
        Some("ClientGrant"),
        201,
    ),
    op(
        "get",
        "/client-grants/{id}",
        "read:client_grants",
        "Get a grant.",
        None,
        Some("ClientGrant"),
        200,
    ),
    op(
        "patch",
        "/client-grants/{id}",
        "update:client_grants",
        "Replace a grant's scopes.",
        Some("ClientGrantUpdate"),
        Some("ClientGrant"),
        200,
    ),
    op(
        "delete",
        "/client-grants/{id}",
        "delete:client_grants",
        "Delete a grant.",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/keys/signing",
        "read:signing_keys",
        "List signing keys (next, current, previous, revoked).",
        None,
        Some("SigningKeyList"),
        200,
    ),
    op(
        "post",
        "/keys/signing/rotate",
        "create:signing_keys",
        "Rotate: next becomes current, current becomes previous, a new next key is published.",
        None,
        Some("SigningKey"),
        201,
    ),
    op(
        "get",
        "/keys/signing/{kid}",
        "read:signing_keys",
        "Get a signing key.",
        None,
        Some("SigningKey"),
        200,
    ),
    op(
        "put",
        "/keys/signing/{kid}/revoke",
        "update:signing_keys",
        "Revoke a previous key: it leaves the JWKS at once.",
        None,
        Some("SigningKey"),
        200,
    ),
    op(
        "get",
        "/logs",
        "read:logs",
        "Audit events, newest first: filter by type, client_id, from_date, to_date (RFC 3339); page with page/per_page/include_totals, or from=<log_id>&take=N for the events after one, oldest first.",
        None,
        Some("LogList"),
        200,
    ),
    op(
        "get",
        "/logs/{id}",
        "read:logs",
        "One audit event by its log_id.",
        None,
        Some("Log"),
        200,
    ),
];

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    let scopes = json!({"type": "array", "items": {"$ref": "#/components/schemas/Scope"}});
    let metadata =
        json!({"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 10});
    let auth = json!({"type": "string", "enum": ["client_secret_post", "client_secret_basic"]});
    let list = |item: &str| {
        json!({"oneOf": [
            {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            {"type": "object", "description": "with include_totals=true: start, limit, length, total and the list"}
        ]})
    };
    json!({
        "Error": {"type": "object", "required": ["statusCode", "error", "message", "errorCode"], "properties": {
            "statusCode": {"type": "integer"}, "error": string, "message": string, "errorCode": string}},
        "Scope": {"type": "object", "required": ["value"], "properties": {"value": string, "description": string}},
        "Client": {"type": "object", "properties": {
            "client_id": string, "name": string, "description": string,
            "app_type": {"type": "string", "enum": ["non_interactive"]},
            "grant_types": {"type": "array", "items": {"type": "string", "enum": ["client_credentials"]}},
            "token_endpoint_auth_method": auth, "client_metadata": metadata,
            "client_secret": {"type": "string", "description": "only in the answers to create and rotate-secret"},
            "token_quota": {"type": "object", "properties": {"client_credentials": {"type": "object", "properties": {
                "enforce": {"type": "boolean"}, "per_hour": {"type": "integer", "minimum": 1}, "per_day": {"type": "integer", "minimum": 1}}}}},
            "created_at": time, "updated_at": time}},
        "ClientCreate": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": string, "description": string, "app_type": {"type": "string", "enum": ["non_interactive"]},
            "grant_types": {"type": "array", "items": {"type": "string", "enum": ["client_credentials"]}},
            "token_endpoint_auth_method": auth, "client_metadata": metadata,
            "token_quota": {"type": "object", "properties": {"client_credentials": {"type": "object", "properties": {
                "enforce": {"type": "boolean"}, "per_hour": {"type": "integer", "minimum": 1}, "per_day": {"type": "integer", "minimum": 1}}}}}}},
        "ClientUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "name": string, "description": string, "token_endpoint_auth_method": auth, "client_metadata": metadata,
            "token_quota": {"type": "object", "properties": {"client_credentials": {"type": "object", "properties": {
                "enforce": {"type": "boolean"}, "per_hour": {"type": "integer", "minimum": 1}, "per_day": {"type": "integer", "minimum": 1}}}}}}},
        "ClientList": list("Client"),
        "ResourceServer": {"type": "object", "properties": {
            "id": string, "identifier": string, "name": string, "scopes": scopes,
            "token_lifetime": {"type": "integer"}, "signing_alg": {"type": "string", "enum": ["RS256"]},
            "created_at": time, "updated_at": time}},
        "ResourceServerCreate": {"type": "object", "required": ["identifier"], "additionalProperties": false, "properties": {
            "identifier": {"type": "string", "description": "an absolute URI: the audience"}, "name": string, "scopes": scopes,
            "token_lifetime": {"type": "integer", "minimum": 1, "maximum": 2_592_000}, "signing_alg": {"type": "string", "enum": ["RS256"]}}},
        "ResourceServerUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "name": string, "scopes": scopes,
            "token_lifetime": {"type": "integer", "minimum": 1, "maximum": 2_592_000}, "signing_alg": {"type": "string", "enum": ["RS256"]}}},
        "ResourceServerList": list("ResourceServer"),
        "ClientGrant": {"type": "object", "properties": {
            "id": string, "client_id": string, "audience": string,
            "scope": {"type": "array", "items": string}, "created_at": time}},
        "ClientGrantCreate": {"type": "object", "required": ["client_id", "audience", "scope"], "additionalProperties": false, "properties": {
            "client_id": string, "audience": string, "scope": {"type": "array", "items": string}}},
        "ClientGrantUpdate": {"type": "object", "required": ["scope"], "additionalProperties": false, "properties": {
            "scope": {"type": "array", "items": string}}},
        "ClientGrantList": list("ClientGrant"),
        "SigningKey": {"type": "object", "properties": {
            "kid": string, "public_jwk": {"type": "object"}, "thumbprint": string,
            "current": {"type": "boolean"}, "next": {"type": "boolean"}, "previous": {"type": "boolean"}, "revoked": {"type": "boolean"},
            "current_since": time, "current_until": time, "revoked_at": time}},
        "SigningKeyList": {"type": "array", "items": {"$ref": "#/components/schemas/SigningKey"}},
        "Log": {"type": "object", "required": ["log_id", "date", "type"], "properties": {
            "log_id": string, "date": time,
            "type": {"type": "string", "description": "seccft, feccft, sapi, fapi, api_limit, api_limit_warning"},
            "description": string, "client_id": string, "audience": string, "scope": string,
            "ip": string, "user_agent": string,
            "details": {"type": "object", "properties": {"jti": string}}}},
        "LogList": list("Log"),
    })
}

/// The document, for an issuer.
pub(crate) fn openapi_document(issuer: &str) -> Bytes {
    let base = issuer.trim_end_matches('/');
    let mut paths: Map<String, Value> = Map::new();
    for operation in OPERATIONS {
        let mut responses = Map::new();
        let ok = match operation.response {
            Some(schema) => {
                json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
            }
            None => json!({"description": "Done"}),
        };
        responses.insert(operation.status.to_string(), ok);
        for (status, meaning) in [
            ("400", "Invalid body or query: the message names the field"),
            ("401", "Missing or invalid token"),
            ("403", "Insufficient scope"),
            ("404", "Not found"),
            ("409", "Conflict"),
        ] {
            responses.insert(status.into(), json!({"description": meaning, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
        }
        let mut entry = json!({
            "summary": operation.summary,
            "security": [{"oauth2": [operation.scope]}],
            "responses": responses,
        });
        if let Some(schema) = operation.request {
            entry["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let parameters: Vec<Value> = ["id", "kid"]
            .iter()
            .filter(|p| operation.path.contains(&format!("{{{p}}}")))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            entry["parameters"] = Value::Array(parameters);
        }
        let item = paths
            .entry(operation.path.to_owned())
            .or_insert_with(|| json!({}));
        item[operation.method] = entry;
    }
    let scopes: Map<String, Value> = MANAGEMENT_SCOPES
        .iter()
        .map(|(scope, description)| {
            (
                (*scope).to_owned(),
                Value::String((*description).to_owned()),
            )
        })
        .collect();
    let doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Warrant Management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Auth0 Management API v2 shapes for machine-to-machine applications, APIs, client grants and signing keys. Authorize with a client-credentials token for the audience <issuer>api/v2/.",
        },
        "servers": [{"url": format!("{base}/api/v2")}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": format!("{base}/oauth/token"), "scopes": scopes}}}},
        },
    });
    serde_json::to_vec(&doc)
        .map(Bytes::from)
        .unwrap_or_default()
}

pub async fn serve(State(app): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        app.openapi.clone(),
    )
        .into_response()
}
