//! The axum/tower integration: [`GuardLayer`] verifies the bearer token and puts [`Claims`]
//! into the request's extensions; the [`Claims`] and [`RequireScope`] extractors and the
//! [`require_scope`] layer read them. Failures answer as RFC 6750 says, and every challenge
//! names the realm given to [`GuardLayer::realm`], the scope checks' 403s included (they find
//! it in the verified claims).
//!
//! **DPoP** (RFC 9449), with [`GuardLayer::dpop`]: `Authorization: DPoP <token>` with a `DPoP`
//! proof header. The token is verified as a bearer token is (the token cache included), then the
//! proof, on every request, against the request's method and public URL
//! ([`GuardLayer::public_url`]), the token's hash and the key the token is bound to (`cnf.jkt`).
//! A DPoP-bound token sent as `Bearer` is always refused (RFC 9449 §7.2), DPoP configured or not;
//! [`GuardLayer::require_dpop`] (every route) or [`require_dpop`] (one route) refuse bearer
//! tokens too. Refusals answer as RFC 9449 §7.1 says: `WWW-Authenticate: DPoP
//! error="invalid_dpop_proof", algs="ES256 EdDSA PS256 RS256"`. A verified proof leaves a
//! [`DpopBinding`] in the request's extensions, and a scope check's 403 after it challenges with
//! `DPoP` too. With [`GuardLayer::dpop_nonces`] a proof must also carry a nonce this API issued
//! (RFC 9449 §9): without a current one, 401 `use_dpop_nonce` with a `DPoP-Nonce` header, and
//! every answer to a DPoP request carries a fresh `DPoP-Nonce`. When the replay cache is full
//! (more DPoP requests than it holds), proofs are refused with 503 `temporarily_unavailable`
//! (the API is overloaded, the proof is not at fault); [`GuardLayer::dpop_replay_stats`] shows
//! how full it is.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::verifier::unix_now;
use crate::{Claims, DpopError, DpopNonces, DpopVerifier, Error, ProofCheck, Verifier};

/// Why a request was refused, as an RFC 6750 answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token: 401 with a bare `Bearer realm` challenge.
    MissingCredentials,
    /// A malformed `Authorization` header: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token was refused: 401 `invalid_token`.
    InvalidToken(Error),
    /// The token lacks a scope: 403 `insufficient_scope`.
    InsufficientScope(Cow<'static, str>),
    /// Keys could not be fetched: 503, not the caller's fault.
    Unavailable,
    /// The DPoP proof was refused: 401 `invalid_dpop_proof` with a `DPoP` challenge.
    InvalidDpopProof(DpopError),
    /// The token was sent the wrong way for DPoP (a DPoP-bound token as `Bearer`, a token bound
    /// to no key with the `DPoP` scheme, a bearer token where DPoP is required): 401
    /// `invalid_token` with a `DPoP` challenge.
    DpopRequired(&'static str),
    /// The API uses DPoP nonces and the proof has no current one: 401 `use_dpop_nonce` with a
    /// `DPoP` challenge (and the guard adds a `DPoP-Nonce` header).
    UseDpopNonce,
    /// The DPoP replay cache is full, so no proof can be accepted now
    /// ([`DpopError::ReplayCacheFull`]): 503 `temporarily_unavailable` with `Retry-After`, the
    /// proof not being at fault. See [`GuardLayer::dpop_replay_stats`].
    DpopOverloaded,
}

/// How DPoP shapes a guard's challenges.
#[derive(Debug, Clone, Copy)]
struct DpopChallenge<'a> {
    algs: &'a str,
    /// Bearer tokens are refused: challenge only with `DPoP`.
    required: bool,
    /// The request came with the `DPoP` scheme: its errors are challenged with `DPoP`.
    used: bool,
}

const DEFAULT_DPOP_ALGS: &str = "ES256 EdDSA PS256 RS256";

impl From<Error> for AuthError {
    fn from(e: Error) -> Self {
        match e {
            Error::KeysUnavailable => Self::Unavailable,
            other => Self::InvalidToken(other),
        }
    }
}

