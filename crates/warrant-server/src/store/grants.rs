//! Client grants: which application may get tokens for which API, with which scopes.

use super::rows::{Col, corrupt, ts, unts};
use super::state::record_client_change;
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{ClientGrant, CustomClaims};

/// What [`Store::set_grants`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GrantChanges {
    /// Grants for APIs the application had none for.
    pub added: Vec<ClientGrant>,
    /// Grants whose scopes changed, as they are now (their ID and creation time kept).
    pub changed: Vec<ClientGrant>,
    /// Grants for APIs no longer wanted, as they were.
    pub removed: Vec<ClientGrant>,
}

impl GrantChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Filters for listing grants.
#[derive(Debug, Default, Clone)]
pub struct GrantFilter {
    pub client_id: Option<String>,
    pub audience: Option<String>,
}

/// Custom claims (an application's or a grant's) as stored: a JSON object.
pub(super) fn claims_json(claims: &CustomClaims) -> Result<String, StoreError> {
    serde_json::to_string(claims).map_err(|e| corrupt("custom_claims", e))
}

pub(super) fn claims_from_row(row: &impl Col) -> Result<CustomClaims, StoreError> {
    serde_json::from_str(&row.text("custom_claims")?).map_err(|e| corrupt("custom_claims", e))
}

pub(super) fn grant_from_row(row: &impl Col) -> Result<ClientGrant, StoreError> {
    Ok(ClientGrant {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        audience: row.text("audience")?,
        scopes: serde_json::from_str(&row.text("scopes")?)
            .map_err(|e| corrupt("grant scopes", e))?,
        custom_claims: claims_from_row(row)?,
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
    let claims = claims_json(&grant.custom_claims)?;
    on_tx!(tx.into(), |c| {
        sqlx::query(
            "INSERT INTO client_grants (id, client_id, audience, scopes, created_at, custom_claims)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&grant.id)
        .bind(&grant.client_id)
        .bind(&grant.audience)
        .bind(scopes)
        .bind(ts(grant.created_at))
        .bind(claims)
        .execute(&mut *c)
        .await
        .map_err(|e| grant_insert_error(grant, e))
        .map(drop)
    })
}

/// An application's grants, oldest first, in a transaction.
pub(super) async fn client_grants_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
) -> Result<Vec<ClientGrant>, StoreError> {
    let grants = on_tx!(tx.into(), |c| {
        sqlx::query(
            "SELECT id, client_id, audience, scopes, custom_claims, created_at FROM client_grants
             WHERE client_id = $1 ORDER BY created_at, id",
        )
        .bind(client_id)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?
        .iter()
        .map(grant_from_row)
        .collect::<Result<Vec<_>, _>>()?
    });
    Ok(grants)
}

/// Writes a grant's scopes and custom claims, in a transaction, and names its client changed.
pub(super) async fn update_grant_in(
    tx: impl Into<Tx<'_>>,
    grant: &ClientGrant,
) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&grant.scopes).map_err(|e| corrupt("scopes", e))?;
    let claims = claims_json(&grant.custom_claims)?;
    let mut tx = tx.into();
    on_tx!(&mut tx, |c| {
        let done =
            sqlx::query("UPDATE client_grants SET scopes = $2, custom_claims = $3 WHERE id = $1")
                .bind(&grant.id)
                .bind(scopes)
                .bind(claims)
                .execute(&mut **c)
                .await
                .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("client grant {}", grant.id)));
        }
    });
    record_client_change(&mut tx, &grant.client_id).await
}

