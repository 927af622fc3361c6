//! The bounded cache of clients: what issuance needs of each, filled by one indexed lookup on a
//! miss and evicted by the changes the store reports.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use warrant_guard::PublicKey;

use crate::domain::{FederatedCredential, SecretHash, TokenQuota, render_token_claims};
use crate::store::{ChangedClients, ClientRecord};

/// Client IDs longer than this are never cached as unknown: real ones are 32 characters, and
/// an attacker's long random IDs must not take cache memory.
const MAX_CACHED_UNKNOWN_ID: usize = 64;

/// What issuance needs of one client.
#[derive(Debug)]
pub(crate) struct ClientEntry {
    /// Each secret's hash, expiry and row ID (random, not derived from the secret: what the
    /// audit log names the secret that authenticated by).
    pub(crate) secrets: Vec<(SecretHash, Option<u64>, Arc<str>)>,
    /// When each secret was created and until when it works (`secrets`' order): what tells
    /// whether a rotation revoked a token (see [`Catalog::standing`](super::Catalog::standing)).
    pub(crate) secret_periods: Vec<(u64, Option<u64>)>,
    /// Grants by audience.
    pub(crate) grants: HashMap<String, GrantEntry>,
    pub(crate) token_quota: Option<TokenQuota>,
    /// Whether it authenticates with private_key_jwt (then its secrets are refused).
    pub(crate) private_key_jwt: bool,
    /// The public keys it signs its assertions with, parsed once.
    pub(crate) assertion_keys: Vec<AssertionKey>,
    /// Its federated credentials (workload identity federation).
    pub(crate) federated: Vec<FederatedCredential>,
}

/// One of a client's public-key credentials, ready to verify.
#[derive(Debug)]
pub(crate) struct AssertionKey {
    /// The credential's ID, for the audit log.
    pub(crate) id: String,
    /// Its RFC 7638 thumbprint.
    pub(crate) kid: String,
    pub(crate) key: PublicKey,
    pub(crate) expires_at: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct GrantEntry {
    /// The API the grant was made on; a grant on a deleted API whose identifier was reused
    /// does not carry over to the new one.
    pub(crate) api_id: String,
    /// The granted scopes, in grant order. Issuance keeps those the API still defines.
    pub(crate) scopes: Vec<String>,
    /// `scopes` joined by spaces, ready for tokens that ask for no particular scope.
    pub(crate) scope_claim: Option<String>,
    /// The custom claims its tokens carry (the application's, overridden by the grant's,
    /// references resolved), rendered once as `,"name":value…`: spliced into each token's
    /// payload as they are. Empty without custom claims.
    pub(crate) claims: Box<[u8]>,
}

impl ClientEntry {
    pub(super) fn from_record(record: ClientRecord) -> Self {
        let secret_periods = record
            .secrets
            .iter()
            .map(|s| (s.created_at, s.expires_at))
            .collect();
        let secrets = record
            .secrets
            .into_iter()
            .map(|s| (s.hash, s.expires_at, Arc::from(s.id)))
            .collect();
        let grants = record
            .grants
            .into_iter()
            .map(|(grant, api_id)| {
                let scope_claim = (!grant.scopes.is_empty()).then(|| grant.scopes.join(" "));
                let claims = render_token_claims(
                    &record.custom_claims,
                    &grant.custom_claims,
                    &record.client_metadata,
                );
                let entry = GrantEntry {
                    api_id,
                    scopes: grant.scopes,
                    scope_claim,
                    claims,
                };
                (grant.audience, entry)
            })
            .collect();
        let assertion_keys = record
            .credentials
            .into_iter()
            .filter_map(|c| match c.public_key() {
                Some(key) => Some(AssertionKey {
                    id: c.id,
                    kid: c.kid,
                    key,
                    expires_at: c.expires_at,
                }),
                None => {
                    tracing::warn!(credential = %c.id, "a stored public key does not parse; skipped");
                    None
                }
            })
            .collect();
        Self {
            secrets,
            secret_periods,
            grants,
            token_quota: record.token_quota,
            private_key_jwt: record.private_key_jwt,
            assertion_keys,
            federated: record.federated,
        }
    }

    /// The scopes granted on `audience` (none without a grant).
    pub(crate) fn grant_scopes(&self, audience: &str) -> &[String] {
        self.grants
            .get(audience)
            .map_or(&[], |g| g.scopes.as_slice())
    }
}

/// Cache figures, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCacheStats {
    pub entries: usize,
    pub capacity: usize,
    pub hits: u64,
    pub misses: u64,
}

