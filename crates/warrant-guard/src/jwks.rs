//! The JWKS cache: keys fetched from the issuer, re-checked in the background at least once per
//! refresh interval (sooner when `Cache-Control: max-age` says so), refetched at most once per
//! cooldown for an unknown `kid` (single flight), and kept serving through outages up to a
//! maximum staleness.
//!
//! Revocation: every successful fetch replaces the key set, so a key the issuer withdrew stops
//! verifying at the next refresh; tokens it signed leave the token cache at the same moment. A
//! failed fetch changes nothing, so serving the last keys through an outage never brings back a
//! key that the last successful fetch no longer listed.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use tokio::time::Instant;
use warrant_proto::Jwks;

use crate::cache::TokenCache;
use crate::fetch::{FetchError, UrlPolicy, get_capped};
use crate::keys::{Key, KeySet};
use crate::{Algorithm, Error};

/// What key discovery reads of an issuer's metadata (RFC 8414, OpenID Connect Discovery).
#[derive(serde::Deserialize)]
struct DiscoveredKeys {
    issuer: String,
    jwks_uri: String,
}

/// Where keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// A JWKS URL, given or derived from the issuer.
    Url(String),
    /// The issuer's discovery document names the JWKS URL.
    Discover { issuer: String },
    /// The application supplies the keys ([`Verifier::set_keys`](crate::Verifier::set_keys));
    /// nothing is fetched.
    Manual,
}

/// The cache's timing and size rules.
#[derive(Debug, Clone)]
pub(crate) struct CacheSettings {
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) min_refresh: Duration,
    pub(crate) max_refresh: Duration,
    pub(crate) max_staleness: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_jwks_bytes: usize,
    /// Which URLs (configured or discovered) may be fetched.
    pub(crate) url_policy: UrlPolicy,
    /// A file whose content is sent as a bearer token with each fetch, re-read each time (a
    /// Kubernetes service-account token rotates).
    pub(crate) bearer_token_file: Option<std::path::PathBuf>,
}

impl CacheSettings {
    /// The background refresh interval after a fetch whose answer said `max_age`: `max_age`
    /// within the bounds, before jitter. The upper bound is the revocation window.
    pub(crate) fn refresh_interval(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.max_refresh)
            .clamp(self.min_refresh, self.max_refresh)
    }
}

/// Counters of the cache's work, for logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksStats {
    /// JWKS fetches attempted.
    pub fetches: u64,
    /// Fetches that failed (network, status, size, or not a usable JWKS).
    pub failures: u64,
    /// Fetches caused by a token with an unknown `kid`.
    pub unknown_kid_fetches: u64,
    /// Keys currently cached.
    pub keys: usize,
}