/// A grant by its ID, in a transaction.
pub(super) async fn get_grant_in(
    tx: impl Into<Tx<'_>>,
    id: &str,
) -> Result<ClientGrant, StoreError> {
    let grant = on_tx!(tx.into(), |c| {
        let row = sqlx::query(
            "SELECT id, client_id, audience, scopes, custom_claims, created_at FROM client_grants
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
        grant_from_row(&row)?
    });
    Ok(grant)
}

/// [`Store::set_grants`]'s work in a transaction: the grants made `grants`, the client named
/// changed when anything changed.
pub(super) async fn set_grants_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
    grants: &[ClientGrant],
) -> Result<GrantChanges, StoreError> {
    for (i, grant) in grants.iter().enumerate() {
        if grant.client_id != client_id {
            return Err(StoreError::Conflict(format!(
                "a grant for application {} cannot be given to {client_id}",
                grant.client_id
            )));
        }
        if grants[..i].iter().any(|g| g.audience == grant.audience) {
            return Err(StoreError::Conflict(format!(
                "two grants for {}: an application has one grant per API",
                grant.audience
            )));
        }
    }
    let mut tx = tx.into();
    super::require_application(&mut tx, client_id).await?;
    let current = client_grants_in(&mut tx, client_id).await?;
    let mut changes = GrantChanges::default();
    for grant in grants {
        match current.iter().find(|g| g.audience == grant.audience) {
            Some(old) if old.scopes == grant.scopes && old.custom_claims == grant.custom_claims => {
            }
            Some(old) => {
                let scopes =
                    serde_json::to_string(&grant.scopes).map_err(|e| corrupt("scopes", e))?;
                let claims = claims_json(&grant.custom_claims)?;
                on_tx!(&mut tx, |c| {
                    sqlx::query(
                        "UPDATE client_grants SET scopes = $2, custom_claims = $3 WHERE id = $1",
                    )
                    .bind(&old.id)
                    .bind(scopes)
                    .bind(claims)
                    .execute(&mut **c)
                    .await
                    .map_err(db_err)?;
                });
                changes.changed.push(ClientGrant {
                    scopes: grant.scopes.clone(),
                    custom_claims: grant.custom_claims.clone(),
                    ..old.clone()
                });
            }
            None => {
                insert_grant_in(&mut tx, grant).await?;
                changes.added.push(grant.clone());
            }
        }
    }
    for old in &current {
        if !grants.iter().any(|g| g.audience == old.audience) {
            on_tx!(&mut tx, |c| {
                sqlx::query("DELETE FROM client_grants WHERE id = $1")
                    .bind(&old.id)
                    .execute(&mut **c)
                    .await
                    .map_err(db_err)?;
            });
            changes.removed.push(old.clone());
        }
    }
    if !changes.is_empty() {
        record_client_change(&mut tx, client_id).await?;
    }
    Ok(changes)
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
                "SELECT id, client_id, audience, scopes, custom_claims, created_at FROM client_grants
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
                "SELECT id, client_id, audience, scopes, custom_claims, created_at FROM client_grants WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&s.pool)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
            grant_from_row(&row)
        })
    }

    /// Adds to an application's grant for `audience` those of `scopes` it lacks (after its own,
    /// in the order given), in one transaction that reads and writes the grant; returns the
    /// scopes added, none when it had them all (nothing written then). `NotFound` without such
    /// a grant.
    pub async fn add_grant_scopes(
        &self,
        client_id: &str,
        audience: &str,
        scopes: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let row = sqlx::query(
                "SELECT id, client_id, audience, scopes, custom_claims, created_at FROM client_grants
                 WHERE client_id = $1 AND audience = $2",
            )
            .bind(client_id)
            .bind(audience)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| {
                StoreError::NotFound(format!("grant of application {client_id} for {audience}"))
            })?;
            let mut grant = grant_from_row(&row)?;
            let added: Vec<String> = scopes
                .iter()
                .filter(|s| !grant.scopes.iter().any(|held| held.as_str() == **s))
                .map(|s| (*s).to_owned())
                .collect();
            if added.is_empty() {
                tx.rollback().await.map_err(db_err)?;
                return Ok(added);
            }
            grant.scopes.extend(added.iter().cloned());
            let json = serde_json::to_string(&grant.scopes).map_err(|e| corrupt("scopes", e))?;
            sqlx::query("UPDATE client_grants SET scopes = $2 WHERE id = $1")
                .bind(&grant.id)
                .bind(json)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            record_client_change(&mut tx, client_id).await?;
            s.commit(tx).await?;
            Ok(added)
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

    /// Makes `grants` the application's grants, in one transaction: a grant for an API it has
    /// one for replaces that one's scopes (keeping its ID), a grant for another API is added,
    /// and its grants for APIs not in `grants` are deleted. All of it or, on any error, none of
    /// it. A change bumps the version once and names the client once; no change writes nothing.
    /// Every grant must be for `client_id`, one per API (else `Conflict`); an unknown
    /// application or API is `NotFound`.
    pub async fn set_grants(
        &self,
        client_id: &str,
        grants: &[ClientGrant],
    ) -> Result<GrantChanges, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let changes = set_grants_in(&mut tx, client_id, grants).await?;
            if changes.is_empty() {
                // The version stays as it was.
                tx.rollback().await.map_err(db_err)?;
                return Ok(changes);
            }
            s.commit(tx).await?;
            Ok(changes)
        })
    }
}
