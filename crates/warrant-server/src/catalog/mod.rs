//! The catalog: the in-memory view of clients, APIs, grants and keys that the token endpoint
//! reads.
//!
//! Issuing a token for a known client touches no storage. APIs and signing keys (few) live in an
//! immutable [`Snapshot`] (`snapshot.rs`, which also decides which keys the JWKS publishes);
//! clients (possibly millions) live in a bounded cache (`client_cache.rs`) filled by an indexed
//! lookup on a miss. A background task (`watcher.rs`) polls the store's change counter (and, on
//! PostgreSQL, listens for announcements); on a change it swaps in a new snapshot and evicts
//! exactly the clients the store says changed, whoever changed them (this process, the CLI,
//! another instance).
//!
//! The catalog only reads: the signing keys it loads were created at start-up
//! ([`crate::startup`]), and it hands out neither its store nor the master key (the composition
//! root in `lib.rs` gives each service its own).
//!
//! Every look at storage has a deadline: a connection that died silently makes the look fail
//! instead of hang, the store is told to reconnect, and the catalog knows how long ago it
//! last confirmed that it matches storage ([`Catalog::staleness`], reported by `/readyz` and
//! `/metrics`). While storage is known to be unreachable, a client that is not in memory is
//! refused at once rather than after a wait, and lookups of such clients have a small cap of
//! their own, so that unknown clients cannot take the capacity known ones need.

mod client_cache;
mod snapshot;
mod verifier;
mod watcher;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use self::client_cache::ClientCache;
pub use self::client_cache::ClientCacheStats;
pub(crate) use self::client_cache::ClientEntry;
#[cfg(test)]
pub(crate) use self::client_cache::GrantEntry;
#[cfg(test)]
pub(crate) use self::snapshot::ApiEntry;
pub use self::snapshot::Snapshot;
pub use self::verifier::CatalogVerifier;
pub use self::watcher::WATCH_DEADLINE;
use crate::clock::Clock;
use crate::keys::{MasterKey, SigningKey, SigningKeyError};
use crate::store::{Store, StoreError};

/// How often running servers look for changes by default. Changes show within this interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How many clients a server keeps in memory by default. An entry takes a few hundred bytes
/// (see `docs/deployment.md` for the measured figure), so the default bounds the cache to tens
/// of megabytes whatever the number of registered applications.
pub const DEFAULT_CLIENT_CACHE_CAPACITY: usize = 100_000;

/// How many lookups of clients not in memory may run at once. More at the same time wait for
/// a turn at most [`LOOKUP_QUEUE_WAIT`], then are refused (503 with `Retry-After`), whatever
/// the global cap on requests: unknown client IDs cannot take the capacity that clients in
/// memory need.
pub const MAX_CONCURRENT_LOOKUPS: usize = 32;

/// How long a miss waits for one of the [`MAX_CONCURRENT_LOOKUPS`] turns: long enough for a
/// burst of cold clients on a healthy database (a lookup takes about a millisecond), short
/// enough that a stuck database fails them fast.
const LOOKUP_QUEUE_WAIT: Duration = Duration::from_millis(250);

/// How long a lookup of a client not in memory may wait for storage.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(2);

/// Whether a token a client was issued still stands (see [`Catalog::standing`]).
#[derive(Debug)]
pub(crate) enum Standing {
    Stands(Arc<ClientEntry>),
    /// The client was deleted.
    NoClient,
    /// Its grant on the token's audience was deleted (or the API re-created).
    NoGrant,
    /// A secret rotation since the token was issued revoked it.
    Revoked,
}

/// Why a client not in memory could not be looked up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// Storage is known to be unreachable, or did not answer in time.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// [`MAX_CONCURRENT_LOOKUPS`] lookups are in progress already.
    #[error("too many lookups of clients not in memory are in progress")]
    Busy,
}

/// Why the catalog could not be loaded or refreshed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// Storage failed or did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The current signing key cannot be unsealed (a wrong master key, most likely).
    #[error(transparent)]
    Key(#[from] SigningKeyError),
}

/// The live catalog: the current snapshot and what it takes to rebuild it.
#[derive(Debug)]
pub struct Catalog {
    store: Store,
    master: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    current: RwLock<Arc<Snapshot>>,
    clients: ClientCache,
    keys: Mutex<HashMap<String, Arc<SigningKey>>>,
    /// False while the watcher cannot reach storage.
    storage_ok: AtomicBool,
    /// Lookups of clients not in memory that may start now.
    lookups: Semaphore,
    /// When the catalog was opened: the origin of `confirmed_ms`. Monotonic time, not the
    /// injected clock: staleness is a duration measured in this process, which a test's clock
    /// (or the wall clock stepping) must not stretch or shrink.
    origin: Instant,
    /// Milliseconds from `origin` to the start of the last look at storage that found the
    /// catalog current (or brought it up to date).
    confirmed_ms: AtomicU64,
    /// Beyond this many milliseconds since `confirmed_ms`, the catalog is stale.
    stale_after_ms: AtomicU64,
}

