use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cache::TokenCache;
use crate::claims::TimeRules;
use crate::jwks::{CacheSettings, JwksCache, JwksStats, KeySource};
use crate::jws::{self, HeaderPolicy, JwsKind};
use crate::{Algorithm, BuildError, Claims, Error};

/// Verifies access tokens for one API (the audience) from one issuer.
///
/// Cheap to clone; clones share the key cache and the token cache.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audience: String,
    policy: HeaderPolicy,
    leeway: u64,
    max_token_len: usize,
    keys: Arc<JwksCache>,
    token_cache: Option<Arc<TokenCache>>,
}

/// Configures a [`Verifier`]. Every setting has a safe default.
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    discover: bool,
    manual_keys: bool,
    algorithms: Vec<Algorithm>,
    accept_jwt_typ: bool,
    leeway: Duration,
    max_token_len: usize,
    token_cache: Option<usize>,
    settings: CacheSettings,
    http: Option<reqwest::Client>,
}

impl Verifier {
    /// A verifier with the default settings: RS256 only, `typ: at+jwt` required, 60 s leeway,
    /// keys from `<issuer>/.well-known/jwks.json`.
    ///
    /// `issuer` must be exactly the tokens' `iss` (Warrant's and Auth0's end in `/`).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Result<Self, BuildError> {
        Self::builder(issuer, audience).build()
    }

    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: None,
            discover: false,
            manual_keys: false,
            algorithms: vec![Algorithm::RS256],
            accept_jwt_typ: false,
            leeway: Duration::from_secs(60),
            max_token_len: 8 * 1024,
            token_cache: None,
            settings: CacheSettings {
                unknown_kid_cooldown: Duration::from_secs(30),
                min_refresh: Duration::from_secs(10),
                max_refresh: Duration::from_secs(60),
                max_staleness: Duration::from_secs(24 * 3600),
                fetch_timeout: Duration::from_secs(5),
                max_jwks_bytes: 256 * 1024,
                url_policy: crate::fetch::UrlPolicy::Any,
                bearer_token_file: None,
            },
            http: None,
        }
    }

    /// Verifies `token` now. The token is never logged or put in an error.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        self.verify_at(token, unix_now()).await
    }

    /// The claims of `token` if the token cache holds it and it has not expired: the fast path,
    /// synchronous and allocation-free. `None` means "verify it" (not "invalid").
    pub fn verify_cached(&self, token: &str) -> Option<Claims> {
        let inner = &*self.inner;
        let cache = inner.token_cache.as_ref()?;
        if token.len() > inner.max_token_len {
            return None;
        }
        cache.get(token, unix_now(), inner.leeway)
    }

    /// Verifies `token` as of `now` (seconds since the Unix epoch): time as a parameter.
    pub async fn verify_at(&self, token: &str, now: u64) -> Result<Claims, Error> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_len {
            return Err(Error::TooLong);
        }
        if let Some(claims) = inner
            .token_cache
            .as_ref()
            .and_then(|cache| cache.get(token, now, inner.leeway))
        {
            return Ok(claims);
        }
        let jws = jws::parse(token, &inner.policy)?;
        let key = inner.keys.key(&jws.kid).await?;
        key.verify(jws.alg, jws.signing_input.as_bytes(), &jws.signature)?;
        let payload = jws::decode_object(jws.payload_b64, "payload")?;
        let claims = Claims::validate(
            payload,
            &inner.issuer,
            &inner.audience,
            &TimeRules {
                now,
                leeway: inner.leeway,
            },
        )?;
        if let Some(cache) = &inner.token_cache {
            cache.insert(token, claims.clone(), &jws.kid, now, |kid| {
                inner.keys.lists(kid)
            });
        }
        Ok(claims)
    }

    /// Fetches the keys now, e.g. at start-up, so the first request does not wait for them.
    /// Fails when no usable keys could be fetched.
    pub async fn refresh_keys(&self) -> Result<(), Error> {
        self.inner.keys.refresh().await
    }

    /// Replaces the verification keys, for a verifier built with
    /// [`manual_keys`](VerifierBuilder::manual_keys). Tokens cached under keys that are gone are
    /// forgotten.
    pub fn set_keys(&self, jwks: &warrant_proto::Jwks) {
        self.inner.keys.set_keys(jwks);
    }

    /// What the key cache has done so far.
    pub fn jwks_stats(&self) -> JwksStats {
        self.inner.keys.stats()
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn audience(&self) -> &str {
        &self.inner.audience
    }
}

impl VerifierBuilder {
    /// Fetch keys from this URL instead of `<issuer>/.well-known/jwks.json`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Find the JWKS URL in the issuer's discovery document
    /// (`/.well-known/openid-configuration`), whose `issuer` must match.
    pub fn discover(mut self) -> Self {
        self.discover = true;
        self
    }

