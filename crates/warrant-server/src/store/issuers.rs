//! Trusted issuers of workload identity federation: few, and the catalog loads them all with
//! the APIs (`state.rs`). A trusted issuer that federated credentials use is not deleted.

use super::rows::{Col, corrupt, ts, unts};
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{IssuerKeySource, MAX_TRUSTED_ISSUERS, TrustedIssuer, parse_algorithm_names};

pub(super) const ISSUER_SELECT: &str = "SELECT id, issuer, name, key_source, jwks_uri, jwks,
        bearer_token_file, ca_file, algorithms, max_assertion_lifetime, created_at, updated_at
     FROM trusted_issuers";

pub(super) fn issuer_from_row(row: &impl Col) -> Result<TrustedIssuer, StoreError> {
    let keys = match row.text("key_source")?.as_str() {
        "discovery" => IssuerKeySource::Discovery,
        "jwks_uri" => IssuerKeySource::JwksUri(
            row.opt_text("jwks_uri")?
                .ok_or_else(|| corrupt("jwks_uri", "missing"))?,
        ),
        "inline" => IssuerKeySource::Inline(
            row.opt_text("jwks")?
                .ok_or_else(|| corrupt("jwks", "missing"))?,
        ),
        other => return Err(corrupt("key_source", other)),
    };
    Ok(TrustedIssuer {
        id: row.text("id")?,
        issuer: row.text("issuer")?,
        name: row.text("name")?,
        keys,
        bearer_token_file: row.opt_text("bearer_token_file")?,
        ca_file: row.opt_text("ca_file")?,
        algorithms: parse_algorithm_names(&row.text("algorithms")?)
            .map_err(|e| corrupt("algorithms", e))?,
        max_assertion_lifetime: unts(row.int("max_assertion_lifetime")?),
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
    })
}

/// Adds a trusted issuer in a transaction: at most [`MAX_TRUSTED_ISSUERS`], each issuer URL
/// once.
pub(super) async fn insert_trusted_issuer_in(
    tx: impl Into<Tx<'_>>,
    issuer: &TrustedIssuer,
) -> Result<(), StoreError> {
    let (jwks_uri, jwks) = issuer.keys.parts();
    on_tx!(tx.into(), |c| {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trusted_issuers")
            .fetch_one(&mut *c)
            .await
            .map_err(db_err)?;
        if unts(count) >= MAX_TRUSTED_ISSUERS as u64 {
            return Err(StoreError::Conflict(format!(
                "a server trusts at most {MAX_TRUSTED_ISSUERS} issuers; remove one first"
            )));
        }
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM trusted_issuers WHERE issuer = $1")
                .bind(&issuer.issuer)
                .fetch_optional(&mut *c)
                .await
                .map_err(db_err)?;
        if let Some(id) = exists {
            return Err(StoreError::Conflict(format!(
                "the issuer {} is trusted already ({id})",
                issuer.issuer
            )));
        }
        sqlx::query(
            "INSERT INTO trusted_issuers (id, issuer, name, key_source, jwks_uri, jwks,
                bearer_token_file, ca_file, algorithms, max_assertion_lifetime, created_at,
                updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&issuer.id)
        .bind(&issuer.issuer)
        .bind(&issuer.name)
        .bind(issuer.keys.kind())
        .bind(jwks_uri)
        .bind(jwks)
        .bind(issuer.bearer_token_file.as_deref())
        .bind(issuer.ca_file.as_deref())
        .bind(issuer.algorithm_names())
        .bind(ts(issuer.max_assertion_lifetime))
        .bind(ts(issuer.created_at))
        .bind(ts(issuer.updated_at))
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    });
    Ok(())
}

/// Writes everything of a trusted issuer but its ID, issuer URL and creation time, in a
/// transaction. `updated_at` is written only if it moves the stored one forward, else the stored
/// one plus a second: every instance's key cache rebuilds an issuer's keys when that value
/// changes, so a write planned from an older read (a configuration apply beside a PATCH in the
/// same second) must still move it.
pub(super) async fn update_trusted_issuer_in(
    tx: impl Into<Tx<'_>>,
    issuer: &TrustedIssuer,
) -> Result<(), StoreError> {
    let (jwks_uri, jwks) = issuer.keys.parts();
    let affected = on_tx!(tx.into(), |c| {
        sqlx::query(
            "UPDATE trusted_issuers SET name = $2, key_source = $3, jwks_uri = $4, jwks = $5,
                bearer_token_file = $6, ca_file = $7, algorithms = $8,
                max_assertion_lifetime = $9,
                updated_at = CASE WHEN updated_at >= $10 THEN updated_at + 1 ELSE $10 END
             WHERE id = $1",
        )
        .bind(&issuer.id)
        .bind(&issuer.name)
        .bind(issuer.keys.kind())
        .bind(jwks_uri)
        .bind(jwks)
        .bind(issuer.bearer_token_file.as_deref())
        .bind(issuer.ca_file.as_deref())
        .bind(issuer.algorithm_names())
        .bind(ts(issuer.max_assertion_lifetime))
        .bind(ts(issuer.updated_at))
        .execute(&mut *c)
        .await
        .map_err(db_err)?
        .rows_affected()
    });
    if affected == 0 {
        return Err(StoreError::NotFound(format!(
            "trusted issuer {}",
            issuer.id
        )));
    }
    Ok(())
}