/// Key-set generations are drawn from one counter for the whole process, so that a key cache
/// built again for the same issuer never repeats a generation an earlier one handed out (what
/// was verified under one generation may be trusted only while that very key set is current).
fn next_generation() -> u64 {
    static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

struct State {
    keys: Arc<KeySet>,
    /// Bumped on every successful fetch.
    generation: u64,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// The last refetch caused by an unknown `kid`: the cooldown counts from here.
    last_unknown_kid_fetch: Option<Instant>,
    /// The JWKS URL, once discovered.
    url: Option<String>,
    /// Why the last fetch failed, when it did (cleared by a success).
    last_error: Option<String>,
}

pub(crate) struct JwksCache {
    source: KeySource,
    http: reqwest::Client,
    settings: CacheSettings,
    allowed: Vec<Algorithm>,
    state: RwLock<State>,
    /// Single flight: one fetch at a time; callers that waited re-check instead of fetching.
    fetch_lock: tokio::sync::Mutex<()>,
    token_cache: Option<Arc<TokenCache>>,
    refresher_started: AtomicBool,
    fetches: AtomicU64,
    failures: AtomicU64,
    unknown_kid_fetches: AtomicU64,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.source)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub(crate) fn new(
        source: KeySource,
        http: reqwest::Client,
        settings: CacheSettings,
        allowed: Vec<Algorithm>,
        token_cache: Option<Arc<TokenCache>>,
    ) -> Self {
        let url = match &source {
            KeySource::Url(url) => Some(url.clone()),
            KeySource::Discover { .. } | KeySource::Manual => None,
        };
        Self {
            source,
            http,
            settings,
            allowed,
            state: RwLock::new(State {
                keys: Arc::default(),
                generation: next_generation(),
                fetched_at: None,
                last_attempt: None,
                last_unknown_kid_fetch: None,
                url,
                last_error: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            token_cache,
            refresher_started: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            unknown_kid_fetches: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stats(&self) -> JwksStats {
        JwksStats {
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            unknown_kid_fetches: self.unknown_kid_fetches.load(Ordering::Relaxed),
            keys: self.read().keys.keys.len(),
        }
    }

    /// The usable key set and its generation; `None` when there are no keys or they are older
    /// than the maximum staleness.
    fn usable(&self) -> (Option<Arc<KeySet>>, u64) {
        let state = self.read();
        let fresh = self.is_usable(&state);
        (fresh.then(|| Arc::clone(&state.keys)), state.generation)
    }

    /// Whether `state`'s keys serve: fetched (or uploaded), and not older than the maximum
    /// staleness.
    fn is_usable(&self, state: &State) -> bool {
        let manual = matches!(self.source, KeySource::Manual);
        state
            .fetched_at
            .is_some_and(|at| manual || at.elapsed() <= self.settings.max_staleness)
    }

    /// The generation of the usable key set (bumped by every successful fetch or upload);
    /// `None` when no keys are usable. What was verified under one generation may rely on a
    /// key that a later one no longer lists.
    pub(crate) fn usable_generation(&self) -> Option<u64> {
        let state = self.read();
        self.is_usable(&state).then_some(state.generation)
    }

    /// The key for `kid`, refetching the JWKS at most once per cooldown when it is unknown.
    /// Concurrent callers share one fetch: they wait for it rather than start their own.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<Key>, Error> {
        let (set, generation) = self.usable();
        if let Some(key) = set.as_ref().and_then(|s| s.keys.get(kid)) {
            return Ok(Arc::clone(key));
        }
        let had_keys = set.is_some();
        if matches!(self.source, KeySource::Manual) {
            return Err(if had_keys {
                Error::UnknownKey
            } else {
                Error::KeysUnavailable
            });
        }
        {
            let _guard = self.fetch_lock.lock().await;
            // Someone else fetched while we waited, or may not fetch yet: use what is there.
            if self.read().generation == generation && self.fetch_allowed(had_keys) {
                if had_keys {
                    self.unknown_kid_fetches.fetch_add(1, Ordering::Relaxed);
                    let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                    state.last_unknown_kid_fetch = Some(Instant::now());
                }
                let _ = self.fetch_and_store().await;
            }
        }
        let (set, _) = self.usable();
        match set {
            Some(set) => set.keys.get(kid).cloned().ok_or(Error::UnknownKey),
            None => Err(Error::KeysUnavailable),
        }
    }

    /// Whether a fetch may start now: for an unknown `kid`, once per cooldown; while there are
    /// no usable keys at all, once a second (or per cooldown, if shorter).
    fn fetch_allowed(&self, have_keys: bool) -> bool {
        let state = self.read();
        if have_keys {
            state
                .last_unknown_kid_fetch
                .is_none_or(|at| at.elapsed() >= self.settings.unknown_kid_cooldown)
        } else {
            let spacing = self
                .settings
                .unknown_kid_cooldown
                .min(Duration::from_secs(1));
            state.last_attempt.is_none_or(|at| at.elapsed() >= spacing)
        }
    }

    /// Why the last fetch failed, if it did.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.read().last_error.clone()
    }

    /// Whether the current key set lists `kid` (stale or not).
    pub(crate) fn lists(&self, kid: &str) -> bool {
        self.read().keys.keys.contains_key(kid)
    }

    /// Replaces the keys with `jwks` (for [`KeySource::Manual`]).
    pub(crate) fn set_keys(&self, jwks: &Jwks) {
        self.store(Arc::new(KeySet::from_jwks(jwks, &self.allowed)));
    }

    /// Swaps `set` in, then forgets the cached tokens of keys it no longer lists. In this order:
    /// a verification that took a key from the old set caches its token only if the key is
    /// listed when it does (see [`TokenCache::insert`]), so a token cached before the swap is
    /// purged here, and one cached after it is not cached at all.
    fn store(&self, set: Arc<KeySet>) {
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            state.keys = Arc::clone(&set);
            state.generation = next_generation();
            state.fetched_at = Some(Instant::now());
            state.last_error = None;
        }
        if let Some(cache) = &self.token_cache {
            cache.retain_keys(&set);
        }
    }

    /// Fetches now (for start-up, or an operator's refresh), under the single-flight lock.
    pub(crate) async fn refresh(self: &Arc<Self>) -> Result<(), Error> {
        let _guard = self.fetch_lock.lock().await;
        self.fetch_and_store()
            .await
            .map(drop)
            .map_err(|_| Error::KeysUnavailable)
    }

    /// Fetches and, on success, swaps the key set in. Returns the max-age to refresh after.
    /// Callers hold `fetch_lock`.
    async fn fetch_and_store(self: &Arc<Self>) -> Result<Duration, ()> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            state.last_attempt = Some(started);
        }
        match self.fetch().await {
            Ok((set, max_age)) => {
                let count = set.keys.len();
                self.store(Arc::new(set));
                tracing::debug!(keys = count, "fetched the JWKS");
                let interval = self.settings.refresh_interval(max_age);
                self.start_refresher(interval);
                Ok(interval)
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.state
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_error = Some(e.to_string());
                let (stale, _) = self.usable();
                if stale.is_some() {
                    tracing::warn!(error = %e, "JWKS fetch failed; the cached keys keep serving");
                } else {
                    // Past the maximum staleness the keys stop serving: so do the tokens
                    // verified with them.
                    if let Some(cache) = &self.token_cache {
                        cache.clear();
                    }
                    tracing::error!(error = %e, "JWKS fetch failed and no usable keys are cached; tokens cannot be verified");
                }
                Err(())
            }
        }
    }

    async fn jwks_url(&self) -> Result<String, FetchError> {
        if let Some(url) = self.read().url.clone() {
            return Ok(url);
        }
        let KeySource::Discover { issuer } = &self.source else {
            return Err(FetchError::Discovery(
                "keys are supplied by the application".into(),
            ));
        };
        let url = format!(
            "{}{}",
            issuer.trim_end_matches('/'),
            warrant_proto::OPENID_CONFIGURATION_PATH
        );
        self.settings.url_policy.check(&url)?;
        let bearer = self.bearer_token().await?;
        let bytes = get_capped(
            &self.http,
            &url,
            self.settings.max_jwks_bytes,
            self.settings.fetch_timeout,
            bearer.as_deref(),
        )
        .await?
        .0;
        // Only `issuer` and `jwks_uri` are read: an OpenID provider's metadata (a Kubernetes
        // API server's, GitHub Actions') has no token endpoint or grant types.
        let metadata: DiscoveredKeys = serde_json::from_slice(&bytes)
            .map_err(|e| FetchError::Discovery(format!("not server metadata: {e}")))?;
        // RFC 8414 §3.3: the metadata must be for the issuer we trust.
        if metadata.issuer != *issuer {
            return Err(FetchError::Discovery(
                "the metadata names a different issuer".into(),
            ));
        }
        // The discovered URL passes the same rule as a configured one.
        self.settings.url_policy.check(&metadata.jwks_uri)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.url = Some(metadata.jwks_uri.clone());
        Ok(metadata.jwks_uri)
    }

    async fn fetch(&self) -> Result<(KeySet, Option<Duration>), FetchError> {
        let url = self.jwks_url().await?;
        self.settings.url_policy.check(&url)?;
        let bearer = self.bearer_token().await?;
        let (bytes, max_age) = get_capped(
            &self.http,
            &url,
            self.settings.max_jwks_bytes,
            self.settings.fetch_timeout,
            bearer.as_deref(),
        )
        .await?;
        let jwks: Jwks =
            serde_json::from_slice(&bytes).map_err(|e| FetchError::NotJwks(e.to_string()))?;
        let set = KeySet::from_jwks(&jwks, &self.allowed);
        if set.keys.is_empty() {
            return Err(FetchError::NoUsableKeys);
        }
        Ok((set, max_age))
    }

    /// The bearer token to fetch with, read from its file now (it may have rotated).
    async fn bearer_token(&self) -> Result<Option<String>, FetchError> {
        let Some(path) = &self.settings.bearer_token_file else {
            return Ok(None);
        };
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| FetchError::TokenFile(format!("{}: {e}", path.display())))?;
        let token = text.trim();
        if token.is_empty() || token.len() > 64 * 1024 {
            return Err(FetchError::TokenFile(format!(
                "{}: empty, or larger than 64 KiB",
                path.display()
            )));
        }
        Ok(Some(token.to_owned()))
    }

    /// Starts the background refresh once, if a tokio runtime is there to run it. It holds only
    /// a weak reference: dropping the verifier stops it.
    fn start_refresher(self: &Arc<Self>, first: Duration) {
        if self.refresher_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refresher_started.store(false, Ordering::Release);
            return;
        };
        let weak: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(refresh_loop(weak, first));
    }
}

