//! The cache entry of one (audience, scopes): the current token and the fetch in flight.

use std::sync::{Mutex, RwLock};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::{AccessToken, Error};

pub(super) type FlightResult = Option<Result<AccessToken, Error>>;

/// (audience, normalized scopes): with the provider's fixed endpoint and client, the cache key.
pub(super) type SlotKey = (String, Option<String>);

/// The cache entry of one (audience, scopes).
pub(super) struct Slot {
    pub(super) audience: String,
    /// The requested scopes, space-separated; `None` for every granted scope.
    pub(super) scope: Option<String>,
    pub(super) current: RwLock<Option<AccessToken>>,
    /// The fetch in flight, shared by everyone who needs its result.
    pub(super) flight: Mutex<Option<watch::Receiver<FlightResult>>>,
    /// No background refresh before this (after a failed one).
    pub(super) next_refresh: Mutex<Option<Instant>>,
}

impl Slot {
    pub(super) fn new(audience: String, scope: Option<String>) -> Self {
        Self {
            audience,
            scope,
            current: RwLock::new(None),
            flight: Mutex::new(None),
            next_refresh: Mutex::new(None),
        }
    }

    pub(super) fn current(&self) -> Option<AccessToken> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn set_current(&self, token: Option<AccessToken>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = token;
    }
}

/// The scopes as one cache key: split on spaces, sorted, deduplicated; `None` for none.
pub(super) fn normalize_scopes<S: AsRef<str>>(scopes: &[S]) -> Option<String> {
    let mut list: Vec<&str> = scopes
        .iter()
        .flat_map(|s| s.as_ref().split(' '))
        .filter(|s| !s.is_empty())
        .collect();
    list.sort_unstable();
    list.dedup();
    (!list.is_empty()).then(|| list.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_normalized_for_the_cache_key() {
        assert_eq!(normalize_scopes(&["b a", "a"]), Some("a b".into()));
        assert_eq!(normalize_scopes::<&str>(&[]), None);
        assert_eq!(normalize_scopes(&[" "]), None);
    }
}
