//! What a server writes once as it starts, before the catalog loads: the signing keys it needs
//! to issue tokens (one key set per algorithm its APIs use; [`ensure_key_set`] also makes the
//! set of an algorithm the first API chooses). Every instance on a shared store runs this; the store's uniqueness makes
//! the first one win.

use crate::domain::SigningAlg;
use crate::keys::{KeyStatus, MasterKey, RsaKeySize, SigningKey, SigningKeyError};
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

/// Creates the key sets the server needs when the store lacks them: RS256's (the default, and
/// the management API's) and that of every API's algorithm; each a current and a next key (the
/// next key is published before it signs, so verifiers know it in advance). Gives each key
/// stored before certificates existed its certificate. `now` dates the keys it creates;
/// `rsa_size` is the size of the RSA keys it creates.
pub async fn prepare_signing_keys(
    store: &Store,
    master: &MasterKey,
    rsa_size: RsaKeySize,
    now: u64,
) -> Result<(), KeySetupError> {
    let mut algs = vec![SigningAlg::RS256];
    for api in store.list_resource_servers().await? {
        if !algs.contains(&api.signing_alg) {
            algs.push(api.signing_alg);
        }
    }
    for alg in algs {
        ensure_key_set(store, master, alg, rsa_size, now).await?;
    }
    add_missing_certificates(store, master).await?;
    Ok(())
}

/// Creates `alg`'s current and next key where the store lacks them. Race-safe across
/// instances: the store allows one current and one next key per algorithm, and a process that
/// loses the race uses the winner's key.
pub async fn ensure_key_set(
    store: &Store,
    master: &MasterKey,
    alg: SigningAlg,
    rsa_size: RsaKeySize,
    now: u64,
) -> Result<(), KeySetupError> {
    for status in [KeyStatus::Current, KeyStatus::Next] {
        let state = store.list_signing_keys().await?;
        if state.iter().any(|k| k.alg == alg && k.status == status) {
            continue;
        }
        let key = SigningKey::generate_for(alg, rsa_size)?;
        match store
            .insert_signing_key(&key.to_stored(master, status, now)?)
            .await
        {
            Ok(()) => tracing::info!(
                kid = key.kid(),
                alg = alg.as_str(),
                status = status.as_str(),
                "created a signing key"
            ),
            // Another process created one at the same moment: use that one.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
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