async fn refresh_loop(weak: Weak<JwksCache>, first: Duration) {
    let mut interval = first;
    let mut wait = jittered(first);
    let mut failures: u32 = 0;
    loop {
        tokio::time::sleep(wait).await;
        let Some(cache) = weak.upgrade() else {
            return;
        };
        let result = {
            let _guard = cache.fetch_lock.lock().await;
            cache.fetch_and_store().await
        };
        wait = match result {
            Ok(next) => {
                failures = 0;
                interval = next;
                jittered(next)
            }
            Err(()) => {
                // Retry sooner than the normal interval: from 1 s, doubling, but never later
                // than the normal interval or the cooldown.
                failures = failures.saturating_add(1);
                let cap = interval.min(cache.settings.unknown_kid_cooldown);
                Duration::from_secs(1u64 << failures.min(10))
                    .min(cap)
                    .max(Duration::from_millis(10))
            }
        };
    }
}

/// `interval` less up to a tenth of it, at random: spreads the refreshes of a fleet of
/// verifiers started together.
fn jittered(interval: Duration) -> Duration {
    let mut byte = [0u8; 1];
    if SystemRandom::new().fill(&mut byte).is_err() {
        return interval;
    }
    interval.saturating_sub(interval.mul_f64(f64::from(byte[0]) / 2550.0))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    /// The race between a verification and a revocation: the verification took the key from
    /// the set before the key was withdrawn, and finishes (caching its token) after the purge.
    #[test]
    fn a_token_whose_key_was_withdrawn_meanwhile_is_not_cached() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        let jwks: Jwks = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "EC", "kid": "k1", "crv": "P-256",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}
        ]}))
        .unwrap();
        let tokens = Arc::new(TokenCache::new(10));
        let keys = JwksCache::new(
            KeySource::Manual,
            reqwest::Client::new(),
            CacheSettings {
                unknown_kid_cooldown: Duration::from_secs(30),
                min_refresh: Duration::from_secs(10),
                max_refresh: Duration::from_secs(60),
                max_staleness: Duration::from_secs(60),
                fetch_timeout: Duration::from_secs(5),
                max_jwks_bytes: 1024,
                url_policy: UrlPolicy::Any,
                bearer_token_file: None,
            },
            vec![Algorithm::ES256],
            Some(Arc::clone(&tokens)),
        );
        keys.set_keys(&jwks);
        let serde_json::Value::Object(map) = serde_json::json!({
            "iss": "i", "aud": "a", "sub": "s", "exp": 100
        }) else {
            unreachable!()
        };
        let claims = crate::Claims::validate(
            map,
            "i",
            "a",
            &crate::claims::TimeRules { now: 0, leeway: 0 },
        )
        .unwrap();
        tokens.insert("a.b.before", claims.clone(), "k1", 0, |kid| keys.lists(kid));
        assert_eq!(tokens.len(), 1);

        keys.set_keys(&Jwks { keys: Vec::new() });
        assert_eq!(tokens.len(), 0, "the purge");
        tokens.insert("a.b.after", claims, "k1", 0, |kid| keys.lists(kid));
        assert_eq!(tokens.len(), 0, "nothing cached under a withdrawn key");
    }
}
