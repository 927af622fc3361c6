//! The OpenAPI 3 description of the management API, built from the route table below, which a
//! test checks against the router (every documented operation is routed, with its scope).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::admin::{MANAGEMENT_SCOPES, scopes};
use crate::domain::{MAX_CLAIM_NAME, MAX_CLAIMS_BYTES, MAX_SCOPES, RESERVED_CLAIMS};
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
        scopes::READ_CLIENTS,
        "List applications (paged: page, per_page, include_totals). Secrets are never returned: Warrant stores only their hashes.",
        None,
        Some("ClientList"),
        200,
    ),
    op(
        "post",
        "/clients",
        scopes::CREATE_CLIENTS,
        "Create an application; the answer holds its client_secret, shown only this once.",
        Some("ClientCreate"),
        Some("Client"),
        201,
    ),
    op(
        "get",
        "/clients/{id}",
        scopes::READ_CLIENTS,
        "Get an application (without its secret).",
        None,
        Some("Client"),
        200,
    ),
    op(
        "patch",
        "/clients/{id}",
        scopes::UPDATE_CLIENTS,
        "Change an application's name, description, auth method or metadata.",
        Some("ClientUpdate"),
        Some("Client"),
        200,
    ),
    op(
        "delete",
        "/clients/{id}",
        scopes::DELETE_CLIENTS,
        "Delete an application with its secrets and grants.",
        None,
        None,
        204,
    ),
    op(
        "post",
        "/clients/{id}/rotate-secret",
        scopes::UPDATE_CLIENT_KEYS,
        "Issue a new secret (shown once). Query grace_period=SECONDS keeps the old one working that long (default 0).",
        None,
        Some("Client"),
        200,
    ),
    op(
        "get",
        "/clients/{id}/credentials",
        scopes::READ_CLIENT_CREDENTIALS,
        "List an application's public-key credentials (private_key_jwt).",
        None,
        Some("ClientCredentialList"),
        200,
    ),
    op(
        "post",
        "/clients/{id}/credentials",
        scopes::CREATE_CLIENT_CREDENTIALS,
        "Add a public key (PEM; RSA of at least 2048 bits, P-256 or Ed25519) for private_key_jwt; list it in the application's client_authentication_methods to use it.",
        Some("ClientCredentialCreate"),
        Some("ClientCredential"),
        201,
    ),
    op(
        "get",
        "/clients/{id}/credentials/{credential_id}",
        scopes::READ_CLIENT_CREDENTIALS,
        "Get a public-key credential.",
        None,
        Some("ClientCredential"),
        200,
    ),
    op(
        "patch",
        "/clients/{id}/credentials/{credential_id}",
        scopes::UPDATE_CLIENT_CREDENTIALS,
        "Change when a public-key credential expires (null: never).",
        Some("ClientCredentialUpdate"),
        Some("ClientCredential"),
        200,
    ),
    op(
        "delete",
        "/clients/{id}/credentials/{credential_id}",
        scopes::DELETE_CLIENT_CREDENTIALS,
        "Delete a public-key credential (it leaves the application's client_authentication_methods too).",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/clients/{id}/federated-credentials",
        scopes::READ_CLIENT_CREDENTIALS,
        "List an application's federated credentials (workload identity federation; a Warrant extension).",
        None,
        Some("FederatedCredentialList"),
        200,
    ),
    op(
        "post",
        "/clients/{id}/federated-credentials",
        scopes::CREATE_CLIENT_CREDENTIALS,
        "Bind the application to workloads of a trusted issuer: their tokens (client_assertion, jwt-bearer or jwt-spiffe) authenticate it. A subject of only * or a Kubernetes default service account needs confirm_broad_subject.",
        Some("FederatedCredentialCreate"),
        Some("FederatedCredential"),
        201,
    ),
    op(
        "get",
        "/clients/{id}/federated-credentials/{credential_id}",
        scopes::READ_CLIENT_CREDENTIALS,
        "Get a federated credential.",
        None,
        Some("FederatedCredential"),
        200,
    ),
    op(
        "patch",
        "/clients/{id}/federated-credentials/{credential_id}",
        scopes::UPDATE_CLIENT_CREDENTIALS,
        "Change when a federated credential expires (null: never).",
        Some("ClientCredentialUpdate"),
        Some("FederatedCredential"),
        200,
    ),
    op(
        "delete",
        "/clients/{id}/federated-credentials/{credential_id}",
        scopes::DELETE_CLIENT_CREDENTIALS,
        "Delete a federated credential.",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/trusted-issuers",
        scopes::READ_TRUSTED_ISSUERS,
        "List the external issuers whose tokens are accepted as client assertions (a Warrant extension).",
        None,
        Some("TrustedIssuerList"),
        200,
    ),
    op(
        "post",
        "/trusted-issuers",
        scopes::CREATE_TRUSTED_ISSUERS,
        "Trust an external issuer (https URL, or spiffe://<trust domain>); its keys come from its discovery document, jwks_uri, or an inline jwks.",
        Some("TrustedIssuerCreate"),
        Some("TrustedIssuer"),
        201,
    ),
    op(
        "get",
        "/trusted-issuers/{id}",
        scopes::READ_TRUSTED_ISSUERS,
        "Get a trusted issuer (by ID or issuer URL).",
        None,
        Some("TrustedIssuer"),
        200,
    ),
    op(
        "patch",
        "/trusted-issuers/{id}",
        scopes::UPDATE_TRUSTED_ISSUERS,
        "Change a trusted issuer (by ID or issuer URL): its keys' source (jwks_uri, inline jwks, or null for both: discovery), bearer_token_file, ca_file, algorithms, max_assertion_lifetime, name. Checked as a new one is; the issuer URL cannot change. Every instance uses the new keys and algorithms without a restart.",
        Some("TrustedIssuerUpdate"),
        Some("TrustedIssuer"),
        200,
    ),
    op(
        "delete",
        "/trusted-issuers/{id}",
        scopes::DELETE_TRUSTED_ISSUERS,
        "Stop trusting an issuer no federated credential uses (409 otherwise).",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/resource-servers",
        scopes::READ_RESOURCE_SERVERS,
        "List APIs (paged).",
        None,
        Some("ResourceServerList"),
        200,
    ),
    op(
        "post",
        "/resource-servers",
        scopes::CREATE_RESOURCE_SERVERS,
        "Create an API.",
        Some("ResourceServerCreate"),
        Some("ResourceServer"),
        201,
    ),
    op(
        "get",
        "/resource-servers/{id}",
        scopes::READ_RESOURCE_SERVERS,
        "Get an API by id or url-encoded identifier.",
        None,
        Some("ResourceServer"),
        200,
    ),
    op(
        "patch",
        "/resource-servers/{id}",
        scopes::UPDATE_RESOURCE_SERVERS,
        "Change an API; the identifier cannot change.",
        Some("ResourceServerUpdate"),
        Some("ResourceServer"),
        200,
    ),
    op(
        "delete",
        "/resource-servers/{id}",
        scopes::DELETE_RESOURCE_SERVERS,
        "Delete an API and every grant for it.",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/client-grants",
        scopes::READ_CLIENT_GRANTS,
        "List grants (filters audience, client_id; paged).",
        None,
        Some("ClientGrantList"),
        200,
    ),
    op(
        "post",
        "/client-grants",
        scopes::CREATE_CLIENT_GRANTS,
        "Authorize an application for an API (409 if it already is, or if a scope is not one the API defines).",
        Some("ClientGrantCreate"),
        Some("ClientGrant"),
        201,
    ),
    op(
        "get",
        "/client-grants/{id}",
        scopes::READ_CLIENT_GRANTS,
        "Get a grant.",
        None,
        Some("ClientGrant"),
        200,
    ),
    op(
        "patch",
        "/client-grants/{id}",
        scopes::UPDATE_CLIENT_GRANTS,
        "Replace a grant's scopes (409 if one is not defined by the grant's API).",
        Some("ClientGrantUpdate"),
        Some("ClientGrant"),
        200,
    ),
    op(
        "delete",
        "/client-grants/{id}",
        scopes::DELETE_CLIENT_GRANTS,
        "Delete a grant.",
        None,
        None,
        204,
    ),
    op(
        "get",
        "/keys/signing",
        scopes::READ_SIGNING_KEYS,
        "List signing keys of every algorithm (next, current, previous, revoked).",
        None,
        Some("SigningKeyList"),
        200,
    ),
    op(
        "post",
        "/keys/signing/rotate",
        scopes::CREATE_SIGNING_KEYS,
        "Rotate: next becomes current, current becomes previous, a new next key is published. Query alg (RS256, PS256, ES256, EdDSA) rotates that algorithm's keys only (409 if it has none yet; 400 for another value); without it every algorithm's keys rotate and the answer is the new RS256 key.",
        None,
        Some("SigningKey"),
        201,
    ),
    op(
        "get",
        "/keys/signing/{kid}",
        scopes::READ_SIGNING_KEYS,
        "Get a signing key.",
        None,
        Some("SigningKey"),
        200,
    ),
    op(
        "put",
        "/keys/signing/{kid}/revoke",
        scopes::UPDATE_SIGNING_KEYS,
        "Revoke a previous key: it leaves the JWKS at once.",
        None,
        Some("SigningKey"),
        200,
    ),
    op(
        "get",
        "/logs",
        scopes::READ_LOGS,
        "Audit events, newest first: filter by type, client_id, from_date, to_date (RFC 3339); page with page/per_page/include_totals, or from=<log_id>&take=N for the events after one, oldest first.",
        None,
        Some("LogList"),
        200,
    ),
    op(
        "get",
        "/logs/{id}",
        scopes::READ_LOGS,
        "One audit event by its log_id.",
        None,
        Some("Log"),
        200,
    ),
    op(
        "get",
        "/config",
        scopes::READ_CONFIG,
        "Warrant extension: the current APIs and applications as a declarative configuration file (TOML; no secrets, no management API, no admin application).",
        None,
        Some("ConfigExport"),
        200,
    ),
    op(
        "post",
        "/config/plan",
        scopes::READ_CONFIG,
        "Warrant extension: what a configuration file would create, update and (with prune) delete; changes nothing; the answer's fingerprint identifies the state compared with. An invalid file is a 400 whose message names the line and key.",
        Some("ConfigRequest"),
        Some("ConfigResult"),
        200,
    ),
    op(
        "post",
        "/config/apply",
        scopes::UPDATE_CONFIG,
        "Warrant extension: makes the changes a configuration file describes, in one transaction (all or nothing; applying it again changes nothing). The answer holds the secrets of the applications it created, shown only this once. With expect, a 409 when the deployment's fingerprint is no longer the one planned. An apply that creates, updates or deletes trusted issuers also takes create:trusted_issuers, update:trusted_issuers or delete:trusted_issuers respectively: without it, a 403 (insufficient_scope) naming the missing scope, and nothing is written.",
        Some("ConfigRequest"),
        Some("ConfigResult"),
        200,
    ),
];