/// A trusted issuer by its ID or by its issuer URL, in a transaction.
async fn get_trusted_issuer_in(
    tx: impl Into<Tx<'_>>,
    key: &str,
) -> Result<TrustedIssuer, StoreError> {
    let sql = format!("{ISSUER_SELECT} WHERE id = $1 OR issuer = $1");
    let row = on_tx!(tx.into(), |c| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&mut *c)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("trusted issuer {key}")))?;
        issuer_from_row(&row)?
    });
    Ok(row)
}

/// Deletes a trusted issuer no federated credential uses, in a transaction.
pub(super) async fn delete_trusted_issuer_in(
    tx: impl Into<Tx<'_>>,
    id: &str,
) -> Result<(), StoreError> {
    let mut tx = tx.into();
    let used: i64 = on_tx!(&mut tx, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM federated_credentials WHERE issuer_id = $1")
            .bind(id)
            .fetch_one(&mut **c)
            .await
            .map_err(db_err)?
    });
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "{used} federated credentials use this issuer; remove them first"
        )));
    }
    let affected = on_tx!(&mut tx, |c| {
        sqlx::query("DELETE FROM trusted_issuers WHERE id = $1")
            .bind(id)
            .execute(&mut **c)
            .await
            .map_err(db_err)?
            .rows_affected()
    });
    if affected == 0 {
        return Err(StoreError::NotFound(format!("trusted issuer {id}")));
    }
    Ok(())
}

impl Store {
    /// Adds a trusted issuer: at most [`MAX_TRUSTED_ISSUERS`], each issuer URL once.
    pub async fn insert_trusted_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_trusted_issuer_in(&mut tx, issuer).await?;
            s.commit(tx).await
        })
    }

    /// Replaces what may change of a trusted issuer (all but its ID, URL and creation time) by
    /// what `change` makes of the stored one (by ID or issuer URL), read and written in one
    /// write transaction: a concurrent change waits for this one and then starts from what it
    /// wrote, so neither is lost and each moves `updated_at` past the other's. Every
    /// instance's catalog reloads the issuer, and its key cache follows `updated_at`.
    pub async fn change_trusted_issuer<E: From<StoreError>>(
        &self,
        key: &str,
        change: impl FnOnce(TrustedIssuer) -> Result<TrustedIssuer, E>,
    ) -> Result<TrustedIssuer, E> {
        on_engine!(self, |s| {
            // The write transaction holds the write lock (SQLite) or the change counter's row
            // (PostgreSQL) from its start, so the read below sees every change committed
            // before it and none can come between it and the write.
            let mut tx = s.write_tx().await?;
            let old = get_trusted_issuer_in(&mut tx, key).await?;
            let issuer = change(old)?;
            update_trusted_issuer_in(&mut tx, &issuer).await?;
            s.commit(tx).await?;
            Ok(issuer)
        })
    }

    /// Every trusted issuer, in creation order.
    pub async fn list_trusted_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
        let sql = format!("{ISSUER_SELECT} ORDER BY created_at, id");
        on_engine!(self, |s| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(issuer_from_row)
                .collect()
        })
    }

    /// A trusted issuer by its ID or by its issuer URL.
    pub async fn get_trusted_issuer(&self, key: &str) -> Result<TrustedIssuer, StoreError> {
        let sql = format!("{ISSUER_SELECT} WHERE id = $1 OR issuer = $1");
        on_engine!(self, |s| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("trusted issuer {key}")))?;
            issuer_from_row(&row)
        })
    }

    /// Deletes a trusted issuer no federated credential uses.
    pub async fn delete_trusted_issuer(&self, id: &str) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            delete_trusted_issuer_in(&mut tx, id).await?;
            s.commit(tx).await
        })
    }
}