impl AuthError {
    /// The response, with `realm` in the challenge.
    pub fn into_response_with_realm(self, realm: &str) -> Response {
        self.respond(realm, None)
    }

    fn respond(self, realm: &str, dpop: Option<DpopChallenge<'_>>) -> Response {
        let (status, code, description, extra): (StatusCode, &str, Cow<'_, str>, Option<String>) =
            match &self {
                Self::MissingCredentials => (
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this API requires a bearer token".into(),
                    None,
                ),
                Self::InvalidRequest(what) => (
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    (*what).into(),
                    None,
                ),
                Self::InvalidToken(e) => (
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    e.to_string().into(),
                    None,
                ),
                Self::InsufficientScope(scope) => (
                    StatusCode::FORBIDDEN,
                    "insufficient_scope",
                    format!("this request requires the scope {scope}").into(),
                    Some(format!(", scope=\"{scope}\"")),
                ),
                Self::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    Error::KeysUnavailable.to_string().into(),
                    None,
                ),
                Self::DpopOverloaded => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    DpopError::ReplayCacheFull.to_string().into(),
                    None,
                ),
                Self::InvalidDpopProof(e) => (
                    StatusCode::UNAUTHORIZED,
                    "invalid_dpop_proof",
                    e.to_string().into(),
                    None,
                ),
                Self::DpopRequired(what) => (
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    (*what).into(),
                    None,
                ),
                Self::UseDpopNonce => (
                    StatusCode::UNAUTHORIZED,
                    "use_dpop_nonce",
                    "this API requires a nonce in the DPoP proof: use the one in DPoP-Nonce".into(),
                    None,
                ),
            };
        let dpop_error = matches!(
            self,
            Self::InvalidDpopProof(_) | Self::DpopRequired(_) | Self::UseDpopNonce
        );
        let algs = dpop.map_or(DEFAULT_DPOP_ALGS, |d| d.algs);
        let mut challenges = Vec::with_capacity(2);
        match &self {
            Self::MissingCredentials | Self::Unavailable | Self::DpopOverloaded => {
                if !dpop.is_some_and(|d| d.required) {
                    challenges.push(format!("Bearer realm=\"{realm}\""));
                }
                if dpop.is_some() {
                    challenges.push(format!("DPoP realm=\"{realm}\", algs=\"{algs}\""));
                }
            }
            _ if dpop_error || dpop.is_some_and(|d| d.required || d.used) => {
                challenges.push(format!(
                    "DPoP realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\"{}, algs=\"{algs}\"",
                    extra.unwrap_or_default()
                ));
            }
            _ => challenges.push(format!(
                "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\"{}",
                extra.unwrap_or_default()
            )),
        }
        let body = serde_json::json!({"error": code, "error_description": description});
        let mut response = (status, axum::Json(body)).into_response();
        for challenge in challenges {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, value);
            }
        }
        if matches!(self, Self::Unavailable | Self::DpopOverloaded) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.into_response_with_realm(DEFAULT_REALM)
    }
}

const DEFAULT_REALM: &str = "api";

/// Whether every byte is in RFC 6750's `b64token` (token68) alphabet. Branch-free, so that
/// the compiler vectorizes it: it runs over every byte of every token.
fn is_token68(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &c| {
        let alnum = c.is_ascii_lowercase() | c.is_ascii_uppercase() | c.is_ascii_digit();
        let mark =
            (c == b'-') | (c == b'.') | (c == b'_') | (c == b'~') | (c == b'+') | (c == b'/');
        ok & (alnum | mark)
    })
}

/// The bearer token of a request (RFC 6750 §2.1): `Ok(None)` when there is none.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    Ok(credentials(headers, false)?.map(|(_, token)| token))
}

