//! The in-memory view of clients, APIs, grants and keys that the token endpoint reads.
//!
//! Issuing a token for a known client touches no storage. APIs and signing keys (few) live in an
//! immutable [`Snapshot`]; clients (possibly millions) live in a bounded cache filled by an
//! indexed lookup on a miss. A background task polls the store's change counter (and, on
//! PostgreSQL, listens for announcements); on a change it swaps in a new snapshot and evicts
//! exactly the clients the store says changed, whoever changed them (this process, the CLI,
//! another instance).
//!
//! Every look at storage has a deadline: a connection that died silently makes the look fail
//! instead of hang, the store is told to reconnect, and the directory knows how long ago it
//! last confirmed that it matches storage ([`Directory::staleness`], reported by `/readyz` and
//! `/metrics`). While storage is known to be unreachable, a client that is not in memory is
//! refused at once rather than after a wait, and lookups of such clients have a small cap of
//! their own, so that unknown clients cannot take the capacity known ones need.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Semaphore, watch};
use warrant_proto::Jwks;

use crate::clock::Clock;
use crate::domain::{DEFAULT_TOKEN_LIFETIME, SecretHash, TokenQuota};
use crate::keys::{KeyStatus, MasterKey, SigningKey, SigningKeyError};
use crate::store::{ChangedClients, ClientRecord, DirectoryState, Store, StoreError};

/// How often running servers look for changes by default. Changes show within this interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How many clients a server keeps in memory by default. An entry takes a few hundred bytes
/// (see `docs/deployment.md` for the measured figure), so the default bounds the cache to tens
/// of megabytes whatever the number of registered applications.
pub const DEFAULT_CLIENT_CACHE_CAPACITY: usize = 100_000;

/// How long the watcher waits for storage on one look before it takes storage for
/// unreachable and reconnects.
pub const WATCH_DEADLINE: Duration = Duration::from_secs(2);

/// The same, while storage is already known to be unreachable: a new connection that answers
/// at all answers quickly, and the sooner a look succeeds after storage returns, the sooner
/// changes made meanwhile are in force.
const RETRY_DEADLINE: Duration = Duration::from_secs(1);

/// How soon the watcher looks again after a failed look, when it polls less often than that.
const RETRY_DELAY: Duration = Duration::from_millis(500);

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

/// Client IDs longer than this are never cached as unknown: real ones are 32 characters, and
/// an attacker's long random IDs must not take cache memory.
const MAX_CACHED_UNKNOWN_ID: usize = 64;

/// What issuance needs of one client.
#[derive(Debug)]
pub(crate) struct ClientEntry {
    pub(crate) secrets: Vec<(SecretHash, Option<u64>)>,
    /// When each secret was created and until when it works (`secrets`' order): what tells
    /// whether a rotation revoked a token (see [`Directory::standing`]).
    pub(crate) secret_periods: Vec<(u64, Option<u64>)>,
    /// Grants by audience.
    pub(crate) grants: HashMap<String, GrantEntry>,
    pub(crate) token_quota: Option<TokenQuota>,
}

#[derive(Debug)]
pub(crate) struct GrantEntry {
    /// The API the grant was made on; a grant on a deleted API whose identifier was reused
    /// does not carry over to the new one.
    pub(crate) api_id: String,
    /// The granted scopes, in grant order. Issuance keeps those the API still defines.
    pub(crate) scopes: Vec<String>,
    /// `scopes` joined by spaces, ready for tokens that ask for no particular scope.
    pub(crate) scope_claim: Option<String>,
}

impl ClientEntry {
    fn from_record(record: ClientRecord) -> Self {
        let secret_periods = record
            .secrets
            .iter()
            .map(|s| (s.created_at, s.expires_at))
            .collect();
        let secrets = record
            .secrets
            .into_iter()
            .map(|s| (s.hash, s.expires_at))
            .collect();
        let grants = record
            .grants
            .into_iter()
            .map(|(grant, api_id)| {
                let scope_claim = (!grant.scopes.is_empty()).then(|| grant.scopes.join(" "));
                let entry = GrantEntry {
                    api_id,
                    scopes: grant.scopes,
                    scope_claim,
                };
                (grant.audience, entry)
            })
            .collect();
        Self {
            secrets,
            secret_periods,
            grants,
            token_quota: record.token_quota,
        }
    }

