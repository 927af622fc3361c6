//! APIs (resource servers).

use super::rows::{Col, corrupt, ts, unts};
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{ResourceServer, Scope, SigningAlg};

const RS_COLUMNS: &str = "id, identifier, name, scopes, token_lifetime, signing_alg, \
     proof_of_possession, created_at, updated_at";
pub(super) const RS_SELECT: &str = "SELECT id, identifier, name, scopes, token_lifetime, \
     signing_alg, proof_of_possession, created_at, updated_at
     FROM resource_servers ORDER BY created_at, id";

pub(super) fn rs_from_row(row: &impl Col) -> Result<ResourceServer, StoreError> {
    let scopes: Vec<Scope> =
        serde_json::from_str(&row.text("scopes")?).map_err(|e| corrupt("API scopes", e))?;
    Ok(ResourceServer {
        id: row.text("id")?,
        identifier: row.text("identifier")?,
        name: row.text("name")?,
        scopes,
        token_lifetime: u32::try_from(row.int("token_lifetime")?)
            .map_err(|e| corrupt("token_lifetime", e))?,
        signing_alg: SigningAlg::parse(&row.text("signing_alg")?)
            .map_err(|e| corrupt("signing_alg", e))?,
        proof_of_possession: row
            .opt_text("proof_of_possession")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| corrupt("proof_of_possession", e))?,
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
    })
}

/// An API's `proof_of_possession` as stored: its JSON, or NULL.
fn pop_column(api: &ResourceServer) -> Result<Option<String>, StoreError> {
    api.proof_of_possession
        .map(|p| serde_json::to_string(&p))
        .transpose()
        .map_err(|e| corrupt("proof_of_possession", e))
}

/// Deletes an API (its grants go with it).
pub(super) const DELETE_API: &str = "DELETE FROM resource_servers WHERE id = $1";

pub(super) async fn insert_api_in(
    tx: impl Into<Tx<'_>>,
    api: &ResourceServer,
) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&api.scopes).map_err(|e| corrupt("scopes", e))?;
    let pop = pop_column(api)?;
    on_tx!(tx.into(), |c| {
        sqlx::query(
            "INSERT INTO resource_servers
             (id, identifier, name, scopes, token_lifetime, signing_alg, created_at, updated_at,
              proof_of_possession)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&api.id)
        .bind(&api.identifier)
        .bind(&api.name)
        .bind(scopes)
        .bind(i64::from(api.token_lifetime))
        .bind(api.signing_alg.as_str())
        .bind(ts(api.created_at))
        .bind(ts(api.updated_at))
        .bind(pop.as_deref())
        .execute(&mut *c)
        .await
        .map_err(|e| match db_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "an API with identifier {} already exists",
                api.identifier
            )),
            other => other,
        })
        .map(drop)
    })
}

/// An API by its id or its identifier, in a transaction; `None` when there is none.
pub(super) async fn find_api_in(
    tx: impl Into<Tx<'_>>,
    id_or_identifier: &str,
) -> Result<Option<ResourceServer>, StoreError> {
    let sql = format!("SELECT {RS_COLUMNS} FROM resource_servers WHERE id = $1 OR identifier = $1");
    let api = on_tx!(tx.into(), |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_or_identifier)
            .fetch_optional(&mut *c)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(rs_from_row)
            .transpose()?
    });
    Ok(api)
}

pub(super) async fn update_api_in(
    tx: impl Into<Tx<'_>>,
    api: &ResourceServer,
) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&api.scopes).map_err(|e| corrupt("scopes", e))?;
    let pop = pop_column(api)?;
    on_tx!(tx.into(), |c| {
        let done = sqlx::query(
            "UPDATE resource_servers SET name = $2, scopes = $3, token_lifetime = $4,
                signing_alg = $5, updated_at = $6, proof_of_possession = $7
             WHERE id = $1",
        )
        .bind(&api.id)
        .bind(&api.name)
        .bind(scopes)
        .bind(i64::from(api.token_lifetime))
        .bind(api.signing_alg.as_str())
        .bind(ts(api.updated_at))
        .bind(pop.as_deref())
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("API {}", api.id)));
        }
        Ok(())
    })
}

impl Store {
    pub async fn insert_resource_server(&self, api: &ResourceServer) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_api_in(&mut tx, api).await?;
            s.commit(tx).await
        })
    }

    pub async fn list_resource_servers(&self) -> Result<Vec<ResourceServer>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query(RS_SELECT)
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(rs_from_row)
                .collect()
        })
    }

    /// Finds an API by its id or its identifier.
    pub async fn get_resource_server(
        &self,
        id_or_identifier: &str,
    ) -> Result<ResourceServer, StoreError> {
        let sql =
            format!("SELECT {RS_COLUMNS} FROM resource_servers WHERE id = $1 OR identifier = $1");
        on_engine!(self, |s| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id_or_identifier)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("API {id_or_identifier}")))?;
            rs_from_row(&row)
        })
    }

    /// Replaces what may change of an API (by id or identifier) by what `change` makes of the
    /// stored one, read and written in one write transaction: a concurrent change waits for
    /// this one and then starts from what it wrote, so neither is lost.
    pub async fn change_resource_server<E: From<StoreError>>(
        &self,
        id_or_identifier: &str,
        change: impl FnOnce(ResourceServer) -> Result<ResourceServer, E>,
    ) -> Result<ResourceServer, E> {
        on_engine!(self, |s| {
            // The write transaction holds the write lock (SQLite) or the change counter's row
            // (PostgreSQL) from its start, so the read below sees every change committed
            // before it and none can come between it and the write.
            let mut tx = s.write_tx().await?;
            let old = find_api_in(&mut tx, id_or_identifier)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("API {id_or_identifier}")))?;
            let api = change(old)?;
            update_api_in(&mut tx, &api).await?;
            s.commit(tx).await?;
            Ok(api)
        })
    }

    /// Deletes an API and every grant for it.
    pub async fn delete_resource_server(&self, id: &str) -> Result<(), StoreError> {
        self.delete_one(DELETE_API, id, "API", None).await
    }
}