/// White space (White_Space), as the body of a regex character class: with [`refused`], the
/// rules of `domain::validate_name` and `validate_identifier`.
const BLANK: &str = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The characters `domain::validate_text` refuses, as the body of a regex character class:
/// control characters (Cc) and the format characters (Cf) of the Basic Multilingual Plane
/// (ECMA-262 patterns without the `u` flag cannot name the few above it; the server refuses
/// those too, and the descriptions say so).
fn refused() -> String {
    let mut class = String::from(r"\u0000-\u001F\u007F-\u009F");
    for &(first, last) in crate::domain::FORMAT_CHARACTERS {
        let (first, last) = (u32::from(first), u32::from(last));
        if last > 0xFFFF {
            continue;
        }
        class.push_str(&format!("\\u{first:04X}"));
        if last != first {
            class.push_str(&format!("-\\u{last:04X}"));
        }
    }
    class
}

/// A schema that also admits `null` (which the server reads as "not given").
fn nullable(mut schema: Value) -> Value {
    match schema.get("type").cloned() {
        Some(Value::String(t)) => schema["type"] = json!([t, "null"]),
        _ => return json!({"anyOf": [schema, {"type": "null"}]}),
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.push(Value::Null);
    }
    schema
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let pop = json!({"type": "object", "required": ["mechanism", "required"], "additionalProperties": false,
        "description": "tokens bound to the client's key (RFC 9449 DPoP); required: true refuses a token request without a DPoP proof",
        "properties": {
            "mechanism": {"type": "string", "enum": ["dpop"], "description": "only dpop (Auth0's mtls is refused)"},
            "required": {"type": "boolean"}}});
    let time = json!({"type": "string", "format": "date-time"});
    // The server's rules, stated so that a request valid here is one the server accepts
    // (unless something it names does not exist or already does: 404, 409).
    let refused = refused();
    let name = json!({"type": "string", "minLength": 1, "maxLength": 200,
        "pattern": format!("^[^{refused}]*[^{BLANK}{refused}][^{refused}]*$"),
        "description": "1 to 200 characters, not blank, no control or format characters (Unicode Cc, Cf)"});
    let text = |max: u32| {
        json!({"type": "string", "maxLength": max, "pattern": format!("^[^{refused}]*$"),
        "description": "no control or format characters (Unicode Cc, Cf)"})
    };
    // A trusted issuer's name: as an application's, at most 128 characters.
    let mut issuer_name = name.clone();
    issuer_name["maxLength"] = json!(128);
    issuer_name["description"] =
        json!("1 to 128 characters, not blank, no control or format characters (Unicode Cc, Cf)");
    let plain = |max: u32| json!({"type": "string", "maxLength": max, "pattern": "^[^\\u0000]*$"});
    let scope_value = json!({"type": "string", "minLength": 1, "maxLength": 280,
        "pattern": "^[\\u0021\\u0023-\\u005B\\u005D-\\u007E]+$",
        "description": "an RFC 6749 scope-token: printable ASCII without space, '\"' and '\\\\'"});
    let identifier = {
        let blank_or_control = format!("{BLANK}{refused}");
        let any = format!("[^{blank_or_control}]");
        let not_slash = format!("[^/{blank_or_control}]");
        json!({"type": "string", "minLength": 3, "maxLength": 600,
            "pattern": format!("^[A-Za-z][A-Za-z0-9+.\\-]*:(?:{any}|{not_slash}{any}+|/{not_slash}{any}*|//{any}+)$"),
            "description": "an absolute URI (https://api.example.com, urn:example:api), at most 600 characters: the audience"})
    };
    let scope_item = json!({"type": "object", "required": ["value"], "additionalProperties": false, "properties": {
        "value": scope_value, "description": text(500)}});
    let scopes = json!({"type": "array", "maxItems": MAX_SCOPES, "items": scope_item,
        "description": "at most 1000 distinct values: an entry repeated as it is counts once, one value with two descriptions is a 400"});
    let metadata = json!({"type": "object", "maxProperties": 10,
        "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9:,\\-+=_*?\"/()<>@\\t ]+$"},
        "additionalProperties": plain(255),
        "description": "Auth0's client_metadata: at most 10 keys; a key is 1 to 255 letters, digits, tab, space and :,-+=_*?\"/()<>@; a value is a string of at most 255 characters. A key a custom claim refers to cannot be removed (400)."});
    let plain_claim = json!({"type": "string", "pattern": "^[^{}]*$"});
    let claim_scalar = json!({"oneOf": [plain_claim, {"type": "number"}, {"type": "boolean"}]});
    let custom_claims = json!({"type": "object",
        "propertyNames": {"minLength": 1, "maxLength": MAX_CLAIM_NAME, "pattern": format!("^[^{refused}]*$"),
            "not": {"enum": RESERVED_CLAIMS}},
        "additionalProperties": {"oneOf": [
            plain_claim,
            {"type": "string", "pattern": "^\\{\\{client_metadata\\.[^{}]+\\}\\}$",
                "description": "a reference: the application's client_metadata value of that key, which must exist (else 400)"},
            {"type": "number"}, {"type": "boolean"},
            {"type": "array", "items": claim_scalar}]},
        "description": format!("Warrant's extension: claims every token carries. Values are strings (braces only in a reference, {{{{client_metadata.<key>}}}}, as the whole value), numbers, booleans or arrays of them. Registered and Warrant-issued names are a 400 naming the claim. A token's custom claims (the application's, overridden name by name by its grant's, references resolved) take at most {MAX_CLAIMS_BYTES} bytes of JSON (else 400).")});
    let auth = json!({"type": "string", "enum": ["client_secret_post", "client_secret_basic"]});
    let app_type = json!({"type": "string", "enum": ["non_interactive"]});
    let grant_types =
        json!({"type": "array", "items": {"type": "string", "enum": ["client_credentials"]}});
    let per = json!({"type": "integer", "minimum": 1, "maximum": u32::MAX});
    let quota = json!({"type": "object", "required": ["client_credentials"], "additionalProperties": false,
        "properties": {"client_credentials": {"type": "object", "additionalProperties": false, "properties": {
            "enforce": {"type": "boolean", "description": "default true; false: observe mode (counted, api_limit_warning and api_limit events, X-RateLimit-* headers, nothing refused)"},
            "per_hour": nullable(per.clone()), "per_day": nullable(per.clone())}}}});
    let lifetime = json!({"type": "integer", "minimum": 1, "maximum": 2_592_000});
    let alg = json!({"type": "string", "enum": ["RS256", "PS256", "ES256", "EdDSA"],
        "description": "the algorithm the API's tokens are signed with (default RS256; HS256 and others are a 400). A change applies to new tokens. The management API's own stays RS256 (a change is a 400)."});
    let credential_alg =
        json!({"type": "string", "enum": ["RS256", "RS384", "PS256", "ES256", "EdDSA"]});
    let auth_methods = json!({"type": "object", "additionalProperties": false, "properties": {
        "private_key_jwt": {"type": ["object", "null"], "required": ["credentials"], "additionalProperties": false, "properties": {
            "credentials": {"type": "array", "maxItems": 5, "items": {"type": "object", "required": ["id"],
                "additionalProperties": false, "properties": {"id": string}},
                "description": "the application's credentials it authenticates with; while any is listed, its secret is refused"}}}}});
    let grant_scope = json!({"type": "array", "items": scope_value,
        "description": "scopes the API defines (another is a 400)"});
    let list = |item: &str| {
        json!({"oneOf": [
            {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            {"type": "object", "description": "with include_totals=true: start, limit, length, total and the list"}
        ]})
    };
    let mut schemas = json!({
        "Error": {"type": "object", "required": ["statusCode", "error", "message", "errorCode"], "properties": {
            "statusCode": {"type": "integer"}, "error": string, "message": string, "errorCode": string}},
        "Scope": {"type": "object", "required": ["value", "description"], "properties": {"value": string, "description": string}},
        "Client": {"type": "object",
            "required": ["client_id", "name", "description", "app_type", "grant_types", "token_endpoint_auth_method", "client_metadata", "created_at", "updated_at"],
            "properties": {
            "client_id": string, "name": string, "description": string,
            "app_type": app_type, "grant_types": grant_types,
            "token_endpoint_auth_method": auth,
            "client_metadata": {"type": "object", "additionalProperties": string},
            "custom_claims": {"type": "object", "description": "Warrant's extension: absent when the application has none"},
            "client_secret": {"type": "string", "description": "only in the answers to create and rotate-secret"},
            "client_secret_expires_at": {"type": "integer", "description": "when the secret just shown stops working (Unix seconds); only beside client_secret, when it expires"},
            "token_quota": quota,
            "client_authentication_methods": auth_methods.clone(),
            "created_at": time, "updated_at": time}},
        "ClientCreate": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": name, "description": nullable(text(1000)), "app_type": nullable(app_type.clone()),
            "grant_types": nullable(grant_types.clone()),
            "token_endpoint_auth_method": nullable(auth.clone()), "client_metadata": nullable(metadata.clone()),
            "custom_claims": nullable(custom_claims.clone()),
            "token_quota": nullable(quota.clone()),
            "client_secret_expires_at": nullable(json!({"type": "integer", "minimum": 0, "description": "when the secret stops working, Unix seconds (RFC 7591); 0: never; a time past expires it at once"}))}},
        "ClientUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "name": nullable(name.clone()), "description": nullable(text(1000)), "app_type": nullable(app_type),
            "grant_types": nullable(grant_types), "token_endpoint_auth_method": nullable(auth),
            "client_metadata": nullable(metadata),
            "custom_claims": nullable(custom_claims.clone()),
            "token_quota": nullable(quota).as_object().cloned().map(|mut q| {
                q.insert("description".into(), json!("null removes the application's own quota"));
                Value::Object(q)
            }),
            "client_authentication_methods": nullable(auth_methods)}},
        "ClientCredential": {"type": "object",
            "required": ["id", "name", "kid", "alg", "credential_type", "created_at", "updated_at"],
            "properties": {
            "id": string, "name": string,
            "kid": {"type": "string", "description": "the key's RFC 7638 thumbprint: the kid an assertion names it by"},
            "alg": credential_alg.clone(), "credential_type": {"type": "string", "enum": ["public_key"]},
            "created_at": time, "updated_at": time, "expires_at": time}},
        "ClientCredentialCreate": {"type": "object", "required": ["credential_type", "pem"], "additionalProperties": false, "properties": {
            "credential_type": {"type": "string", "enum": ["public_key"]},
            "name": nullable(text(128)),
            "pem": {"type": "string", "maxLength": 16384,
                "description": "the public key: -----BEGIN PUBLIC KEY----- (or RSA PUBLIC KEY); private keys and certificates are refused"},
            "alg": nullable(credential_alg.clone()),
            "expires_at": nullable(json!({"type": "string", "format": "date-time", "description": "null or absent: never; a time past expires it at once"}))}},
        "ClientCredentialUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "expires_at": nullable(json!({"type": "string", "format": "date-time", "description": "null or absent: never; a time past expires it at once"}))}},
        "ClientCredentialList": {"type": "array", "items": {"$ref": "#/components/schemas/ClientCredential"}},
        "ClientList": list("Client"),
        "ProofOfPossession": pop.clone(),
        "ResourceServer": {"type": "object",
            "required": ["id", "identifier", "name", "scopes", "token_lifetime", "signing_alg", "created_at", "updated_at"],
            "properties": {
            "id": string, "identifier": string, "name": string,
            "scopes": {"type": "array", "items": {"$ref": "#/components/schemas/Scope"}},
            "token_lifetime": {"type": "integer"}, "signing_alg": alg,
            "proof_of_possession": {"$ref": "#/components/schemas/ProofOfPossession"},
            "created_at": time, "updated_at": time}},
        "ResourceServerCreate": {"type": "object", "required": ["identifier"], "additionalProperties": false, "properties": {
            "identifier": identifier,
            "name": nullable(name.clone()).as_object().cloned().map(|mut n| {
                n.insert("description".into(), json!("default: the identifier's first 200 characters"));
                Value::Object(n)
            }),
            "scopes": nullable(scopes.clone()),
            "token_lifetime": nullable(lifetime.clone()), "signing_alg": nullable(alg.clone()),
            "proof_of_possession": nullable(pop.clone())}},
        "ResourceServerUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "name": nullable(name), "scopes": nullable(scopes),
            "token_lifetime": nullable(lifetime), "signing_alg": nullable(alg),
            "proof_of_possession": nullable(pop).as_object().cloned().map(|mut p| {
                p.insert("description".into(), json!("null removes the setting"));
                Value::Object(p)
            })}},
        "ResourceServerList": list("ResourceServer"),
        "ClientGrant": {"type": "object", "required": ["id", "client_id", "audience", "scope", "created_at"], "properties": {
            "id": string, "client_id": string, "audience": string,
            "scope": {"type": "array", "items": string},
            "custom_claims": {"type": "object", "description": "Warrant's extension: absent when the grant has none"},
            "created_at": time}},
        "ClientGrantCreate": {"type": "object", "required": ["client_id", "audience", "scope"], "additionalProperties": false, "properties": {
            "client_id": string, "audience": string, "scope": grant_scope.clone(),
            "custom_claims": nullable(custom_claims.clone())}},
        "ClientGrantUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "scope": nullable(grant_scope), "custom_claims": nullable(custom_claims)}},
        "ClientGrantList": list("ClientGrant"),
        "SigningKey": {"type": "object",
            "required": ["kid", "alg", "cert", "pkcs7", "fingerprint", "thumbprint", "current", "next", "previous", "revoked", "public_jwk"],
            "properties": {
            "kid": string,
            "alg": {"type": "string", "enum": ["RS256", "PS256", "ES256", "EdDSA"], "description": "the algorithm the key signs (each algorithm has keys of its own)"},
            "cert": {"type": "string", "description": "the key's self-signed X.509 certificate, PEM"},
            "pkcs7": {"type": "string", "description": "the certificate in a PKCS#7 envelope, PEM"},
            "fingerprint": {"type": "string", "description": "SHA-1 of the certificate: upper-case hex pairs joined by colons"},
            "thumbprint": {"type": "string", "description": "SHA-1 of the certificate: upper-case hex"},
            "current": {"type": "boolean"}, "next": {"type": "boolean"}, "previous": {"type": "boolean"}, "revoked": {"type": "boolean"},
            "current_since": time, "current_until": time, "revoked_at": time,
            "public_jwk": {"type": "object", "description": "the key as the JWKS publishes it"}}},
        "SigningKeyList": {"type": "array", "items": {"$ref": "#/components/schemas/SigningKey"}},
        "Log": {"type": "object", "required": ["log_id", "date", "type"], "properties": {
            "log_id": string, "date": time,
            "type": {"type": "string", "description": "seccft, feccft, sapi, fapi, s, f, slo, api_limit, api_limit_warning, token_introspection, token_introspection_failed, token_revocation, token_revocation_failed"},
            "description": string, "client_id": string, "audience": string, "scope": string,
            "ip": string, "user_agent": string,
            "details": {"type": "object", "properties": {"jti": string}}}},
        "LogList": list("Log"),
    });
    // The configuration endpoints' schemas, apart: one `json!` this long would exceed the
    // macro's recursion limit.
    if let (Some(all), Value::Object(config)) = (schemas.as_object_mut(), config_schemas()) {
        all.extend(config);
    }
    if let (Value::Object(all), Value::Object(federation)) = (
        &mut schemas,
        federation_schemas(&string, &time, &text, &issuer_name),
    ) {
        all.extend(federation);
    }
    schemas
}