/// The scheme a token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// The token of a request and its scheme: `Bearer`, or `DPoP` when `dpop` (RFC 9449 §7.1).
fn credentials(headers: &HeaderMap, dpop: bool) -> Result<Option<(Scheme, &str)>, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest("send one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        // Other schemes carry no token for this guard: answer as for none.
        return Ok(None);
    };
    let body = token.trim_end_matches('=');
    if body.is_empty() || !is_token68(body.as_bytes()) {
        return Err(AuthError::InvalidRequest(match scheme {
            Scheme::Bearer => "the Authorization header must be `Bearer <token>`",
            Scheme::Dpop => "the Authorization header must be `DPoP <token>`",
        }));
    }
    Ok(Some((scheme, token)))
}

/// What a guard does with DPoP.
#[derive(Debug, Clone)]
struct DpopSettings {
    verifier: DpopVerifier,
    required: bool,
    nonces: Option<DpopNonces>,
}

impl DpopSettings {
    /// A fresh `DPoP-Nonce`, when this API uses nonces.
    fn nonce_header(&self) -> Option<HeaderValue> {
        let nonce = self.nonces.as_ref()?.issue_at(unix_now());
        HeaderValue::from_str(&nonce).ok()
    }

    fn challenge(&self, used: bool) -> DpopChallenge<'_> {
        DpopChallenge {
            algs: self.verifier.algs(),
            required: self.required,
            used,
        }
    }
}

/// A request whose DPoP proof verified: the thumbprint of the key its token is bound to. The
/// guard puts it in the request's extensions.
#[derive(Debug, Clone)]
pub struct DpopBinding {
    jkt: Arc<str>,
}

impl DpopBinding {
    /// The RFC 7638 thumbprint of the proof's key (the token's `cnf.jkt`).
    pub fn jkt(&self) -> &str {
        &self.jkt
    }
}

/// The `algs` of a guard with DPoP, for the challenges of [`require_dpop`] behind it.
#[derive(Debug, Clone)]
struct DpopAlgs(Arc<str>);

/// The `algs` of the guard a request passed.
fn dpop_algs(extensions: &axum::http::Extensions) -> Arc<str> {
    extensions
        .get::<DpopAlgs>()
        .map_or_else(|| Arc::from(DEFAULT_DPOP_ALGS), |a| Arc::clone(&a.0))
}

