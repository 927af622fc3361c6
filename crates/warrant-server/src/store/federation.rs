//! Workload identity federation: the federated credentials of applications (loaded with their
//! client). Their trusted issuers are in `issuers.rs`.

use std::collections::BTreeMap;

use super::rows::{Col, corrupt, ts, unts};
use super::state::record_client_change;
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{ClaimCondition, FederatedCredential, MAX_FEDERATED_CREDENTIALS};

pub(super) const FEDERATED_COLUMNS: &str = "id, client_id, issuer_id, name, subject, audience,
        conditions, created_at, updated_at, expires_at";

pub(super) fn federated_from_row(row: &impl Col) -> Result<FederatedCredential, StoreError> {
    let conditions: BTreeMap<String, String> =
        serde_json::from_str(&row.text("conditions")?).map_err(|e| corrupt("conditions", e))?;
    Ok(FederatedCredential {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        issuer_id: row.text("issuer_id")?,
        name: row.text("name")?,
        subject: row.text("subject")?,
        audience: row.opt_text("audience")?,
        conditions: conditions
            .into_iter()
            .map(|(claim, value)| ClaimCondition { claim, value })
            .collect(),
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
        expires_at: row.opt_int("expires_at")?.map(unts),
    })
}

/// Adds a federated credential in a transaction: at most [`MAX_FEDERATED_CREDENTIALS`] for
/// its application; the application and the issuer must exist.
pub(super) async fn insert_federated_credential_in(
    tx: impl Into<Tx<'_>>,
    cred: &FederatedCredential,
) -> Result<(), StoreError> {
    let conditions = conditions_json(cred)?;
    let mut tx = tx.into();
    super::require_application(&mut tx, &cred.client_id).await?;
    on_tx!(&mut tx, |c| {
        let issuer: Option<i32> = sqlx::query_scalar("SELECT 1 FROM trusted_issuers WHERE id = $1")
            .bind(&cred.issuer_id)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
        if issuer.is_none() {
            return Err(StoreError::NotFound(format!(
                "trusted issuer {}",
                cred.issuer_id
            )));
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM federated_credentials WHERE client_id = $1")
                .bind(&cred.client_id)
                .fetch_one(&mut **c)
                .await
                .map_err(db_err)?;
        if unts(count) >= MAX_FEDERATED_CREDENTIALS as u64 {
            return Err(StoreError::Conflict(format!(
                "an application has at most {MAX_FEDERATED_CREDENTIALS} federated credentials; delete one first"
            )));
        }
        sqlx::query(
            "INSERT INTO federated_credentials (id, client_id, issuer_id, name, subject,
                audience, conditions, created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&cred.id)
        .bind(&cred.client_id)
        .bind(&cred.issuer_id)
        .bind(&cred.name)
        .bind(&cred.subject)
        .bind(cred.audience.as_deref())
        .bind(&conditions)
        .bind(ts(cred.created_at))
        .bind(ts(cred.updated_at))
        .bind(cred.expires_at.map(ts))
        .execute(&mut **c)
        .await
        .map_err(db_err)?;
    });
    record_client_change(&mut tx, &cred.client_id).await
}

/// Writes a federated credential's name, conditions and expiry (what a configuration file
/// changes in place; its issuer, subject and audience are what it is matched by), in a
/// transaction.
pub(super) async fn update_federated_credential_in(
    tx: impl Into<Tx<'_>>,
    cred: &FederatedCredential,
) -> Result<(), StoreError> {
    let conditions = conditions_json(cred)?;
    let mut tx = tx.into();
    let affected = on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE federated_credentials SET name = $3, conditions = $4, expires_at = $5,
                updated_at = $6
             WHERE client_id = $1 AND id = $2",
        )
        .bind(&cred.client_id)
        .bind(&cred.id)
        .bind(&cred.name)
        .bind(&conditions)
        .bind(cred.expires_at.map(ts))
        .bind(ts(cred.updated_at))
        .execute(&mut **c)
        .await
        .map_err(db_err)?
        .rows_affected()
    });
    if affected == 0 {
        return Err(StoreError::NotFound(format!(
            "federated credential {}",
            cred.id
        )));
    }
    record_client_change(&mut tx, &cred.client_id).await
}

/// Deletes a federated credential, in a transaction.
pub(super) async fn delete_federated_credential_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
    id: &str,
) -> Result<(), StoreError> {
    let mut tx = tx.into();
    let affected = on_tx!(&mut tx, |c| {
        sqlx::query("DELETE FROM federated_credentials WHERE client_id = $1 AND id = $2")
            .bind(client_id)
            .bind(id)
            .execute(&mut **c)
            .await
            .map_err(db_err)?
            .rows_affected()
    });
    if affected == 0 {
        return Err(StoreError::NotFound(format!("federated credential {id}")));
    }
    record_client_change(&mut tx, client_id).await
}

fn conditions_json(cred: &FederatedCredential) -> Result<String, StoreError> {
    serde_json::to_string(&cred.conditions_map()).map_err(|e| corrupt("conditions", e))
}

impl Store {
    /// Adds a federated credential to its application: at most [`MAX_FEDERATED_CREDENTIALS`]
    /// each; the application and the issuer must exist.
    pub async fn insert_federated_credential(
        &self,
        cred: &FederatedCredential,
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_federated_credential_in(&mut tx, cred).await?;
            s.commit(tx).await
        })
    }

    /// An application's federated credentials in creation order.
    pub async fn list_federated_credentials(
        &self,
        client_id: &str,
    ) -> Result<Vec<FederatedCredential>, StoreError> {
        let sql = format!(
            "SELECT {FEDERATED_COLUMNS} FROM federated_credentials WHERE client_id = $1
             ORDER BY created_at, id"
        );
        on_engine!(self, |s| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(federated_from_row)
                .collect()
        })
    }

    pub async fn get_federated_credential(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<FederatedCredential, StoreError> {
        let sql = format!(
            "SELECT {FEDERATED_COLUMNS} FROM federated_credentials
             WHERE client_id = $1 AND id = $2"
        );
        on_engine!(self, |s| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .bind(id)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("federated credential {id}")))?;
            federated_from_row(&row)
        })
    }

    pub async fn delete_federated_credential(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            delete_federated_credential_in(&mut tx, client_id, id).await?;
            s.commit(tx).await
        })
    }
}