/// The schemas of `/config` (a Warrant extension).
fn config_schemas() -> Value {
    let string = json!({"type": "string"});
    json!({
        "ConfigRequest": {"type": "object", "required": ["file"], "additionalProperties": false, "properties": {
            "file": {"type": "string", "maxLength": crate::domain::config::MAX_CONFIG_LEN,
                "description": "the configuration file's text (TOML: [[api]] and [[application]] tables, see the README); a file holding something that looks like a secret is refused"},
            "prune": {"type": "boolean", "description": "also delete the APIs and applications the file does not name (default false)"},
            "expect": {"type": "string", "description": "apply only: the fingerprint a plan answered; when the deployment no longer has it (something changed since the plan), a 409 and nothing changes"}}},
        "ConfigResult": {"type": "object", "required": ["changes", "created"], "properties": {
            "changes": {"type": "array", "items": {"type": "object", "required": ["action", "kind", "key", "details"], "properties": {
                "action": {"type": "string", "enum": ["create", "update", "delete"]},
                "kind": {"type": "string", "enum": ["api", "trusted_issuer", "application"]},
                "key": {"type": "string", "description": "the API's identifier, the trusted issuer's URL or the application's name"},
                "details": {"type": "array", "items": string}}}},
            "created": {"type": "array", "items": {"type": "object", "required": ["name", "client_id", "client_secret"], "properties": {
                "name": string, "client_id": string, "client_secret": string}}},
            "fingerprint": {"type": "string", "description": "a plan's: the SHA-256 (base64url) of the exported state the file was compared with, for an apply's expect"}}},
        "ConfigExport": {"type": "object", "required": ["file"], "properties": {"file": string}},
    })
}

