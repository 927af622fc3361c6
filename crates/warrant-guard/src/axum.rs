//! The axum/tower integration: [`GuardLayer`] verifies the bearer token and puts [`Claims`]
//! into the request's extensions; the [`Claims`] and [`RequireScope`] extractors and the
//! [`require_scope`] layer read them. Failures answer as RFC 6750 says, and every challenge
//! names the realm given to [`GuardLayer::realm`], the scope checks' 403s included (they find
//! it in the verified claims).

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

use crate::{Claims, Error, Verifier};

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
}

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
            };
        let challenge = match &self {
            Self::MissingCredentials | Self::Unavailable => format!("Bearer realm=\"{realm}\""),
            _ => format!(
                "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\"{}",
                extra.unwrap_or_default()
            ),
        };
        let body = serde_json::json!({"error": code, "error_description": description});
        let mut response = (status, axum::Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if matches!(self, Self::Unavailable) {
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
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Other schemes carry no bearer token: answer as for none.
        return Ok(None);
    }
    let body = token.trim_end_matches('=');
    if body.is_empty() || !is_token68(body.as_bytes()) {
        return Err(AuthError::InvalidRequest(
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    Ok(Some(token))
}

/// Verifies bearer tokens on every request it wraps.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    verifier: Verifier,
    realm: Arc<str>,
}

impl GuardLayer {
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            realm: Arc::from(DEFAULT_REALM),
        }
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
        Guard {
            inner,
            verifier: self.verifier.clone(),
            realm: Arc::clone(&self.realm),
        }
    }
}

/// The service [`GuardLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    verifier: Verifier,
    realm: Arc<str>,
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
        // The fast path: a token verified before, from the token cache, with no allocation and
        // no clone of the inner service (the one polled ready serves the request).
        let cached = match bearer_token(request.headers()) {
            Ok(Some(token)) => self.verifier.verify_cached(token),
            _ => None,
        };
        if let Some(claims) = cached {
            request
                .extensions_mut()
                .insert(claims.in_realm(&self.realm));
            return GuardFuture::Ready {
                inner: self.inner.call(request),
            };
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let realm = Arc::clone(&self.realm);
        GuardFuture::Verifying {
            verifying: Box::pin(async move {
                let outcome = match bearer_token(request.headers()) {
                    Ok(Some(token)) => verifier.verify(token).await.map_err(AuthError::from),
                    Ok(None) => Err(AuthError::MissingCredentials),
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(claims) => {
                        request.extensions_mut().insert(claims.in_realm(&realm));
                        inner.call(request).await
                    }
                    Err(e) => {
                        tracing::debug!(reason = ?e, "request refused");
                        Ok(e.into_response_with_realm(&realm))
                    }
                }
            }),
        }
    }
}

type Verifying = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of [`Guard`]: the inner service's, directly, for a cached token; a boxed
    /// verification otherwise.
    #[project = GuardFutureProjection]
    #[allow(missing_debug_implementations)]
    pub enum GuardFuture<F> {
        Ready { #[pin] inner: F },
        Verifying { verifying: Verifying },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardFutureProjection::Ready { inner } => inner.poll(cx),
            GuardFutureProjection::Verifying { verifying } => verifying.as_mut().poll(cx),
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
}

impl Rejection {
    fn new(error: AuthError, claims: Option<&Claims>) -> Self {
        Self {
            error,
            realm: claims.and_then(Claims::realm).cloned(),
        }
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
        self.error.into_response_with_realm(realm)
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
            Some(claims) => Err(Rejection::new(
                AuthError::InsufficientScope(Cow::Borrowed(S::SCOPE)),
                Some(claims),
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
            Some(claims) if !claims.has_scope(&self.scope) => Some(Rejection::new(
                AuthError::InsufficientScope(Cow::Owned(self.scope.to_string())),
                Some(claims),
            )),
            Some(_) => None,
        };
        match refusal {
            Some(e) => Box::pin(async move { Ok(e.into_response()) }),
            None => Box::pin(self.inner.call(request)),
        }
    }
}
