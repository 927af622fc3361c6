//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4), with Auth0's JSON body and
//! `audience` parameter as well as the RFC's form body and RFC 8707's `resource`.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use warrant_proto::{GRANT_CLIENT_CREDENTIALS, TOKEN_TYPE_BEARER, TokenResponse};

use super::AppState;
use super::error::{OAuthError, no_store_json, quoted};
use crate::catalog::LookupError;
use crate::domain::events::{AuditEvent, types};
use crate::issuance::{Target, TokenRequest, authenticate};
use crate::limits::{AddressKey, QuotaExceeded};
use crate::metrics::MetricAudience;

/// Client IDs and audiences are cut to this length in metrics and the audit log, so that a
/// request cannot make an event grow.
const MAX_ECHOED_ID: usize = 256;

/// Token requests are small; anything larger is refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The longest user agent kept in an audit event.
const MAX_USER_AGENT: usize = 256;

pub async fn token(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let mut seen = Seen::default();
    let ip = super::peer_ip(&parts);
    let result = handle(&app, &parts.headers, ip, body, &mut seen).await;
    let error = result.as_ref().err();
    // Audiences are labels only once the client authenticated: metrics say nothing about
    // which APIs exist to whoever sends requests.
    let audience = match seen.audience.as_deref() {
        _ if !seen.authenticated => MetricAudience::Unauthenticated,
        Some(audience) if seen.audience_known => MetricAudience::Known(audience),
        _ => MetricAudience::Unknown,
    };
    app.metrics
        .token_request(audience, error.map(|e| e.code), started.elapsed());
    app.audit.record(AuditEvent {
        date_ms: crate::clock::now_ms(),
        kind: Cow::Borrowed(if error.is_some() {
            types::TOKEN_FAILED
        } else {
            types::TOKEN_ISSUED
        }),
        description: error.map_or(Cow::Borrowed("Client Credentials for Access Token"), |e| {
            e.description.clone()
        }),
        client_id: seen.client_id,
        audience: seen.audience,
        scope: seen.scope,
        ip: ip.map(|ip| ip.to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        jti: seen.jti,
        count: 1,
    });
    match result {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// What a request turned out to be about, as far as it got: for metrics and the audit log.
#[derive(Default)]
struct Seen {
    client_id: Option<String>,
    audience: Option<String>,
    /// Whether `audience` is an API this server knows (only those become metric labels).
    audience_known: bool,
    /// Whether the client authenticated (only then is the audience a metric label).
    authenticated: bool,
    scope: Option<String>,
    jti: Option<String>,
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    body: Body,
    seen: &mut Seen,
) -> Result<Response, OAuthError> {
    let now_ms = crate::clock::now_ms();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                warrant_proto::OAuthErrorCode::InvalidRequest,
                "the request body is larger than 16 KiB",
            )
        })?;
    let parsed = ParsedRequest::parse(headers, &bytes, &app.basic_challenge)?;
    let challenge = parsed.challenge.clone();
    let request = parsed.request();
    let (client_id, client_secret, target) =
        (request.client_id, request.client_secret, request.target);
    seen.client_id = Some(client_id.chars().take(MAX_ECHOED_ID).collect());
    let snapshot = app.catalog.snapshot();
    let audience = match target {
        Target::Audience(a) | Target::Resource(a) => Some(a),
        Target::Unspecified => app.settings.default_audience.as_deref(),
    };
    if let Some(audience) = audience {
        seen.audience_known = snapshot.knows_api(audience);
        seen.audience = Some(audience.chars().take(MAX_ECHOED_ID).collect());
    }

    let client = app.catalog.client(client_id).await.map_err(|e| {
        tracing::debug!(error = %e, "cannot look up a client that is not in memory");
        if let LookupError::Unavailable(_) = e {
            app.metrics.storage_error();
            // Unknown client IDs sprayed during an outage cost their address like failures.
            // Past the address's budget, they get 429 like failed authentications.
            if let Some(Err(wait)) =
                ip.map(|ip| app.throttle.by_ip.try_take(&AddressKey::of(ip), now_ms))
            {
                app.metrics.throttled();
                return OAuthError::too_many_requests(
                    format!(
                        "too many lookups of unknown clients from this address while the \
                         database is unreachable; retry in {wait} s"
                    ),
                    wait,
                );
            }
        }
        OAuthError::from_lookup(&e)
    })?;
    let now = app.clock.now();
    let Some(client) = authenticate(client.as_deref(), client_secret, now) else {
        return Err(failed_authentication(app, ip, seen, now_ms, challenge));
    };
    seen.authenticated = true;
    let quota = client
        .token_quota
        .or(app.default_token_quota)
        .filter(|q| !q.is_unlimited());
    let quota_state = match quota {
        None => None,
        Some(quota) => app
            .quotas
            .acquire(client_id, &quota, now)
            .map_err(|(exceeded, first)| quota_exceeded(app, seen, exceeded, first))?,
    };
    let issued = snapshot
        .issue(client, &request, &app.settings, now)
        .map_err(|e| {
            if quota_state.is_some() {
                app.quotas.release(client_id);
            }
            OAuthError::from_issue(e)
        })?;
    seen.scope.clone_from(&issued.scope);
    seen.jti = Some(issued.jti);

    let body = TokenResponse {
        access_token: issued.access_token,
        token_type: TOKEN_TYPE_BEARER.to_owned(),
        expires_in: u64::from(issued.expires_in),
        scope: issued.scope,
    };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        no_store_json(&body),
    )
        .into_response();
    if let Some(state) = quota_state {
        let headers = response.headers_mut();
        for (name, value) in rate_limit_headers(state.limit, state.remaining, state.reset) {
            headers.insert(name, value);
        }
        if state.warn {
            app.audit.record(AuditEvent {
                date_ms: now_ms,
                kind: types::QUOTA_WARNING.into(),
                description: Cow::Owned(format!(
                    "{} of the {} token quota of {} used",
                    u64::from(state.limit) - state.remaining,
                    state.period.as_str(),
                    state.limit
                )),
                client_id: seen.client_id.clone(),
                ..AuditEvent::default()
            });
        }
    }
    Ok(response)
}

