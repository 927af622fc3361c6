//! Wire types shared by the Warrant server, its client and guard libraries, and the CLI.
//!
//! Only shapes live here: what goes over HTTP, field for field, as RFC 6749 (the token endpoint),
//! RFC 7517 (JWKS) and RFC 8414 (server metadata) spell it. No logic, no I/O, so that a resource
//! server or a worker can depend on this crate without pulling in the server.

use serde::{Deserialize, Serialize};

/// The path of the token endpoint, relative to the issuer.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The token introspection endpoint (RFC 7662).
pub const INTROSPECTION_PATH: &str = "/oauth/introspect";
/// The token revocation endpoint (RFC 7009).
pub const REVOCATION_PATH: &str = "/oauth/revoke";
/// The path of the published signing keys, relative to the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The OpenID discovery document.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// The RFC 8414 authorization server metadata document.
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// `token_type` of every access token Warrant issues.
pub const TOKEN_TYPE_BEARER: &str = "Bearer";
/// The `token_type` of a DPoP-bound token (RFC 9449 §5).
pub const TOKEN_TYPE_DPOP: &str = "DPoP";
/// The JWT `typ` header of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The only grant type Warrant serves.
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// The `gty` claim Auth0 puts in client-credentials tokens.
pub const GTY_CLIENT_CREDENTIALS: &str = "client-credentials";

/// A successful answer of the token endpoint (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Lifetime of the token in seconds.
    pub expires_in: u64,
    /// The granted scopes, space-separated; absent when the token carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The error codes of RFC 6749 §5.2, plus RFC 8707's `invalid_target` and Auth0's
/// `access_denied` / `too_many_requests` as the token endpoint uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    TooManyRequests,
    ServerError,
    TemporarilyUnavailable,
    /// The DPoP proof sent with the request is not valid (RFC 9449 §5).
    InvalidDpopProof,
    /// The DPoP proof lacks the server's current nonce, sent in `DPoP-Nonce` (RFC 9449 §8).
    UseDpopNonce,
}

impl OAuthErrorCode {
    /// The code exactly as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::TooManyRequests => "too_many_requests",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// Parses a wire code; `None` for codes this crate does not know.
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            "access_denied" => Self::AccessDenied,
            "too_many_requests" => Self::TooManyRequests,
            "server_error" => Self::ServerError,
            "invalid_dpop_proof" => Self::InvalidDpopProof,
            "use_dpop_nonce" => Self::UseDpopNonce,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            _ => return None,
        })
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer (RFC 6749 §5.2): `{"error": "...", "error_description": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One public key of a JWKS. Warrant publishes RSA keys (`kty: "RSA"`, `n`, `e`); the other members
/// are kept so that a verifier can read (and refuse) keys of other types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// The key's X.509 certificate chain (RFC 7517 §4.7): standard base64 DER, as Auth0
    /// publishes it. Informational: verifiers take the key from `n` and `e`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// The certificate's SHA-1 thumbprint, base64url (RFC 7517 §4.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
}

/// Authorization server metadata (RFC 8414 §2), served both as
/// `/.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub grant_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// The algorithms a `private_key_jwt` assertion may be signed with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// The algorithms the token endpoint accepts for DPoP proofs (RFC 9449 §5.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// A scope an API defines, as the management API shows it (and takes it: `value` and
/// `description`, nothing else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeView {
    pub value: String,
    #[serde(default)]
    pub description: String,
}

/// An API (Auth0: resource server), in Auth0's management-API shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceServerView {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ScopeView>,
    pub token_lifetime: u32,
    pub signing_alg: String,
    /// Whether its tokens are bound to the client's key (Auth0's shape); absent: as the client
    /// chooses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_of_possession: Option<ProofOfPossessionView>,
    pub created_at: String,
    pub updated_at: String,
}

/// An API's proof-of-possession setting (Auth0's `proof_of_possession`): `mechanism` is
/// `"dpop"` (RFC 9449); `required: true` refuses a token request without a DPoP proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofOfPossessionView {
    pub mechanism: String,
    pub required: bool,
}

/// An M2M application (Auth0: client), in Auth0's management-API shape. The secret appears only
/// in the answer that created or rotated it: Warrant stores hashes, never secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub app_type: String,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default)]
    pub client_metadata: std::collections::BTreeMap<String, String>,
    /// Claims every token of the application carries (Warrant's extension; absent: none).
    /// A string `{{client_metadata.<key>}}` stands for that metadata value.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_claims: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// When the secret just shown stops working (Unix seconds, as RFC 7591 has it); only
    /// beside `client_secret`, and only when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    /// The application's own token quota; without one, the deployment's default applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_quota: Option<TokenQuotaView>,
    /// The credentials it authenticates with instead of its secret (Auth0's shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_authentication_methods: Option<ClientAuthenticationMethods>,
    pub created_at: String,
    pub updated_at: String,
}