/// The bounded client cache. Lookups take a read lock; a hit marks its entry used. When full,
/// an insertion drops the entries nobody used since the previous sweep (a two-generation
/// approximation of LRU: a steady working set smaller than the capacity stays whole), and
/// arbitrary ones if that freed too little.
#[derive(Debug)]
pub(super) struct ClientCache {
    capacity: usize,
    inner: RwLock<CacheInner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct CacheInner {
    /// The store version whose client changes have been applied.
    version: i64,
    /// `None`: the client does not exist (until a change names it).
    slots: HashMap<Box<str>, Slot>,
}

#[derive(Debug)]
struct Slot {
    client: Option<Arc<ClientEntry>>,
    used: AtomicBool,
}

impl ClientCache {
    pub(super) fn new(capacity: usize, version: i64) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: RwLock::new(CacheInner {
                version,
                slots: HashMap::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheInner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheInner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(client)` on a hit (`client` is `None` for a known-unknown ID), `None` on a miss;
    /// on a miss also the version to pass to [`insert`](Self::insert).
    pub(super) fn get(&self, client_id: &str) -> Result<Option<Arc<ClientEntry>>, i64> {
        let inner = self.read();
        match inner.slots.get(client_id) {
            Some(slot) => {
                // Check before writing: a hot entry's flag stays set without cache-line traffic.
                if !slot.used.load(Ordering::Relaxed) {
                    slot.used.store(true, Ordering::Relaxed);
                }
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(slot.client.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(inner.version)
            }
        }
    }

    /// Caches what a lookup that started at `seen` found, unless changes were applied since:
    /// then it may predate one of them, and the next request looks again.
    pub(super) fn insert(&self, client_id: &str, client: Option<Arc<ClientEntry>>, seen: i64) {
        if client.is_none() && client_id.len() > MAX_CACHED_UNKNOWN_ID {
            return;
        }
        let mut inner = self.write();
        if inner.version != seen {
            return;
        }
        if inner.slots.len() >= self.capacity && !inner.slots.contains_key(client_id) {
            make_room(&mut inner.slots, self.capacity);
        }
        let slot = Slot {
            client,
            used: AtomicBool::new(true),
        };
        inner.slots.insert(client_id.into(), slot);
    }

    /// Evicts the clients changed up to `version`.
    pub(super) fn apply(&self, version: i64, changed: &ChangedClients) {
        let mut inner = self.write();
        match changed {
            ChangedClients::All => inner.slots.clear(),
            ChangedClients::Listed(ids) => {
                for id in ids {
                    inner.slots.remove(id.as_str());
                }
            }
        }
        inner.version = inner.version.max(version);
    }

    pub(super) fn version(&self) -> i64 {
        self.read().version
    }

    pub(super) fn stats(&self) -> ClientCacheStats {
        ClientCacheStats {
            entries: self.read().slots.len(),
            capacity: self.capacity,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// Shrinks a full cache to seven eighths of `capacity` at most, so that sweeps stay rare.
fn make_room(slots: &mut HashMap<Box<str>, Slot>, capacity: usize) {
    let keep = capacity - capacity.div_ceil(8);
    slots.retain(|_, slot| slot.used.swap(false, Ordering::Relaxed));
    if slots.len() > keep {
        let excess = slots.len() - keep;
        let victims: Vec<Box<str>> = slots.keys().take(excess).cloned().collect();
        for id in victims {
            slots.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry() -> Option<Arc<ClientEntry>> {
        Some(Arc::new(ClientEntry {
            secrets: Vec::new(),
            secret_periods: Vec::new(),
            grants: HashMap::new(),
            token_quota: None,
            private_key_jwt: false,
            assertion_keys: Vec::new(),
            federated: Vec::new(),
        }))
    }

    #[test]
    fn a_full_cache_keeps_what_was_used_since_the_last_sweep() {
        let cache = ClientCache::new(8, 0);
        for i in 0..8 {
            cache.insert(&format!("c{i}"), entry(), 0);
        }
        // As after a sweep: nothing used since. Then c0 and c1 are asked for.
        for slot in cache.write().slots.values() {
            slot.used.store(false, Ordering::Relaxed);
        }
        assert!(cache.get("c0").unwrap().is_some());
        assert!(cache.get("c1").unwrap().is_some());
        cache.insert("c8", entry(), 0);
        assert_eq!(cache.stats().entries, 3);
        for id in ["c0", "c1", "c8"] {
            assert!(cache.get(id).is_ok(), "{id} stays");
        }
        assert!(cache.get("c2").is_err(), "unused entries go first");
        // When everything is in use, arbitrary entries make room: the bound holds.
        for i in 9..100 {
            cache.insert(&format!("c{i}"), entry(), 0);
            assert!(cache.stats().entries <= 8);
        }
        assert!(cache.get("c99").is_ok(), "the newest entry is there");
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_cached() {
        let cache = ClientCache::new(8, 5);
        let seen = cache.get("c").unwrap_err();
        assert_eq!(seen, 5);
        cache.apply(6, &ChangedClients::Listed(vec!["c".into()]));
        cache.insert("c", entry(), seen);
        assert_eq!(cache.get("c").unwrap_err(), 6, "stale result was dropped");
        cache.insert("c", entry(), 6);
        assert!(cache.get("c").unwrap().is_some());
        cache.apply(7, &ChangedClients::Listed(vec!["c".into()]));
        assert!(cache.get("c").is_err(), "a change evicts");
        cache.insert("c", None, 7);
        assert!(cache.get("c").unwrap().is_none(), "known to be unknown");
        cache.apply(3, &ChangedClients::All);
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.version(), 7, "the version never goes back");
    }

    #[test]
    fn long_unknown_ids_are_not_remembered() {
        let cache = ClientCache::new(8, 0);
        let long = "x".repeat(MAX_CACHED_UNKNOWN_ID + 1);
        cache.insert(&long, None, 0);
        assert_eq!(cache.stats().entries, 0);
        cache.insert(&long, entry(), 0);
        assert_eq!(
            cache.stats().entries,
            1,
            "a real client is cached whatever its ID"
        );
    }
}
