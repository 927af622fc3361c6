//! The keys of an external issuer whose tokens serve as client assertions (workload identity
//! federation: a Kubernetes service-account token, a GitHub Actions OIDC token, a SPIFFE
//! JWT-SVID). The same JWKS cache as a [`Verifier`](crate::Verifier)'s (refetch at most once
//! per cooldown for an unknown `kid`, single flight, background refresh, stale keys served
//! through an outage up to a maximum staleness), with what an authorization server needs on
//! top: keys only from the URL an administrator configured or the issuer's discovery document
//! names, over https only (http only to a loopback address, when allowed), an optional CA
//! bundle and bearer token (a Kubernetes API server's in-cluster JWKS), or a JWKS given inline.
//! Assertions are parsed by [`Assertion::parse`](crate::Assertion::parse) and verified with
//! [`Assertion::verify_with`](crate::Assertion::verify_with): one JWS verifier.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use warrant_proto::Jwks;

use crate::fetch::UrlPolicy;
use crate::jwks::{CacheSettings, JwksCache, JwksStats, KeySource};
use crate::keys::Key;
use crate::{Algorithm, BuildError, Error};

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum IssuerKeySource {
    /// The issuer's discovery document (`<issuer>/.well-known/openid-configuration`, whose
    /// `issuer` must match) names the JWKS URL.
    Discovery,
    /// This JWKS URL.
    JwksUri(String),
    /// These keys; nothing is fetched.
    Inline(Jwks),
}

/// The cached keys of one external issuer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    cache: Arc<JwksCache>,
}

/// Configures [`IssuerKeys`].
#[derive(Debug, Clone)]
pub struct IssuerKeysBuilder {
    issuer: String,
    source: IssuerKeySource,
    algorithms: Vec<Algorithm>,
    settings: CacheSettings,
    ca_bundle_pem: Option<Vec<u8>>,
}

impl IssuerKeys {
    /// Keys of `issuer` (exactly its tokens' `iss`) from `source`: https only, 5 s fetch
    /// timeout, 256 KiB at most, an unknown `kid` refetches at most every 30 s, stale keys
    /// served up to 24 h.
    pub fn builder(issuer: impl Into<String>, source: IssuerKeySource) -> IssuerKeysBuilder {
        IssuerKeysBuilder {
            issuer: issuer.into(),
            source,
            algorithms: vec![Algorithm::RS256],
            settings: CacheSettings {
                unknown_kid_cooldown: Duration::from_secs(30),
                min_refresh: Duration::from_secs(60),
                max_refresh: Duration::from_secs(600),
                max_staleness: Duration::from_secs(24 * 3600),
                fetch_timeout: Duration::from_secs(5),
                max_jwks_bytes: 256 * 1024,
                url_policy: UrlPolicy::Https {
                    loopback_http: false,
                },
                bearer_token_file: None,
            },
            ca_bundle_pem: None,
        }
    }

    /// The key named `kid`, fetching the JWKS when needed (see the module's rules).
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<Key>, Error> {
        self.cache.key(kid).await
    }

    /// Which key set is usable now: a number that changes with every successful fetch (a
    /// refresh, or an unknown `kid`'s refetch), so that whatever a caller remembers of an
    /// assertion verified under one generation can be dropped once the keys were fetched again
    /// (a key the issuer withdrew then no longer verifies). `None` while no keys are usable
    /// (not fetched yet, or stale past the maximum staleness).
    pub fn generation(&self) -> Option<u64> {
        self.cache.usable_generation()
    }

    /// Why the last fetch failed, if it did: for a refusal that says why the keys are
    /// unavailable. Names the URL and the failure, never a token.
    pub fn last_error(&self) -> Option<String> {
        self.cache.last_error()
    }

    /// What the key cache has done so far.
    pub fn stats(&self) -> JwksStats {
        self.cache.stats()
    }

    /// Fetches the keys now.
    pub async fn refresh(&self) -> Result<(), Error> {
        self.cache.refresh().await
    }
}

impl IssuerKeysBuilder {
    /// The algorithms the issuer's keys are used with (default RS256 only).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Also fetch over plain http from a loopback address (127.0.0.0/8, `::1`, `localhost`):
    /// for a test issuer on the same machine. Never other http URLs.
    pub fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.settings.url_policy = UrlPolicy::Https {
            loopback_http: allow,
        };
        self
    }

    /// Send the content of this file as a bearer token with each fetch, re-read every time
    /// (a Kubernetes API server's JWKS may require the reader's service-account token).
    pub fn bearer_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.bearer_token_file = Some(path.into());
        self
    }

    /// Trust these PEM certificates (besides the system roots) for the fetches: a cluster's
    /// own CA.
    pub fn ca_bundle_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_bundle_pem = Some(pem);
        self
    }

    /// At most one refetch per this interval for an assertion with an unknown `kid`.
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.unknown_kid_cooldown = cooldown;
        self
    }

    /// Timeout of each fetch.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.fetch_timeout = timeout;
        self
    }

    /// How long cached keys keep serving while the JWKS cannot be fetched.
    pub fn max_staleness(mut self, staleness: Duration) -> Self {
        self.settings.max_staleness = staleness;
        self
    }

    /// Bounds on the background refresh interval (defaults 60 s and 10 min), within which
    /// the JWKS answer's `max-age` is followed.
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.min_refresh = min;
        self.settings.max_refresh = max.max(min);
        self
    }

    pub fn build(self) -> Result<IssuerKeys, BuildError> {
        if self.algorithms.is_empty() {
            return Err(BuildError::InvalidSetting(
                "at least one algorithm must be allowed".into(),
            ));
        }
        if self.settings.max_refresh.is_zero() {
            return Err(BuildError::InvalidSetting(
                "the refresh interval must be positive".into(),
            ));
        }
        let mut http = reqwest::Client::builder().redirect(crate::fetch::redirect_policy());
        if let Some(pem) = &self.ca_bundle_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| BuildError::InvalidSetting(format!("the CA bundle: {e}")))?;
            if certificates.is_empty() {
                return Err(BuildError::InvalidSetting(
                    "the CA bundle holds no PEM certificate".into(),
                ));
            }
            http = http.tls_certs_merge(certificates);
        }
        let http = http
            .build()
            .map_err(|e| BuildError::HttpClient(e.to_string()))?;
        let (source, inline) = match self.source {
            IssuerKeySource::Discovery => (
                KeySource::Discover {
                    issuer: self.issuer,
                },
                None,
            ),
            IssuerKeySource::JwksUri(url) => (KeySource::Url(url), None),
            IssuerKeySource::Inline(jwks) => (KeySource::Manual, Some(jwks)),
        };
        let cache = Arc::new(JwksCache::new(
            source,
            http,
            self.settings,
            self.algorithms,
            None,
        ));
        if let Some(jwks) = inline {
            cache.set_keys(&jwks);
        }
        Ok(IssuerKeys { cache })
    }
}
