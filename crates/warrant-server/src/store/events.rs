//! The audit log's events, and the token activity counted from them as they are stored.

use super::rows::{Col, corrupt, ts, unts};
use super::{Store, StoreError, db_err, on_engine};
use crate::domain::events::{
    ACTIVITY_BUCKET_MS, ALWAYS_KEPT, ActivityCount, AuditEvent, AuditFilter, DASHBOARD_REFUSALS,
    StoredEvent, activity_counts,
};

const AUDIT_COLUMNS: &str =
    "seq, date_ms, type, description, client_id, audience, scope, ip, user_agent, jti, count, auth";

/// The WHERE clause of an audit listing; binds: type, client ID, from, to, after.
const AUDIT_WHERE: &str = "(CAST($1 AS TEXT) IS NULL OR type = $1)
       AND (CAST($2 AS TEXT) IS NULL OR client_id = $2)
       AND (CAST($3 AS BIGINT) IS NULL OR date_ms >= $3)
       AND (CAST($4 AS BIGINT) IS NULL OR date_ms <= $4)
       AND (CAST($5 AS BIGINT) IS NULL OR seq > $5)";

fn event_from_row(row: &impl Col) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: row.int("seq")?,
        event: AuditEvent {
            date_ms: unts(row.int("date_ms")?),
            kind: row.text("type")?.into(),
            description: row.text("description")?.into(),
            client_id: row.opt_text("client_id")?,
            audience: row.opt_text("audience")?,
            scope: row.opt_text("scope")?,
            ip: row.opt_text("ip")?,
            user_agent: row.opt_text("user_agent")?,
            jti: row.opt_text("jti")?,
            count: unts(row.int("count")?),
            auth: row
                .opt_text("auth")?
                .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("auth", e)))
                .transpose()?,
        },
    })
}

