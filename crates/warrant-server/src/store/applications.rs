//! Applications (M2M clients) and their secrets, and what issuance loads of one client.

use std::collections::BTreeMap;

use super::apis::find_api_in;
use super::credentials::{auth_methods_from_row, credential_from_row, credentials_in};
use super::federation::{FEDERATED_COLUMNS, federated_from_row};
use super::grants::{
    GrantChanges, claims_from_row, claims_json, client_grants_in, get_grant_in, grant_from_row,
    insert_grant_in, set_grants_in, update_grant_in,
};
use super::rows::{Col, corrupt, ts, unts};
use super::state::record_client_change;
use super::{Store, StoreError, Tx, db_err, on_engine, on_tx};
use crate::domain::{
    Application, AuthMethod, ClientGrant, ClientSecret, CustomClaims, FederatedCredential,
    PublicKeyCredential, ResourceServer, SecretHash, TokenQuota,
};

const APP_COLUMNS: &str = "client_id, name, description, created_at, updated_at,
        token_endpoint_auth_method, client_metadata, token_quota, client_authentication_methods,
        custom_claims, config_key";
const APP_SELECT: &str = "SELECT client_id, name, description, created_at, updated_at,
        token_endpoint_auth_method, client_metadata, token_quota, client_authentication_methods,
        custom_claims, config_key
     FROM applications ORDER BY created_at, client_id";

/// Deletes an application (its secrets, credentials and grants go with it).
pub(super) const DELETE_APPLICATION: &str = "DELETE FROM applications WHERE client_id = $1";

/// What issuance needs of one client: its secrets, and its grants each with the ID of the API
/// it was granted on (an API deleted and re-created under the same identifier is another API).
#[derive(Debug)]
pub struct ClientRecord {
    pub secrets: Vec<ClientSecret>,
    /// Whether the client authenticates with private_key_jwt (its list of credentials is not
    /// empty): then its secrets are refused.
    pub private_key_jwt: bool,
    /// The public-key credentials it lists for private_key_jwt.
    pub credentials: Vec<PublicKeyCredential>,
    /// Its federated credentials (workload identity federation).
    pub federated: Vec<FederatedCredential>,
    pub grants: Vec<(ClientGrant, String)>,
    pub token_quota: Option<TokenQuota>,
    /// What its tokens' custom claims are made of, with its grants' claims.
    pub client_metadata: BTreeMap<String, String>,
    pub custom_claims: CustomClaims,
}

fn metadata_json(app: &Application) -> Result<String, StoreError> {
    serde_json::to_string(&app.client_metadata).map_err(|e| corrupt("client_metadata", e))
}

fn metadata_from_row(row: &impl Col) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(&row.text("client_metadata")?).map_err(|e| corrupt("client_metadata", e))
}

fn quota_json(quota: Option<&TokenQuota>) -> Result<Option<String>, StoreError> {
    quota
        .map(|q| serde_json::to_string(q).map_err(|e| corrupt("token_quota", e)))
        .transpose()
}

fn quota_from_row(row: &impl Col) -> Result<Option<TokenQuota>, StoreError> {
    row.opt_text("token_quota")?
        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("token_quota", e)))
        .transpose()
}

fn auth_methods_json(app: &Application) -> Result<Option<String>, StoreError> {
    app.private_key_jwt
        .as_ref()
        .map(|ids| {
            serde_json::to_string(ids).map_err(|e| corrupt("client_authentication_methods", e))
        })
        .transpose()
}