/// The schemas of workload identity federation (a Warrant extension).
fn federation_schemas(
    string: &Value,
    time: &Value,
    text: &dyn Fn(u32) -> Value,
    issuer_name: &Value,
) -> Value {
    json!({
        "FederatedCredential": {"type": "object",
            "required": ["id", "client_id", "name", "issuer_id", "issuer", "subject", "conditions", "created_at", "updated_at"],
            "properties": {
            "id": string, "client_id": string, "name": string, "issuer_id": string, "issuer": string,
            "subject": {"type": "string", "description": "exact, or a pattern where * matches one or more characters within one segment (segments are separated by / and :)"},
            "audience": {"type": "string", "description": "absent: Warrant's issuer URL"},
            "conditions": {"type": "object", "additionalProperties": {"type": "string"}},
            "created_at": time, "updated_at": time, "expires_at": time}},
        "FederatedCredentialCreate": {"type": "object", "required": ["issuer", "subject"], "additionalProperties": false, "properties": {
            "issuer": {"type": "string", "minLength": 1, "maxLength": 512, "description": "the trusted issuer's ID or URL"},
            "subject": {"type": "string", "minLength": 1, "maxLength": 512, "description": "the assertion's sub: exact, or a pattern where * matches within one segment (/ and : separate segments)"},
            "name": nullable(text(128)),
            "audience": nullable(json!({"type": "string", "minLength": 1, "maxLength": 512, "description": "the aud the assertion must carry; default: Warrant's issuer URL"})),
            "conditions": {"type": "object", "maxProperties": 16, "additionalProperties": {"type": "string", "maxLength": 512},
                "description": "claim = exact value (a string; numbers and booleans compare by their JSON text); a nested claim by its dotted path (kubernetes.io.namespace), read from the left taking the longest member name first"},
            "expires_at": nullable(json!({"type": "string", "format": "date-time"})),
            "confirm_broad_subject": {"type": "boolean", "description": "required for a subject of only * or a Kubernetes default service account"}}},
        "FederatedCredentialList": {"type": "array", "items": {"$ref": "#/components/schemas/FederatedCredential"}},
        "TrustedIssuer": {"type": "object",
            "required": ["id", "issuer", "name", "key_source", "algorithms", "max_assertion_lifetime", "created_at", "updated_at"],
            "properties": {
            "id": string, "issuer": string, "name": string,
            "key_source": {"type": "string", "enum": ["discovery", "jwks_uri", "inline"]},
            "jwks_uri": string, "jwks": {"type": "object"},
            "bearer_token_file": string, "ca_file": string,
            "algorithms": {"type": "array", "items": string},
            "max_assertion_lifetime": {"type": "integer"},
            "created_at": time, "updated_at": time}},
        "TrustedIssuerCreate": {"type": "object", "required": ["issuer"], "additionalProperties": false, "properties": {
            "issuer": {"type": "string", "minLength": 1, "maxLength": 512, "description": "exactly the assertions' iss: an https URL (http only for a loopback address), or spiffe://<trust domain>"},
            "name": nullable(text(128)),
            "jwks_uri": nullable(json!({"type": "string", "maxLength": 512, "description": "absent (and no jwks): the issuer's discovery document names it"})),
            "jwks": nullable(json!({"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array"}}, "description": "the issuer's keys, uploaded: nothing is fetched"})),
            "bearer_token_file": nullable(json!({"type": "string", "enum": ["/var/run/secrets/kubernetes.io/serviceaccount/token"], "description": "Kubernetes' mount of the pod's service-account token, sent as a bearer token when fetching keys (no other file may be named)"})),
            "ca_file": nullable(json!({"type": "string", "enum": ["/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"], "description": "Kubernetes' mount of the cluster CA, trusted when fetching keys (no other file may be named)"})),
            "algorithms": {"type": "array", "items": {"type": "string", "enum": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]},
                "description": "default: RS256 and ES256"},
            "max_assertion_lifetime": nullable(json!({"type": "integer", "minimum": 60, "maximum": 86400, "description": "seconds; default 3600"}))}},
        "TrustedIssuerUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "issuer": nullable(json!({"type": "string", "description": "only the issuer's current URL: it cannot change"})),
            "name": nullable(issuer_name.clone()),
            "jwks_uri": nullable(json!({"type": "string", "maxLength": 512, "description": "replaces inline keys; null (with no jwks): back to discovery"})),
            "jwks": nullable(json!({"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array"}}, "description": "replaces a jwks_uri; null (with no jwks_uri): back to discovery"})),
            "bearer_token_file": nullable(json!({"type": "string", "enum": ["/var/run/secrets/kubernetes.io/serviceaccount/token"], "description": "null: none"})),
            "ca_file": nullable(json!({"type": "string", "enum": ["/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"], "description": "null: none"})),
            "algorithms": nullable(json!({"type": "array", "items": {"type": "string", "enum": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]},
                "description": "empty: RS256 and ES256"})),
            "max_assertion_lifetime": nullable(json!({"type": "integer", "minimum": 60, "maximum": 86400, "description": "seconds"}))}},
        "TrustedIssuerList": {"type": "array", "items": {"$ref": "#/components/schemas/TrustedIssuer"}}
    })
}

