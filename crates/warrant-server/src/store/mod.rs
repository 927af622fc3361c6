//! Storage: one interface, one implementation per engine. Only this module knows SQL.
//!
//! Every write bumps a single version counter in the same transaction, which is how running
//! servers (other instances included) notice a change made anywhere else. Writes that touch a
//! client also record its ID under that version (`client_changes`), so that servers evict just
//! that client from their cache.

mod engine;
mod postgres;
mod rows;
mod sqlite;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::domain::events::{ActivityCount, AuditEvent, AuditFilter, StoredEvent};
use crate::domain::operators::SessionRecord;
use crate::domain::{Application, ClientGrant, ClientSecret, ResourceServer, TokenQuota};
use crate::keys::{KeyStatus, StoredSigningKey};

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

/// How many versions of client changes the store keeps. A server that falls further behind
/// than this (a long partition) cannot tell which clients changed and empties its cache.
pub const CHANGE_RETENTION: i64 = 10_000;

/// What the token endpoint needs beyond clients, read in one consistent transaction: every
/// API and signing key (few), and which clients changed since the caller last looked.
#[derive(Debug)]
pub struct CatalogState {
    pub version: i64,
    pub resource_servers: Vec<ResourceServer>,
    pub signing_keys: Vec<StoredSigningKey>,
    pub changed_clients: ChangedClients,
}

/// Which clients changed between two versions.
#[derive(Debug, PartialEq, Eq)]
pub enum ChangedClients {
    Listed(Vec<String>),
    /// Unknown (first load, or further back than [`CHANGE_RETENTION`]): assume all of them.
    All,
}

/// What issuance needs of one client: its secrets, and its grants each with the ID of the API
/// it was granted on (an API deleted and re-created under the same identifier is another API).
#[derive(Debug)]
pub struct ClientRecord {
    pub secrets: Vec<ClientSecret>,
    pub grants: Vec<(ClientGrant, String)>,
    pub token_quota: Option<TokenQuota>,
}

/// Filters for listing grants.
#[derive(Debug, Default, Clone)]
pub struct GrantFilter {
    pub client_id: Option<String>,
    pub audience: Option<String>,
}

