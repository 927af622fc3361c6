//! PostgreSQL, for several instances sharing one database. Every write transaction starts by
//! bumping the change counter, which takes its row lock: writes are serialized as SQLite's are,
//! so the compare-and-swap checks (key rotation, settings) hold across instances.
//!
//! A connection can die without a word (a partition, a failover, a NAT or load balancer
//! dropping its state): nothing then ever answers on it. Every pooled connection is checked
//! with a ping that has a deadline before it is handed out and after it comes back, the
//! server is told to time out statements and idle transactions and to probe the connection
//! with TCP keepalives, and [`PgStore::reconnect`] retires every connection open so far.
//!
//! This file holds what is PostgreSQL's own: connecting, how transactions begin and commit, and
//! LISTEN/NOTIFY.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use tokio::sync::Notify;

use super::{StoreError, db_err};

/// The channel on which writes announce themselves.
const CHANNEL: &str = "warrant_changes";

/// The advisory lock under which migrations run, so instances starting together do not race.
const MIGRATION_LOCK: i64 = 0x5741_5252_414e_5401;

/// How long a connection may take to answer a ping before it is taken for dead and closed.
const PING_DEADLINE: Duration = Duration::from_secs(1);

/// What the server enforces on every session: no statement runs longer than 30 s, a
/// transaction left idle (its client gone silent) is ended after 10 s so that it does not hold
/// the change counter's lock, and the server probes an idle connection after 30 s and drops it
/// after three unanswered probes. Sent with `SET` rather than as startup options, which
/// connection poolers such as PgBouncer refuse.
const SESSION_SETTINGS: &str = "SET statement_timeout = '30s'; \
     SET idle_in_transaction_session_timeout = '10s'; \
     SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; \
     SET tcp_keepalives_count = 3";

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    generation: Arc<Generation>,
}

/// Which connections are current: those opened since the last [`PgStore::reconnect`]. Older
/// ones are closed, without waiting for them, when next handed out or given back.
#[derive(Debug)]
struct Generation {
    origin: Instant,
    /// Nanoseconds from `origin` to the last reconnect.
    since: AtomicU64,
}

impl Generation {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            since: AtomicU64::new(0),
        }
    }

    fn nanos(duration: Duration) -> u64 {
        u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
    }

    fn is_current(&self, connection: &PoolConnectionMetadata) -> bool {
        let opened = self.origin.elapsed().saturating_sub(connection.age);
        Self::nanos(opened) >= self.since.load(Ordering::Relaxed)
    }

    fn renew(&self) {
        self.since
            .store(Self::nanos(self.origin.elapsed()), Ordering::Relaxed);
    }
}

/// Whether `connection` answers a ping within [`PING_DEADLINE`]; an error says why not.
async fn answers(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    match tokio::time::timeout(PING_DEADLINE, connection.ping()).await {
        Ok(Ok(())) => Ok(true),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer to a ping: the connection is taken for dead",
        ))),
    }
}

/// The pool settings: at most `max` connections, each set up with [`SESSION_SETTINGS`] and
/// checked before it is handed out and after it is given back, within [`PING_DEADLINE`] (a
/// request abandoned at its deadline leaves its connection waiting for an answer that may
/// never come: the check closes it rather than returning it to the pool).
fn pool_options(max: u32, generation: &Arc<Generation>) -> PgPoolOptions {
    let (acquired, released) = (Arc::clone(generation), Arc::clone(generation));
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::raw_sql(SESSION_SETTINGS)
                    .execute(&mut *connection)
                    .await?;
                Ok(())
            })
        })
        .before_acquire(move |connection, meta| {
            let current = acquired.is_current(&meta);
            Box::pin(async move { Ok(current && answers(connection).await?) })
        })
        .after_release(move |connection, meta| {
            let current = released.is_current(&meta);
            Box::pin(async move { Ok(current && answers(connection).await?) })
        })
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let generation = Arc::new(Generation::new());
        let pool = pool_options(8, &generation)
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(Self { pool, generation })
    }

    /// The pool writes go through: the same as reads' (PostgreSQL's locks are per row and
    /// wake a waiter when released; see `SqliteStore::writer` for why SQLite differs).
    pub(super) fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Retires every connection open now: each is closed when next handed out or given back,
    /// and new ones are opened. For when storage stopped answering: connections that died
    /// silently would each cost a ping's deadline to find out.
    pub fn reconnect(&self) {
        self.generation.renew();
    }

    /// The transaction migrations run in, holding an advisory lock until it ends, so that
    /// instances starting together do not race.
    pub(super) async fn begin_migration(
        &self,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Waiting for another instance's migration, or a long one, is no runaway statement.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
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
        Ok(tx)
    }

    /// A write transaction: bumps the change counter first, which locks its row until commit.
    pub(super) async fn write_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE state_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(tx)
    }

    /// Commits, announcing the change to every instance (delivered at commit, not before).
    pub(super) async fn commit(
        &self,
        mut tx: Transaction<'static, Postgres>,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    /// Wakes `changed` on every change announced on the channel, reconnecting after failures
    /// and when the connection stops answering; a missed announcement is caught by the
    /// catalog's poll.
    pub async fn listen(self, changed: Arc<Notify>) {
        /// After this long without an announcement, the connection is pinged.
        const QUIET: Duration = Duration::from_secs(10);
        /// How long connecting and subscribing may take.
        const CONNECT_DEADLINE: Duration = Duration::from_secs(3);
        let options: PgConnectOptions = (*self.pool.connect_options()).clone();
        let mut backoff = Duration::from_millis(100);
        loop {
            // A pool of its own for each connection: a listener given up on may wait on a
            // dead connection until the operating system gives up on it too, and must not
            // hold one of the shared pool's connections meanwhile.
            let pool = pool_options(1, &self.generation).connect_lazy_with(options.clone());
            let connected = tokio::time::timeout(CONNECT_DEADLINE, async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            })
            .await;
            let mut listener = match connected {
                Ok(Ok(listener)) => listener,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "cannot LISTEN for changes; polling meanwhile");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
                // The deadline was the wait: try again at once.
                Err(_) => {
                    tracing::debug!("no answer to LISTEN; polling meanwhile");
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            // Changes made while we were not listening.
            changed.notify_one();
            loop {
                match tokio::time::timeout(QUIET, listener.try_recv()).await {
                    // A notification, or a connection lost and made again.
                    Ok(Ok(_)) => changed.notify_one(),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "the LISTEN connection failed; reconnecting");
                        tokio::time::sleep(backoff).await;
                        break;
                    }
                    Err(_) => {
                        let ping = tokio::time::timeout(
                            PING_DEADLINE,
                            sqlx::query("SELECT 1").execute(&mut listener),
                        );
                        if !matches!(ping.await, Ok(Ok(_))) {
                            // The pooled connections may well have gone silent too.
                            tracing::debug!(
                                "the LISTEN connection stopped answering; reconnecting"
                            );
                            self.reconnect();
                            break;
                        }
                    }
                }
            }
        }
    }

    /// A read transaction that sees one consistent state.
    pub(super) async fn read_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(tx)
    }
}
