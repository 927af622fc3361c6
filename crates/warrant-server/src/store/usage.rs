//! Token usage: how many tokens each client got per quota window, across every instance.

use super::rows::{ts, unts};
use super::{Store, StoreError, db_err, on_engine};

impl Store {
    /// Adds each instance's new counts `(client_id, period, window_start, added)` to the
    /// cluster-wide ones and returns the totals, in order. A row with nothing added is only
    /// read.
    pub async fn add_token_usage(
        &self,
        usage: &[(String, &'static str, u64, u64)],
    ) -> Result<Vec<u64>, StoreError> {
        // Writes first: a SQLite transaction that read first cannot upgrade to writing while
        // another process writes (it fails at once instead of waiting).
        let mut order: Vec<usize> = (0..usage.len()).collect();
        order.sort_by_key(|&i| usage[i].3 == 0);
        on_engine!(self, |s| {
            let mut tx = s.writer().begin().await.map_err(db_err)?;
            let mut totals = vec![0; usage.len()];
            for i in order {
                let (client_id, period, window_start, added) = &usage[i];
                let sql = if *added == 0 {
                    "SELECT count FROM token_usage
                     WHERE client_id = $1 AND period = $2 AND window_start = $3"
                } else {
                    "INSERT INTO token_usage (client_id, period, window_start, count)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (client_id, period, window_start)
                     DO UPDATE SET count = token_usage.count + excluded.count
                     RETURNING count"
                };
                let mut query = sqlx::query_scalar(sql)
                    .bind(client_id)
                    .bind(*period)
                    .bind(ts(*window_start));
                if *added > 0 {
                    query = query.bind(ts(*added));
                }
                let total: Option<i64> = query.fetch_optional(&mut *tx).await.map_err(db_err)?;
                totals[i] = unts(total.unwrap_or(0));
            }
            tx.commit().await.map_err(db_err)?;
            Ok(totals)
        })
    }

    /// Forgets usage windows that started before `before`.
    pub async fn prune_token_usage(&self, before: u64) -> Result<u64, StoreError> {
        on_engine!(self, |s| {
            sqlx::query("DELETE FROM token_usage WHERE window_start < $1")
                .bind(ts(before))
                .execute(s.writer())
                .await
                .map(|done| done.rows_affected())
                .map_err(db_err)
        })
    }
}