/// Auth0's `client_authentication_methods`:
/// `{"private_key_jwt": {"credentials": [{"id": "cred_…"}]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthenticationMethods {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_jwt: Option<PrivateKeyJwtMethod>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateKeyJwtMethod {
    pub credentials: Vec<CredentialRef>,
}

/// A credential named by its ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRef {
    pub id: String,
}

/// An application's public-key credential, as Auth0's
/// `/api/v2/clients/{id}/credentials` shows it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCredentialView {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The key's RFC 7638 thumbprint: the `kid` assertions name it by.
    pub kid: String,
    pub alg: String,
    /// Always `public_key`.
    pub credential_type: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A trusted issuer (workload identity federation), as `/api/v2/trusted-issuers` shows it: a
/// Warrant extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuerView {
    pub id: String,
    /// Exactly the assertions' `iss` (an https URL), or `spiffe://<trust domain>`.
    pub issuer: String,
    pub name: String,
    /// `discovery`, `jwks_uri` or `inline`.
    pub key_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The inline JWKS, when the keys were uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    pub algorithms: Vec<String>,
    /// Seconds.
    pub max_assertion_lifetime: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// For `#[serde(default, deserialize_with = "warrant_proto::present")]` on an
/// `Option<Option<T>>`: tells a field sent as `null` (`Some(None)`) from one left out (`None`).
pub fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Changes to a trusted issuer (`PATCH /api/v2/trusted-issuers/{id}`): a field left out stays
/// as it is, `null` clears it. The issuer URL cannot change (`issuer` is accepted only with its
/// current value). A `jwks_uri` replaces inline keys and a `jwks` replaces a `jwks_uri`; `null`
/// for the one in use goes back to discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTrustedIssuer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub jwks_uri: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub jwks: Option<Option<serde_json::Value>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub bearer_token_file: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_file: Option<Option<String>>,
    /// Empty: RS256 and ES256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_assertion_lifetime: Option<u64>,
}

/// A new trusted issuer: keys by discovery unless `jwks_uri` or `jwks` is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTrustedIssuer {
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// A JWKS object, for an issuer whose keys cannot be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Default: RS256 and ES256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// Seconds; default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_assertion_lifetime: Option<u64>,
}

/// A federated credential of an application, as
/// `/api/v2/clients/{id}/federated-credentials` shows it: a Warrant extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredentialView {
    pub id: String,
    pub client_id: String,
    pub name: String,
    /// The trusted issuer's ID.
    pub issuer_id: String,
    /// The trusted issuer's URL (or SPIFFE trust domain).
    #[serde(default)]
    pub issuer: String,
    /// Exact, or a pattern where `*` matches within one segment (segments separated by `/`
    /// and `:`).
    pub subject: String,
    /// The `aud` the assertion must carry; absent: Warrant's issuer URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default)]
    pub conditions: std::collections::BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A new federated credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFederatedCredential {
    /// The trusted issuer, by ID or issuer URL.
    pub issuer: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Default: Warrant's issuer URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Claim = exact value.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub conditions: std::collections::BTreeMap<String, String>,
    /// ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Required for a subject of only `*` or a Kubernetes `default` service account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_broad_subject: bool,
}

/// The `client_assertion_type` of RFC 7523 client authentication.
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `client_assertion_type` of a SPIFFE JWT-SVID (draft-ietf-oauth-spiffe-client-auth).
pub const CLIENT_ASSERTION_TYPE_JWT_SPIFFE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe";

/// Auth0's per-application token quota:
/// `{"client_credentials": {"enforce": true, "per_hour": 100, "per_day": 1000}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenQuotaView {
    pub client_credentials: ClientCredentialsQuota,
}

/// Tokens an application may get per hour and per day; over either, the token endpoint answers
/// 429 until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsQuota {
    #[serde(default = "enforce_by_default")]
    pub enforce: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
}

const fn enforce_by_default() -> bool {
    true
}

/// A client grant, in Auth0's management-API shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientGrantView {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
    /// Claims the grant's tokens carry over the application's (Warrant's extension; absent:
    /// none).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_claims: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
}

/// A signing key as the management API shows it: Auth0's `keys/signing` shape (the key's
/// self-signed certificate as PEM and PKCS#7, its SHA-1 fingerprint and thumbprint), plus the
/// public JWK as the JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyView {
    pub kid: String,
    /// The JWS algorithm the key signs (`RS256`, `PS256`, `ES256`, `EdDSA`): Warrant's
    /// addition to Auth0's shape, as each algorithm has a key set of its own.
    #[serde(default)]
    pub alg: String,
    /// The certificate, PEM.
    pub cert: String,
    /// The certificate in a PKCS#7 envelope, PEM.
    pub pkcs7: String,
    pub current: bool,
    pub next: bool,
    pub previous: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_until: Option<String>,
    /// SHA-1 of the certificate's DER: upper-case hex pairs joined by colons.
    pub fingerprint: String,
    /// SHA-1 of the certificate's DER: upper-case hex.
    pub thumbprint: String,
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    pub public_jwk: Jwk,
}