fn app_from_row(row: &impl Col) -> Result<Application, StoreError> {
    Ok(Application {
        client_id: row.text("client_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        token_endpoint_auth_method: AuthMethod::parse(&row.text("token_endpoint_auth_method")?)
            .map_err(|e| corrupt("token_endpoint_auth_method", e))?,
        client_metadata: metadata_from_row(row)?,
        custom_claims: claims_from_row(row)?,
        token_quota: quota_from_row(row)?,
        private_key_jwt: auth_methods_from_row(row)?,
        config_key: row.opt_text("config_key")?,
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
    })
}

fn secret_from_row(row: &impl Col) -> Result<ClientSecret, StoreError> {
    let hash: [u8; 32] = row
        .bytes("secret_hash")?
        .try_into()
        .map_err(|_| StoreError::Corrupt("a secret hash is not 32 bytes".into()))?;
    Ok(ClientSecret {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        hash: SecretHash(hash),
        created_at: unts(row.int("created_at")?),
        expires_at: row.opt_int("expires_at")?.map(unts),
    })
}

async fn insert_secret(tx: impl Into<Tx<'_>>, secret: &ClientSecret) -> Result<(), StoreError> {
    on_tx!(tx.into(), |c| {
        sqlx::query(
            "INSERT INTO client_secrets (id, client_id, secret_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&secret.id)
        .bind(&secret.client_id)
        .bind(&secret.hash.0[..])
        .bind(ts(secret.created_at))
        .bind(secret.expires_at.map(ts))
        .execute(&mut *c)
        .await
        .map_err(db_err)
        .map(drop)
    })
}

/// Inserts an application with its first secret and its grants, and names it changed.
pub(super) async fn insert_application_in(
    tx: impl Into<Tx<'_>>,
    app: &Application,
    secret: &ClientSecret,
    grants: &[ClientGrant],
) -> Result<(), StoreError> {
    let metadata = metadata_json(app)?;
    let quota = quota_json(app.token_quota.as_ref())?;
    let methods = auth_methods_json(app)?;
    let claims = claims_json(&app.custom_claims)?;
    let mut tx = tx.into();
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "INSERT INTO applications (client_id, name, description, created_at, updated_at,
                token_endpoint_auth_method, client_metadata, token_quota,
                client_authentication_methods, custom_claims, config_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&app.client_id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(ts(app.created_at))
        .bind(ts(app.updated_at))
        .bind(app.token_endpoint_auth_method.as_str())
        .bind(metadata)
        .bind(quota)
        .bind(methods)
        .bind(claims)
        .bind(app.config_key.as_deref())
        .execute(&mut **c)
        .await
        .map_err(db_err)?;
    });
    insert_secret(&mut tx, secret).await?;
    for grant in grants {
        insert_grant_in(&mut tx, grant).await?;
    }
    // A server may remember that this client ID did not exist.
    record_client_change(&mut tx, &app.client_id).await
}

/// An application as a change of it finds it, in the change's transaction, with what the
/// change's rules read beside it.
#[derive(Debug)]
pub struct StoredApplication {
    pub application: Application,
    /// Its grants, oldest first.
    pub grants: Vec<ClientGrant>,
    /// Its public-key credentials, oldest first.
    pub credentials: Vec<PublicKeyCredential>,
}

/// An application with its grants and credentials, read in a transaction.
async fn stored_application_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
) -> Result<StoredApplication, StoreError> {
    let mut tx = tx.into();
    Ok(StoredApplication {
        application: get_application_in(&mut tx, client_id).await?,
        grants: client_grants_in(&mut tx, client_id).await?,
        credentials: credentials_in(&mut tx, client_id).await?,
    })
}

/// A grant as a change of it finds it, in the change's transaction, with what the change's
/// rules read beside it. Here, not in `grants.rs`: a grant's rules read its application, and
/// this file reads `grants.rs`.
#[derive(Debug)]
pub struct StoredGrant {
    pub grant: ClientGrant,
    /// The API it is on; `None` if it is gone.
    pub api: Option<ResourceServer>,
    /// Its application, and all of the application's grants (this one among them).
    pub application: Application,
    pub grants: Vec<ClientGrant>,
}

/// An application by its client ID, in a transaction.
async fn get_application_in(
    tx: impl Into<Tx<'_>>,
    client_id: &str,
) -> Result<Application, StoreError> {
    let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE client_id = $1");
    let app = on_tx!(tx.into(), |c| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(client_id)
            .fetch_optional(&mut *c)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("application {client_id}")))?;
        app_from_row(&row)?
    });
    Ok(app)
}

/// Writes an application's settings, and names it changed (issuance reads the quota and the
/// claims).
pub(super) async fn update_application_in(
    tx: impl Into<Tx<'_>>,
    app: &Application,
) -> Result<(), StoreError> {
    let metadata = metadata_json(app)?;
    let quota = quota_json(app.token_quota.as_ref())?;
    let methods = auth_methods_json(app)?;
    let claims = claims_json(&app.custom_claims)?;
    let mut tx = tx.into();
    on_tx!(&mut tx, |c| {
        let done = sqlx::query(
            "UPDATE applications SET name = $2, description = $3,
                token_endpoint_auth_method = $4, client_metadata = $5, updated_at = $6,
                token_quota = $7, client_authentication_methods = $8, custom_claims = $9,
                config_key = $10
             WHERE client_id = $1",
        )
        .bind(&app.client_id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(app.token_endpoint_auth_method.as_str())
        .bind(metadata)
        .bind(ts(app.updated_at))
        .bind(quota)
        .bind(methods)
        .bind(claims)
        .bind(app.config_key.as_deref())
        .execute(&mut **c)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "application {}",
                app.client_id
            )));
        }
    });
    record_client_change(&mut tx, &app.client_id).await
}

