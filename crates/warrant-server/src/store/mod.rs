//! Storage: one interface, one implementation per engine. Only this module knows SQL.
//!
//! Every write bumps a single version counter in the same transaction, which is how running
//! servers (other instances included) notice a change made anywhere else. Writes that touch a
//! client also record its ID under that version (`client_changes`), so that servers evict just
//! that client from their cache.
//!
//! One file per aggregate holds its SQL and the methods of [`Store`] that run it: `apis`,
//! `applications` (with their secrets), `credentials`, `federation` (federated credentials),
//! `issuers` (trusted issuers), `grants`, `signing_keys`, `events` (the audit log and
//! the token activity counted from it), `usage` (token quotas), `operators` (dashboard
//! administrators and their sessions), `settings`, and `state` (the change counter, what the
//! token endpoint loads, health). Each method is written once and compiled for each engine by
//! `on_engine!`, so its SQL is the common subset of SQLite and PostgreSQL. The engine files
//! (`sqlite`, `postgres`) hold only what differs: connecting, how transactions begin and
//! commit, and PostgreSQL's LISTEN/NOTIFY; `migrate` runs either engine's migrations.

mod apis;
mod applications;
mod config;
mod credentials;
mod events;
mod federation;
mod grants;
mod issuers;
mod migrate;
mod operators;
mod postgres;
mod revocations;
mod rows;
mod settings;
mod signing_keys;
mod sqlite;
mod state;
mod usage;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

pub use applications::{ClientRecord, StoredApplication, StoredGrant};
pub use config::ConfigWrite;
pub use credentials::{JTI_CHUNK, JtiUse};
pub use grants::{GrantChanges, GrantFilter};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use state::{CHANGE_RETENTION, CatalogState, ChangedClients};

/// What can go wrong in storage. `NotFound` and `Conflict` are kept apart from the rest so that
/// the APIs above can answer 404 and 409 honestly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the data directory was written by a newer Warrant (schema version {found}, this build knows {known}); upgrade Warrant"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// How long a background task (the audit writer, the quota flush, key rotation) waits for one
/// storage call; see [`within`].
pub const BACKGROUND_DEADLINE: Duration = Duration::from_secs(5);

/// Runs a storage call with a deadline. A call that overruns it is abandoned, and the
/// connection it was waiting on closed rather than reused: without a deadline, a connection
/// that died silently would keep the caller waiting forever.
pub async fn within<T>(
    deadline: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(deadline, call)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "storage did not answer within {} ms",
                deadline.as_millis()
            )))
        })
}

/// The storage engine behind a deployment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// `on_engine!(store, |s| body)`: runs `body` with `s` bound to the engine behind `store`
/// (`&SqliteStore` or `&PgStore`). The body is written once and compiled once per engine, with
/// each engine's own types: no dynamic dispatch, no conversion of values. It is written as a
/// closure so that rustfmt formats it, but no closure is made: `?`, `.await` and `return` in
/// it act on the enclosing method.
macro_rules! on_engine {
    ($store:expr, |$engine:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($engine) => $body,
            $crate::store::Store::Postgres($engine) => $body,
        }
    };
}
pub(crate) use on_engine;

/// `on_tx!(tx, |c| body)`: [`on_engine!`] for a [`Tx`], with `c` bound to the transaction's
/// connection (`&mut SqliteConnection` or `&mut PgConnection`).
macro_rules! on_tx {
    ($tx:expr, |$connection:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite($connection) => $body,
            $crate::store::Tx::Postgres($connection) => $body,
        }
    };
}
pub(crate) use on_tx;

/// An open transaction on either engine, for the steps several aggregates' writes share
/// (recording which client changed, inserting a grant): a step takes `impl Into<Tx>`, so that
/// `&mut tx` of either engine can be passed.
pub(crate) enum Tx<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl<'a> From<&'a mut sqlx::Transaction<'static, sqlx::Sqlite>> for Tx<'a> {
    fn from(tx: &'a mut sqlx::Transaction<'static, sqlx::Sqlite>) -> Self {
        Self::Sqlite(tx)
    }
}