/// The request's public URL, for `htu`: `public_url` and the path, else the request's absolute
/// URI, else `http://` + `Host` + the path.
fn request_url<B>(public_url: Option<&str>, request: &Request<B>) -> Result<String, AuthError> {
    let path = request.uri().path();
    if let Some(base) = public_url {
        return Ok(format!("{base}{path}"));
    }
    if let (Some(scheme), Some(authority)) = (request.uri().scheme_str(), request.uri().authority())
    {
        return Ok(format!("{scheme}://{authority}{path}"));
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or(AuthError::InvalidRequest("the request has no Host header"))?;
    Ok(format!("http://{host}{path}"))
}

/// The one `DPoP` header of a request.
fn proof_header(headers: &HeaderMap) -> Result<&str, DpopError> {
    let mut values = headers.get_all("dpop").iter();
    let value = values.next().ok_or(DpopError::Missing)?;
    if values.next().is_some() {
        return Err(DpopError::BadHeader);
    }
    value.to_str().map_err(|_| DpopError::BadHeader)
}

/// After the token verified: whether it may be used the way it came, and its proof when it came
/// with DPoP. Runs on every request, cached tokens included.
fn admit<B>(
    guard: &GuardSettings,
    scheme: Scheme,
    token: &str,
    claims: &Claims,
    request: &Request<B>,
) -> Result<Option<DpopBinding>, AuthError> {
    let bound = claims.dpop_jkt();
    let dpop = guard.dpop.as_deref();
    match scheme {
        Scheme::Bearer if bound.is_some() => Err(AuthError::DpopRequired(
            "the token is DPoP-bound: send it as `DPoP <token>` with a DPoP proof",
        )),
        Scheme::Bearer if dpop.is_some_and(|d| d.required) => Err(AuthError::DpopRequired(
            "this API requires a DPoP-bound token and a DPoP proof",
        )),
        Scheme::Bearer => Ok(None),
        Scheme::Dpop => {
            let (Some(dpop), Some(jkt)) = (dpop, bound) else {
                return Err(AuthError::DpopRequired(
                    "the token is not bound to a DPoP key",
                ));
            };
            let proof = proof_header(request.headers()).map_err(AuthError::InvalidDpopProof)?;
            let url = request_url(guard.public_url.as_deref(), request)?;
            let now = unix_now();
            let checked = dpop
                .verifier
                .check_at(
                    proof,
                    &ProofCheck {
                        method: request.method().as_str(),
                        url: &url,
                        access_token: Some(token),
                        bound_key: Some(jkt),
                    },
                    now,
                )
                .map_err(AuthError::InvalidDpopProof)?;
            // The nonce before the replay check: a proof refused for its nonce takes no place
            // in the replay cache, and the client's retry is a new proof anyway.
            if let Some(nonces) = &dpop.nonces {
                if !checked.nonce().is_some_and(|n| nonces.accepts_at(n, now)) {
                    return Err(AuthError::UseDpopNonce);
                }
            }
            dpop.verifier.record(&checked, now).map_err(|e| match e {
                DpopError::ReplayCacheFull => AuthError::DpopOverloaded,
                other => AuthError::InvalidDpopProof(other),
            })?;
            Ok(Some(DpopBinding {
                jkt: Arc::from(jkt),
            }))
        }
    }
}

/// What every service of one [`GuardLayer`] shares.
#[derive(Debug)]
struct GuardSettings {
    realm: Arc<str>,
    dpop: Option<Arc<DpopSettings>>,
    dpop_algs: Option<DpopAlgs>,
    public_url: Option<String>,
}

impl GuardSettings {
    fn refuse(&self, error: AuthError, scheme: Option<Scheme>) -> Response {
        tracing::debug!(reason = ?error, "request refused");
        let dpop_used = scheme == Some(Scheme::Dpop);
        let challenge = self.dpop.as_deref().map(|d| d.challenge(dpop_used));
        let nonce = match &error {
            AuthError::UseDpopNonce => self.nonce_header(Some(Scheme::Dpop)),
            _ => self.nonce_header(scheme),
        };
        let mut response = error.respond(&self.realm, challenge);
        if let Some(nonce) = nonce {
            response.headers_mut().insert(DPOP_NONCE, nonce);
        }
        response
    }

    /// A fresh `DPoP-Nonce` for the answer to a request with the `DPoP` scheme, when this API
    /// uses nonces.
    fn nonce_header(&self, scheme: Option<Scheme>) -> Option<HeaderValue> {
        match scheme {
            Some(Scheme::Dpop) => self.dpop.as_deref()?.nonce_header(),
            _ => None,
        }
    }

    fn accept<B>(&self, request: &mut Request<B>, claims: Claims, binding: Option<DpopBinding>) {
        let extensions = request.extensions_mut();
        extensions.insert(claims.in_realm(&self.realm));
        if let Some(binding) = binding {
            extensions.insert(binding);
        }
        if let Some(algs) = &self.dpop_algs {
            extensions.insert(algs.clone());
        }
    }
}

/// The header that carries a DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

/// Verifies bearer tokens on every request it wraps.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    verifier: Verifier,
    realm: Arc<str>,
    dpop: Option<DpopSettings>,
    public_url: Option<String>,
}