/// The storage engine behind a deployment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Sqlite($store) => $call,
            Store::Postgres($store) => $call,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database in `data_dir` and brings its
    /// schema up to date.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self::Sqlite(SqliteStore::open_data_dir(data_dir).await?))
    }

    /// Opens the database named by `url`: `postgres://…` (several instances on one database)
    /// or `sqlite://…`. Migrations run at once, under a lock.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(PgStore::connect(url).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::open_url(url).await?))
        } else {
            Err(StoreError::Unavailable(
                "the database URL must start with postgres:// or sqlite://".into(),
            ))
        }
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

    /// The change counter; it differs whenever anything was written since it was last read.
    pub async fn version(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.version().await)
    }

    /// The engine's integrity checks; an empty list when all is well.
    pub async fn check_integrity(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.check_integrity().await)
    }

    /// Cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// APIs, signing keys and the clients changed since version `since` (`None`: all).
    pub async fn load_catalog(&self, since: Option<i64>) -> Result<CatalogState, StoreError> {
        dispatch!(self, s => s.load_catalog(since).await)
    }

    /// One client's secrets and grants by an indexed lookup; `None` when it does not exist.
    pub async fn load_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        dispatch!(self, s => s.load_client(client_id).await)
    }

    pub async fn insert_resource_server(&self, api: &ResourceServer) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_resource_server(api).await)
    }

    pub async fn list_resource_servers(&self) -> Result<Vec<ResourceServer>, StoreError> {
        dispatch!(self, s => s.list_resource_servers().await)
    }

    /// Finds an API by its id or its identifier.
    pub async fn get_resource_server(
        &self,
        id_or_identifier: &str,
    ) -> Result<ResourceServer, StoreError> {
        dispatch!(self, s => s.get_resource_server(id_or_identifier).await)
    }

    /// Deletes an API and every grant for it.
    pub async fn delete_resource_server(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_resource_server(id).await)
    }

    pub async fn insert_application(
        &self,
        app: &Application,
        secret: &ClientSecret,
        grants: &[ClientGrant],
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_application(app, secret, grants).await)
    }

    pub async fn list_applications(&self) -> Result<Vec<Application>, StoreError> {
        dispatch!(self, s => s.list_applications().await)
    }

    /// `limit` applications from `offset`, in creation order, and the total.
    pub async fn list_applications_page(
        &self,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Application>, u64), StoreError> {
        dispatch!(self, s => s.list_applications_page(offset, limit).await)
    }

    pub async fn get_application(&self, client_id: &str) -> Result<Application, StoreError> {
        dispatch!(self, s => s.get_application(client_id).await)
    }

    /// Deletes an application with its secrets and grants.
    pub async fn delete_application(&self, client_id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_application(client_id).await)
    }

    /// Adds `new` to the application's secrets. The current one stops working at
    /// `old_expire_at` (at once when that is not in the future) and older ones at once: at
    /// most two secrets are ever valid, the new one and the one before it.
    pub async fn rotate_secret(
        &self,
        new: &ClientSecret,
        old_expire_at: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.rotate_secret(new, old_expire_at, now).await)
    }

    pub async fn list_client_secrets(
        &self,
        client_id: &str,
    ) -> Result<Vec<ClientSecret>, StoreError> {
        dispatch!(self, s => s.list_client_secrets(client_id).await)
    }

    pub async fn insert_grant(&self, grant: &ClientGrant) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_grant(grant).await)
    }

    pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<ClientGrant>, StoreError> {
        dispatch!(self, s => s.list_grants(filter).await)
    }

    pub async fn get_grant(&self, id: &str) -> Result<ClientGrant, StoreError> {
        dispatch!(self, s => s.get_grant(id).await)
    }

    pub async fn delete_grant(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_grant(id).await)
    }

    /// Stores a new signing key. Only one key may be `Current`: a second is a `Conflict`.
    pub async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_signing_key(key).await)
    }

    pub async fn update_resource_server(&self, api: &ResourceServer) -> Result<(), StoreError> {
        dispatch!(self, s => s.update_resource_server(api).await)
    }

    pub async fn update_application(&self, app: &Application) -> Result<(), StoreError> {
        dispatch!(self, s => s.update_application(app).await)
    }

    pub async fn update_grant_scopes(&self, id: &str, scopes: &[String]) -> Result<(), StoreError> {
        dispatch!(self, s => s.update_grant_scopes(id, scopes).await)
    }

    /// Sets a key's certificate if it has none (keys stored before certificates).
    pub async fn add_signing_key_certificate(
        &self,
        kid: &str,
        certificate: &[u8],
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_signing_key_certificate(kid, certificate).await)
    }

    pub async fn get_signing_key(&self, kid: &str) -> Result<StoredSigningKey, StoreError> {
        dispatch!(self, s => s.get_signing_key(kid).await)
    }

    /// Promotes next to current and current to previous, and stores `new_next`, in one
    /// transaction, only if the current key is still `expected_current` (else `Conflict`): of
    /// several processes rotating at once, exactly one succeeds.
    pub async fn rotate_signing_keys(
        &self,
        expected_current: &str,
        new_next: &StoredSigningKey,
        now: u64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.rotate_signing_keys(expected_current, new_next, now).await)
    }

    /// Withdraws a previous key from the JWKS. The current and next keys cannot be revoked.
    pub async fn revoke_signing_key(&self, kid: &str, now: u64) -> Result<(), StoreError> {
        dispatch!(self, s => s.revoke_signing_key(kid, now).await)
    }

    pub async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.get_setting(key).await)
    }

    /// Sets a deployment setting if it holds `expected` (`None`: unset): compare and swap.
    pub async fn replace_setting(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.replace_setting(key, expected, value).await)
    }

    pub async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        dispatch!(self, s => s.list_signing_keys().await)
    }

    /// Adds new token counts `(client_id, period, window_start, added)` to the cluster-wide
    /// ones; returns each total.
    pub async fn add_token_usage(
        &self,
        usage: &[(String, &'static str, u64, u64)],
    ) -> Result<Vec<u64>, StoreError> {
        dispatch!(self, s => s.add_token_usage(usage).await)
    }

    pub async fn prune_token_usage(&self, before: u64) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_token_usage(before).await)
    }

    /// Stores audit events in one transaction, and adds them to the activity counts that
    /// `writer` (the ID of a process's audit writer, random) keeps. Does not bump the change
    /// counter.
    pub async fn insert_audit_events(
        &self,
        events: &[AuditEvent],
        writer: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_audit_events(events, writer).await)
    }

    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        dispatch!(self, s => s.list_audit_events(filter).await)
    }

    pub async fn count_audit_events(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
        dispatch!(self, s => s.count_audit_events(filter).await)
    }

    /// Deletes events older than `before_ms`, and the oldest beyond `keep` as
    /// [`ALWAYS_KEPT`](crate::domain::events::ALWAYS_KEPT) says (never what an authenticated administrator did);
    /// returns how many.
    pub async fn prune_audit_events(&self, before_ms: u64, keep: u64) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_audit_events(before_ms, keep).await)
    }
}

