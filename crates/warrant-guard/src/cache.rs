//! The verified-token cache: a token seen before is accepted, until its `exp`, by a hash lookup
//! and one comparison with the token stored in full, so that clients that reuse their tokens (as
//! they should) cost almost nothing to check. Bounded in size, and emptied of tokens whose key
//! leaves the JWKS.
//!
//! The lookup key is the last 16 characters of the token: its signature's, which no one can
//! choose for a token that verifies. A token merely sharing them is a miss, since the whole
//! token must match the stored one.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::Claims;
use crate::keys::KeySet;

pub(crate) type CacheKey = [u8; 16];

/// The lookup key of a token.
pub(crate) fn cache_key(token: &str) -> CacheKey {
    let bytes = token.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(16)..];
    let mut key = [0u8; 16];
    key[16 - tail.len()..].copy_from_slice(tail);
    key
}

#[derive(Debug)]
struct Entry {
    token: Box<str>,
    claims: Claims,
    kid: Box<str>,
}

#[derive(Debug)]
pub(crate) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<CacheKey, Entry>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: RwLock::new(HashMap::with_capacity(capacity.min(1 << 16))),
        }
    }

    /// The cached claims, if this very token was verified before and has not expired (with the
    /// same leeway as full verification).
    pub(crate) fn get(&self, token: &str, now: u64, leeway: u64) -> Option<Claims> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&cache_key(token))?;
        (*entry.token == *token && now < entry.claims.exp().saturating_add(leeway))
            .then(|| entry.claims.clone())
    }

    /// Remembers a verified token, if `key_listed(kid)` still holds once the cache is locked:
    /// a verification that took its key just before the key was withdrawn must not leave its
    /// token here after the purge ([`retain_keys`](Self::retain_keys)) that follows the
    /// withdrawal, where it would be accepted until its `exp`.
    pub(crate) fn insert(
        &self,
        token: &str,
        claims: Claims,
        kid: &str,
        now: u64,
        key_listed: impl FnOnce(&str) -> bool,
    ) {
        let hash = cache_key(token);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if !key_listed(kid) {
            return;
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.claims.exp() > now);
            if entries.len() >= self.capacity {
                // Still full of live tokens: drop an arbitrary tenth rather than grow.
                let drop = (self.capacity / 10).max(1);
                let victims: Vec<CacheKey> = entries.keys().take(drop).copied().collect();
                for victim in victims {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(
            hash,
            Entry {
                token: token.into(),
                claims,
                kid: kid.into(),
            },
        );
    }

    /// Forgets tokens signed by keys that are no longer in the JWKS (rotation or revocation).
    pub(crate) fn retain_keys(&self, keys: &KeySet) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| keys.keys.contains_key(&*e.kid));
    }

    /// Forgets every token (the keys they were verified with are no longer usable).
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::TimeRules;

    fn claims(exp: u64) -> Claims {
        let serde_json::Value::Object(map) = serde_json::json!({
            "iss": "i", "aud": "a", "sub": "s", "exp": exp
        }) else {
            unreachable!()
        };
        Claims::validate(map, "i", "a", &TimeRules { now: 0, leeway: 0 }).unwrap()
    }

    #[test]
    fn bounded_expiring_and_purged_by_key() {
        let cache = TokenCache::new(10);
        for i in 0..25u8 {
            cache.insert(&format!("token-{i:0>20}"), claims(100), "k1", 0, |_| true);
            assert!(cache.len() <= 10);
        }
        let token = "a.b.signature-of-k2-token";
        cache.insert(token, claims(100), "k2", 0, |_| true);
        assert!(cache.get(token, 50, 0).is_some());
        assert!(cache.get(token, 100, 0).is_none(), "expired");
        assert!(cache.get(token, 100, 5).is_some(), "leeway");
        // Same signature tail, different token: a miss.
        assert!(cache.get("x.y.signature-of-k2-token", 50, 0).is_none());
        let mut keys = KeySet::default();
        keys.keys.insert(
            "k2".into(),
            std::sync::Arc::new(crate::keys::Key::empty_for_tests()),
        );
        cache.retain_keys(&keys);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(token, 50, 0).is_some());
    }
}