impl GuardLayer {
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            realm: Arc::from(DEFAULT_REALM),
            dpop: None,
            public_url: None,
        }
    }

    /// Accepts DPoP-bound tokens (`Authorization: DPoP <token>` with a `DPoP` proof header),
    /// whose proofs `verifier` checks; its replay cache is shared by every route behind this
    /// layer (and by every layer given a clone of it). Bearer tokens bound to no key stay
    /// accepted unless [`require_dpop`](Self::require_dpop).
    pub fn dpop(mut self, verifier: DpopVerifier) -> Self {
        let (required, nonces) = self
            .dpop
            .take()
            .map_or((false, None), |d| (d.required, d.nonces));
        self.dpop = Some(DpopSettings {
            verifier,
            required,
            nonces,
        });
        self
    }

    /// Requires a nonce this API issued in every DPoP proof (RFC 9449 §9): a proof without a
    /// current one gets 401 `use_dpop_nonce` with a `DPoP-Nonce` header, and every answer to a
    /// DPoP request carries a fresh `DPoP-Nonce`. Give every instance of the API the same
    /// secret, and each accepts the others' nonces without talking to them. Turns DPoP on with
    /// the default [`DpopVerifier`] unless [`dpop`](Self::dpop) gave one.
    pub fn dpop_nonces(mut self, nonces: DpopNonces) -> Self {
        let (verifier, required) = self.dpop.take().map_or_else(
            || (DpopVerifier::default(), false),
            |d| (d.verifier, d.required),
        );
        self.dpop = Some(DpopSettings {
            verifier,
            required,
            nonces: Some(nonces),
        });
        self
    }

    /// Refuses every request without a DPoP-bound token and its proof (bearer tokens included),
    /// with a `DPoP` challenge. Turns DPoP on with the default [`DpopVerifier`] unless
    /// [`dpop`](Self::dpop) gave one.
    pub fn require_dpop(mut self) -> Self {
        let (verifier, nonces) = self.dpop.take().map_or_else(
            || (DpopVerifier::default(), None),
            |d| (d.verifier, d.nonces),
        );
        self.dpop = Some(DpopSettings {
            verifier,
            required: true,
            nonces,
        });
        self
    }

    /// The API's public base URL, as its callers see it (`https://api.example.com`, or
    /// `https://gateway.example.com/orders` behind a proxy that strips `/orders`): a proof's
    /// `htu` must be it followed by the request's path. Without it, the URL is `http://`, the
    /// `Host` header and the path, which only fits a service its callers reach directly over
    /// plain HTTP. A trailing `/` is dropped.
    pub fn public_url(mut self, base: &str) -> Self {
        self.public_url = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// How full the DPoP replay cache behind this layer is, and how many proofs it refused for
    /// want of room (answered 503); `None` without DPoP. Clones of the layer (and of the
    /// [`DpopVerifier`] given to [`dpop`](Self::dpop)) share the cache: keep one to read it,
    /// e.g. for a metrics endpoint.
    pub fn dpop_replay_stats(&self) -> Option<crate::ReplayCacheStats> {
        self.dpop.as_ref().map(|d| d.verifier.replay_stats())
    }

    /// The realm named in every `WWW-Authenticate` challenge of this guard and of the scope
    /// checks behind it (default `api`). Quotes, backslashes and characters other than
    /// printable ASCII are dropped, so that the challenge is always a valid header.
    pub fn realm(mut self, realm: &str) -> Self {
        let clean: String = realm
            .chars()
            .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
            .collect();
        self.realm = Arc::from(clean);
        self
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let dpop = self.dpop.clone().map(Arc::new);
        Guard {
            inner,
            verifier: self.verifier.clone(),
            settings: Arc::new(GuardSettings {
                realm: Arc::clone(&self.realm),
                dpop_algs: dpop
                    .as_ref()
                    .map(|d| DpopAlgs(Arc::from(d.verifier.algs()))),
                dpop,
                public_url: self.public_url.clone(),
            }),
        }
    }
}

/// The service [`GuardLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    verifier: Verifier,
    settings: Arc<GuardSettings>,
}

