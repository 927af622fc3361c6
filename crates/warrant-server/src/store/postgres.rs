//! PostgreSQL, for several instances sharing one database. Every write transaction starts by
//! bumping the change counter, which takes its row lock: writes are serialized as SQLite's are,
//! so the compare-and-swap checks (key rotation, settings) hold across instances.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};
use tokio::sync::Notify;

use super::engine::sql_engine;
use super::rows::{
    APP_COLUMNS, APP_SELECT, AUDIT_COLUMNS, AUDIT_WHERE, KEY_SELECT, RS_COLUMNS, RS_SELECT,
    app_from_row, corrupt, event_from_row, grant_from_row, impl_col, key_from_row, metadata_json,
    quota_from_row, quota_json, rs_from_row, secret_from_row, ts, unts,
};
use super::{
    CHANGE_RETENTION, ChangedClients, ClientRecord, DirectoryState, GrantFilter, StoreError,
    check_revocable, db_err, grant_insert_error, parse_key_status,
};
use crate::audit::{AuditEvent, AuditFilter, StoredEvent};
use crate::domain::{Application, ClientGrant, ClientSecret, ResourceServer};
use crate::keys::{KeyStatus, StoredSigningKey};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_rotation_and_management.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_client_changes.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_operations.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_dashboard.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_signing_key_certificates.sql"),
    ),
];

/// The channel on which writes announce themselves.
const CHANNEL: &str = "warrant_changes";

/// The advisory lock under which migrations run, so instances starting together do not race.
const MIGRATION_LOCK: i64 = 0x5741_5252_414e_5401;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl_col!(PgRow);

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS warrant_migrations (
                version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM warrant_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > known {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "INSERT INTO warrant_migrations (version, applied_at)
                 VALUES ($1, EXTRACT(EPOCH FROM now())::bigint)",
            )
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// A write transaction: bumps the change counter first, which locks its row until commit.
    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE state_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(tx)
    }

    /// Commits, announcing the change to every instance (delivered at commit, not before).
    async fn commit(mut tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    /// Wakes `changed` on every change announced on the channel, reconnecting after failures;
    /// a missed announcement is caught by the directory's poll.
    pub async fn listen(self, changed: Arc<Notify>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        backoff = Duration::from_millis(100);
                        // Changes made while we were not listening.
                        changed.notify_one();
                        while listener.recv().await.is_ok() {
                            changed.notify_one();
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cannot LISTEN for changes; polling meanwhile")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// PostgreSQL guards its own files (and checks its pages itself): this checks that it
    /// answers.
    pub async fn check_integrity(&self) -> Result<Vec<String>, StoreError> {
        self.ping().await?;
        Ok(Vec::new())
    }

    /// A read transaction that sees one consistent state.
    async fn read_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(tx)
    }
}

sql_engine!(PgStore, Postgres);
