//! Applications' public-key credentials (private_key_jwt), and the IDs of the client
//! assertions already used.

use super::rows::{Col, corrupt, ts, unts};
use super::state::record_client_change;
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{MAX_CREDENTIALS, PublicKeyCredential, parse_alg};

/// How many assertion IDs one statement records at most: three parameters each, far below
/// either engine's limit.
pub const JTI_CHUNK: usize = 256;

/// How many expired assertion IDs one statement of [`Store::prune_assertion_jtis`] deletes.
const PRUNE_CHUNK: i64 = 10_000;

/// A client assertion's ID to record as used: whose, and until when it counts
/// (see [`Store::use_assertion_jtis`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JtiUse<'a> {
    pub client_id: &'a str,
    pub jti: &'a str,
    /// Unix seconds; a later use of the same ID after this is a first use again.
    pub expires_at: u64,
}

const CREDENTIAL_COLUMNS: &str =
    "id, client_id, name, alg, kid, public_key, created_at, updated_at, expires_at";

/// The IDs of the credentials an application lists under
/// `client_authentication_methods.private_key_jwt`, if it lists any.
pub(super) fn auth_methods_from_row(row: &impl Col) -> Result<Option<Vec<String>>, StoreError> {
    row.opt_text("client_authentication_methods")?
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| corrupt("client_authentication_methods", e))
        })
        .transpose()
}

pub(super) fn credential_from_row(row: &impl Col) -> Result<PublicKeyCredential, StoreError> {
    Ok(PublicKeyCredential {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        name: row.text("name")?,
        alg: parse_alg(&row.text("alg")?).map_err(|e| corrupt("alg", e))?,
        kid: row.text("kid")?,
        der: row.bytes("public_key")?,
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
        expires_at: row.opt_int("expires_at")?.map(unts),
    })
}

/// An application's public-key credentials, oldest first, in a transaction.
pub(super) async fn credentials_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
) -> Result<Vec<PublicKeyCredential>, StoreError> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM client_credentials WHERE client_id = $1
         ORDER BY created_at, id"
    );
    let credentials = on_tx!(tx.into(), |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(client_id)
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?
            .iter()
            .map(credential_from_row)
            .collect::<Result<Vec<_>, _>>()?
    });
    Ok(credentials)
}

/// Adds a credential to its application (at most [`MAX_CREDENTIALS`] each), and names the
/// application changed.
pub(super) async fn insert_credential_in(
    tx: impl Into<Tx<'_>>,
    cred: &PublicKeyCredential,
) -> Result<(), StoreError> {
    let mut tx = tx.into();
    super::require_application(&mut tx, &cred.client_id).await?;
    on_tx!(&mut tx, |c| {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM client_credentials WHERE client_id = $1")
                .bind(&cred.client_id)
                .fetch_one(&mut **c)
                .await
                .map_err(db_err)?;
        if unts(count) >= MAX_CREDENTIALS as u64 {
            return Err(StoreError::Conflict(format!(
                "an application has at most {MAX_CREDENTIALS} credentials; delete one first"
            )));
        }
        sqlx::query(
            "INSERT INTO client_credentials (id, client_id, name, credential_type, alg, kid,
                public_key, created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, 'public_key', $4, $5, $6, $7, $8, $9)",
        )
        .bind(&cred.id)
        .bind(&cred.client_id)
        .bind(&cred.name)
        .bind(cred.alg.name())
        .bind(&cred.kid)
        .bind(&cred.der[..])
        .bind(ts(cred.created_at))
        .bind(ts(cred.updated_at))
        .bind(cred.expires_at.map(ts))
        .execute(&mut **c)
        .await
        .map_err(db_err)?;
    });
    record_client_change(&mut tx, &cred.client_id).await
}

