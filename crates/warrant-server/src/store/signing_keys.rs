//! Signing keys: per algorithm at most one current and one next, the previous ones, the revoked
//! ones; private keys sealed under the master key.

use super::rows::{Col, corrupt, ts, unts};
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::SigningAlg;
use crate::keys::{KeyStatus, StoredSigningKey};

pub(super) const KEY_SELECT: &str =
    "SELECT kid, alg, status, public_jwk, sealed_private_key, certificate, created_at,
        current_since, current_until, revoked_at
     FROM signing_keys ORDER BY created_at, kid";

fn parse_key_status(text: &str) -> Result<KeyStatus, StoreError> {
    KeyStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown key status {text:?}")))
}

pub(super) fn key_from_row(row: &impl Col) -> Result<StoredSigningKey, StoreError> {
    Ok(StoredSigningKey {
        kid: row.text("kid")?,
        alg: SigningAlg::parse(&row.text("alg")?).map_err(|e| corrupt("key alg", e))?,
        status: parse_key_status(&row.text("status")?)?,
        public_jwk: serde_json::from_str(&row.text("public_jwk")?)
            .map_err(|e| corrupt("public JWK", e))?,
        sealed_private_key: row.bytes("sealed_private_key")?,
        certificate: row.opt_bytes("certificate")?,
        created_at: unts(row.int("created_at")?),
        current_since: row.opt_int("current_since")?.map(unts),
        current_until: row.opt_int("current_until")?.map(unts),
        revoked_at: row.opt_int("revoked_at")?.map(unts),
    })
}

/// Only previous keys can be revoked (revoking twice is fine).
fn check_revocable(kid: &str, status: Option<KeyStatus>) -> Result<(), StoreError> {
    match status {
        None => Err(StoreError::NotFound(format!("signing key {kid}"))),
        Some(KeyStatus::Current) => Err(StoreError::Conflict(
            "the current signing key cannot be revoked: rotate first, then revoke it".into(),
        )),
        Some(KeyStatus::Next) => Err(StoreError::Conflict(
            "the next signing key cannot be revoked: rotate to replace it".into(),
        )),
        Some(KeyStatus::Previous | KeyStatus::Revoked) => Ok(()),
    }
}

async fn insert_key(tx: impl Into<Tx<'_>>, key: &StoredSigningKey) -> Result<(), StoreError> {
    let jwk = serde_json::to_string(&key.public_jwk).map_err(|e| corrupt("jwk", e))?;
    on_tx!(tx.into(), |c| {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, status, public_jwk, sealed_private_key,
                created_at, current_since, current_until, revoked_at, certificate)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(key.status.as_str())
        .bind(jwk)
        .bind(&key.sealed_private_key)
        .bind(ts(key.created_at))
        .bind(key.current_since.map(ts))
        .bind(key.current_until.map(ts))
        .bind(key.revoked_at.map(ts))
        .bind(key.certificate.as_deref())
        .execute(&mut *c)
        .await
        .map_err(|e| match db_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "a {} {} signing key already exists",
                key.status.as_str(),
                key.alg.as_str()
            )),
            other => other,
        })
        .map(drop)
    })
}

impl Store {
    /// Stores a new signing key. Only one key per algorithm may be `Current` (or `Next`): a
    /// second is a `Conflict`.
    pub async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_key(&mut tx, key).await?;
            s.commit(tx).await
        })
    }

    pub async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query(KEY_SELECT)
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(key_from_row)
                .collect()
        })
    }

    pub async fn get_signing_key(&self, kid: &str) -> Result<StoredSigningKey, StoreError> {
        on_engine!(self, |s| {
            let row = sqlx::query(
                "SELECT kid, alg, status, public_jwk, sealed_private_key, certificate,
                    created_at, current_since, current_until, revoked_at
                 FROM signing_keys WHERE kid = $1",
            )
            .bind(kid)
            .fetch_optional(&s.pool)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("signing key {kid}")))?;
            key_from_row(&row)
        })
    }

    /// Gives a key stored before certificates its certificate; a key that already has one
    /// keeps it (of instances doing this at once, the first wins and all read it).
    pub async fn add_signing_key_certificate(
        &self,
        kid: &str,
        certificate: &[u8],
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            sqlx::query(
                "UPDATE signing_keys SET certificate = $2 WHERE kid = $1 AND certificate IS NULL",
            )
            .bind(kid)
            .bind(certificate)
            .execute(s.writer())
            .await
            .map_err(db_err)
            .map(drop)
        })
    }

    /// Promotes next to current and current to previous among the keys of `new_next`'s
    /// algorithm, and stores `new_next`, in one transaction, only if that algorithm's current key
    /// is still `expected_current` (else `Conflict`): of several processes rotating at once,
    /// exactly one succeeds.
    pub async fn rotate_signing_keys(
        &self,
        expected_current: &str,
        new_next: &StoredSigningKey,
        now: u64,
    ) -> Result<(), StoreError> {
        let alg = new_next.alg.as_str();
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let current: Option<String> = sqlx::query_scalar(
                "SELECT kid FROM signing_keys WHERE status = 'current' AND alg = $1",
            )
            .bind(alg)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if current.as_deref() != Some(expected_current) {
                return Err(StoreError::Conflict(
                    "the signing keys were rotated by someone else just now".into(),
                ));
            }
            let next: Option<String> = sqlx::query_scalar(
                "SELECT kid FROM signing_keys WHERE status = 'next' AND alg = $1",
            )
            .bind(alg)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if next.is_none() {
                return Err(StoreError::Conflict(
                    "there is no next key to promote; restart the server to create one".into(),
                ));
            }
            sqlx::query(
                "UPDATE signing_keys SET status = 'previous', current_until = $1
                 WHERE status = 'current' AND alg = $2",
            )
            .bind(ts(now))
            .bind(alg)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(
                "UPDATE signing_keys SET status = 'current', current_since = $1
                 WHERE status = 'next' AND alg = $2",
            )
            .bind(ts(now))
            .bind(alg)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            insert_key(&mut tx, new_next).await?;
            s.commit(tx).await
        })
    }

    /// Withdraws a previous key from the JWKS. The current and next keys cannot be revoked.
    pub async fn revoke_signing_key(&self, kid: &str, now: u64) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            let status = status.as_deref().map(parse_key_status).transpose()?;
            check_revocable(kid, status)?;
            if status == Some(KeyStatus::Revoked) {
                return Ok(());
            }
            sqlx::query(
                "UPDATE signing_keys SET status = 'revoked', revoked_at = $2 WHERE kid = $1",
            )
            .bind(kid)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            s.commit(tx).await
        })
    }
}
