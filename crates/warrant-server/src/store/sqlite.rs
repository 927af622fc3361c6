//! The embedded default: SQLite in WAL mode in the data directory. This file holds what is
//! SQLite's own: opening the database and how transactions begin and commit.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::{StoreError, db_err};

/// The longest a write waits for its turn: for the writer connection, and for SQLite's lock
/// when another process holds it.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "warrant.db";

/// Reads go through `pool`; every write through `writer`, one connection. SQLite lets one
/// connection write at a time, and a connection that finds the write lock taken waits in
/// SQLite's busy handler, which sleeps (1, 2, 5 ms, ...) rather than waking when the lock
/// is released: two of this process's writers taking turns (the audit log's batches, client
/// assertions' jtis) each lost milliseconds per collision. Waiting for `writer` instead is a
/// queue that hands the connection over the moment it is given back. The busy handler is
/// left for other processes on the same file (the CLI beside a running server).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    writer: SqlitePool,
}

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
            .busy_timeout(WRITE_WAIT);
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
            .busy_timeout(WRITE_WAIT);
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        // The writer first: it creates the file and switches it to WAL before readers open it.
        // No ping before a connection is handed out: an in-process database does not drop
        // connections, and a ping is one more hand-over to the connection's thread.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            // As long as a write waited for SQLite's lock before (the busy timeout).
            .acquire_timeout(WRITE_WAIT)
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Ok(Self { pool, writer })
    }

    /// The one connection that writes (see [`SqliteStore`]): a write that is not a
    /// [`write_tx`](Self::write_tx) begins or executes on it.
    pub(super) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The transaction migrations run in: the bookkeeping table is created first, then
    /// IMMEDIATE takes the write lock, so that a second process migrating at the same time
    /// waits instead of racing.
    pub(super) async fn begin_migration(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS warrant_migrations (
                version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    /// A write transaction: IMMEDIATE takes the write lock at once, then the change counter is
    /// bumped first, as on PostgreSQL, so the transaction can record changes under its version.
    pub(super) async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE state_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(tx)
    }

    /// SQLite reads in a transaction see one consistent state.
    pub(super) async fn read_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin().await.map_err(db_err)
    }

    /// Commits a write transaction (nothing to announce: other processes poll the counter).
    pub(super) async fn commit(&self, tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
        tx.commit().await.map_err(db_err)
    }
}
