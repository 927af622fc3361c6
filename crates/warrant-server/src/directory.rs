//! The in-memory view of clients, APIs, grants and keys that the token endpoint reads.
//!
//! Issuing a token touches no storage: it reads an immutable [`Snapshot`]. A background task
//! polls the store's change counter and swaps in a new snapshot when anything changed, whoever
//! changed it (this process, the CLI against the same data directory, another instance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use warrant_proto::Jwks;

use crate::clock::Clock;
use crate::domain::{DEFAULT_TOKEN_LIFETIME, SecretHash};
use crate::keys::{KeyStatus, MasterKey, SigningKey, SigningKeyError};
use crate::store::{Store, StoreError, StoreState};

/// How often running servers look for changes by default. Changes show within this interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub(crate) struct ClientEntry {
    pub(crate) secrets: Vec<(SecretHash, Option<u64>)>,
    /// Grants by audience.
    pub(crate) grants: HashMap<String, GrantEntry>,
}

#[derive(Debug)]
pub(crate) struct GrantEntry {
    /// Granted scopes that the API still defines, in grant order.
    pub(crate) scopes: Vec<String>,
    /// `scopes` joined by spaces, ready for tokens that ask for no particular scope.
    pub(crate) scope_claim: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ApiEntry {
    pub(crate) token_lifetime: u32,
}

/// One consistent, immutable view of everything issuance needs.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) version: i64,
    pub(crate) clients: HashMap<String, ClientEntry>,
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
        state: StoreState,
        keys: &mut HashMap<String, Arc<SigningKey>>,
        master: &MasterKey,
        now: u64,
    ) -> Result<Self, SigningKeyError> {
        let api_scopes: HashMap<&str, Vec<&str>> = state
            .resource_servers
            .iter()
            .map(|api| {
                let scopes = api.scopes.iter().map(|s| s.value.as_str()).collect();
                (api.identifier.as_str(), scopes)
            })
            .collect();
        let mut clients: HashMap<String, ClientEntry> = state
            .applications
            .iter()
            .map(|app| {
                let entry = ClientEntry {
                    secrets: Vec::new(),
                    grants: HashMap::new(),
                };
                (app.client_id.clone(), entry)
            })
            .collect();
        for secret in &state.secrets {
            if let Some(client) = clients.get_mut(&secret.client_id) {
                client.secrets.push((secret.hash, secret.expires_at));
            }
        }
        for grant in &state.grants {
            let (Some(client), Some(defined)) = (
                clients.get_mut(&grant.client_id),
                api_scopes.get(grant.audience.as_str()),
            ) else {
                continue;
            };
            let scopes: Vec<String> = grant
                .scopes
                .iter()
                .filter(|s| defined.contains(&s.as_str()))
                .cloned()
                .collect();
            let scope_claim = (!scopes.is_empty()).then(|| scopes.join(" "));
            client.grants.insert(
                grant.audience.clone(),
                GrantEntry {
                    scopes,
                    scope_claim,
                },
            );
        }
        let apis = state
            .resource_servers
            .iter()
            .map(|api| {
                let entry = ApiEntry {
                    token_lifetime: api.token_lifetime,
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
            published.push(stored.public_jwk.clone());
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
            clients,
            apis,
            signing_key,
            current_since,
            jwks_keys,
            jwks,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] SigningKeyError),
}

/// The live directory: the current snapshot and what it takes to rebuild it.
#[derive(Debug)]
pub struct Directory {
    store: Store,
    master: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    current: RwLock<Arc<Snapshot>>,
    keys: Mutex<HashMap<String, Arc<SigningKey>>>,
}

impl Directory {
    /// Loads everything, creating the current and the next signing key when the store lacks
    /// them (the next key is published before it signs, so verifiers know it in advance).
    pub async fn open(
        store: Store,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
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
        let state = store.load_state().await?;
        let snapshot = Snapshot::build(state, &mut keys, &master, clock.now())?;
        Ok(Self {
            store,
            master,
            clock,
            current: RwLock::new(Arc::new(snapshot)),
            keys: Mutex::new(keys),
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

    /// Reloads when the store changed since the current snapshot. Returns whether it did.
    pub async fn refresh_if_changed(&self) -> Result<bool, DirectoryError> {
        let version = self.store.version().await?;
        if version == self.snapshot().version {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Rebuilds the snapshot from the store unconditionally.
    pub async fn reload(&self) -> Result<(), DirectoryError> {
        let state = self.store.load_state().await?;
        let snapshot = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            Snapshot::build(state, &mut keys, &self.master, self.clock.now())?
        };
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        // A slower concurrent reload must not replace a newer snapshot.
        if snapshot.version >= current.version {
            *current = Arc::new(snapshot);
        }
        Ok(())
    }

    /// Polls for changes every `interval` until `shutdown` turns true. Errors are logged and
    /// retried; the last good snapshot keeps serving meanwhile.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        // Where the store can say that something changed (PostgreSQL's NOTIFY), the poll below
        // is only the safety net.
        let changed = Arc::new(tokio::sync::Notify::new());
        let listener = self.store.listen_for_changes(Arc::clone(&changed));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        // A full reload now and then, unasked: previous keys leave the JWKS when their tokens
        // have expired, which is a matter of time, not of a write.
        let mut last_full = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = changed.notified() => {}
                _ = shutdown.changed() => {
                    if let Some(listener) = listener {
                        listener.abort();
                    }
                    return;
                }
            }
            let result = if last_full.elapsed() >= Duration::from_secs(60) {
                last_full = tokio::time::Instant::now();
                self.reload().await.map(|()| true)
            } else {
                self.refresh_if_changed().await
            };
            match result {
                Ok(changed) => {
                    if failing {
                        tracing::info!("storage reachable again; directory refreshed");
                        failing = false;
                    }
                    if changed {
                        tracing::debug!(version = self.snapshot().version, "directory reloaded");
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::error!(error = %e, "cannot refresh the directory; serving the last good copy");
                    }
                    failing = true;
                }
            }
        }
    }
}
