//! The verified-token cache: a token seen before is accepted by a SHA-256 lookup until its
//! `exp`, so that clients that reuse their tokens (as they should) cost almost nothing to check.
//! Bounded in size, and emptied of tokens whose key leaves the JWKS.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::digest::{SHA256, digest};

use crate::Claims;
use crate::jwks::KeySet;

pub(crate) type TokenHash = [u8; 32];

pub(crate) fn token_hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

#[derive(Debug)]
struct Entry {
    claims: Claims,
    kid: Box<str>,
}

#[derive(Debug)]
pub(crate) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<TokenHash, Entry>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: RwLock::new(HashMap::with_capacity(capacity.min(1 << 16))),
        }
    }

    /// The cached claims, if the token was verified before and has not expired (with the same
    /// leeway as full verification).
    pub(crate) fn get(&self, hash: &TokenHash, now: u64, leeway: u64) -> Option<Claims> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(hash)?;
        (now < entry.claims.exp().saturating_add(leeway)).then(|| entry.claims.clone())
    }

    pub(crate) fn insert(&self, hash: TokenHash, claims: Claims, kid: &str, now: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.claims.exp() > now);
            if entries.len() >= self.capacity {
                // Still full of live tokens: drop an arbitrary tenth rather than grow.
                let drop = (self.capacity / 10).max(1);
                let victims: Vec<TokenHash> = entries.keys().take(drop).copied().collect();
                for victim in victims {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(
            hash,
            Entry {
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
            cache.insert([i; 32], claims(100), "k1", 0);
            assert!(cache.len() <= 10);
        }
        cache.insert([200; 32], claims(100), "k2", 0);
        assert!(cache.get(&[200; 32], 50, 0).is_some());
        assert!(cache.get(&[200; 32], 100, 0).is_none(), "expired");
        assert!(cache.get(&[200; 32], 100, 5).is_some(), "leeway");
        let mut keys = KeySet::default();
        keys.keys.insert(
            "k2".into(),
            std::sync::Arc::new(crate::jwks::Key::empty_for_tests()),
        );
        cache.retain_keys(&keys);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&[200; 32], 50, 0).is_some());
    }
}