impl Store {
    /// One client's secrets and grants by an indexed lookup; `None` when it does not exist.
    pub async fn load_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.read_tx().await?;
            let app = sqlx::query(
                "SELECT token_quota, client_authentication_methods, client_metadata, custom_claims
                 FROM applications WHERE client_id = $1",
            )
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let Some(app) = app else {
                tx.commit().await.map_err(db_err)?;
                return Ok(None);
            };
            let token_quota = quota_from_row(&app)?;
            let client_metadata = metadata_from_row(&app)?;
            let custom_claims = claims_from_row(&app)?;
            let listed = auth_methods_from_row(&app)?.unwrap_or_default();
            let credentials = if listed.is_empty() {
                Vec::new()
            } else {
                sqlx::query(
                    "SELECT id, client_id, name, alg, kid, public_key, created_at, updated_at,
                        expires_at
                     FROM client_credentials WHERE client_id = $1",
                )
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(credential_from_row)
                .filter(|c| c.as_ref().map_or(true, |c| listed.contains(&c.id)))
                .collect::<Result<_, _>>()?
            };
            let secrets = sqlx::query(
                "SELECT id, client_id, secret_hash, created_at, expires_at FROM client_secrets
                 WHERE client_id = $1",
            )
            .bind(client_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(secret_from_row)
            .collect::<Result<_, _>>()?;
            let grants = sqlx::query(
                "SELECT g.id, g.client_id, g.audience, g.scopes, g.custom_claims, g.created_at,
                    r.id AS api_id
                 FROM client_grants g JOIN resource_servers r ON r.identifier = g.audience
                 WHERE g.client_id = $1",
            )
            .bind(client_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| Ok((grant_from_row(row)?, row.text("api_id")?)))
            .collect::<Result<_, StoreError>>()?;
            let federated = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {FEDERATED_COLUMNS} FROM federated_credentials WHERE client_id = $1"
            )))
            .bind(client_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(federated_from_row)
            .collect::<Result<_, _>>()?;
            tx.commit().await.map_err(db_err)?;
            Ok(Some(ClientRecord {
                secrets,
                private_key_jwt: !listed.is_empty(),
                credentials,
                federated,
                grants,
                token_quota,
                client_metadata,
                custom_claims,
            }))
        })
    }

    pub async fn insert_application(
        &self,
        app: &Application,
        secret: &ClientSecret,
        grants: &[ClientGrant],
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            insert_application_in(&mut tx, app, secret, grants).await?;
            s.commit(tx).await
        })
    }

    pub async fn list_applications(&self) -> Result<Vec<Application>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query(APP_SELECT)
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(app_from_row)
                .collect()
        })
    }

    /// `limit` applications from `offset`, in creation order, and how many there are in all
    /// (one read transaction).
    pub async fn list_applications_page(
        &self,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Application>, u64), StoreError> {
        let sql = format!("{APP_SELECT} LIMIT $1 OFFSET $2");
        on_engine!(self, |s| {
            let mut tx = s.read_tx().await?;
            let page = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(limit))
                .bind(ts(offset))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(app_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            // A read: ended without the engine's commit, which announces a change.
            tx.commit().await.map_err(db_err)?;
            Ok((page, unts(total)))
        })
    }

    pub async fn get_application(&self, client_id: &str) -> Result<Application, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE client_id = $1");
        on_engine!(self, |s| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("application {client_id}")))?;
            app_from_row(&row)
        })
    }

    /// Replaces an application's settings by what `change` makes of the stored ones, read
    /// with its grants and credentials and written in one write transaction: a concurrent
    /// change waits for this one and then starts from what it wrote, so neither is lost, and
    /// the rules `change` checks against the grants and credentials hold for what is written.
    pub async fn change_application<E: From<StoreError>>(
        &self,
        client_id: &str,
        change: impl FnOnce(StoredApplication) -> Result<Application, E>,
    ) -> Result<Application, E> {
        on_engine!(self, |s| {
            // The write transaction holds the write lock (SQLite) or the change counter's row
            // (PostgreSQL) from its start, so the reads below see every change committed
            // before it and none can come between them and the write.
            let mut tx = s.write_tx().await?;
            let stored = stored_application_in(&mut tx, client_id).await?;
            let app = change(stored)?;
            update_application_in(&mut tx, &app).await?;
            s.commit(tx).await?;
            Ok(app)
        })
    }

    /// Replaces a grant's scopes and custom claims by what `change` makes of the stored ones,
    /// read with its API, its application and the application's grants, and written in one
    /// write transaction, as [`change_application`](Self::change_application) does: neither
    /// of two concurrent changes is lost.
    pub async fn change_grant<E: From<StoreError>>(
        &self,
        id: &str,
        change: impl FnOnce(StoredGrant) -> Result<ClientGrant, E>,
    ) -> Result<ClientGrant, E> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let grant = get_grant_in(&mut tx, id).await?;
            let stored = StoredGrant {
                api: find_api_in(&mut tx, &grant.audience).await?,
                application: get_application_in(&mut tx, &grant.client_id).await?,
                grants: client_grants_in(&mut tx, &grant.client_id).await?,
                grant,
            };
            let grant = change(stored)?;
            update_grant_in(&mut tx, &grant).await?;
            s.commit(tx).await?;
            Ok(grant)
        })
    }

    /// Makes the application's grants what `change` makes of the stored ones (as
    /// [`set_grants`](Self::set_grants) does), read with the application and written in one
    /// write transaction, as [`change_application`](Self::change_application) does: a
    /// concurrent change of a grant or of the application waits for this one or is waited
    /// for, and the rules `change` checks against them hold for what is written. No change
    /// writes nothing.
    pub async fn change_grants<E: From<StoreError>>(
        &self,
        client_id: &str,
        change: impl FnOnce(StoredApplication) -> Result<Vec<ClientGrant>, E>,
    ) -> Result<GrantChanges, E> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            let stored = stored_application_in(&mut tx, client_id).await?;
            let grants = change(stored)?;
            let changes = set_grants_in(&mut tx, client_id, &grants).await?;
            if changes.is_empty() {
                // The version stays as it was.
                tx.rollback().await.map_err(db_err)?;
                return Ok(changes);
            }
            s.commit(tx).await?;
            Ok(changes)
        })
    }

    /// Deletes an application with its secrets and grants.
    pub async fn delete_application(&self, client_id: &str) -> Result<(), StoreError> {
        self.delete_one(
            DELETE_APPLICATION,
            client_id,
            "application",
            Some(client_id),
        )
        .await
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
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            super::require_application(&mut tx, &new.client_id).await?;
            if old_expire_at <= now {
                sqlx::query("DELETE FROM client_secrets WHERE client_id = $1")
                    .bind(&new.client_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            } else {
                // Only the current secret (the one without an end, else the newest still
                // working) gets the grace period; older ones stop now: at most two valid.
                let current: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM client_secrets
                     WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)
                     ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END DESC,
                              created_at DESC, id DESC
                     LIMIT 1",
                )
                .bind(&new.client_id)
                .bind(ts(now))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND id <> $2")
                    .bind(&new.client_id)
                    .bind(current.as_deref().unwrap_or(""))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "UPDATE client_secrets
                     SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > $2
                                           THEN $2 ELSE expires_at END
                     WHERE client_id = $1",
                )
                .bind(&new.client_id)
                .bind(ts(old_expire_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            insert_secret(&mut tx, new).await?;
            record_client_change(&mut tx, &new.client_id).await?;
            sqlx::query("UPDATE applications SET updated_at = $2 WHERE client_id = $1")
                .bind(&new.client_id)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            s.commit(tx).await
        })
    }

    pub async fn list_client_secrets(
        &self,
        client_id: &str,
    ) -> Result<Vec<ClientSecret>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query(
                "SELECT id, client_id, secret_hash, created_at, expires_at FROM client_secrets
                 WHERE client_id = $1 ORDER BY created_at, id",
            )
            .bind(client_id)
            .fetch_all(&s.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(secret_from_row)
            .collect()
        })
    }
}
