//! Client grants: which application may get tokens for which API, with which scopes.

use super::rows::{Col, corrupt, ts, unts};
use super::state::record_client_change;
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::ClientGrant;

/// Filters for listing grants.
#[derive(Debug, Default, Clone)]
pub struct GrantFilter {
    pub client_id: Option<String>,
    pub audience: Option<String>,
}

pub(super) fn grant_from_row(row: &impl Col) -> Result<ClientGrant, StoreError> {
    Ok(ClientGrant {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        audience: row.text("audience")?,
        scopes: serde_json::from_str(&row.text("scopes")?)
            .map_err(|e| corrupt("grant scopes", e))?,
        created_at: unts(row.int("created_at")?),
    })
}

/// Why inserting `grant` failed, in the administrator's words.
fn grant_insert_error(grant: &ClientGrant, e: sqlx::Error) -> StoreError {
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

pub(super) async fn insert_grant_in(
    tx: impl Into<Tx<'_>>,
    grant: &ClientGrant,
) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&grant.scopes).map_err(|e| corrupt("scopes", e))?;
    on_tx!(tx.into(), |c| {
        sqlx::query(
            "INSERT INTO client_grants (id, client_id, audience, scopes, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&grant.id)
        .bind(&grant.client_id)
        .bind(&grant.audience)
        .bind(scopes)
        .bind(ts(grant.created_at))
        .execute(&mut *c)
        .await
        .map_err(|e| grant_insert_error(grant, e))
        .map(drop)
    })
}

impl Store {
    pub async fn insert_grant(&self, grant: &ClientGrant) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_grant_in(&mut tx, grant).await?;
            record_client_change(&mut tx, &grant.client_id).await?;
            s.commit(tx).await
        })
    }

    pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<ClientGrant>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query(
                "SELECT id, client_id, audience, scopes, created_at FROM client_grants
                 WHERE (CAST($1 AS TEXT) IS NULL OR client_id = $1)
                   AND (CAST($2 AS TEXT) IS NULL OR audience = $2)
                 ORDER BY created_at, id",
            )
            .bind(filter.client_id.as_deref())
            .bind(filter.audience.as_deref())
            .fetch_all(&s.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(grant_from_row)
            .collect()
        })
    }

    pub async fn get_grant(&self, id: &str) -> Result<ClientGrant, StoreError> {
        on_engine!(self, |s| {
            let row = sqlx::query(
                "SELECT id, client_id, audience, scopes, created_at FROM client_grants WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&s.pool)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
            grant_from_row(&row)
        })
    }

    pub async fn update_grant_scopes(&self, id: &str, scopes: &[String]) -> Result<(), StoreError> {
        let scopes = serde_json::to_string(scopes).map_err(|e| corrupt("scopes", e))?;
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let client_id: String = sqlx::query_scalar(
                "UPDATE client_grants SET scopes = $2 WHERE id = $1 RETURNING client_id",
            )
            .bind(id)
            .bind(scopes)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
            record_client_change(&mut tx, &client_id).await?;
            s.commit(tx).await
        })
    }

    pub async fn delete_grant(&self, id: &str) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let client_id: String =
                sqlx::query_scalar("DELETE FROM client_grants WHERE id = $1 RETURNING client_id")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
            record_client_change(&mut tx, &client_id).await?;
            s.commit(tx).await
        })
    }
}
