//! The token provider: cache, single flight, refresh ahead, retries.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;
use tracing::Instrument;
use warrant_proto::{
    GRANT_CLIENT_CREDENTIALS, OAUTH_METADATA_PATH, OAuthErrorBody, OPENID_CONFIGURATION_PATH,
    ServerMetadata, TokenResponse,
};

use crate::{AccessToken, ClientSecret, Error};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `client_id` and `client_secret` in the form body (the default, as Auth0's examples).
    #[default]
    ClientSecretPost,
    /// HTTP Basic with the RFC 6749 §2.3.1 form-encoding.
    ClientSecretBasic,
}

/// What the provider has done, for metrics and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// HTTP requests sent to the token endpoint (retries included).
    pub token_requests: u64,
    /// `token()` calls answered from the cache.
    pub cache_hits: u64,
    /// Background refreshes that failed (the old token kept serving).
    pub refresh_failures: u64,
    /// Fetches that failed with no valid token to fall back on.
    pub fetch_failures: u64,
}

#[derive(Default)]
struct Counters {
    token_requests: AtomicU64,
    cache_hits: AtomicU64,
    refresh_failures: AtomicU64,
    fetch_failures: AtomicU64,
}

type FlightResult = Option<Result<AccessToken, Error>>;

/// (audience, normalized scopes): with the provider's fixed endpoint and client, the cache key.
type SlotKey = (String, Option<String>);

/// The cache entry of one (audience, scopes).
struct Slot {
    audience: String,
    /// The requested scopes, space-separated; `None` for every granted scope.
    scope: Option<String>,
    current: RwLock<Option<AccessToken>>,
    /// The fetch in flight, shared by everyone who needs its result.
    flight: Mutex<Option<watch::Receiver<FlightResult>>>,
    /// No background refresh before this (after a failed one).
    next_refresh: Mutex<Option<Instant>>,
}

impl Slot {
    fn new(audience: String, scope: Option<String>) -> Self {
        Self {
            audience,
            scope,
            current: RwLock::new(None),
            flight: Mutex::new(None),
            next_refresh: Mutex::new(None),
        }
    }

    fn current(&self) -> Option<AccessToken> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_current(&self, token: Option<AccessToken>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = token;
    }
}

enum Endpoint {
    Fixed(String),
    Discover {
        issuer: String,
        resolved: OnceCell<String>,
    },
}

struct Inner {
    endpoint: Endpoint,
    client_id: String,
    secret: ClientSecret,
    auth_method: AuthMethod,
    http: reqwest::Client,
    default_slot: Arc<Slot>,
    slots: Mutex<HashMap<SlotKey, Arc<Slot>>>,
    refresh_ratio: f64,
    /// This instance's share of the lifetime by which it refreshes early, in [0, 0.05): spreads
    /// a fleet's refreshes.
    jitter: f64,
    retry_deadline: Duration,
    request_timeout: Duration,
    counters: Counters,
}