impl Store {
    pub async fn insert_operator(
        &self,
        username: &str,
        password_hash: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_operator(username, password_hash, now).await)
    }

    /// Replaces a password and ends that administrator's sessions.
    pub async fn set_operator_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_operator_password(username, password_hash).await)
    }

    pub async fn operator_password_hash(
        &self,
        username: &str,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.operator_password_hash(username).await)
    }

    pub async fn list_operators(&self) -> Result<Vec<(String, u64)>, StoreError> {
        dispatch!(self, s => s.list_operators().await)
    }

    /// Removes an administrator and, by cascade, their sessions.
    pub async fn delete_operator(&self, username: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_operator(username).await)
    }

    /// Stores a new session, and drops the expired ones while at it: those past their
    /// `expires_at` at `now`, and those last seen at or before `idle_before`.
    pub async fn insert_operator_session(
        &self,
        session: &SessionRecord,
        now: u64,
        idle_before: u64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_operator_session(session, now, idle_before).await)
    }

    pub async fn operator_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        dispatch!(self, s => s.operator_session(id_hash).await)
    }

    pub async fn touch_operator_session(&self, id_hash: &str, now: u64) -> Result<(), StoreError> {
        dispatch!(self, s => s.touch_operator_session(id_hash, now).await)
    }

    pub async fn delete_operator_session(&self, id_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_operator_session(id_hash).await)
    }

    /// Token requests since `from_ms`, counted per outcome, client, audience, failure reason
    /// and `bucket_ms`-long time bucket: what the dashboard's Activity page draws.
    pub async fn token_activity(
        &self,
        from_ms: u64,
        bucket_ms: u64,
    ) -> Result<Vec<ActivityCount>, StoreError> {
        dispatch!(self, s => s.token_activity(from_ms, bucket_ms).await)
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

/// Why inserting `grant` failed, in the administrator's words.
pub(crate) fn grant_insert_error(grant: &ClientGrant, e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => StoreError::NotFound(
            format!("application {} or API {}", grant.client_id, grant.audience),
        ),
        other => match db_err(other) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "application {} already has a grant for {}; change or delete that one",
                grant.client_id, grant.audience
            )),
            other => other,
        },
    }
}

/// Only previous keys can be revoked (revoking twice is fine).
pub(crate) fn check_revocable(kid: &str, status: Option<KeyStatus>) -> Result<(), StoreError> {
    match status {
        None => Err(StoreError::NotFound(format!("signing key {kid}"))),
        Some(KeyStatus::Current) => Err(StoreError::Conflict(
            "the current signing key cannot be revoked: rotate first, then revoke it".into(),
        )),
        Some(KeyStatus::Next) => Err(StoreError::Conflict(
            "the next signing key cannot be revoked: rotate to replace it".into(),
        )),
        Some(KeyStatus::Previous | KeyStatus::Revoked) => Ok(()),
    }
}

pub(crate) fn parse_key_status(text: &str) -> Result<KeyStatus, StoreError> {
    KeyStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown key status {text:?}")))
}