impl<S, B> Service<Request<B>> for Guard<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let settings = &*self.settings;
        let dpop = settings.dpop.is_some();
        // The fast path: a token verified before, from the token cache, with no allocation
        // (for a bearer token) and no clone of the inner service (the one polled ready serves
        // the request). A DPoP proof is checked here on every request.
        if let Ok(Some((scheme, token))) = credentials(request.headers(), dpop) {
            if let Some(claims) = self.verifier.verify_cached(token) {
                return match admit(settings, scheme, token, &claims, &request) {
                    Ok(binding) => {
                        settings.accept(&mut request, claims, binding);
                        GuardFuture::Ready {
                            inner: self.inner.call(request),
                            nonce: settings.nonce_header(Some(scheme)),
                        }
                    }
                    Err(e) => GuardFuture::Refused {
                        response: Some(settings.refuse(e, Some(scheme))),
                    },
                };
            }
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let settings = Arc::clone(&self.settings);
        GuardFuture::Verifying {
            verifying: Box::pin(async move {
                let (scheme, outcome) = match credentials(request.headers(), dpop) {
                    Ok(Some((scheme, token))) => (
                        Some(scheme),
                        match verifier.verify(token).await {
                            Ok(claims) => admit(&settings, scheme, token, &claims, &request)
                                .map(|binding| (claims, binding)),
                            Err(e) => Err(AuthError::from(e)),
                        },
                    ),
                    Ok(None) => (None, Err(AuthError::MissingCredentials)),
                    Err(e) => (None, Err(e)),
                };
                match outcome {
                    Ok((claims, binding)) => {
                        settings.accept(&mut request, claims, binding);
                        let nonce = settings.nonce_header(scheme);
                        let mut response = inner.call(request).await?;
                        if let Some(nonce) = nonce {
                            response.headers_mut().insert(DPOP_NONCE, nonce);
                        }
                        Ok(response)
                    }
                    Err(e) => Ok(settings.refuse(e, scheme)),
                }
            }),
        }
    }
}

type Verifying = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of [`Guard`]: the inner service's, directly, for a cached token; a boxed
    /// verification otherwise; the refusal of a cached token whose DPoP check failed.
    #[project = GuardFutureProjection]
    #[allow(missing_debug_implementations)]
    pub enum GuardFuture<F> {
        Ready { #[pin] inner: F, nonce: Option<HeaderValue> },
        Verifying { verifying: Verifying },
        Refused { response: Option<Response> },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardFutureProjection::Ready { inner, nonce } => match inner.poll(cx) {
                Poll::Ready(Ok(mut response)) => {
                    if let Some(nonce) = nonce.take() {
                        response.headers_mut().insert(DPOP_NONCE, nonce);
                    }
                    Poll::Ready(Ok(response))
                }
                other => other,
            },
            GuardFutureProjection::Verifying { verifying } => verifying.as_mut().poll(cx),
            GuardFutureProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
        }
    }
}

/// The claims [`GuardLayer`] verified; 401 when there are none.
impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(AuthError::MissingCredentials)
    }
}

/// A scope, as a type, for [`RequireScope`]. Declare one with [`scope!`](crate::scope).
pub trait ScopeName: Send + Sync + 'static {
    const SCOPE: &'static str;
}

/// Declares a [`ScopeName`] type: `warrant_guard::scope!(pub DeleteDocuments = "delete:documents");`
#[macro_export]
macro_rules! scope {
    ($vis:vis $name:ident = $value:literal) => {
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::axum::ScopeName for $name {
            const SCOPE: &'static str = $value;
        }
    };
}

/// What the scope checks refuse with: the reason, and the realm of the [`GuardLayer`] that
/// verified the token (the default realm when none did), which the challenge names.
#[derive(Debug, Clone)]
pub struct Rejection {
    error: AuthError,
    realm: Option<Arc<str>>,
    dpop_algs: Option<Arc<str>>,
}

impl Rejection {
    fn new(error: AuthError, claims: Option<&Claims>) -> Self {
        Self {
            error,
            realm: claims.and_then(Claims::realm).cloned(),
            dpop_algs: None,
        }
    }