/// Gets access tokens with the client credentials grant and caches them until shortly before
/// they expire. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("client_id", &self.inner.client_id)
            .field("audience", &self.inner.default_slot.audience)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenProvider`].
#[derive(Debug, Clone, Default)]
pub struct TokenProviderBuilder {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    audience: Option<String>,
    scopes: Vec<String>,
    auth_method: AuthMethod,
    refresh_ratio: Option<f64>,
    retry_deadline: Option<Duration>,
    request_timeout: Option<Duration>,
    http: Option<reqwest::Client>,
}

impl TokenProviderBuilder {
    /// The issuer; the token endpoint is discovered from its RFC 8414 metadata.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The token endpoint, used as given (no discovery).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The API that [`TokenProvider::token`] gets tokens for.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Scopes to ask for (default: every granted scope).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// The share of a token's lifetime after which it is refreshed in the background (default
    /// 0.8; never later than 60 s before expiry, never earlier than half-life).
    pub fn refresh_ratio(mut self, ratio: f64) -> Self {
        self.refresh_ratio = Some(ratio);
        self
    }

    /// How long a fetch keeps retrying network errors, 5xx and 429 (default 10 s).
    pub fn retry_deadline(mut self, deadline: Duration) -> Self {
        self.retry_deadline = Some(deadline);
        self
    }

    /// Timeout of each HTTP request to the token endpoint (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The HTTP client to use (default: reqwest with rustls, following no redirects). Build a
    /// client given here with `redirect(reqwest::redirect::Policy::none())`: one that follows
    /// redirects re-sends the form, secret included, on a 307 or 308 before the provider sees
    /// the answer (the provider then refuses the token, too late for the secret).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    pub fn build(self) -> Result<TokenProvider, Error> {
        let missing = |what: &str| Error::Config(format!("{what} is required"));
        let endpoint = match (self.token_endpoint, self.issuer) {
            (Some(url), _) => Endpoint::Fixed(url),
            (None, Some(issuer)) => Endpoint::Discover {
                issuer,
                resolved: OnceCell::new(),
            },
            (None, None) => return Err(missing("an issuer or a token endpoint")),
        };
        let client_id = self.client_id.ok_or_else(|| missing("client_id"))?;
        let secret = self.client_secret.ok_or_else(|| missing("client_secret"))?;
        let audience = self.audience.ok_or_else(|| missing("audience"))?;
        let ratio = self.refresh_ratio.unwrap_or(0.8);
        if !(0.5..=0.95).contains(&ratio) {
            return Err(Error::Config(
                "refresh_ratio must be between 0.5 and 0.95".into(),
            ));
        }
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                endpoint,
                client_id,
                secret,
                auth_method: self.auth_method,
                http,
                default_slot: Arc::new(Slot::new(audience, normalize_scopes(&self.scopes))),
                slots: Mutex::new(HashMap::new()),
                refresh_ratio: ratio,
                jitter: random_unit() * 0.05,
                retry_deadline: self.retry_deadline.unwrap_or(Duration::from_secs(10)),
                request_timeout: self.request_timeout.unwrap_or(Duration::from_secs(10)),
                counters: Counters::default(),
            }),
        })
    }
}

fn normalize_scopes<S: AsRef<str>>(scopes: &[S]) -> Option<String> {
    let mut list: Vec<&str> = scopes
        .iter()
        .flat_map(|s| s.as_ref().split(' '))
        .filter(|s| !s.is_empty())
        .collect();
    list.sort_unstable();
    list.dedup();
    (!list.is_empty()).then(|| list.join(" "))
}

/// A uniform random number in [0, 1).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// One attempt's failure: retry or give up.
enum Attempt {
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    Fatal(Error),
}

impl TokenProvider {
    pub fn builder() -> TokenProviderBuilder {
        TokenProviderBuilder::default()
    }

    /// A token for the configured audience and scopes: the cached one while it is valid
    /// (refreshed in the background once past its refresh point), else a fresh one. Any number
    /// of concurrent callers on a cold or expired cache share one request.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        self.token_in(&self.inner.default_slot).await
    }

    /// A token for another API (or other scopes) with the same credentials, cached separately.
    pub async fn token_for(&self, audience: &str, scopes: &[&str]) -> Result<AccessToken, Error> {
        let key = (audience.to_owned(), normalize_scopes(scopes));
        let slot =
            {
                let mut slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
                Arc::clone(slots.entry(key).or_insert_with_key(|(aud, scope)| {
                    Arc::new(Slot::new(aud.clone(), scope.clone()))
                }))
            };
        self.token_in(&slot).await
    }

    /// Forgets the cached token of the configured audience, e.g. after an API refused it.
    pub fn invalidate(&self) {
        self.inner.default_slot.set_current(None);
    }

    /// Forgets `token` if it is still the cached one (a fresher token stays).
    pub fn invalidate_token(&self, token: &AccessToken) {
        let slots = std::iter::once(Arc::clone(&self.inner.default_slot)).chain(
            self.inner
                .slots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned()
                .collect::<Vec<_>>(),
        );
        for slot in slots {
            let mut current = slot.current.write().unwrap_or_else(|p| p.into_inner());
            if current.as_ref().is_some_and(|c| c.same_as(token)) {
                *current = None;
            }
        }
    }

    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            token_requests: c.token_requests.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            refresh_failures: c.refresh_failures.load(Ordering::Relaxed),
            fetch_failures: c.fetch_failures.load(Ordering::Relaxed),
        }
    }

    async fn token_in(&self, slot: &Arc<Slot>) -> Result<AccessToken, Error> {
        if let Some(token) = slot.current() {
            let now = Instant::now();
            if !token.is_expired_at(now) {
                if now >= token.refresh_at() {
                    self.refresh_in_background(slot, &token, now);
                }
                self.inner
                    .counters
                    .cache_hits
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(token);
            }
        }
        self.fetch_shared(slot).await
    }

    /// Joins the fetch in flight, or starts one, and waits for its result.
    async fn fetch_shared(&self, slot: &Arc<Slot>) -> Result<AccessToken, Error> {
        let mut rx = {
            let mut flight = slot.flight.lock().unwrap_or_else(|p| p.into_inner());
            // A flight may have just finished: its token is stored before the flight clears.
            if let Some(token) = slot.current().filter(|t| !t.is_expired_at(Instant::now())) {
                return Ok(token);
            }
            match &*flight {
                Some(rx) => rx.clone(),
                None => {
                    let deadline = Instant::now() + self.inner.retry_deadline;
                    let rx = self.start_flight(slot, deadline, false);
                    *flight = Some(rx.clone());
                    rx
                }
            }
        };
        match rx.wait_for(Option::is_some).await {
            Ok(result) => match &*result {
                Some(result) => result.clone(),
                None => Err(Error::Unavailable {
                    attempts: 0,
                    last: "the fetch ended without a result".into(),
                }),
            },
            Err(_) => Err(Error::Unavailable {
                attempts: 0,
                last: "the fetch task stopped".into(),
            }),
        }
    }

    /// Past the refresh point: start one background refresh, unless one is running or a
    /// failed one asked to wait.
    fn refresh_in_background(&self, slot: &Arc<Slot>, token: &AccessToken, now: Instant) {
        let mut flight = slot.flight.lock().unwrap_or_else(|p| p.into_inner());
        if flight.is_some() {
            return;
        }
        {
            let next = slot.next_refresh.lock().unwrap_or_else(|p| p.into_inner());
            if next.is_some_and(|at| now < at) {
                return;
            }
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let deadline = token.expires_at().min(now + self.inner.retry_deadline);
        *flight = Some(self.start_flight(slot, deadline, true));
    }

    /// Spawns the fetch (so that it completes even if the caller goes away). Called with the
    /// slot's flight lock held.
    fn start_flight(
        &self,
        slot: &Arc<Slot>,
        deadline: Instant,
        background: bool,
    ) -> watch::Receiver<FlightResult> {
        let (tx, rx) = watch::channel(None);
        let provider = self.clone();
        let slot = Arc::clone(slot);
        let span = tracing::info_span!(
            "warrant_token_fetch",
            audience = %slot.audience,
            background
        );
        tokio::spawn(
            async move {
                let result = provider.fetch_with_retry(&slot, deadline).await;
                match &result {
                    Ok(token) => {
                        tracing::info!(
                            expires_in = token.expires_in(),
                            "fetched an access token"
                        );
                        slot.set_current(Some(token.clone()));
                        *slot.next_refresh.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    }
                    Err(e) if background => {
                        provider
                            .inner
                            .counters
                            .refresh_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "token refresh failed; the current token keeps serving");
                        *slot.next_refresh.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(Instant::now() + Duration::from_secs(1));
                    }
                    Err(e) => {
                        provider
                            .inner
                            .counters
                            .fetch_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "token fetch failed");
                    }
                }
                *slot.flight.lock().unwrap_or_else(|p| p.into_inner()) = None;
                let _ = tx.send(Some(result));
            }
            .instrument(span),
        );
        rx
    }

    async fn fetch_with_retry(&self, slot: &Slot, deadline: Instant) -> Result<AccessToken, Error> {
        let mut attempts = 0u32;
        let mut backoff = Duration::from_millis(100);
        loop {
            attempts += 1;
            let failure = match self.fetch_once(slot, deadline).await {
                Ok(token) => return Ok(token),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };
            // Full jitter on the exponential backoff; the server's Retry-After wins.
            let wait = failure
                .1
                .unwrap_or_else(|| backoff.mul_f64(0.5 + random_unit() * 0.5));
            backoff = (backoff * 2).min(Duration::from_secs(5));
            if Instant::now() + wait >= deadline {
                return Err(Error::Unavailable {
                    attempts,
                    last: failure.0,
                });
            }
            tracing::debug!(attempt = attempts, wait_ms = wait.as_millis() as u64, error = %failure.0, "retrying the token request");
            tokio::time::sleep(wait).await;
        }
    }

    async fn endpoint(&self) -> Result<String, Attempt> {
        match &self.inner.endpoint {
            Endpoint::Fixed(url) => Ok(url.clone()),
            Endpoint::Discover { issuer, resolved } => resolved
                .get_or_try_init(|| self.discover(issuer))
                .await
                .cloned(),
        }
    }

    /// The token endpoint from RFC 8414 metadata (or the OpenID discovery document).
    async fn discover(&self, issuer: &str) -> Result<String, Attempt> {
        let base = issuer.trim_end_matches('/');
        let mut last = String::new();
        for path in [OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH] {
            let url = format!("{base}{path}");
            let response = match self
                .inner
                .http
                .get(&url)
                .timeout(self.inner.request_timeout)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    return Err(Attempt::Retry {
                        message: format!("discovery at {url}: {}", e.without_url()),
                        retry_after: None,
                    });
                }
            };
            let status = response.status();
            if status.is_redirection() {
                return Err(Attempt::Fatal(Error::Redirected {
                    status: status.as_u16(),
                    location: redirect_target(&response),
                }));
            }
            if status.is_server_error() {
                return Err(Attempt::Retry {
                    message: format!("discovery at {url} answered {status}"),
                    retry_after: None,
                });
            }
            if !status.is_success() {
                last = format!("{url} answered {status}");
                continue;
            }
            let metadata: ServerMetadata = response.json().await.map_err(|e| {
                Attempt::Fatal(Error::Discovery(format!(
                    "{url} is not server metadata: {e}"
                )))
            })?;
            if metadata.issuer.trim_end_matches('/') != base {
                return Err(Attempt::Fatal(Error::Discovery(format!(
                    "{url} describes the issuer {:?}, not {issuer:?}",
                    metadata.issuer
                ))));
            }
            return Ok(metadata.token_endpoint);
        }
        Err(Attempt::Fatal(Error::Discovery(last)))
    }

    async fn fetch_once(&self, slot: &Slot, deadline: Instant) -> Result<AccessToken, Attempt> {
        let endpoint = self.endpoint().await?;
        let inner = &*self.inner;
        // Built in a block: the serializer is not `Send` and must not live across an await.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", GRANT_CLIENT_CREDENTIALS)
                .append_pair("audience", &slot.audience);
            if let Some(scope) = &slot.scope {
                form.append_pair("scope", scope);
            }
            if inner.auth_method == AuthMethod::ClientSecretPost {
                form.append_pair("client_id", &inner.client_id)
                    .append_pair("client_secret", inner.secret.expose());
            }
            form.finish()
        };
        let mut request = inner
            .http
            .post(&endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if inner.auth_method == AuthMethod::ClientSecretBasic {
            let credentials = format!(
                "{}:{}",
                form_encode(&inner.client_id),
                form_encode(inner.secret.expose())
            );
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        let timeout = inner
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        let sent = Instant::now();
        inner
            .counters
            .token_requests
            .fetch_add(1, Ordering::Relaxed);
        let response = request
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Attempt::Retry {
                message: e.without_url().to_string(),
                retry_after: None,
            })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Attempt::Fatal(Error::Redirected {
                status: status.as_u16(),
                location: redirect_target(&response),
            }));
        }
        // A client given to the builder may have followed a redirect itself.
        if reqwest::Url::parse(&endpoint).is_ok_and(|asked| *response.url() != asked) {
            return Err(Attempt::Fatal(Error::Config(format!(
                "the HTTP client followed a redirect to {}: build it with \
                 redirect(reqwest::redirect::Policy::none())",
                host_of(response.url())
            ))));
        }
        if status.as_u16() == 429 || status.is_server_error() {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Attempt::Retry {
                message: format!("the token endpoint answered {status}"),
                retry_after,
            });
        }
        let body = response.bytes().await.map_err(|e| Attempt::Retry {
            message: e.without_url().to_string(),
            retry_after: None,
        })?;
        if !status.is_success() {
            let (error, description) = match serde_json::from_slice::<OAuthErrorBody>(&body) {
                Ok(b) => (b.error, b.error_description),
                Err(_) => (format!("http_{}", status.as_u16()), None),
            };
            return Err(Attempt::Fatal(Error::Rejected {
                status: status.as_u16(),
                error,
                description,
            }));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Attempt::Fatal(Error::InvalidResponse(e.to_string())))?;
        if !parsed.token_type.eq_ignore_ascii_case("bearer") {
            return Err(Attempt::Fatal(Error::InvalidResponse(format!(
                "token_type {:?} is not Bearer",
                parsed.token_type
            ))));
        }
        if parsed.expires_in == 0 {
            return Err(Attempt::Fatal(Error::InvalidResponse(
                "expires_in is 0".into(),
            )));
        }
        let lifetime = Duration::from_secs(parsed.expires_in);
        // `exp` is in whole seconds from the server's clock: a token issued at x.9 s may lapse
        // up to a second before `sent + expires_in`. Stop serving it a second early.
        let usable = lifetime - Duration::from_secs(1).min(lifetime / 2);
        Ok(AccessToken::new(
            parsed.access_token,
            sent + usable,
            sent + self.refresh_after(lifetime),
            parsed.expires_in,
            parsed.scope,
        ))
    }

    /// When to refresh: at `refresh_ratio` of the lifetime, never later than 60 s before
    /// expiry, never earlier than half-life, minus this instance's jitter.
    fn refresh_after(&self, lifetime: Duration) -> Duration {
        let l = lifetime.as_secs_f64();
        let at = (l * self.inner.refresh_ratio).min(l - 60.0).max(l * 0.5);
        let at = (at - l * self.inner.jitter).max(l * 0.5);
        Duration::from_secs_f64(at.max(0.0))
    }
}

/// Where a redirect answer points: the host (and port) of its `Location`, for an error that
/// says where credentials were not sent. Public for the `warrant` CLI, whose management
/// requests follow no redirect either.
pub fn redirect_target(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| response.url().join(location).ok())
        .map_or_else(|| "an unnamed location".to_owned(), |url| host_of(&url))
}

fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => "an unnamed location".to_owned(),
    }
}

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(ratio: f64) -> TokenProvider {
        TokenProvider::builder()
            .token_endpoint("http://127.0.0.1:9/oauth/token")
            .client_id("c")
            .client_secret("s")
            .audience("https://api")
            .refresh_ratio(ratio)
            .build()
            .unwrap()
    }

    #[test]
    fn refresh_point_follows_the_rules() {
        let p = provider(0.8);
        let jitter = p.inner.jitter;
        assert!((0.0..0.05).contains(&jitter));
        let day = p.refresh_after(Duration::from_secs(86_400)).as_secs_f64();
        assert!(
            (86_400.0 * (0.8 - jitter) - 1.0..=69_120.0).contains(&day),
            "{day}"
        );
        // 200 s: 0.8 would be 160, but never later than 60 s before expiry: 140.
        let short = p.refresh_after(Duration::from_secs(200)).as_secs_f64();
        assert!((100.0..=140.0).contains(&short), "{short}");
        // 60 s: never earlier than half-life.
        let tiny = p.refresh_after(Duration::from_secs(60)).as_secs_f64();
        assert!((tiny - 30.0).abs() < 1e-9, "{tiny}");
    }

    #[test]
    fn scopes_are_normalized_for_the_cache_key() {
        assert_eq!(normalize_scopes(&["b a", "a"]), Some("a b".into()));
        assert_eq!(normalize_scopes::<&str>(&[]), None);
        assert_eq!(normalize_scopes(&[" "]), None);
    }

    #[test]
    fn configuration_errors_are_clear() {
        let err = TokenProvider::builder().client_id("c").build().unwrap_err();
        assert!(err.to_string().contains("issuer or a token endpoint"));
        let err = TokenProvider::builder()
            .issuer("http://x/")
            .client_id("c")
            .client_secret("s")
            .audience("a")
            .refresh_ratio(0.99)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("refresh_ratio"));
        assert!(!format!("{:?}", provider(0.8)).contains("\"s\""));
    }
}