    /// Fetch nothing: the application supplies the keys with [`Verifier::set_keys`] (for a
    /// server that verifies tokens it signed itself).
    pub fn manual_keys(mut self) -> Self {
        self.manual_keys = true;
        self
    }

    /// The accepted algorithms (default: RS256 only).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Also accept `typ: JWT` or no `typ`, for issuers that do not mark access tokens as
    /// RFC 9068 `at+jwt` (Auth0's default tokens, for instance).
    pub fn accept_jwt_typ(mut self) -> Self {
        self.accept_jwt_typ = true;
        self
    }

    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Tokens longer than this are refused before parsing (default 8 KiB).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// Remember up to `capacity` verified tokens until they expire.
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = Some(capacity);
        self
    }

    /// At most one JWKS refetch per this interval for tokens with an unknown `kid` (default 30 s).
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.unknown_kid_cooldown = cooldown;
        self
    }

    /// Bounds on the background refresh interval, which follows the JWKS answer's
    /// `Cache-Control: max-age` within them (defaults: 10 s and 60 s), less up to a tenth at
    /// random. The upper bound is the revocation window: a key the issuer withdraws from its
    /// JWKS (revokes) stops verifying here, cached tokens included, at most this long after,
    /// whatever `max-age` says, as long as the JWKS can be fetched (see
    /// [`max_staleness`](Self::max_staleness) for when it cannot).
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.min_refresh = min;
        self.settings.max_refresh = max.max(min);
        self
    }

    /// How long cached keys keep serving while the JWKS cannot be fetched (default 24 h). While
    /// it cannot be fetched, a revocation cannot be seen: this is the revocation window during
    /// an outage. Past it, verification answers [`Error::KeysUnavailable`] (503 from the axum
    /// layer) and the token cache is emptied, within a retry (at most the unknown-`kid`
    /// cooldown).
    pub fn max_staleness(mut self, staleness: Duration) -> Self {
        self.settings.max_staleness = staleness;
        self
    }

    /// Timeout for each JWKS or discovery fetch (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.fetch_timeout = timeout;
        self
    }

    /// Largest accepted JWKS answer (default 256 KiB).
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_jwks_bytes = bytes;
        self
    }

    /// The HTTP client to fetch keys with (default: a client with rustls and the system roots
    /// that follows redirects only within the same origin). A client given here keeps its own
    /// redirect policy: build it with `redirect(reqwest::redirect::Policy::none())` to keep
    /// the guarantee that keys come only from the configured origin.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    pub fn build(self) -> Result<Verifier, BuildError> {
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(BuildError::InvalidSetting(
                "issuer and audience must not be empty".into(),
            ));
        }
        if self.settings.max_refresh.is_zero() {
            return Err(BuildError::InvalidSetting(
                "the refresh interval must be positive".into(),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(BuildError::InvalidSetting(
                "at least one algorithm must be allowed".into(),
            ));
        }
        let source = match (self.jwks_url, self.discover) {
            _ if self.manual_keys => KeySource::Manual,
            (Some(url), _) => KeySource::Url(url),
            (None, true) => KeySource::Discover {
                issuer: self.issuer.clone(),
            },
            (None, false) => KeySource::Url(format!(
                "{}{}",
                self.issuer.trim_end_matches('/'),
                warrant_proto::JWKS_PATH
            )),
        };
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(crate::fetch::redirect_policy())
                .build()
                .map_err(|e| BuildError::HttpClient(e.to_string()))?,
        };
        let token_cache = self.token_cache.map(|c| Arc::new(TokenCache::new(c)));
        let keys = Arc::new(JwksCache::new(
            source,
            http,
            self.settings,
            self.algorithms.clone(),
            token_cache.clone(),
        ));
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audience: self.audience,
                policy: HeaderPolicy {
                    algorithms: self.algorithms,
                    accept_jwt_typ: self.accept_jwt_typ,
                    kind: JwsKind::AccessToken,
                },
                leeway: self.leeway.as_secs(),
                max_token_len: self.max_token_len,
                keys,
                token_cache,
            }),
        })
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Verifier;

    /// Warrant's JWKS says `max-age=300`: by default the keys are re-checked well inside that,
    /// every 60 s (the revocation window), and never more often than every 10 s.
    #[test]
    fn by_default_keys_are_rechecked_well_inside_max_age() {
        let settings = Verifier::builder("https://issuer/", "https://api").settings;
        let minute = Duration::from_secs(60);
        assert_eq!(
            settings.refresh_interval(Some(Duration::from_secs(300))),
            minute
        );
        assert_eq!(
            settings.refresh_interval(Some(Duration::from_secs(86_400))),
            minute
        );
        assert_eq!(settings.refresh_interval(None), minute);
        assert_eq!(
            settings.refresh_interval(Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            settings.refresh_interval(Some(Duration::ZERO)),
            Duration::from_secs(10)
        );
    }
}