impl<'a> From<&'a mut sqlx::Transaction<'static, sqlx::Postgres>> for Tx<'a> {
    fn from(tx: &'a mut sqlx::Transaction<'static, sqlx::Postgres>) -> Self {
        Self::Postgres(tx)
    }
}

/// Inside a write: fails with `NotFound("application …")` unless the application exists, so
/// that a write hanging something on an application (a secret, a credential, grants) names the
/// missing application rather than tripping over a foreign key. Here, not in
/// `applications.rs`, because `applications.rs` itself reads `credentials.rs`.
pub(crate) async fn require_application(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
) -> Result<(), StoreError> {
    let exists: Option<i32> = on_tx!(tx.into(), |c| {
        sqlx::query_scalar("SELECT 1 FROM applications WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&mut *c)
            .await
            .map_err(db_err)?
    });
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("application {client_id}"))),
    }
}

impl<'b> From<&'b mut Tx<'_>> for Tx<'b> {
    /// A step's own borrow of a transaction a caller passes on to several steps.
    fn from(tx: &'b mut Tx<'_>) -> Self {
        match tx {
            Tx::Sqlite(c) => Tx::Sqlite(c),
            Tx::Postgres(c) => Tx::Postgres(c),
        }
    }
}

/// The credential tables of an application whose rows carry an expiry.
#[derive(Clone, Copy)]
pub(crate) enum CredentialTable {
    PublicKeys,
    Federated,
}

impl Store {
    /// Sets when one of an application's credentials stops working (`None`: never), and marks
    /// the client changed so every instance reloads it; `NotFound` names `what` and the ID.
    pub(crate) async fn update_expiry(
        &self,
        table: CredentialTable,
        client_id: &str,
        id: &str,
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<(), StoreError> {
        let (sql, what) = match table {
            CredentialTable::PublicKeys => (
                "UPDATE client_credentials SET expires_at = $3, updated_at = $4
                 WHERE client_id = $1 AND id = $2",
                "credential",
            ),
            CredentialTable::Federated => (
                "UPDATE federated_credentials SET expires_at = $3, updated_at = $4
                 WHERE client_id = $1 AND id = $2",
                "federated credential",
            ),
        };
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let done = sqlx::query(sql)
                .bind(client_id)
                .bind(id)
                .bind(expires_at.map(rows::ts))
                .bind(rows::ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("{what} {id}")));
            }
            state::record_client_change(&mut tx, client_id).await?;
            s.commit(tx).await
        })
    }
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database in `data_dir` and brings its
    /// schema up to date.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Self, StoreError> {
        Self::Sqlite(SqliteStore::open_data_dir(data_dir).await?)
            .migrated()
            .await
    }

    /// Opens the database named by `url`: `postgres://…` (several instances on one database)
    /// or `sqlite://…`. Migrations run at once, under a lock.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres(PgStore::connect(url).await?)
        } else if url.starts_with("sqlite:") {
            Self::Sqlite(SqliteStore::open_url(url).await?)
        } else {
            return Err(StoreError::Unavailable(
                "the database URL must start with postgres:// or sqlite://".into(),
            ));
        };
        store.migrated().await
    }

    async fn migrated(self) -> Result<Self, StoreError> {
        self.migrate().await?;
        Ok(self)
    }

    /// Where the engine can announce changes (PostgreSQL: `LISTEN warrant_changes`), spawns a
    /// task that wakes `changed` on each; `None` where it cannot (SQLite: poll).
    pub fn listen_for_changes(
        &self,
        changed: std::sync::Arc<tokio::sync::Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(pg) => Some(tokio::spawn(pg.clone().listen(changed))),
        }
    }

    /// Retires the connections open now (see [`PgStore::reconnect`]); nothing to do for
    /// SQLite, which is a file.
    pub fn reconnect(&self) {
        if let Self::Postgres(pg) = self {
            pg.reconnect();
        }
    }

    /// The engine's name, for logs.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Maps a database error: unique violations are conflicts, a missing row is `NotFound`, the
/// rest is the storage being unavailable.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound("record".into()),
        sqlx::Error::Database(ref db) if db.is_unique_violation() => {
            StoreError::Conflict("a record with the same key already exists".into())
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}
