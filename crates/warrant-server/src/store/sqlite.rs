//! The embedded default: SQLite in WAL mode in the data directory.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::engine::sql_engine;
use super::rows::{
    APP_COLUMNS, APP_SELECT, AUDIT_COLUMNS, AUDIT_WHERE, KEY_SELECT, RS_COLUMNS, RS_SELECT,
    app_from_row, corrupt, event_from_row, grant_from_row, impl_col, key_from_row, metadata_json,
    quota_from_row, quota_json, rs_from_row, secret_from_row, ts, unts,
};
use super::{
    CHANGE_RETENTION, CatalogState, ChangedClients, ClientRecord, GrantFilter, StoreError,
    check_revocable, db_err, grant_insert_error, parse_key_status,
};
use crate::domain::events::{AuditEvent, AuditFilter, StoredEvent};
use crate::domain::{Application, ClientGrant, ClientSecret, ResourceServer};
use crate::keys::{KeyStatus, StoredSigningKey};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "warrant.db";

/// Migrations, embedded in the binary, applied in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_rotation_and_management.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_client_changes.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_operations.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_dashboard.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_audit_counts_and_writers.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_signing_key_certificates.sql"),
    ),
];

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl_col!(SqliteRow);

impl SqliteStore {
    pub async fn open_data_dir(data_dir: &Path) -> Result<Self, StoreError> {
        let database = data_dir.join(DATABASE_FILE);
        crate::data_dir::create(data_dir)
            .and_then(|()| crate::data_dir::create_private_file(&database))
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot create the data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
        let options = SqliteConnectOptions::new()
            .filename(database)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Writes are rare (administration) and must survive a power cut once acknowledged.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    /// Opens a database from a `sqlite://` URL.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS warrant_migrations (
                version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        // IMMEDIATE: a second process migrating at the same time waits instead of racing.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
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
            sqlx::query("INSERT INTO warrant_migrations (version, applied_at) VALUES ($1, strftime('%s','now'))")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// A write transaction: IMMEDIATE takes the write lock at once, then the change counter is
    /// bumped first, as on PostgreSQL, so the transaction can record changes under its version.
    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE state_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(tx)
    }

    /// SQLite's own checks: the file's structure and every foreign key. Problems, one a line.
    pub async fn check_integrity(&self) -> Result<Vec<String>, StoreError> {
        let mut problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        problems.retain(|p| p != "ok");
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        if !dangling.is_empty() {
            problems.push(format!("{} rows refer to missing rows", dangling.len()));
        }
        Ok(problems)
    }

    /// SQLite reads in a transaction see one consistent state.
    async fn read_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin().await.map_err(db_err)
    }

    async fn commit(tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
        tx.commit().await.map_err(db_err)
    }
}

sql_engine!(SqliteStore, Sqlite);
