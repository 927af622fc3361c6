//! `warrant-guard`'s verifier over this server's own published keys: handed over in memory,
//! never fetched, and kept in step with the catalog. The management API verifies its callers'
//! tokens with one; introspection, the tokens it is asked about (one per API).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use warrant_guard::{BuildError, Verifier, VerifierBuilder};

use super::Catalog;

/// A verifier whose keys are the catalog's published keys.
#[derive(Debug)]
pub struct CatalogVerifier {
    verifier: Verifier,
    keys_version: AtomicI64,
    /// Held while the keys are set (rarely: when the catalog changed).
    setting_keys: Mutex<()>,
}

impl CatalogVerifier {
    /// Tokens of this server (`issuer`) for `audience`, verified by `builder`'s further rules.
    pub fn new(builder: VerifierBuilder) -> Result<Self, BuildError> {
        Ok(Self {
            verifier: builder.manual_keys().build()?,
            keys_version: AtomicI64::new(i64::MIN),
            setting_keys: Mutex::new(()),
        })
    }

    /// The verifier, with the keys of the current snapshot or a newer one. The version is
    /// recorded only once its keys are set, under a lock taken only when the keys change: a
    /// request never verifies against keys older than its snapshot's (before, the first
    /// requests at once could find the version recorded and the verifier still empty).
    pub fn get(&self, catalog: &Catalog) -> &Verifier {
        let snapshot = catalog.snapshot();
        let version = snapshot.version();
        if self.keys_version.load(Ordering::Acquire) < version {
            let _setting = self.setting_keys.lock().unwrap_or_else(|p| p.into_inner());
            if self.keys_version.load(Ordering::Acquire) < version {
                self.verifier.set_keys(snapshot.published_keys());
                self.keys_version.store(version, Ordering::Release);
            }
        }
        &self.verifier
    }
}