/// One event of the audit log, in Auth0's log event shape (`GET /api/v2/logs`). Every field but
/// the ID, date, type and description is left out when the event has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEventView {
    /// The event's sequence number, as a string: what `from=` takes for checkpoint paging.
    pub log_id: String,
    /// RFC 3339, with milliseconds.
    pub date: String,
    /// Auth0's event type code: `seccft`, `feccft`, `sapi`, `fapi`, `s`, `f`, `slo`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Only when there is a detail to give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<LogDetailsView>,
}

/// The details of a log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDetailsView {
    /// The ID of the token issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// How many requests the event stands for, when more than one (aggregated refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// How the client authenticated, for an issued token (a Warrant extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_authentication: Option<ClientAuthenticationView>,
}

/// How a client authenticated for a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAuthenticationView {
    /// `secret`, `private_key_jwt` or `federated`.
    pub method: String,
    /// The public-key or federated credential's ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// The trusted issuer of a federated assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The workload's subject (`sub`) of a federated assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// A page of the audit log with its totals (`include_totals=true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPageView {
    /// The index of the page's first event among all that match.
    pub start: u64,
    /// The page size asked for.
    pub limit: u64,
    /// How many events this page holds.
    pub length: u64,
    /// How many events match in all.
    pub total: u64,
    pub logs: Vec<LogEventView>,
}

/// The management API's configuration endpoints (a Warrant extension): a declarative file to
/// plan or apply, `POST /api/v2/config/plan` and `/apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRequest {
    /// The file's text (TOML).
    pub file: String,
    /// Delete the APIs, trusted issuers and applications the file does not name (and the
    /// federated credentials of the applications it names that it does not list).
    #[serde(default)]
    pub prune: bool,
    /// Apply only if the deployment's fingerprint is still this one (what the plan answered);
    /// else a 409 and nothing changes. Ignored by a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// One change a configuration file makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChangeView {
    /// `create`, `update` or `delete`.
    pub action: String,
    /// `api`, `trusted_issuer` or `application`.
    pub kind: String,
    /// The API's identifier, the trusted issuer's URL or the application's name.
    pub key: String,
    /// What changes in it, in words.
    #[serde(default)]
    pub details: Vec<String>,
}

/// An application a configuration apply created, with its secret (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigCreatedView {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
}

/// What `/api/v2/config/plan` answers (`created` empty) and `/apply` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResultView {
    pub changes: Vec<ConfigChangeView>,
    #[serde(default)]
    pub created: Vec<ConfigCreatedView>,
    /// A plan's: the fingerprint of the state it compared the file with, for an apply's
    /// `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What `GET /api/v2/config` answers: the current state as a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigExportView {
    pub file: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip() {
        for code in [
            OAuthErrorCode::InvalidRequest,
            OAuthErrorCode::InvalidClient,
            OAuthErrorCode::InvalidGrant,
            OAuthErrorCode::UnauthorizedClient,
            OAuthErrorCode::UnsupportedGrantType,
            OAuthErrorCode::InvalidScope,
            OAuthErrorCode::InvalidTarget,
            OAuthErrorCode::AccessDenied,
            OAuthErrorCode::TooManyRequests,
            OAuthErrorCode::ServerError,
            OAuthErrorCode::TemporarilyUnavailable,
            OAuthErrorCode::InvalidDpopProof,
            OAuthErrorCode::UseDpopNonce,
        ] {
            assert_eq!(OAuthErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(OAuthErrorCode::parse("nope"), None);
    }

    #[test]
    fn token_response_omits_empty_scope() {
        let body = TokenResponse {
            access_token: "t".into(),
            token_type: TOKEN_TYPE_BEARER.into(),
            expires_in: 60,
            scope: None,
        };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"access_token":"t","token_type":"Bearer","expires_in":60}"#
        );
    }

    #[test]
    fn log_events_leave_out_what_they_do_not_have() {
        let event = LogEventView {
            log_id: "7".into(),
            date: "2026-11-22T04:08:57.000Z".into(),
            kind: "seccft".into(),
            description: "issued".into(),
            client_id: Some("c".into()),
            audience: None,
            scope: None,
            ip: None,
            user_agent: None,
            details: Some(LogDetailsView {
                jti: Some("j".into()),
                count: None,
                client_authentication: None,
            }),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"log_id":"7","date":"2026-11-22T04:08:57.000Z","type":"seccft","description":"issued","client_id":"c","details":{"jti":"j"}}"#
        );
    }

    #[test]
    fn jwk_uses_the_use_member_name() {
        let jwk: Jwk =
            serde_json::from_str(r#"{"kty":"RSA","use":"sig","n":"AQ","e":"AQAB"}"#).unwrap();
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        assert!(
            serde_json::to_string(&jwk)
                .unwrap()
                .contains(r#""use":"sig""#)
        );
    }
}
