//! The change counter and what it announces: the version every write bumps, the clients each
//! version changed, and the state the token endpoint loads in one read. Also the health checks.

use super::apis::{RS_SELECT, rs_from_row};
use super::issuers::{ISSUER_SELECT, issuer_from_row};
use super::rows::unts;
use super::signing_keys::{KEY_SELECT, key_from_row};
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{ResourceServer, TrustedIssuer};
use crate::keys::StoredSigningKey;

/// How many versions of client changes the store keeps. A server that falls further behind
/// than this (a long partition) cannot tell which clients changed and empties its cache.
pub const CHANGE_RETENTION: i64 = 10_000;

/// Every credential that expires, of every kind (client secrets, public keys; federated
/// credentials join here too), as `(client_id, expires_at)`: what the catalog keeps for the
/// expiry metric and the dashboard's warnings. Small: at most two secrets per application
/// (rotation deletes older ones) and a handful of keys, and only those with an expiry.
const EXPIRIES_SELECT: &str = "SELECT client_id, expires_at FROM client_secrets \
     WHERE expires_at IS NOT NULL \
     UNION ALL SELECT client_id, expires_at FROM client_credentials \
     WHERE expires_at IS NOT NULL \
     UNION ALL SELECT client_id, expires_at FROM federated_credentials \
     WHERE expires_at IS NOT NULL";

/// What the token endpoint needs beyond clients, read in one consistent transaction: every
/// API and signing key (few), and which clients changed since the caller last looked.
#[derive(Debug)]
pub struct CatalogState {
    pub version: i64,
    pub resource_servers: Vec<ResourceServer>,
    pub signing_keys: Vec<StoredSigningKey>,
    pub changed_clients: ChangedClients,
    /// Revoked tokens: `jti` and when the token expires.
    pub revoked_tokens: Vec<(String, u64)>,
    /// When credentials expire: `(client_id, expires_at)` of every secret, key and federated
    /// credential that does.
    pub credential_expiries: Vec<(String, u64)>,
    /// The external issuers trusted for workload identity federation.
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// Which clients changed between two versions.
#[derive(Debug, PartialEq, Eq)]
pub enum ChangedClients {
    Listed(Vec<String>),
    /// Unknown (first load, or further back than [`CHANGE_RETENTION`]): assume all of them.
    All,
}

impl Store {
    /// The change counter; it differs whenever anything was written since it was last read.
    pub async fn version(&self) -> Result<i64, StoreError> {
        on_engine!(self, |s| {
            sqlx::query_scalar("SELECT version FROM state_version WHERE id = 1")
                .fetch_one(&s.pool)
                .await
                .map_err(db_err)
        })
    }

    /// Cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            sqlx::query("SELECT 1")
                .execute(&s.pool)
                .await
                .map(drop)
                .map_err(db_err)
        })
    }

    /// The engine's integrity checks; an empty list when all is well. SQLite checks the file's
    /// structure and every foreign key (problems, one a line); PostgreSQL guards its own files
    /// (and checks its pages itself): for it, this checks that it answers.
    pub async fn check_integrity(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Sqlite(s) => {
                let mut problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(&s.pool)
                    .await
                    .map_err(db_err)?;
                problems.retain(|p| p != "ok");
                let dangling = sqlx::query("PRAGMA foreign_key_check")
                    .fetch_all(&s.pool)
                    .await
                    .map_err(db_err)?;
                if !dangling.is_empty() {
                    problems.push(format!("{} rows refer to missing rows", dangling.len()));
                }
                Ok(problems)
            }
            Self::Postgres(_) => {
                self.ping().await?;
                Ok(Vec::new())
            }
        }
    }

    /// APIs, signing keys and the clients changed since version `since` (`None`: all).
    pub async fn load_catalog(&self, since: Option<i64>) -> Result<CatalogState, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.read_tx().await?;
            let version: i64 = sqlx::query_scalar("SELECT version FROM state_version WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            let resource_servers = sqlx::query(RS_SELECT)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(rs_from_row)
                .collect::<Result<_, _>>()?;
            let signing_keys = sqlx::query(KEY_SELECT)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(key_from_row)
                .collect::<Result<_, _>>()?;
            let changed_clients = match since {
                Some(since) if version.saturating_sub(since) <= CHANGE_RETENTION => {
                    ChangedClients::Listed(
                        sqlx::query_scalar(
                            "SELECT DISTINCT client_id FROM client_changes
                             WHERE version > $1 AND version <= $2",
                        )
                        .bind(since)
                        .bind(version)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?,
                    )
                }
                _ => ChangedClients::All,
            };
            let revoked_tokens: Vec<(String, i64)> =
                sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
            let credential_expiries: Vec<(String, i64)> = sqlx::query_as(EXPIRIES_SELECT)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
            let trusted_issuers = sqlx::query(ISSUER_SELECT)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(issuer_from_row)
                .collect::<Result<_, _>>()?;
            tx.commit().await.map_err(db_err)?;
            Ok(CatalogState {
                trusted_issuers,
                version,
                resource_servers,
                signing_keys,
                changed_clients,
                revoked_tokens: revoked_tokens
                    .into_iter()
                    .map(|(jti, exp)| (jti, unts(exp)))
                    .collect(),
                credential_expiries: credential_expiries
                    .into_iter()
                    .map(|(client_id, at)| (client_id, unts(at)))
                    .collect(),
            })
        })
    }

    /// Runs `sql`, a DELETE of one row by the key it binds, in a write transaction; `NotFound`
    /// (as `what key`) when there was no such row. `changes_client` is recorded as changed.
    pub(super) async fn delete_one(
        &self,
        sql: &'static str,
        key: &str,
        what: &str,
        changes_client: Option<&str>,
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            delete_one_in(&mut tx, sql, key, what, changes_client).await?;
            s.commit(tx).await
        })
    }
}

/// [`Store::delete_one`] in a transaction.
pub(super) async fn delete_one_in(
    tx: impl Into<Tx<'_>>,
    sql: &'static str,
    key: &str,
    what: &str,
    changes_client: Option<&str>,
) -> Result<(), StoreError> {
    let mut tx = tx.into();
    let deleted = on_tx!(&mut tx, |c| {
        sqlx::query(sql)
            .bind(key)
            .execute(&mut **c)
            .await
            .map_err(db_err)?
            .rows_affected()
    });
    if deleted == 0 {
        return Err(StoreError::NotFound(format!("{what} {key}")));
    }
    if let Some(client_id) = changes_client {
        record_client_change(&mut tx, client_id).await?;
    }
    Ok(())
}

/// Notes that this write transaction changed `client_id`, for the servers that cache it, and
/// forgets changes older than the retention window.
pub(super) async fn record_client_change(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
) -> Result<(), StoreError> {
    on_tx!(tx.into(), |c| {
        sqlx::query(
            "INSERT INTO client_changes (version, client_id)
             SELECT version, $1 FROM state_version WHERE id = 1
             ON CONFLICT DO NOTHING",
        )
        .bind(client_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "DELETE FROM client_changes
             WHERE version <= (SELECT version FROM state_version WHERE id = 1) - $1",
        )
        .bind(CHANGE_RETENTION)
        .execute(&mut *c)
        .await
        .map_err(db_err)
        .map(drop)
    })
}