    /// The scopes granted on `audience` (none without a grant).
    pub(crate) fn grant_scopes(&self, audience: &str) -> &[String] {
        self.grants
            .get(audience)
            .map_or(&[], |g| g.scopes.as_slice())
    }
}

/// Whether a token a client was issued still stands (see [`Directory::standing`]).
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

#[derive(Debug)]
pub(crate) struct ApiEntry {
    pub(crate) id: String,
    pub(crate) token_lifetime: u32,
    /// The scopes the API defines.
    pub(crate) scopes: HashSet<String>,
}

/// Cache figures, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCacheStats {
    pub entries: usize,
    pub capacity: usize,
    pub hits: u64,
    pub misses: u64,
}

/// The bounded client cache. Lookups take a read lock; a hit marks its entry used. When full,
/// an insertion drops the entries nobody used since the previous sweep (a two-generation
/// approximation of LRU: a steady working set smaller than the capacity stays whole), and
/// arbitrary ones if that freed too little.
#[derive(Debug)]
struct ClientCache {
    capacity: usize,
    inner: RwLock<CacheInner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct CacheInner {
    /// The store version whose client changes have been applied.
    version: i64,
    /// `None`: the client does not exist (until a change names it).
    slots: HashMap<Box<str>, Slot>,
}

#[derive(Debug)]
struct Slot {
    client: Option<Arc<ClientEntry>>,
    used: AtomicBool,
}

impl ClientCache {
    fn new(capacity: usize, version: i64) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: RwLock::new(CacheInner {
                version,
                slots: HashMap::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheInner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheInner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(client)` on a hit (`client` is `None` for a known-unknown ID), `None` on a miss;
    /// on a miss also the version to pass to [`insert`](Self::insert).
    fn get(&self, client_id: &str) -> Result<Option<Arc<ClientEntry>>, i64> {
        let inner = self.read();
        match inner.slots.get(client_id) {
            Some(slot) => {
                // Check before writing: a hot entry's flag stays set without cache-line traffic.
                if !slot.used.load(Ordering::Relaxed) {
                    slot.used.store(true, Ordering::Relaxed);
                }
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(slot.client.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(inner.version)
            }
        }
    }

    /// Caches what a lookup that started at `seen` found, unless changes were applied since:
    /// then it may predate one of them, and the next request looks again.
    fn insert(&self, client_id: &str, client: Option<Arc<ClientEntry>>, seen: i64) {
        if client.is_none() && client_id.len() > MAX_CACHED_UNKNOWN_ID {
            return;
        }
        let mut inner = self.write();
        if inner.version != seen {
            return;
        }
        if inner.slots.len() >= self.capacity && !inner.slots.contains_key(client_id) {
            make_room(&mut inner.slots, self.capacity);
        }
        let slot = Slot {
            client,
            used: AtomicBool::new(true),
        };
        inner.slots.insert(client_id.into(), slot);
    }

    /// Evicts the clients changed up to `version`.
    fn apply(&self, version: i64, changed: &ChangedClients) {
        let mut inner = self.write();
        match changed {
            ChangedClients::All => inner.slots.clear(),
            ChangedClients::Listed(ids) => {
                for id in ids {
                    inner.slots.remove(id.as_str());
                }
            }
        }
        inner.version = inner.version.max(version);
    }

    fn version(&self) -> i64 {
        self.read().version
    }

    fn stats(&self) -> ClientCacheStats {
        ClientCacheStats {
            entries: self.read().slots.len(),
            capacity: self.capacity,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// Shrinks a full cache to seven eighths of `capacity` at most, so that sweeps stay rare.
fn make_room(slots: &mut HashMap<Box<str>, Slot>, capacity: usize) {
    let keep = capacity - capacity.div_ceil(8);
    slots.retain(|_, slot| slot.used.swap(false, Ordering::Relaxed));
    if slots.len() > keep {
        let excess = slots.len() - keep;
        let victims: Vec<Box<str>> = slots.keys().take(excess).cloned().collect();
        for id in victims {
            slots.remove(&id);
        }
    }
}

/// One consistent, immutable view of the APIs and keys.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) version: i64,
    pub(crate) apis: HashMap<String, ApiEntry>,
    pub(crate) signing_key: Option<Arc<SigningKey>>,
    /// When the current key started signing.
    pub(crate) current_since: Option<u64>,
    /// The published keys.
    pub(crate) jwks_keys: Jwks,
    /// The serialized JWKS, built once per change rather than per request.
    pub(crate) jwks: Bytes,
}

impl Snapshot {
    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn jwks(&self) -> &Bytes {
        &self.jwks
    }

    pub fn has_signing_key(&self) -> bool {
        self.signing_key.is_some()
    }

    /// The key ID of the current signing key and when it started signing.
    pub fn current_key(&self) -> Option<(&str, Option<u64>)> {
        self.signing_key
            .as_ref()
            .map(|k| (k.kid(), self.current_since))
    }

    /// The published keys (next, current, and previous keys whose tokens may still be valid).
    pub fn published_keys(&self) -> &Jwks {
        &self.jwks_keys
    }

    fn build(
        state: &DirectoryState,
        keys: &mut HashMap<String, Arc<SigningKey>>,
        master: &MasterKey,
        now: u64,
    ) -> Result<Self, SigningKeyError> {
        let apis = state
            .resource_servers
            .iter()
            .map(|api| {
                let entry = ApiEntry {
                    id: api.id.clone(),
                    token_lifetime: api.token_lifetime,
                    scopes: api.scopes.iter().map(|s| s.value.clone()).collect(),
                };
                (api.identifier.clone(), entry)
            })
            .collect();

        // A previous key stays published while tokens it signed may still be valid: for the
        // longest token lifetime of any API after it stopped signing.
        let longest_lifetime = state
            .resource_servers
            .iter()
            .map(|api| u64::from(api.token_lifetime))
            .max()
            .unwrap_or(u64::from(DEFAULT_TOKEN_LIFETIME));
        // Unseal each key once per process, not once per change.
        keys.retain(|kid, _| state.signing_keys.iter().any(|k| &k.kid == kid));
        let mut signing_key = None;
        let mut current_since = None;
        let mut published = Vec::new();
        for stored in &state.signing_keys {
            let still_valid = match stored.status {
                KeyStatus::Previous => stored
                    .current_until
                    .is_none_or(|until| now < until.saturating_add(longest_lifetime)),
                status => status.is_published(),
            };
            if !still_valid {
                continue;
            }
            published.push(stored.published_jwk());
            if stored.status == KeyStatus::Current {
                let key = match keys.get(&stored.kid) {
                    Some(key) => Arc::clone(key),
                    None => {
                        let key = Arc::new(SigningKey::from_stored(stored, master)?);
                        keys.insert(stored.kid.clone(), Arc::clone(&key));
                        key
                    }
                };
                signing_key = Some(key);
                current_since = stored.current_since;
            }
        }
        // Next first, then current, then previous: the order verifiers see them in.
        let order = |jwk: &warrant_proto::Jwk| {
            state
                .signing_keys
                .iter()
                .find(|k| Some(&k.kid) == jwk.kid.as_ref())
                .map_or(3, |k| match k.status {
                    KeyStatus::Next => 0,
                    KeyStatus::Current => 1,
                    _ => 2,
                })
        };
        published.sort_by_key(order);
        let jwks_keys = Jwks { keys: published };
        let jwks = serde_json::to_vec(&jwks_keys)
            .map(Bytes::from)
            .unwrap_or_default();
        Ok(Self {
            version: state.version,
            apis,
            signing_key,
            current_since,
            jwks_keys,
            jwks,
        })
    }
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

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] SigningKeyError),
}

/// Gives each key stored before certificates existed a self-signed certificate, valid from the
/// key's creation. A key that cannot be unsealed keeps none (and is reported): the current key
/// is unsealed again right after, and fails there with the reason.
async fn add_missing_certificates(store: &Store, master: &MasterKey) -> Result<(), StoreError> {
    for stored in store.list_signing_keys().await? {
        if stored.certificate.is_some() {
            continue;
        }
        let certificate = SigningKey::from_stored(&stored, master)
            .and_then(|key| key.self_signed_certificate(stored.created_at));
        match certificate {
            Ok(der) => {
                store.add_signing_key_certificate(&stored.kid, &der).await?;
                tracing::info!(kid = %stored.kid, "added the signing key's certificate");
            }
            Err(e) => {
                tracing::warn!(kid = %stored.kid, error = %e, "cannot add the signing key's certificate")
            }
        }
    }
    Ok(())
}

/// The live directory: the current snapshot and what it takes to rebuild it.
#[derive(Debug)]
pub struct Directory {
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
    /// When the directory was opened: the origin of `confirmed_ms`.
    origin: Instant,
    /// Milliseconds from `origin` to the start of the last look at storage that found the
    /// directory current (or brought it up to date).
    confirmed_ms: AtomicU64,
    /// Beyond this many milliseconds since `confirmed_ms`, the directory is stale.
    stale_after_ms: AtomicU64,
}

impl Directory {
    /// Loads the APIs and keys, creating the current and the next signing key when the store
    /// lacks them (the next key is published before it signs, so verifiers know it in
    /// advance). Clients are loaded on demand, at most `client_cache_capacity` at a time.
    pub async fn open(
        store: Store,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        client_cache_capacity: usize,
    ) -> Result<Self, DirectoryError> {
        let mut keys = HashMap::new();
        for status in [KeyStatus::Current, KeyStatus::Next] {
            let state = store.list_signing_keys().await?;
            if state.iter().any(|k| k.status == status) {
                continue;
            }
            let key = SigningKey::generate()?;
            match store
                .insert_signing_key(&key.to_stored(&master, status, clock.now())?)
                .await
            {
                Ok(()) => tracing::info!(
                    kid = key.kid(),
                    status = status.as_str(),
                    "created a signing key"
                ),
                // Another process created one at the same moment: use that one.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        add_missing_certificates(&store, &master).await?;
        let state = store.load_directory(None).await?;
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

    pub fn master_key(&self) -> &Arc<MasterKey> {
        &self.master
    }

    pub fn store(&self) -> &Store {
        &self.store
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
        let seen = match self.clients.get(client_id) {
            Ok(hit) => return Ok(hit),
            Err(seen) => seen,
        };
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

    /// How long ago a look at storage last found this directory current (or brought it up to
    /// date): how old, at most, what the token endpoint serves from memory may be.
    pub fn staleness(&self) -> Duration {
        let confirmed = Duration::from_millis(self.confirmed_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(confirmed)
    }

    /// Whether the directory was confirmed current recently: within a poll interval and the
    /// deadline of a look at storage.
    pub fn is_current(&self) -> bool {
        millis(self.staleness()) <= self.stale_after_ms.load(Ordering::Relaxed)
    }

    /// Records that storage matched the directory at `looked` (or after).
    fn confirm(&self, looked: Instant) {
        let at = millis(looked.saturating_duration_since(self.origin));
        self.confirmed_ms.fetch_max(at, Ordering::Relaxed);
    }

    /// How full the client cache is and how well it works.
    pub fn client_cache_stats(&self) -> ClientCacheStats {
        self.clients.stats()
    }

    /// Reloads when the store changed since the current snapshot. Returns whether it did.
    pub async fn refresh_if_changed(&self) -> Result<bool, DirectoryError> {
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
    pub async fn reload(&self) -> Result<(), DirectoryError> {
        let looked = Instant::now();
        let state = self
            .store
            .load_directory(Some(self.clients.version()))
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

    /// Polls for changes every `interval` until `shutdown` turns true. Errors are logged and
    /// retried; the last good snapshot keeps serving meanwhile. A look that storage does not
    /// answer within [`WATCH_DEADLINE`] is abandoned and the store reconnects.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        self.stale_after_ms.store(
            millis(interval + WATCH_DEADLINE + Duration::from_secs(1)),
            Ordering::Relaxed,
        );
        // Where the store can say that something changed (PostgreSQL's NOTIFY), the poll below
        // is only the safety net.
        let changed = Arc::new(tokio::sync::Notify::new());
        let listener = self.store.listen_for_changes(Arc::clone(&changed));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        // A full reload now and then, unasked: previous keys leave the JWKS when their tokens
        // have expired, which is a matter of time, not of a write.
        let mut last_full = Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = changed.notified() => {}
                // Storage failing: look again soon, whatever the poll interval.
                () = tokio::time::sleep(RETRY_DELAY), if failing => {}
                _ = shutdown.changed() => break,
            }
            let full = last_full.elapsed() >= Duration::from_secs(60);
            let deadline = if failing {
                RETRY_DEADLINE
            } else {
                WATCH_DEADLINE
            };
            let look = async {
                if full {
                    self.reload().await.map(|()| true)
                } else {
                    self.refresh_if_changed().await
                }
            };
            let result = tokio::select! {
                result = tokio::time::timeout(deadline, look) => result,
                _ = shutdown.changed() => break,
            };
            self.storage_ok
                .store(matches!(result, Ok(Ok(_))), Ordering::Relaxed);
            match result {
                Ok(Ok(changed)) => {
                    if full {
                        last_full = Instant::now();
                    }
                    if failing {
                        tracing::info!("storage reachable again; directory refreshed");
                        failing = false;
                    }
                    if changed {
                        tracing::debug!(version = self.snapshot().version, "directory reloaded");
                    }
                }
                Ok(Err(e)) => {
                    if !failing {
                        tracing::error!(error = %e, "cannot refresh the directory; serving the last good copy");
                    }
                    failing = true;
                }
                Err(_) => {
                    if !failing {
                        tracing::error!(
                            deadline_ms = deadline.as_millis(),
                            "storage did not answer in time; reconnecting, and serving the last good copy"
                        );
                    }
                    failing = true;
                    self.store.reconnect();
                }
            }
        }
        if let Some(listener) = listener {
            listener.abort();
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry() -> Option<Arc<ClientEntry>> {
        Some(Arc::new(ClientEntry {
            secrets: Vec::new(),
            secret_periods: Vec::new(),
            grants: HashMap::new(),
            token_quota: None,
        }))
    }

    #[test]
    fn a_full_cache_keeps_what_was_used_since_the_last_sweep() {
        let cache = ClientCache::new(8, 0);
        for i in 0..8 {
            cache.insert(&format!("c{i}"), entry(), 0);
        }
        // As after a sweep: nothing used since. Then c0 and c1 are asked for.
        for slot in cache.write().slots.values() {
            slot.used.store(false, Ordering::Relaxed);
        }
        assert!(cache.get("c0").unwrap().is_some());
        assert!(cache.get("c1").unwrap().is_some());
        cache.insert("c8", entry(), 0);
        assert_eq!(cache.stats().entries, 3);
        for id in ["c0", "c1", "c8"] {
            assert!(cache.get(id).is_ok(), "{id} stays");
        }
        assert!(cache.get("c2").is_err(), "unused entries go first");
        // When everything is in use, arbitrary entries make room: the bound holds.
        for i in 9..100 {
            cache.insert(&format!("c{i}"), entry(), 0);
            assert!(cache.stats().entries <= 8);
        }
        assert!(cache.get("c99").is_ok(), "the newest entry is there");
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_cached() {
        let cache = ClientCache::new(8, 5);
        let seen = cache.get("c").unwrap_err();
        assert_eq!(seen, 5);
        cache.apply(6, &ChangedClients::Listed(vec!["c".into()]));
        cache.insert("c", entry(), seen);
        assert_eq!(cache.get("c").unwrap_err(), 6, "stale result was dropped");
        cache.insert("c", entry(), 6);
        assert!(cache.get("c").unwrap().is_some());
        cache.apply(7, &ChangedClients::Listed(vec!["c".into()]));
        assert!(cache.get("c").is_err(), "a change evicts");
        cache.insert("c", None, 7);
        assert!(cache.get("c").unwrap().is_none(), "known to be unknown");
        cache.apply(3, &ChangedClients::All);
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.version(), 7, "the version never goes back");
    }

    #[test]
    fn long_unknown_ids_are_not_remembered() {
        let cache = ClientCache::new(8, 0);
        let long = "x".repeat(MAX_CACHED_UNKNOWN_ID + 1);
        cache.insert(&long, None, 0);
        assert_eq!(cache.stats().entries, 0);
        cache.insert(&long, entry(), 0);
        assert_eq!(
            cache.stats().entries,
            1,
            "a real client is cached whatever its ID"
        );
    }
}
