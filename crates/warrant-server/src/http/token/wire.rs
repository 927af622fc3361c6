//! The token endpoint's wire form: a form or JSON body, the grant type, and client
//! authentication in the body or by HTTP Basic (RFC 6749 §2.3.1, §4.4.2), parsed into a
//! [`ParsedRequest`] or refused with the RFC 6749 error that says what to fix. Fuzzed
//! (`fuzz/fuzz_targets/token_request.rs`): any input gives one or the other, never a panic.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use warrant_guard::Assertion;
use warrant_proto::{
    CLIENT_ASSERTION_TYPE_JWT_BEARER, CLIENT_ASSERTION_TYPE_JWT_SPIFFE, GRANT_CLIENT_CREDENTIALS,
};

use crate::http::error::{OAuthError, quoted};
use crate::issuance::{Credential, Target, TokenRequest};

/// A token request's wire form, parsed and checked: body (form or JSON), grant type, and
/// client authentication (body or HTTP Basic). Public for the fuzzer (`fuzz/`).
pub struct ParsedRequest {
    client_id: String,
    credential: WireCredential,
    audience: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    /// `WWW-Authenticate` for a failure, when the client used HTTP Basic.
    challenge: Option<HeaderValue>,
}

impl fmt::Debug for ParsedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedRequest")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// How the client authenticates, as sent.
enum WireCredential {
    Secret(String),
    Assertion(String),
    /// A SPIFFE JWT-SVID (`client_assertion_type` jwt-spiffe).
    Spiffe(String),
}

impl WireCredential {
    fn as_credential(&self) -> Credential<'_> {
        match self {
            Self::Secret(secret) => Credential::Secret(secret),
            Self::Assertion(assertion) => Credential::Assertion(assertion),
            Self::Spiffe(assertion) => Credential::SpiffeAssertion(assertion),
        }
    }
}

impl ParsedRequest {
    pub fn parse(
        headers: &HeaderMap,
        body: &[u8],
        basic_challenge: &HeaderValue,
    ) -> Result<Self, OAuthError> {
        let params = match body_kind(headers)? {
            BodyKind::Form => Params::from_form(body)?,
            BodyKind::Json => Params::from_json(body)?,
        };

        match params.grant_type.as_deref() {
            None => return Err(OAuthError::invalid_request("grant_type is required")),
            Some(GRANT_CLIENT_CREDENTIALS) => {}
            Some(other) => {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    warrant_proto::OAuthErrorCode::UnsupportedGrantType,
                    format!(
                        "grant_type {} is not supported; this server issues client_credentials tokens",
                        quoted(other)
                    ),
                ));
            }
        }

        let (client_id, credential, challenge) = client_authentication(
            headers,
            basic_challenge,
            params.client_id,
            params.client_secret,
            params.client_assertion_type,
            params.client_assertion,
        )?;

        if let (Some(a), Some(r)) = (&params.audience, &params.resource) {
            if a != r {
                return Err(OAuthError::invalid_request(
                    "audience and resource name different APIs; send one of them",
                ));
            }
        }
        Ok(Self {
            client_id,
            credential,
            audience: params.audience,
            resource: params.resource,
            scope: params.scope,
            challenge,
        })
    }

    /// `WWW-Authenticate` for a failure, when the client used HTTP Basic.
    pub fn challenge(&self) -> Option<&HeaderValue> {
        self.challenge.as_ref()
    }

    /// The request issuance works on, borrowing from this one; `from` is the address it came
    /// from.
    pub fn request(&self, from: Option<IpAddr>) -> TokenRequest<'_> {
        let target = match (&self.audience, &self.resource) {
            (Some(a), _) => Target::Audience(a),
            (None, Some(r)) => Target::Resource(r),
            (None, None) => Target::Unspecified,
        };
        TokenRequest {
            client_id: &self.client_id,
            credential: self.credential.as_credential(),
            target,
            scope: self.scope.as_deref(),
            from,
            dpop_jkt: None,
        }
    }
}

/// An introspection (RFC 7662) or revocation (RFC 7009) request: the caller's client
/// authentication, as at the token endpoint, and the `token` it asks about. `token_type_hint`
/// is read and ignored: Warrant has access tokens only.
pub struct TokenCall {
    client_id: String,
    credential: WireCredential,
    token: String,
    challenge: Option<HeaderValue>,
}

