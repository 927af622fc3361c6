//! Revoked access tokens (RFC 7009), by `jti`, until they expire: written through by the
//! revocation endpoint, loaded into memory with the catalog ([`Store::load_catalog`]).

use super::rows::ts;
use super::{Store, StoreError, db_err, on_engine};

impl Store {
    /// Records that the token `jti` issued to `client_id` is revoked until `expires_at`, and
    /// forgets the revocations of tokens expired by `now`. Returns `false`, writing nothing,
    /// when `client_id` already has `max_per_client` revocations of unexpired tokens (a token
    /// revoked already counts as done).
    pub async fn revoke_token(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: u64,
        now: u64,
        max_per_client: i64,
    ) -> Result<bool, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let known: Option<String> =
                sqlx::query_scalar("SELECT jti FROM revoked_tokens WHERE jti = $1")
                    .bind(jti)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if known.is_some() {
                // Nothing new: the transaction (and its version bump) is rolled back.
                return Ok(true);
            }
            let held: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM revoked_tokens WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if held >= max_per_client {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(jti)
            .bind(client_id)
            .bind(ts(expires_at))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            s.commit(tx).await?;
            Ok(true)
        })
    }
}