impl Catalog {
    /// Loads the APIs and keys; `master` unseals the current signing key. Writes nothing: the
    /// keys were made at start-up ([`crate::startup::prepare_signing_keys`]). Clients are
    /// loaded on demand, at most `client_cache_capacity` at a time.
    pub async fn open(
        store: Store,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        client_cache_capacity: usize,
    ) -> Result<Self, CatalogError> {
        let mut keys = HashMap::new();
        let state = store.load_catalog(None).await?;
        let snapshot = Snapshot::build(&state, &mut keys, &master, clock.now())?;
        Ok(Self {
            store,
            master,
            clock,
            current: RwLock::new(Arc::new(snapshot)),
            clients: ClientCache::new(client_cache_capacity, state.version),
            keys: Mutex::new(keys),
            storage_ok: AtomicBool::new(true),
            lookups: Semaphore::new(MAX_CONCURRENT_LOOKUPS),
            origin: Instant::now(),
            confirmed_ms: AtomicU64::new(0),
            stale_after_ms: AtomicU64::new(millis(
                DEFAULT_POLL_INTERVAL + WATCH_DEADLINE + Duration::from_secs(1),
            )),
        })
    }

    /// The current snapshot. Cheap: a read lock and a reference-count increment.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The client named `client_id` (`None`: no such client): from the cache, else by one
    /// indexed lookup whose result is cached. Fails only on a miss: at once while storage is
    /// known to be unreachable, after [`LOOKUP_QUEUE_WAIT`] while [`MAX_CONCURRENT_LOOKUPS`]
    /// lookups are in progress, else when storage does not answer within a deadline.
    pub(crate) async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<ClientEntry>>, LookupError> {
        match self.clients.get(client_id) {
            Ok(hit) => Ok(hit),
            // The lookup's future (storage's, some kilobytes) is boxed here, on a miss only:
            // inline, it would make every token request's future that large.
            Err(seen) => Box::pin(self.look_up(client_id, seen)).await,
        }
    }

    /// A client not in the cache, looked up in storage at cache version `seen`.
    async fn look_up(
        &self,
        client_id: &str,
        seen: i64,
    ) -> Result<Option<Arc<ClientEntry>>, LookupError> {
        if !self.storage_reachable() {
            return Err(LookupError::Unavailable(StoreError::Unavailable(
                "storage was unreachable at the last look".into(),
            )));
        }
        let _permit = match self.lookups.try_acquire() {
            Ok(permit) => permit,
            Err(_) => match tokio::time::timeout(LOOKUP_QUEUE_WAIT, self.lookups.acquire()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(LookupError::Busy),
            },
        };
        let client = crate::store::within(LOOKUP_DEADLINE, self.store.load_client(client_id))
            .await?
            .map(|record| Arc::new(ClientEntry::from_record(record)));
        self.clients.insert(client_id, client.clone(), seen);
        Ok(client)
    }

    /// Whether a token issued at `issued_at` to `client_id` for `audience` still stands, from
    /// memory like [`client`](Self::client): the client and its grant on that very API still
    /// exist, and a secret that already existed when the token was issued still works now.
    /// So a rotation without grace revokes the tokens issued before it at once; with a grace
    /// period, when the grace ends (tokens issued during the grace with the old secret stand
    /// until they expire). One-second resolution: a token issued in the second of the
    /// rotation stands.
    pub(crate) async fn standing(
        &self,
        client_id: &str,
        audience: &str,
        issued_at: u64,
        now: u64,
    ) -> Result<Standing, LookupError> {
        let Some(client) = self.client(client_id).await? else {
            return Ok(Standing::NoClient);
        };
        let same_api = match (
            client.grants.get(audience),
            self.snapshot().apis.get(audience),
        ) {
            (Some(grant), Some(api)) => grant.api_id == api.id,
            _ => false,
        };
        if !same_api {
            return Ok(Standing::NoGrant);
        }
        let covered = client
            .secret_periods
            .iter()
            .any(|&(created, expires)| created <= issued_at && expires.is_none_or(|at| now < at));
        Ok(if covered {
            Standing::Stands(client)
        } else {
            Standing::Revoked
        })
    }

    /// Whether the last look at storage succeeded.
    pub fn storage_reachable(&self) -> bool {
        self.storage_ok.load(Ordering::Relaxed)
    }

    /// How long ago a look at storage last found this catalog current (or brought it up to
    /// date): how old, at most, what the token endpoint serves from memory may be.
    pub fn staleness(&self) -> Duration {
        let confirmed = Duration::from_millis(self.confirmed_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(confirmed)
    }

    /// Whether the catalog was confirmed current recently: within a poll interval and the
    /// deadline of a look at storage.
    pub fn is_current(&self) -> bool {
        millis(self.staleness()) <= self.stale_after_ms.load(Ordering::Relaxed)
    }

    /// Records that storage matched the catalog at `looked` (or after).
    fn confirm(&self, looked: Instant) {
        let at = millis(looked.saturating_duration_since(self.origin));
        self.confirmed_ms.fetch_max(at, Ordering::Relaxed);
    }

    /// How full the client cache is and how well it works.
    pub fn client_cache_stats(&self) -> ClientCacheStats {
        self.clients.stats()
    }

    /// Reloads when the store changed since the current snapshot. Returns whether it did.
    pub async fn refresh_if_changed(&self) -> Result<bool, CatalogError> {
        let looked = Instant::now();
        let version = self.store.version().await?;
        if version == self.snapshot().version {
            self.confirm(looked);
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Rebuilds the snapshot from the store unconditionally, and evicts the clients changed
    /// since the last look.
    pub async fn reload(&self) -> Result<(), CatalogError> {
        let looked = Instant::now();
        let state = self
            .store
            .load_catalog(Some(self.clients.version()))
            .await?;
        let snapshot = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            Snapshot::build(&state, &mut keys, &self.master, self.clock.now())?
        };
        self.clients.apply(state.version, &state.changed_clients);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        // A slower concurrent reload must not replace a newer snapshot.
        if snapshot.version >= current.version {
            *current = Arc::new(snapshot);
        }
        drop(current);
        self.confirm(looked);
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