impl fmt::Debug for TokenCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCall")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenCall {
    pub fn parse(
        headers: &HeaderMap,
        body: &[u8],
        basic_challenge: &HeaderValue,
    ) -> Result<Self, OAuthError> {
        let params = match body_kind(headers)? {
            BodyKind::Form => Params::from_form(body)?,
            BodyKind::Json => Params::from_json(body)?,
        };
        let (client_id, credential, challenge) = client_authentication(
            headers,
            basic_challenge,
            params.client_id,
            params.client_secret,
            params.client_assertion_type,
            params.client_assertion,
        )?;
        let token = params
            .token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        Ok(Self {
            client_id,
            credential,
            token,
            challenge,
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn credential(&self) -> Credential<'_> {
        self.credential.as_credential()
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// `WWW-Authenticate` for a failure, when the client used HTTP Basic.
    pub fn challenge(&self) -> Option<&HeaderValue> {
        self.challenge.as_ref()
    }
}

/// The client's authentication, as sent: HTTP Basic, `client_secret` in the body, or an RFC 7523
/// `client_assertion` (one of them, RFC 6749 §2.3), the client ID it names, and the challenge a
/// failure answers with when it used HTTP Basic. The token, introspection and revocation
/// endpoints all read it here.
fn client_authentication(
    headers: &HeaderMap,
    basic_challenge: &HeaderValue,
    body_id: Option<String>,
    body_secret: Option<String>,
    assertion_type: Option<String>,
    assertion: Option<String>,
) -> Result<(String, WireCredential, Option<HeaderValue>), OAuthError> {
    let basic = basic_credentials(headers, basic_challenge)?;
    let challenge = basic.as_ref().map(|_| basic_challenge.clone());
    let assertion = client_assertion(assertion_type, assertion)?;
    let (client_id, credential) = match (basic, body_secret, assertion) {
        (Some(_), Some(_), _) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: HTTP Basic or client_secret in the body, not both",
            ));
        }
        (Some(_), None, Some(_)) | (None, Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: a client secret or client_assertion, not both",
            ));
        }
        (Some((id, secret)), None, None) => {
            if body_id.as_deref().is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            (id, WireCredential::Secret(secret))
        }
        (None, Some(secret), None) => match body_id {
            Some(id) => (id, WireCredential::Secret(secret)),
            None => {
                return Err(OAuthError::invalid_request(
                    "client_id is required with client_secret",
                ));
            }
        },
        (None, None, Some((assertion, true))) => match body_id {
            // A JWT-SVID's sub is the workload's SPIFFE ID, not a client ID.
            Some(id) => (id, WireCredential::Spiffe(assertion)),
            None => {
                return Err(OAuthError::invalid_request(
                    "client_id is required with a jwt-spiffe client assertion: it names the application",
                ));
            }
        },
        (None, None, Some((assertion, false))) => {
            // client_id is optional: the assertion's sub names the client (and must be
            // the client_id when both are given; issuance checks it once verified). A
            // federated assertion's sub is a workload's: its client_id is required.
            let id = match body_id {
                Some(id) => id,
                None => Assertion::unverified_subject(&assertion).ok_or_else(|| {
                    OAuthError::invalid_request(
                        "client_id is required: the client assertion has no readable sub",
                    )
                })?,
            };
            (id, WireCredential::Assertion(assertion))
        }
        (None, None, None) => {
            return Err(OAuthError {
                description: Cow::Borrowed(
                    "client authentication is required: send client_id and client_secret in the \
                         body, use HTTP Basic, or send client_assertion_type and client_assertion",
                ),
                ..OAuthError::invalid_client(None)
            });
        }
    };

    Ok((client_id, credential, challenge))
}