/// The query parameters of an operation (those of `/logs` are described in its summary).
fn query_parameters(method: &str, path: &str) -> Vec<Value> {
    let query = |name: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "schema": schema});
    let paging = || {
        vec![
            query(
                "page",
                json!({"type": "integer", "minimum": 0, "maximum": super::paging::MAX_PAGE}),
            ),
            query(
                "per_page",
                json!({"type": "integer", "minimum": 1, "maximum": 100}),
            ),
            query("include_totals", json!({"type": "boolean"})),
        ]
    };
    match (method, path) {
        ("get", "/clients" | "/resource-servers") => paging(),
        ("get", "/client-grants") => {
            let mut params = vec![
                query("audience", json!({"type": "string"})),
                query("client_id", json!({"type": "string"})),
            ];
            params.extend(paging());
            params
        }
        ("post", "/clients/{id}/rotate-secret") => {
            vec![
                query(
                    "grace_period",
                    json!({"type": "integer", "minimum": 0, "maximum": 2_592_000}),
                ),
                query(
                    "client_secret_expires_at",
                    json!({"type": "integer", "minimum": 0, "description": "when the new secret stops working, Unix seconds; 0: never"}),
                ),
            ]
        }
        _ => Vec::new(),
    }
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
        let mut errors = vec![
            ("400", "Invalid body or query: the message names the field"),
            ("401", "Missing or invalid token"),
            ("403", "Insufficient scope"),
            ("404", "Not found"),
            ("409", "Conflict"),
        ];
        if operation.request.is_some() {
            errors.push((
                "413",
                "The body is larger than 64 KiB (a configuration file: 4 MiB)",
            ));
        }
        for (status, meaning) in errors {
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
        let mut parameters: Vec<Value> = ["id", "kid", "credential_id"]
            .iter()
            .filter(|p| operation.path.contains(&format!("{{{p}}}")))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(query_parameters(operation.method, operation.path));
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
        "openapi": "3.1.0",
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