/// A token request's wire form, parsed and checked: body (form or JSON), grant type, and
/// client authentication (body or HTTP Basic). Public for the fuzzer (`fuzz/`).
pub struct ParsedRequest {
    client_id: String,
    client_secret: String,
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

        let basic = basic_credentials(headers, basic_challenge)?;
        let challenge = basic.as_ref().map(|_| basic_challenge.clone());
        let (client_id, client_secret) = match (basic, params.client_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method: HTTP Basic or client_secret in the body, not both",
                ));
            }
            (Some((id, secret)), None) => {
                if params
                    .client_id
                    .as_deref()
                    .is_some_and(|body_id| body_id != id)
                {
                    return Err(OAuthError::invalid_request(
                        "client_id in the body differs from the one in the Authorization header",
                    ));
                }
                (id, secret)
            }
            (None, Some(secret)) => match params.client_id {
                Some(id) => (id, secret),
                None => {
                    return Err(OAuthError::invalid_request(
                        "client_id is required with client_secret",
                    ));
                }
            },
            (None, None) => {
                return Err(OAuthError {
                    description: Cow::Borrowed(
                        "client authentication is required: send client_id and client_secret in the \
                         body, or use HTTP Basic",
                    ),
                    ..OAuthError::invalid_client(None)
                });
            }
        };

        if let (Some(a), Some(r)) = (&params.audience, &params.resource) {
            if a != r {
                return Err(OAuthError::invalid_request(
                    "audience and resource name different APIs; send one of them",
                ));
            }
        }
        Ok(Self {
            client_id,
            client_secret,
            audience: params.audience,
            resource: params.resource,
            scope: params.scope,
            challenge,
        })
    }

    /// The request issuance works on, borrowing from this one.
    pub fn request(&self) -> TokenRequest<'_> {
        let target = match (&self.audience, &self.resource) {
            (Some(a), _) => Target::Audience(a),
            (None, Some(r)) => Target::Resource(r),
            (None, None) => Target::Unspecified,
        };
        TokenRequest {
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            target,
            scope: self.scope.as_deref(),
        }
    }
}

/// A wrong secret or an unknown client: 401, taken from the source address's budget and the
/// client ID's. A failure beyond either budget is answered 429 instead. The check itself always
/// runs (one SHA-256): the right secret is never refused, whatever its address or client ID
/// failed before, so an attacker can lock out neither a client nor the clients that share an
/// address with them.
fn failed_authentication(
    app: &AppState,
    ip: Option<IpAddr>,
    seen: &mut Seen,
    now_ms: u64,
    challenge: Option<HeaderValue>,
) -> OAuthError {
    let by_ip = ip.map(|ip| app.throttle.by_ip.try_take(&AddressKey::of(ip), now_ms));
    let by_client = seen
        .client_id
        .as_ref()
        .map(|client_id| app.throttle.by_client.try_take(client_id, now_ms));
    let (what, wait) = match (by_ip, by_client) {
        (Some(Err(wait)), _) => {
            // Refused for its address: the audit log counts it under the address alone, so
            // that random client IDs from one address add up to one event, not one each.
            seen.client_id = None;
            (
                "too many failed client authentications from this address",
                wait,
            )
        }
        (_, Some(Err(wait))) => ("too many failed authentications for this client", wait),
        _ => return OAuthError::invalid_client(challenge),
    };
    app.metrics.throttled();
    OAuthError::too_many_requests(
        format!("{what}; retry in {wait} s (the right secret is always accepted)"),
        wait,
    )
}

/// Over a quota: 429 with the window's reset time, and an `api_limit` event once a window.
fn quota_exceeded(app: &AppState, seen: &Seen, exceeded: QuotaExceeded, first: bool) -> OAuthError {
    app.metrics.throttled();
    let now = app.clock.now();
    if first {
        app.audit.record(AuditEvent {
            date_ms: crate::clock::now_ms(),
            kind: types::QUOTA_REACHED.into(),
            description: Cow::Owned(format!(
                "the {} token quota of {} is used up",
                exceeded.period.as_str(),
                exceeded.limit
            )),
            client_id: seen.client_id.clone(),
            ..AuditEvent::default()
        });
    }
    let wait = exceeded.reset.saturating_sub(now).max(1);
    let mut error = OAuthError::too_many_requests(
        format!(
            "this application used its token quota of {} per {}; cache tokens until they expire \
             instead of requesting one per call, or ask for a higher quota (retry in {wait} s)",
            exceeded.limit,
            exceeded.period.as_str()
        ),
        wait,
    );
    error
        .limit_headers
        .extend(rate_limit_headers(exceeded.limit, 0, exceeded.reset));
    error
}

fn rate_limit_headers(limit: u32, remaining: u64, reset: u64) -> [(HeaderName, HeaderValue); 3] {
    [
        (
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from(limit),
        ),
        (
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(remaining),
        ),
        (
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(reset),
        ),
    ]
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

/// The parameters the token endpoint reads. Others are ignored (RFC 6749 §3.2).
#[derive(Default)]
struct Params {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
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
            "audience" => &mut self.audience,
            "resource" => &mut self.resource,
            "scope" => &mut self.scope,
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