/// Writes a credential's name and expiry (what may change of it: the key is what it is), and
/// names its application changed.
pub(super) async fn update_credential_in(
    tx: impl Into<Tx<'_>>,
    cred: &PublicKeyCredential,
) -> Result<(), StoreError> {
    let mut tx = tx.into();
    on_tx!(&mut tx, |c| {
        let done = sqlx::query(
            "UPDATE client_credentials SET name = $3, expires_at = $4, updated_at = $5
             WHERE client_id = $1 AND id = $2",
        )
        .bind(&cred.client_id)
        .bind(&cred.id)
        .bind(&cred.name)
        .bind(cred.expires_at.map(ts))
        .bind(ts(cred.updated_at))
        .execute(&mut **c)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("credential {}", cred.id)));
        }
    });
    record_client_change(&mut tx, &cred.client_id).await
}

/// Deletes a credential and takes it off the application's private_key_jwt list.
pub(super) async fn delete_credential_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
    id: &str,
) -> Result<(), StoreError> {
    let mut tx = tx.into();
    on_tx!(&mut tx, |c| {
        let done = sqlx::query("DELETE FROM client_credentials WHERE client_id = $1 AND id = $2")
            .bind(client_id)
            .bind(id)
            .execute(&mut **c)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("credential {id}")));
        }
        let row = sqlx::query(
            "SELECT client_authentication_methods FROM applications WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&mut **c)
        .await
        .map_err(db_err)?;
        let listed = row
            .as_ref()
            .map(auth_methods_from_row)
            .transpose()?
            .flatten();
        if let Some(mut ids) = listed.filter(|ids| ids.iter().any(|i| i == id)) {
            ids.retain(|i| i != id);
            let json = serde_json::to_string(&ids)
                .map_err(|e| corrupt("client_authentication_methods", e))?;
            sqlx::query(
                "UPDATE applications SET client_authentication_methods = $2
                 WHERE client_id = $1",
            )
            .bind(client_id)
            .bind(json)
            .execute(&mut **c)
            .await
            .map_err(db_err)?;
        }
    });
    record_client_change(&mut tx, client_id).await
}

