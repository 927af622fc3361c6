//! Workload identity federation: the federated credentials of applications (loaded with their
//! client). Their trusted issuers are in `issuers.rs`.

use std::collections::BTreeMap;

use super::rows::{Col, corrupt, ts, unts};
use super::state::record_client_change;
use super::{Store, StoreError, db_err, on_engine};
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

impl Store {
    /// Adds a federated credential to its application: at most [`MAX_FEDERATED_CREDENTIALS`]
    /// each; the application and the issuer must exist.
    pub async fn insert_federated_credential(
        &self,
        cred: &FederatedCredential,
    ) -> Result<(), StoreError> {
        let conditions =
            serde_json::to_string(&cred.conditions_map()).map_err(|e| corrupt("conditions", e))?;
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            super::require_application(&mut tx, &cred.client_id).await?;
            let issuer: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM trusted_issuers WHERE id = $1")
                    .bind(&cred.issuer_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if issuer.is_none() {
                return Err(StoreError::NotFound(format!(
                    "trusted issuer {}",
                    cred.issuer_id
                )));
            }
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM federated_credentials WHERE client_id = $1",
            )
            .bind(&cred.client_id)
            .fetch_one(&mut *tx)
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
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            record_client_change(&mut tx, &cred.client_id).await?;
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
            let done =
                sqlx::query("DELETE FROM federated_credentials WHERE client_id = $1 AND id = $2")
                    .bind(client_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("federated credential {id}")));
            }
            record_client_change(&mut tx, client_id).await?;
            s.commit(tx).await
        })
    }
}