impl Store {
    /// Stores audit events in one transaction, and adds them to the activity counts that
    /// `writer` (the ID of a process's audit writer, random) keeps: one writer per process, so
    /// two writers never update the same row and neither waits for the other's transaction.
    /// Does not bump the change counter.
    pub async fn insert_audit_events(
        &self,
        events: &[AuditEvent],
        writer: &str,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let counts = activity_counts(events);
        on_engine!(self, |s| {
            // Not a write_tx: events change nothing the token endpoint reads.
            let mut tx = s.writer().begin().await.map_err(db_err)?;
            // Eleven parameters a row; SQLite allows 32766 a statement.
            for chunk in events.chunks(256) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_events
                     (date_ms, type, description, client_id, audience, scope, ip, user_agent, jti,
                      count, auth) ",
                );
                insert.push_values(chunk, |mut row, e| {
                    let auth = e.auth.as_ref().and_then(|a| serde_json::to_string(a).ok());
                    row.push_bind(ts(e.date_ms))
                        .push_bind(e.kind.as_ref())
                        .push_bind(e.description.as_ref())
                        .push_bind(e.client_id.as_deref())
                        .push_bind(e.audience.as_deref())
                        .push_bind(e.scope.as_deref())
                        .push_bind(e.ip.as_deref())
                        .push_bind(e.user_agent.as_deref())
                        .push_bind(e.jti.as_deref())
                        .push_bind(ts(e.count))
                        .push_bind(auth);
                });
                insert.build().execute(&mut *tx).await.map_err(db_err)?;
            }
            // Seven parameters a row.
            for chunk in counts.chunks(256) {
                let mut upsert = sqlx::QueryBuilder::new(
                    "INSERT INTO token_activity
                     (bucket_ms, client_id, audience, issued, reason, writer, count) ",
                );
                upsert.push_values(chunk, |mut row, c| {
                    row.push_bind(ts(c.bucket_start_ms))
                        .push_bind(c.client_id.as_str())
                        .push_bind(c.audience.as_str())
                        .push_bind(i32::from(c.issued))
                        .push_bind(c.reason.as_str())
                        .push_bind(writer)
                        .push_bind(ts(c.count));
                });
                upsert.push(
                    " ON CONFLICT (bucket_ms, client_id, audience, issued, reason, writer)
                     DO UPDATE SET count = token_activity.count + excluded.count",
                );
                upsert.build().execute(&mut *tx).await.map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    /// Events matching `filter`: newest first, or oldest first after a checkpoint.
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let order = if filter.after_seq.is_some() {
            "ASC"
        } else {
            "DESC"
        };
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE {AUDIT_WHERE}
             ORDER BY seq {order} LIMIT $6 OFFSET $7"
        );
        on_engine!(self, |s| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(filter.kind.as_deref())
                .bind(filter.client_id.as_deref())
                .bind(filter.from_ms.map(ts))
                .bind(filter.to_ms.map(ts))
                .bind(filter.after_seq)
                .bind(i64::from(filter.limit))
                .bind(i64::from(filter.offset))
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(event_from_row)
                .collect()
        })
    }

    pub async fn count_audit_events(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM audit_events WHERE {AUDIT_WHERE}");
        let n: i64 = on_engine!(self, |s| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(filter.kind.as_deref())
                .bind(filter.client_id.as_deref())
                .bind(filter.from_ms.map(ts))
                .bind(filter.to_ms.map(ts))
                .bind(filter.after_seq)
                .fetch_one(&s.pool)
                .await
                .map_err(db_err)?
        });
        Ok(unts(n))
    }

    /// Deletes events older than `before_ms`, and by count as [`ALWAYS_KEPT`] says: token
    /// traffic beyond the newest `keep` events, refusals of unauthenticated dashboard and
    /// management requests beyond `keep` events after the newest of them, what administrators
    /// did never. Returns how many.
    pub async fn prune_audit_events(&self, before_ms: u64, keep: u64) -> Result<u64, StoreError> {
        let [ok, sign_in, sign_out] = ALWAYS_KEPT;
        let [failed_sign_in, failed_api] = DASHBOARD_REFUSALS;
        on_engine!(self, |s| {
            sqlx::query("DELETE FROM token_activity WHERE bucket_ms < $1")
                .bind(ts(before_ms))
                .execute(s.writer())
                .await
                .map_err(db_err)?;
            let old = sqlx::query("DELETE FROM audit_events WHERE date_ms < $1")
                .bind(ts(before_ms))
                .execute(s.writer())
                .await
                .map_err(db_err)?
                .rows_affected();
            // Token traffic: beyond the newest `keep` events.
            let traffic = sqlx::query(
                "DELETE FROM audit_events
                 WHERE seq <= (SELECT MAX(seq) FROM audit_events) - $1
                   AND type NOT IN ($2, $3, $4, $5, $6)",
            )
            .bind(ts(keep))
            .bind(ok)
            .bind(sign_in)
            .bind(sign_out)
            .bind(failed_sign_in)
            .bind(failed_api)
            .execute(s.writer())
            .await
            .map_err(db_err)?
            .rows_affected();
            // Refusals of unauthenticated dashboard and management requests: beyond `keep`
            // events after the newest of them (so only more of them push them out).
            let refusals = sqlx::query(
                "DELETE FROM audit_events
                 WHERE seq <= (SELECT MAX(seq) FROM audit_events WHERE type IN ($2, $3)) - $1
                   AND (type = $2 OR (type = $3 AND client_id IS NULL))",
            )
            .bind(ts(keep))
            .bind(failed_sign_in)
            .bind(failed_api)
            .execute(s.writer())
            .await
            .map_err(db_err)?
            .rows_affected();
            Ok(old + traffic + refusals)
        })
    }

    /// Token requests since `from_ms`, counted per outcome, client, audience, failure reason
    /// and `bucket_ms`-long time bucket (a multiple of [`ACTIVITY_BUCKET_MS`]): what the
    /// dashboard's Activity page draws.
    pub async fn token_activity(
        &self,
        from_ms: u64,
        bucket_ms: u64,
    ) -> Result<Vec<ActivityCount>, StoreError> {
        let bucket_ms = bucket_ms.max(ACTIVITY_BUCKET_MS);
        let rows: Vec<(i64, String, String, i32, String, i64)> = on_engine!(self, |s| {
            sqlx::query_as(
                "SELECT bucket_ms / $2, client_id, audience, issued, reason,
                        CAST(SUM(count) AS BIGINT)
                 FROM token_activity
                 WHERE bucket_ms >= $1
                 GROUP BY 1, 2, 3, 4, 5",
            )
            .bind(ts(from_ms))
            .bind(ts(bucket_ms))
            .fetch_all(&s.pool)
            .await
            .map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(
                |(bucket, client_id, audience, issued, reason, count)| ActivityCount {
                    issued: issued != 0,
                    client_id,
                    audience,
                    reason,
                    bucket_start_ms: unts(bucket).saturating_mul(bucket_ms),
                    count: unts(count),
                },
            )
            .collect())
    }
}