impl Store {
    /// Adds a credential to its application: at most [`MAX_CREDENTIALS`] each.
    pub async fn insert_credential(&self, cred: &PublicKeyCredential) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_credential_in(&mut tx, cred).await?;
            s.commit(tx).await
        })
    }

    /// An application's credentials in creation order.
    pub async fn list_credentials(
        &self,
        client_id: &str,
    ) -> Result<Vec<PublicKeyCredential>, StoreError> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM client_credentials WHERE client_id = $1
             ORDER BY created_at, id"
        );
        on_engine!(self, |s| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(credential_from_row)
                .collect()
        })
    }

    pub async fn get_credential(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<PublicKeyCredential, StoreError> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM client_credentials WHERE client_id = $1 AND id = $2"
        );
        on_engine!(self, |s| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .bind(id)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("credential {id}")))?;
            credential_from_row(&row)
        })
    }

    /// Deletes a credential, and takes it off the application's private_key_jwt list in the
    /// same transaction.
    pub async fn delete_credential(&self, client_id: &str, id: &str) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            delete_credential_in(&mut tx, client_id, id).await?;
            s.commit(tx).await
        })
    }

    /// Records the client assertion IDs `uses` (a batch of concurrent token requests' `jti`s)
    /// at `now`: per entry, `true` for its first use, `false` for a replay while an earlier use
    /// has not expired (an expired row with the same ID is taken over). Of the same
    /// client ID and `jti` twice in `uses`, the first is the use and the later ones replays.
    /// Each chunk of [`JTI_CHUNK`] is one statement whose `RETURNING` names the rows it wrote,
    /// so that two instances on one database cannot both see a first use; all of them commit
    /// together (one chunk, the usual batch, is its own transaction). Changes nothing the
    /// catalog follows.
    pub async fn use_assertion_jtis(
        &self,
        uses: &[JtiUse<'_>],
        now: u64,
    ) -> Result<Vec<bool>, StoreError> {
        // The first of each (client ID, jti) goes in; in that order, so that instances
        // writing overlapping batches on PostgreSQL take the rows' locks in the same order
        // (no deadlock). A statement may not touch one row twice anyway.
        let mut order: Vec<usize> = (0..uses.len()).collect();
        order.sort_by_key(|&i| (uses[i].client_id, uses[i].jti, i));
        order.dedup_by_key(|i| (uses[*i].client_id, uses[*i].jti));
        let mut fresh = vec![false; uses.len()];
        if order.is_empty() {
            return Ok(fresh);
        }
        on_engine!(self, |s| {
            let statement = |chunk: &[usize]| {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) ",
                );
                insert.push_values(chunk, |mut row, &i| {
                    row.push_bind(uses[i].client_id)
                        .push_bind(uses[i].jti)
                        .push_bind(ts(uses[i].expires_at));
                });
                insert
                    .push(
                        " ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
                         WHERE client_assertion_jtis.expires_at <= ",
                    )
                    .push_bind(ts(now))
                    .push(" RETURNING client_id, jti");
                insert
            };
            if order.len() <= JTI_CHUNK {
                // One statement is atomic by itself: without BEGIN and COMMIT a batch costs
                // one round trip (on SQLite, one hand-over to the connection's thread).
                let written = statement(&order)
                    .build()
                    .fetch_all(s.writer())
                    .await
                    .map_err(db_err)?;
                mark_written(uses, &order, &written, &mut fresh)?;
            } else {
                // Not a write_tx: used IDs change nothing the token endpoint reads.
                let mut tx = s.writer().begin().await.map_err(db_err)?;
                for chunk in order.chunks(JTI_CHUNK) {
                    let written = statement(chunk)
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    mark_written(uses, chunk, &written, &mut fresh)?;
                }
                tx.commit().await.map_err(db_err)?;
            }
            Ok(fresh)
        })
    }

    /// Forgets assertion IDs that expired before `now`, [`PRUNE_CHUNK`] rows a statement, so
    /// that no statement holds the writer (SQLite) or its rows' locks (PostgreSQL) for long
    /// while token requests wait to record theirs.
    pub async fn prune_assertion_jtis(&self, now: u64) -> Result<u64, StoreError> {
        // On PostgreSQL a batch of jtis taking over expired rows locks them (in its sorted
        // order) while this deletes them (in scan order): waiting on each other, one of the two
        // would be aborted as a deadlock, and an aborted batch refuses its requests. So this
        // skips the rows a batch holds (the batch takes them over; a later prune gets the rest)
        // and never waits for one. SQLite has one writer at a time: no such wait.
        let sql = match self {
            Store::Sqlite(_) => {
                "DELETE FROM client_assertion_jtis WHERE rowid IN (
                     SELECT rowid FROM client_assertion_jtis WHERE expires_at <= $1 LIMIT $2)"
            }
            Store::Postgres(_) => {
                "DELETE FROM client_assertion_jtis WHERE ctid IN (
                     SELECT ctid FROM client_assertion_jtis WHERE expires_at <= $1 LIMIT $2
                     FOR UPDATE SKIP LOCKED)"
            }
        };
        let mut pruned = 0;
        loop {
            let deleted = on_engine!(self, |s| {
                sqlx::query(sql)
                    .bind(ts(now))
                    .bind(PRUNE_CHUNK)
                    .execute(s.writer())
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(db_err)?
            });
            pruned += deleted;
            if deleted < PRUNE_CHUNK as u64 {
                return Ok(pruned);
            }
        }
    }
}

/// Marks in `fresh` the entries of `chunk` (indexes into `uses`, sorted and deduplicated) whose
/// rows a statement wrote, as its `RETURNING` named them.
fn mark_written<R: Col>(
    uses: &[JtiUse<'_>],
    chunk: &[usize],
    written: &[R],
    fresh: &mut [bool],
) -> Result<(), StoreError> {
    for row in written {
        let (client_id, jti) = (row.text("client_id")?, row.text("jti")?);
        let found = chunk.binary_search_by(|&i| {
            (uses[i].client_id, uses[i].jti).cmp(&(client_id.as_str(), jti.as_str()))
        });
        if let Ok(at) = found {
            fresh[chunk[at]] = true;
        }
    }
    Ok(())
}
