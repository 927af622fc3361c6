//! Deployment settings: a few named values, changed by compare and swap.

use super::{Store, StoreError, db_err, on_engine};

impl Store {
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query_scalar("SELECT value FROM deployment WHERE key = $1")
                .bind(key)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)
        })
    }

    /// Sets a deployment setting if it holds `expected` (`None`: unset): compare and swap.
    pub async fn replace_setting(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let current: Option<String> =
                sqlx::query_scalar("SELECT value FROM deployment WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if current.as_deref() != expected {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO deployment (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            s.commit(tx).await?;
            Ok(true)
        })
    }
}