    /// The refusal of a request that passed the guard: challenged with `DPoP` when the request
    /// came with a verified DPoP proof (RFC 9449 §7.1), with `Bearer` otherwise.
    fn after_guard(error: AuthError, extensions: &axum::http::Extensions) -> Self {
        let mut rejection = Self::new(error, extensions.get::<Claims>());
        if extensions.get::<DpopBinding>().is_some() {
            rejection.dpop_algs = Some(dpop_algs(extensions));
        }
        rejection
    }

    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// The realm the challenge names.
    pub fn realm(&self) -> &str {
        self.realm.as_deref().unwrap_or(DEFAULT_REALM)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let realm = self.realm.as_deref().unwrap_or(DEFAULT_REALM);
        match self.dpop_algs.as_deref() {
            Some(algs) => self.error.respond(
                realm,
                Some(DpopChallenge {
                    algs,
                    required: true,
                    used: false,
                }),
            ),
            None => self.error.into_response_with_realm(realm),
        }
    }
}

/// An extractor that succeeds only when the verified token has the scope `S`: 401 without a
/// token, 403 `insufficient_scope` without the scope, in the guard's realm.
#[derive(Debug, Clone)]
pub struct RequireScope<S: ScopeName>(pub Claims, PhantomData<S>);

impl<S: ScopeName> RequireScope<S> {
    pub fn claims(&self) -> &Claims {
        &self.0
    }
}

impl<St: Send + Sync, S: ScopeName> FromRequestParts<St> for RequireScope<S> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Claims>() {
            None => Err(Rejection::new(AuthError::MissingCredentials, None)),
            Some(claims) if claims.has_scope(S::SCOPE) => Ok(Self(claims.clone(), PhantomData)),
            Some(_) => Err(Rejection::after_guard(
                AuthError::InsufficientScope(Cow::Borrowed(S::SCOPE)),
                &parts.extensions,
            )),
        }
    }
}

/// A layer that lets a request through only when the verified token has `scope`; for use
/// inside a [`GuardLayer`], typically as a `route_layer`.
pub fn require_scope(scope: &str) -> RequireScopeLayer {
    RequireScopeLayer {
        scope: Arc::from(scope),
    }
}

#[derive(Debug, Clone)]
pub struct RequireScopeLayer {
    scope: Arc<str>,
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScopeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopeService {
            inner,
            scope: Arc::clone(&self.scope),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequireScopeService<S> {
    inner: S,
    scope: Arc<str>,
}

impl<S, B> Service<Request<B>> for RequireScopeService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let refusal = match request.extensions().get::<Claims>() {
            None => Some(Rejection::new(AuthError::MissingCredentials, None)),
            Some(claims) if !claims.has_scope(&self.scope) => Some(Rejection::after_guard(
                AuthError::InsufficientScope(Cow::Owned(self.scope.to_string())),
                request.extensions(),
            )),
            Some(_) => None,
        };
        match refusal {
            Some(e) => Box::pin(async move { Ok(e.into_response()) }),
            None => Box::pin(self.inner.call(request)),
        }
    }
}

/// A layer that lets a request through only with a DPoP-bound token and its verified proof
/// (a [`DpopBinding`]); for use inside a [`GuardLayer`] with [`GuardLayer::dpop`], typically as
/// a `route_layer`. Refusals are 401 with a `DPoP` challenge.
pub fn require_dpop() -> RequireDpopLayer {
    RequireDpopLayer { _private: () }
}

#[derive(Debug, Clone)]
pub struct RequireDpopLayer {
    _private: (),
}

impl<S> Layer<S> for RequireDpopLayer {
    type Service = RequireDpopService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireDpopService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequireDpopService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for RequireDpopService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let extensions = request.extensions();
        let claims = extensions.get::<Claims>();
        let refusal = match (claims, extensions.get::<DpopBinding>()) {
            (Some(_), Some(_)) => None,
            (None, _) => Some(AuthError::MissingCredentials),
            (Some(_), None) => Some(AuthError::DpopRequired(
                "this resource requires a DPoP-bound token and a DPoP proof",
            )),
        };
        match refusal {
            Some(error) => {
                let mut rejection = Rejection::new(error, claims);
                rejection.dpop_algs = Some(dpop_algs(extensions));
                Box::pin(async move { Ok(rejection.into_response()) })
            }
            None => Box::pin(self.inner.call(request)),
        }
    }
}
