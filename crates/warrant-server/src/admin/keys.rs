//! Signing keys: list, rotate (exactly once among several processes), revoke.

use super::followup::Change;
use super::{Admin, AdminError};
use crate::keys::{KeyStatus, SigningKey, StoredSigningKey};

impl Admin {
    pub async fn list_keys(&self) -> Result<Vec<StoredSigningKey>, AdminError> {
        Ok(self.store.list_signing_keys().await?)
    }

    pub async fn get_key(&self, kid: &str) -> Result<StoredSigningKey, AdminError> {
        Ok(self.store.get_signing_key(kid).await?)
    }

    /// Rotates the signing keys: next becomes current, current becomes previous (still
    /// published until its tokens expire), and a new next key is published. Returns the new
    /// current key.
    pub async fn rotate_keys(&self) -> Result<StoredSigningKey, AdminError> {
        let current = self
            .store
            .list_signing_keys()
            .await?
            .into_iter()
            .find(|k| k.status == KeyStatus::Current)
            .ok_or_else(|| AdminError::Conflict("there is no current signing key yet".into()))?;
        self.rotate_keys_from(&current.kid).await
    }

    /// Rotates only if `expected_current` is still the current key: of several processes that
    /// decide to rotate at once, exactly one does.
    pub async fn rotate_keys_from(
        &self,
        expected_current: &str,
    ) -> Result<StoredSigningKey, AdminError> {
        let master = self.master.as_ref().ok_or_else(|| {
            AdminError::Invalid("rotating keys needs the master key (WARRANT_MASTER_KEY or the data directory's master.key)".into())
        })?;
        // A wrong master key would seal the new key so that no server could open it: check
        // that it opens the current one first.
        let current = self.store.get_signing_key(expected_current).await?;
        SigningKey::from_stored(&current, master)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let now = self.clock.now();
        let next = SigningKey::generate()
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
            .find(|k| k.status == KeyStatus::Current)
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
