//! [`TokenProvider`]: the public type, what it holds, and what callers ask of it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::slot::{Slot, SlotKey, normalize_scopes};
use crate::assertion::Authentication;
use crate::{AccessToken, DpopKey, Error};

/// How the client sends a client secret at the token endpoint (a provider with a private key
/// or an assertion file sends `client_assertion` in the body).
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
pub(super) struct Counters {
    pub(super) token_requests: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) refresh_failures: AtomicU64,
    pub(super) fetch_failures: AtomicU64,
}

pub(super) enum Endpoint {
    Fixed(String),
    Discover {
        issuer: String,
        resolved: OnceCell<String>,
    },
}

pub(super) struct Inner {
    pub(super) endpoint: Endpoint,
    pub(super) client_id: String,
    pub(super) authentication: Authentication,
    pub(super) auth_method: AuthMethod,
    pub(super) http: reqwest::Client,
    pub(super) default_slot: Arc<Slot>,
    pub(super) slots: Mutex<HashMap<SlotKey, Arc<Slot>>>,
    pub(super) refresh_ratio: f64,
    /// This instance's share of the lifetime by which it refreshes early, in [0, 0.05): spreads
    /// a fleet's refreshes.
    pub(super) jitter: f64,
    pub(super) retry_deadline: Duration,
    pub(super) request_timeout: Duration,
    pub(super) counters: Counters,
    pub(super) dpop: Option<DpopKey>,
}

/// Gets access tokens with the client credentials grant and caches them until shortly before
/// they expire. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenProvider {
    pub(super) inner: Arc<Inner>,
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

impl TokenProvider {
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

    /// The DPoP key the provider's tokens are bound to, when DPoP is on.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
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
}