/// RFC 7523's client authentication parameters: both or neither, and a supported type; with
/// whether the assertion is a SPIFFE JWT-SVID.
fn client_assertion(
    kind: Option<String>,
    assertion: Option<String>,
) -> Result<Option<(String, bool)>, OAuthError> {
    match (kind, assertion) {
        (None, None) => Ok(None),
        (Some(kind), Some(assertion)) if kind == CLIENT_ASSERTION_TYPE_JWT_BEARER => {
            Ok(Some((assertion, false)))
        }
        (Some(kind), Some(assertion)) if kind == CLIENT_ASSERTION_TYPE_JWT_SPIFFE => {
            Ok(Some((assertion, true)))
        }
        (Some(kind), Some(_)) => Err(OAuthError::invalid_request(format!(
            "client_assertion_type {} is not supported; use {CLIENT_ASSERTION_TYPE_JWT_BEARER} (or {CLIENT_ASSERTION_TYPE_JWT_SPIFFE} for a SPIFFE JWT-SVID)",
            quoted(&kind)
        ))),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "client_assertion is required with client_assertion_type",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_request(format!(
            "client_assertion_type is required with client_assertion: {CLIENT_ASSERTION_TYPE_JWT_BEARER}"
        ))),
    }
}

enum BodyKind {
    Form,
    Json,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, OAuthError> {
    let unsupported = || {
        OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded or application/json",
        )
    };
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unsupported)?;
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else if essence.eq_ignore_ascii_case("application/json") {
        Ok(BodyKind::Json)
    } else {
        Err(unsupported())
    }
}

/// `Authorization: Basic` credentials, form-decoded as RFC 6749 §2.3.1 requires.
fn basic_credentials(
    headers: &HeaderMap,
    challenge: &HeaderValue,
) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError {
        description: Cow::Borrowed(
            "malformed HTTP Basic credentials: send base64(urlencode(client_id) \":\" urlencode(client_secret))",
        ),
        ..OAuthError::invalid_client(Some(challenge.clone()))
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "the Authorization header must use the Basic scheme; or send client_id and client_secret in the body",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id);
    let secret = form_decode(secret);
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(Some((id, secret)))
}

fn form_decode(text: &str) -> String {
    form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The parameters the token, introspection and revocation endpoints read. Others are ignored
/// (RFC 6749 §3.2).
#[derive(Default)]
struct Params {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    /// Introspection's and revocation's: the token asked about, and the hint of its type.
    token: Option<String>,
    token_type_hint: Option<String>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

enum ParamError {
    Repeated(String),
    NotAString(String),
}

impl Params {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "grant_type" => &mut self.grant_type,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "client_assertion_type" => &mut self.client_assertion_type,
            "client_assertion" => &mut self.client_assertion,
            "audience" => &mut self.audience,
            "resource" => &mut self.resource,
            "scope" => &mut self.scope,
            "token" => &mut self.token,
            "token_type_hint" => &mut self.token_type_hint,
            _ => return None,
        })
    }

    fn set(&mut self, name: &str, value: String) -> Result<(), ParamError> {
        if let Some(slot) = self.slot(name) {
            if slot.is_some() {
                return Err(ParamError::Repeated(name.to_owned()));
            }
            *slot = Some(value);
        }
        Ok(())
    }

    fn from_form(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = Self::default();
        for (name, value) in form_urlencoded::parse(body) {
            params.set(&name, value.into_owned()).map_err(param_error)?;
        }
        Ok(params)
    }

    fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed = (&mut de).deserialize_map(ParamsVisitor).and_then(|p| {
            de.end()?;
            Ok(p)
        });
        match parsed {
            Ok(Ok(params)) => Ok(params),
            Ok(Err(e)) => Err(param_error(e)),
            Err(_) => Err(OAuthError::invalid_request(
                "the body is not a JSON object of string parameters",
            )),
        }
    }
}

fn param_error(e: ParamError) -> OAuthError {
    match e {
        ParamError::Repeated(name) => {
            OAuthError::invalid_request(format!("parameter {name} is given more than once"))
        }
        ParamError::NotAString(name) => {
            OAuthError::invalid_request(format!("parameter {name} must be a string"))
        }
    }
}

/// Reads a JSON object into [`Params`], catching repeated and non-string parameters (which a
/// plain map would silently merge or coerce).
struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Result<Params, ParamError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut params = Params::default();
        let mut failure = None;
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            if params.slot(&name).is_none() || failure.is_some() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match map.next_value::<serde_json::Value>()? {
                serde_json::Value::String(value) => {
                    if let Err(e) = params.set(&name, value) {
                        failure = Some(e);
                    }
                }
                _ => failure = Some(ParamError::NotAString(name.into_owned())),
            }
        }
        Ok(match failure {
            Some(e) => Err(e),
            None => Ok(params),
        })
    }
}
