//! Signing keys: list, rotate (exactly once among several processes), revoke; each algorithm's
//! key set apart, created when the first API needs it.

use super::followup::Change;
use super::{Admin, AdminError};
use crate::domain::SigningAlg;
use crate::keys::{KeyStatus, MasterKey, SigningKey, StoredSigningKey};
use crate::startup::{KeySetupError, ensure_key_set};

impl Admin {
    /// The keys of every algorithm.
    pub async fn list_keys(&self) -> Result<Vec<StoredSigningKey>, AdminError> {
        Ok(self.store.list_signing_keys().await?)
    }

    pub async fn get_key(&self, kid: &str) -> Result<StoredSigningKey, AdminError> {
        Ok(self.store.get_signing_key(kid).await?)
    }

    fn master_for(&self, what: &str) -> Result<&MasterKey, AdminError> {
        self.master.as_deref().ok_or_else(|| missing_master(what))
    }

    /// Makes sure `alg` has a current and a next key before an API uses it (race-safe across
    /// instances, as at start-up). RS256's set is made by every server as it starts; without
    /// the master key, another algorithm's missing set is refused rather than left to fail at
    /// the token endpoint.
    pub(super) async fn ensure_key_set(&self, alg: SigningAlg) -> Result<(), AdminError> {
        let keys = self.store.list_signing_keys().await?;
        let has = |status| keys.iter().any(|k| k.alg == alg && k.status == status);
        if has(KeyStatus::Current) && has(KeyStatus::Next) {
            return Ok(());
        }
        let Some(master) = self.master.as_deref() else {
            if alg == SigningAlg::RS256 {
                return Ok(());
            }
            return Err(missing_master(&format!(
                "creating the first {} signing keys",
                alg.as_str()
            )));
        };
        // A wrong master key would seal keys no server could open: check it opens a stored key.
        if let Some(stored) = keys.first() {
            SigningKey::from_stored(stored, master)
                .map_err(|e| AdminError::Invalid(e.to_string()))?;
        }
        ensure_key_set(
            &self.store,
            master,
            alg,
            self.rsa_key_size,
            self.clock.now(),
        )
        .await
        .map_err(|e| match e {
            KeySetupError::Store(e) => AdminError::from(e),
            other => AdminError::Invalid(other.to_string()),
        })
    }

    /// Rotates the signing keys of `alg`, or of every algorithm that has keys when `None`:
    /// next becomes current, current becomes previous (still published until its tokens
    /// expire), and a new next key is published. Returns the new current keys, RS256's first.
    pub async fn rotate_keys(
        &self,
        alg: Option<SigningAlg>,
    ) -> Result<Vec<StoredSigningKey>, AdminError> {
        let keys = self.store.list_signing_keys().await?;
        let mut rotated = Vec::new();
        for each in SigningAlg::ALL {
            if alg.is_some_and(|a| a != each) {
                continue;
            }
            let Some(current) = keys
                .iter()
                .find(|k| k.alg == each && k.status == KeyStatus::Current)
            else {
                if alg.is_some() {
                    return Err(AdminError::Conflict(format!(
                        "there is no current {} signing key yet: it is created when the first API \
                         signed with {} is",
                        each.as_str(),
                        each.as_str()
                    )));
                }
                continue;
            };
            rotated.push(self.rotate_keys_from(&current.kid).await?);
        }
        if rotated.is_empty() {
            return Err(AdminError::Conflict(
                "there is no current signing key yet".into(),
            ));
        }
        Ok(rotated)
    }

    /// Rotates the key set of `expected_current`'s algorithm only if it is still that
    /// algorithm's current key: of several processes that decide to rotate at once, exactly
    /// one does.
    pub async fn rotate_keys_from(
        &self,
        expected_current: &str,
    ) -> Result<StoredSigningKey, AdminError> {
        let master = self.master_for("rotating keys")?;
        // A wrong master key would seal the new key so that no server could open it: check
        // that it opens the current one first.
        let current = self.store.get_signing_key(expected_current).await?;
        SigningKey::from_stored(&current, master)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let alg = current.alg;
        let now = self.clock.now();
        let next = SigningKey::generate_for(alg, self.rsa_key_size)
            .and_then(|k| k.to_stored(master, KeyStatus::Next, now))
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        self.store
            .rotate_signing_keys(expected_current, &next, now)
            .await?;
        let current = self
            .store
            .list_signing_keys()
            .await?
            .into_iter()
            .find(|k| k.alg == alg && k.status == KeyStatus::Current)
            .ok_or_else(|| AdminError::Conflict("the rotation left no current key".into()))?;
        self.followup(Change::KeysRotated {
            current: current.kid.clone(),
        })
        .await;
        Ok(current)
    }

    /// Withdraws a previous key from the JWKS at once (compromise response).
    pub async fn revoke_key(&self, kid: &str) -> Result<StoredSigningKey, AdminError> {
        self.store.revoke_signing_key(kid, self.clock.now()).await?;
        self.followup(Change::KeyRevoked {
            kid: kid.to_owned(),
        })
        .await;
        Ok(self.store.get_signing_key(kid).await?)
    }
}

fn missing_master(what: &str) -> AdminError {
    AdminError::Invalid(format!(
        "{what} needs the master key (WARRANT_MASTER_KEY or the data directory's master.key)"
    ))
}
