//! What a server writes once as it starts, before the catalog loads: the signing keys it needs
//! to issue tokens. Every instance on a shared store runs this; the store's uniqueness makes
//! the first one win.

use crate::keys::{KeyStatus, MasterKey, SigningKey, SigningKeyError};
use crate::store::{Store, StoreError};

/// Why the signing keys could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetupError {
    /// Storage failed or did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be made or sealed.
    #[error(transparent)]
    Key(#[from] SigningKeyError),
}

/// Creates the current and the next signing key when the store lacks them (the next key is
/// published before it signs, so verifiers know it in advance), and gives each key stored
/// before certificates existed its certificate. `now` dates the keys it creates.
pub async fn prepare_signing_keys(
    store: &Store,
    master: &MasterKey,
    now: u64,
) -> Result<(), KeySetupError> {
    for status in [KeyStatus::Current, KeyStatus::Next] {
        let state = store.list_signing_keys().await?;
        if state.iter().any(|k| k.status == status) {
            continue;
        }
        let key = SigningKey::generate()?;
        match store
            .insert_signing_key(&key.to_stored(master, status, now)?)
            .await
        {
            Ok(()) => tracing::info!(
                kid = key.kid(),
                status = status.as_str(),
                "created a signing key"
            ),
            // Another process created one at the same moment: use that one.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    add_missing_certificates(store, master).await?;
    Ok(())
}

/// Gives each key stored before certificates existed a self-signed certificate, valid from the
/// key's creation. A key that cannot be unsealed keeps none (and is reported): the current key
/// is unsealed again as the catalog opens, and fails there with the reason.
async fn add_missing_certificates(store: &Store, master: &MasterKey) -> Result<(), StoreError> {
    for stored in store.list_signing_keys().await? {
        if stored.certificate.is_some() {
            continue;
        }
        let certificate = SigningKey::from_stored(&stored, master)
            .and_then(|key| key.self_signed_certificate(stored.created_at));
        match certificate {
            Ok(der) => {
                store.add_signing_key_certificate(&stored.kid, &der).await?;
                tracing::info!(kid = %stored.kid, "added the signing key's certificate");
            }
            Err(e) => {
                tracing::warn!(kid = %stored.kid, error = %e, "cannot add the signing key's certificate")
            }
        }
    }
    Ok(())
}
