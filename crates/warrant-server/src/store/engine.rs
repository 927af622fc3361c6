//! The SQL both engines run, written once: `sql_engine!` puts these methods on an engine's
//! store type. The engine itself brings what differs: connecting, migrating, and how write and
//! read transactions begin and commit (`write_tx`, `commit`, `read_tx`). The SQL here is the
//! common subset of SQLite and PostgreSQL.

macro_rules! sql_engine {
    ($store:ty, $db:ty) => {
        impl $store {
            pub async fn version(&self) -> Result<i64, StoreError> {
                sqlx::query_scalar("SELECT version FROM state_version WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)
            }

            pub async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(drop)
                    .map_err(db_err)
            }

            pub async fn load_catalog(&self, since: Option<i64>) -> Result<CatalogState, StoreError> {
                let mut tx = self.read_tx().await?;
                let version: i64 = sqlx::query_scalar("SELECT version FROM state_version WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                macro_rules! all {
                    ($sql:expr, $map:expr) => {
                        sqlx::query($sql)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(db_err)?
                            .iter()
                            .map($map)
                            .collect::<Result<_, _>>()?
                    };
                }
                let resource_servers = all!(RS_SELECT, rs_from_row);
                let signing_keys = all!(KEY_SELECT, key_from_row);
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
                tx.commit().await.map_err(db_err)?;
                Ok(CatalogState {
                    version,
                    resource_servers,
                    signing_keys,
                    changed_clients,
                })
            }

            pub async fn load_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                let mut tx = self.read_tx().await?;
                let app = sqlx::query("SELECT token_quota FROM applications WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let Some(app) = app else {
                    tx.commit().await.map_err(db_err)?;
                    return Ok(None);
                };
                let token_quota = quota_from_row(&app)?;
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
                    "SELECT g.id, g.client_id, g.audience, g.scopes, g.created_at, r.id AS api_id
                     FROM client_grants g JOIN resource_servers r ON r.identifier = g.audience
                     WHERE g.client_id = $1",
                )
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(|row| Ok((grant_from_row(row)?, $crate::store::rows::Col::text(row, "api_id")?)))
                .collect::<Result<_, StoreError>>()?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(ClientRecord {
                    secrets,
                    grants,
                    token_quota,
                }))
            }

            /// Notes that this write transaction changed `client_id`, for the servers that cache
            /// it, and forgets changes older than the retention window.
            async fn record_client_change(
                tx: &mut sqlx::Transaction<'static, $db>,
                client_id: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO client_changes (version, client_id)
                     SELECT version, $1 FROM state_version WHERE id = 1
                     ON CONFLICT DO NOTHING",
                )
                .bind(client_id)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                sqlx::query(
                    "DELETE FROM client_changes
                     WHERE version <= (SELECT version FROM state_version WHERE id = 1) - $1",
                )
                .bind(CHANGE_RETENTION)
                .execute(&mut **tx)
                .await
                .map_err(db_err)
                .map(drop)
            }

            pub async fn insert_resource_server(&self, api: &ResourceServer) -> Result<(), StoreError> {
                let scopes = serde_json::to_string(&api.scopes).map_err(|e| corrupt("scopes", e))?;
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO resource_servers
                     (id, identifier, name, scopes, token_lifetime, signing_alg, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&api.id)
                .bind(&api.identifier)
                .bind(&api.name)
                .bind(scopes)
                .bind(i64::from(api.token_lifetime))
                .bind(api.signing_alg.as_str())
                .bind(ts(api.created_at))
                .bind(ts(api.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| match db_err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "an API with identifier {} already exists",
                        api.identifier
                    )),
                    other => other,
                })?;
                Self::commit(tx).await
            }

            pub async fn list_resource_servers(&self) -> Result<Vec<ResourceServer>, StoreError> {
                sqlx::query(RS_SELECT)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(rs_from_row)
                    .collect()
            }

            pub async fn get_resource_server(&self, key: &str) -> Result<ResourceServer, StoreError> {
                let sql =
                    format!("SELECT {RS_COLUMNS} FROM resource_servers WHERE id = $1 OR identifier = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::NotFound(format!("API {key}")))?;
                rs_from_row(&row)
            }

            pub async fn update_resource_server(&self, api: &ResourceServer) -> Result<(), StoreError> {
                let scopes = serde_json::to_string(&api.scopes).map_err(|e| corrupt("scopes", e))?;
                let mut tx = self.write_tx().await?;
                let done = sqlx::query(
                    "UPDATE resource_servers SET name = $2, scopes = $3, token_lifetime = $4,
                        signing_alg = $5, updated_at = $6
                     WHERE id = $1",
                )
                .bind(&api.id)
                .bind(&api.name)
                .bind(scopes)
                .bind(i64::from(api.token_lifetime))
                .bind(api.signing_alg.as_str())
                .bind(ts(api.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("API {}", api.id)));
                }
                Self::commit(tx).await
            }

            pub async fn delete_resource_server(&self, id: &str) -> Result<(), StoreError> {
                self.delete_one("DELETE FROM resource_servers WHERE id = $1", id, "API", None)
                    .await
            }

            async fn delete_one(
                &self,
                sql: &'static str,
                key: &str,
                what: &str,
                changes_client: Option<&str>,
            ) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query(sql)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("{what} {key}")));
                }
                if let Some(client_id) = changes_client {
                    Self::record_client_change(&mut tx, client_id).await?;
                }
                Self::commit(tx).await
            }

            pub async fn insert_application(
                &self,
                app: &Application,
                secret: &ClientSecret,
                grants: &[ClientGrant],
            ) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO applications (client_id, name, description, created_at, updated_at,
                        token_endpoint_auth_method, client_metadata, token_quota)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&app.client_id)
                .bind(&app.name)
                .bind(&app.description)
                .bind(ts(app.created_at))
                .bind(ts(app.updated_at))
                .bind(app.token_endpoint_auth_method.as_str())
                .bind(metadata_json(app)?)
                .bind(quota_json(app.token_quota.as_ref())?)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                Self::insert_secret(&mut tx, secret).await?;
                for grant in grants {
                    Self::insert_grant_in(&mut tx, grant).await?;
                }
                // A server may remember that this client ID did not exist.
                Self::record_client_change(&mut tx, &app.client_id).await?;
                Self::commit(tx).await
            }

            pub async fn list_applications(&self) -> Result<Vec<Application>, StoreError> {
                sqlx::query(APP_SELECT)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(app_from_row)
                    .collect()
            }

            /// Applications in creation order, `limit` of them from `offset`, and how many there
            /// are in all (one read transaction).
            pub async fn list_applications_page(&self, offset: u64, limit: u32) -> Result<(Vec<Application>, u64), StoreError> {
                let mut tx = self.read_tx().await?;
                let sql = format!("{APP_SELECT} LIMIT $1 OFFSET $2");
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
                Self::commit(tx).await?;
                Ok((page, unts(total)))
            }

            pub async fn get_application(&self, client_id: &str) -> Result<Application, StoreError> {
                let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE client_id = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("application {client_id}")))?;
                app_from_row(&row)
            }

            pub async fn update_application(&self, app: &Application) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query(
                    "UPDATE applications SET name = $2, description = $3,
                        token_endpoint_auth_method = $4, client_metadata = $5, updated_at = $6,
                        token_quota = $7
                     WHERE client_id = $1",
                )
                .bind(&app.client_id)
                .bind(&app.name)
                .bind(&app.description)
                .bind(app.token_endpoint_auth_method.as_str())
                .bind(metadata_json(app)?)
                .bind(ts(app.updated_at))
                .bind(quota_json(app.token_quota.as_ref())?)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!(
                        "application {}",
                        app.client_id
                    )));
                }
                // Issuance reads the quota.
                Self::record_client_change(&mut tx, &app.client_id).await?;
                Self::commit(tx).await
            }

            pub async fn delete_application(&self, client_id: &str) -> Result<(), StoreError> {
                self.delete_one(
                    "DELETE FROM applications WHERE client_id = $1",
                    client_id,
                    "application",
                    Some(client_id),
                )
                .await
            }

            pub async fn rotate_secret(
                &self,
                new: &ClientSecret,
                old_expire_at: u64,
                now: u64,
            ) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM applications WHERE client_id = $1")
                        .bind(&new.client_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound(format!(
                        "application {}",
                        new.client_id
                    )));
                }
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
                Self::insert_secret(&mut tx, new).await?;
                Self::record_client_change(&mut tx, &new.client_id).await?;
                sqlx::query("UPDATE applications SET updated_at = $2 WHERE client_id = $1")
                    .bind(&new.client_id)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                Self::commit(tx).await
            }

            pub async fn list_client_secrets(
                &self,
                client_id: &str,
            ) -> Result<Vec<ClientSecret>, StoreError> {
                sqlx::query(
                    "SELECT id, client_id, secret_hash, created_at, expires_at FROM client_secrets
                     WHERE client_id = $1 ORDER BY created_at, id",
                )
                .bind(client_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(secret_from_row)
                .collect()
            }

            pub async fn insert_grant(&self, grant: &ClientGrant) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                Self::insert_grant_in(&mut tx, grant).await?;
                Self::record_client_change(&mut tx, &grant.client_id).await?;
                Self::commit(tx).await
            }

            pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<ClientGrant>, StoreError> {
                sqlx::query(
                    "SELECT id, client_id, audience, scopes, created_at FROM client_grants
                     WHERE (CAST($1 AS TEXT) IS NULL OR client_id = $1)
                       AND (CAST($2 AS TEXT) IS NULL OR audience = $2)
                     ORDER BY created_at, id",
                )
                .bind(filter.client_id.as_deref())
                .bind(filter.audience.as_deref())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(grant_from_row)
                .collect()
            }

            pub async fn get_grant(&self, id: &str) -> Result<ClientGrant, StoreError> {
                let row = sqlx::query(
                    "SELECT id, client_id, audience, scopes, created_at FROM client_grants WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
                grant_from_row(&row)
            }

            pub async fn update_grant_scopes(&self, id: &str, scopes: &[String]) -> Result<(), StoreError> {
                let scopes = serde_json::to_string(scopes).map_err(|e| corrupt("scopes", e))?;
                let mut tx = self.write_tx().await?;
                let client_id: String =
                    sqlx::query_scalar("UPDATE client_grants SET scopes = $2 WHERE id = $1 RETURNING client_id")
                        .bind(id)
                        .bind(scopes)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
                Self::record_client_change(&mut tx, &client_id).await?;
                Self::commit(tx).await
            }

            pub async fn delete_grant(&self, id: &str) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                let client_id: String =
                    sqlx::query_scalar("DELETE FROM client_grants WHERE id = $1 RETURNING client_id")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .ok_or_else(|| StoreError::NotFound(format!("client grant {id}")))?;
                Self::record_client_change(&mut tx, &client_id).await?;
                Self::commit(tx).await
            }

            pub async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                Self::insert_key(&mut tx, key).await?;
                Self::commit(tx).await
            }

            pub async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
                sqlx::query(KEY_SELECT)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(key_from_row)
                    .collect()
            }

            pub async fn get_signing_key(&self, kid: &str) -> Result<StoredSigningKey, StoreError> {
                let row = sqlx::query(
                    "SELECT kid, alg, status, public_jwk, sealed_private_key, certificate,
                        created_at, current_since, current_until, revoked_at
                     FROM signing_keys WHERE kid = $1",
                )
                .bind(kid)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .ok_or_else(|| StoreError::NotFound(format!("signing key {kid}")))?;
                key_from_row(&row)
            }

            /// Gives a key stored before certificates its certificate; a key that already has
            /// one keeps it (of instances doing this at once, the first wins and all read it).
            pub async fn add_signing_key_certificate(
                &self,
                kid: &str,
                certificate: &[u8],
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE signing_keys SET certificate = $2 WHERE kid = $1 AND certificate IS NULL",
                )
                .bind(kid)
                .bind(certificate)
                .execute(&self.pool)
                .await
                .map_err(db_err)
                .map(drop)
            }

            pub async fn rotate_signing_keys(
                &self,
                expected_current: &str,
                new_next: &StoredSigningKey,
                now: u64,
            ) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT kid FROM signing_keys WHERE status = 'current'")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if current.as_deref() != Some(expected_current) {
                    return Err(StoreError::Conflict(
                        "the signing keys were rotated by someone else just now".into(),
                    ));
                }
                let next: Option<String> =
                    sqlx::query_scalar("SELECT kid FROM signing_keys WHERE status = 'next'")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if next.is_none() {
                    return Err(StoreError::Conflict(
                        "there is no next key to promote; restart the server to create one".into(),
                    ));
                }
                sqlx::query(
                    "UPDATE signing_keys SET status = 'previous', current_until = $1 WHERE status = 'current'",
                )
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query(
                    "UPDATE signing_keys SET status = 'current', current_since = $1 WHERE status = 'next'",
                )
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                Self::insert_key(&mut tx, new_next).await?;
                Self::commit(tx).await
            }

            pub async fn revoke_signing_key(&self, kid: &str, now: u64) -> Result<(), StoreError> {
                let mut tx = self.write_tx().await?;
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM signing_keys WHERE kid = $1")
                        .bind(kid)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                let status = status.as_deref().map(parse_key_status).transpose()?;
                check_revocable(kid, status)?;
                if status == Some(KeyStatus::Revoked) {
                    return Ok(());
                }
                sqlx::query("UPDATE signing_keys SET status = 'revoked', revoked_at = $2 WHERE kid = $1")
                    .bind(kid)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                Self::commit(tx).await
            }

            pub async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT value FROM deployment WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }

            pub async fn replace_setting(
                &self,
                key: &str,
                expected: Option<&str>,
                value: &str,
            ) -> Result<bool, StoreError> {
                let mut tx = self.write_tx().await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT value FROM deployment WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if current.as_deref() != expected {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO deployment (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                Self::commit(tx).await?;
                Ok(true)
            }


            /// Stores events and adds their activity counts to `writer`'s own (one writer per
            /// process): two writers never update the same row, so neither waits for the
            /// other's transaction.
            pub async fn insert_audit_events(&self, events: &[AuditEvent], writer: &str) -> Result<(), StoreError> {
                if events.is_empty() {
                    return Ok(());
                }
                // Not a write_tx: events change nothing the token endpoint reads.
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // Ten parameters a row; SQLite allows 32766 a statement.
                for chunk in events.chunks(256) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO audit_events
                         (date_ms, type, description, client_id, audience, scope, ip, user_agent, jti, count) ",
                    );
                    insert.push_values(chunk, |mut row, e| {
                        row.push_bind(ts(e.date_ms))
                            .push_bind(e.kind.as_ref())
                            .push_bind(e.description.as_ref())
                            .push_bind(e.client_id.as_deref())
                            .push_bind(e.audience.as_deref())
                            .push_bind(e.scope.as_deref())
                            .push_bind(e.ip.as_deref())
                            .push_bind(e.user_agent.as_deref())
                            .push_bind(e.jti.as_deref())
                            .push_bind(ts(e.count));
                    });
                    insert.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                // Seven parameters a row.
                for chunk in crate::domain::events::activity_counts(events).chunks(256) {
                    let mut upsert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO token_activity (bucket_ms, client_id, audience, issued, reason, writer, count) ",
                    );
                    upsert.push_values(chunk, |mut row, c| {
                        row.push_bind(ts(c.bucket_start_ms))
                            .push_bind(c.client_id.as_str())
                            .push_bind(c.audience.as_str())
                            .push_bind(i32::from(c.issued))
                            .push_bind(c.reason.as_str())
                            .push_bind(writer)
                            .push_bind(ts(c.count));
                    });
                    upsert.push(
                        " ON CONFLICT (bucket_ms, client_id, audience, issued, reason, writer)
                         DO UPDATE SET count = token_activity.count + excluded.count",
                    );
                    upsert.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)
            }

            /// Events matching `filter`: newest first, or oldest first after a checkpoint.
            pub async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Vec<StoredEvent>, StoreError> {
                let order = if filter.after_seq.is_some() { "ASC" } else { "DESC" };
                let sql = format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE {AUDIT_WHERE}
                     ORDER BY seq {order} LIMIT $6 OFFSET $7"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(filter.kind.as_deref())
                    .bind(filter.client_id.as_deref())
                    .bind(filter.from_ms.map(ts))
                    .bind(filter.to_ms.map(ts))
                    .bind(filter.after_seq)
                    .bind(i64::from(filter.limit))
                    .bind(i64::from(filter.offset))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(event_from_row)
                    .collect()
            }

            pub async fn count_audit_events(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
                let sql = format!("SELECT COUNT(*) FROM audit_events WHERE {AUDIT_WHERE}");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(filter.kind.as_deref())
                    .bind(filter.client_id.as_deref())
                    .bind(filter.from_ms.map(ts))
                    .bind(filter.to_ms.map(ts))
                    .bind(filter.after_seq)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(unts(n))
            }

            /// Deletes events older than `before_ms`, and by count as
            /// [`crate::domain::events::ALWAYS_KEPT`] says: token traffic beyond the newest `keep`
            /// events, refusals of unauthenticated dashboard and management requests beyond
            /// `keep` events after the newest of them, what administrators did never.
            pub async fn prune_audit_events(&self, before_ms: u64, keep: u64) -> Result<u64, StoreError> {
                sqlx::query("DELETE FROM token_activity WHERE bucket_ms < $1")
                    .bind(ts(before_ms))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                let old = sqlx::query("DELETE FROM audit_events WHERE date_ms < $1")
                    .bind(ts(before_ms))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                let [ok, sign_in, sign_out] = crate::domain::events::ALWAYS_KEPT;
                let [failed_sign_in, failed_api] = crate::domain::events::DASHBOARD_REFUSALS;
                // Token traffic: beyond the newest `keep` events.
                let traffic = sqlx::query(
                    "DELETE FROM audit_events
                     WHERE seq <= (SELECT MAX(seq) FROM audit_events) - $1
                       AND type NOT IN ($2, $3, $4, $5, $6)",
                )
                .bind(ts(keep))
                .bind(ok)
                .bind(sign_in)
                .bind(sign_out)
                .bind(failed_sign_in)
                .bind(failed_api)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
                // Refusals of unauthenticated dashboard and management requests: beyond `keep`
                // events after the newest of them (so only more of them push them out).
                let refusals = sqlx::query(
                    "DELETE FROM audit_events
                     WHERE seq <= (SELECT MAX(seq) FROM audit_events WHERE type IN ($2, $3)) - $1
                       AND (type = $2 OR (type = $3 AND client_id IS NULL))",
                )
                .bind(ts(keep))
                .bind(failed_sign_in)
                .bind(failed_api)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
                let excess = traffic + refusals;
                Ok(old + excess)
            }

            /// Adds each instance's new counts to the cluster-wide ones and returns the totals,
            /// in order: `(client_id, period, window_start, added)`. A row with nothing added
            /// is only read.
            pub async fn add_token_usage(
                &self,
                usage: &[(String, &'static str, u64, u64)],
            ) -> Result<Vec<u64>, StoreError> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut totals = vec![0; usage.len()];
                // Writes first: a SQLite transaction that read first cannot upgrade to writing
                // while another process writes (it fails at once instead of waiting).
                let mut order: Vec<usize> = (0..usage.len()).collect();
                order.sort_by_key(|&i| usage[i].3 == 0);
                for i in order {
                    let (client_id, period, window_start, added) = &usage[i];
                    let sql = if *added == 0 {
                        "SELECT count FROM token_usage
                         WHERE client_id = $1 AND period = $2 AND window_start = $3"
                    } else {
                        "INSERT INTO token_usage (client_id, period, window_start, count)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (client_id, period, window_start)
                         DO UPDATE SET count = token_usage.count + excluded.count
                         RETURNING count"
                    };
                    let mut query = sqlx::query_scalar(sql)
                        .bind(client_id)
                        .bind(*period)
                        .bind(ts(*window_start));
                    if *added > 0 {
                        query = query.bind(ts(*added));
                    }
                    let total: Option<i64> = query
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    totals[i] = unts(total.unwrap_or(0));
                }
                tx.commit().await.map_err(db_err)?;
                Ok(totals)
            }

            /// Forgets usage windows that started before `before`.
            pub async fn prune_token_usage(&self, before: u64) -> Result<u64, StoreError> {
                sqlx::query("DELETE FROM token_usage WHERE window_start < $1")
                    .bind(ts(before))
                    .execute(&self.pool)
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(db_err)
            }

            pub async fn insert_operator(&self, username: &str, password_hash: &str, now: u64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO operators (username, password_hash, created_at) VALUES ($1, $2, $3)")
                    .bind(username)
                    .bind(password_hash)
                    .bind(ts(now))
                    .execute(&self.pool)
                    .await
                    .map(drop)
                    .map_err(db_err)
            }

            /// Replaces a password and ends the administrator's sessions, in one transaction.
            pub async fn set_operator_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let changed = sqlx::query("UPDATE operators SET password_hash = $2 WHERE username = $1")
                    .bind(username)
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                if changed == 0 {
                    return Err(StoreError::NotFound("administrator".into()));
                }
                sqlx::query("DELETE FROM operator_sessions WHERE username = $1")
                    .bind(username)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }

            pub async fn operator_password_hash(&self, username: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT password_hash FROM operators WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }

            pub async fn list_operators(&self) -> Result<Vec<(String, u64)>, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT username, created_at FROM operators ORDER BY username")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                Ok(rows.into_iter().map(|(name, at)| (name, unts(at))).collect())
            }

            pub async fn delete_operator(&self, username: &str) -> Result<(), StoreError> {
                let deleted = sqlx::query("DELETE FROM operators WHERE username = $1")
                    .bind(username)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                if deleted == 0 {
                    return Err(StoreError::NotFound("administrator".into()));
                }
                Ok(())
            }

            /// Stores a new session, and drops the expired and idle ones while at it.
            pub async fn insert_operator_session(&self, s: &crate::domain::operators::SessionRecord, now: u64, idle_before: u64) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("DELETE FROM operator_sessions WHERE expires_at <= $1 OR last_seen <= $2")
                    .bind(ts(now))
                    .bind(ts(idle_before))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO operator_sessions
                     (id_hash, username, csrf_token, created_at, last_seen, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&s.id_hash)
                .bind(&s.username)
                .bind(&s.csrf_token)
                .bind(ts(s.created_at))
                .bind(ts(s.last_seen))
                .bind(ts(s.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }

            pub async fn operator_session(&self, id_hash: &str) -> Result<Option<crate::domain::operators::SessionRecord>, StoreError> {
                let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT username, csrf_token, created_at, last_seen, expires_at
                     FROM operator_sessions WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(row.map(|(username, csrf_token, created_at, last_seen, expires_at)| {
                    crate::domain::operators::SessionRecord {
                        id_hash: id_hash.to_owned(),
                        username,
                        csrf_token,
                        created_at: unts(created_at),
                        last_seen: unts(last_seen),
                        expires_at: unts(expires_at),
                    }
                }))
            }

            pub async fn touch_operator_session(&self, id_hash: &str, now: u64) -> Result<(), StoreError> {
                sqlx::query("UPDATE operator_sessions SET last_seen = $2 WHERE id_hash = $1")
                    .bind(id_hash)
                    .bind(ts(now))
                    .execute(&self.pool)
                    .await
                    .map(drop)
                    .map_err(db_err)
            }

            pub async fn delete_operator_session(&self, id_hash: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM operator_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map(drop)
                    .map_err(db_err)
            }

            /// Token requests since `from_ms`, counted by outcome, client, audience, failure
            /// reason and time bucket of `bucket_ms` (a multiple of `ACTIVITY_BUCKET_MS`).
            pub async fn token_activity(&self, from_ms: u64, bucket_ms: u64) -> Result<Vec<crate::domain::events::ActivityCount>, StoreError> {
                let bucket_ms = bucket_ms.max(crate::domain::events::ACTIVITY_BUCKET_MS);
                let rows: Vec<(i64, String, String, i32, String, i64)> = sqlx::query_as(
                    "SELECT bucket_ms / $2, client_id, audience, issued, reason, CAST(SUM(count) AS BIGINT)
                     FROM token_activity
                     WHERE bucket_ms >= $1
                     GROUP BY 1, 2, 3, 4, 5",
                )
                .bind(ts(from_ms))
                .bind(ts(bucket_ms))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|(bucket, client_id, audience, issued, reason, count)| crate::domain::events::ActivityCount {
                        issued: issued != 0,
                        client_id,
                        audience,
                        reason,
                        bucket_start_ms: unts(bucket).saturating_mul(bucket_ms),
                        count: unts(count),
                    })
                    .collect())
            }

            async fn insert_key(
                tx: &mut sqlx::Transaction<'static, $db>,
                key: &StoredSigningKey,
            ) -> Result<(), StoreError> {
                let jwk = serde_json::to_string(&key.public_jwk).map_err(|e| corrupt("jwk", e))?;
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, status, public_jwk, sealed_private_key,
                        created_at, current_since, current_until, revoked_at, certificate)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&key.kid)
                .bind(key.alg.as_str())
                .bind(key.status.as_str())
                .bind(jwk)
                .bind(&key.sealed_private_key)
                .bind(ts(key.created_at))
                .bind(key.current_since.map(ts))
                .bind(key.current_until.map(ts))
                .bind(key.revoked_at.map(ts))
                .bind(key.certificate.as_deref())
                .execute(&mut **tx)
                .await
                .map_err(|e| match db_err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "a {} signing key already exists",
                        key.status.as_str()
                    )),
                    other => other,
                })
                .map(drop)
            }

            async fn insert_secret(
                tx: &mut sqlx::Transaction<'static, $db>,
                secret: &ClientSecret,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO client_secrets (id, client_id, secret_hash, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&secret.id)
                .bind(&secret.client_id)
                .bind(&secret.hash.0[..])
                .bind(ts(secret.created_at))
                .bind(secret.expires_at.map(ts))
                .execute(&mut **tx)
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn insert_grant_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                grant: &ClientGrant,
            ) -> Result<(), StoreError> {
                let scopes = serde_json::to_string(&grant.scopes).map_err(|e| corrupt("scopes", e))?;
                sqlx::query(
                    "INSERT INTO client_grants (id, client_id, audience, scopes, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&grant.id)
                .bind(&grant.client_id)
                .bind(&grant.audience)
                .bind(scopes)
                .bind(ts(grant.created_at))
                .execute(&mut **tx)
                .await
                .map_err(|e| grant_insert_error(grant, e))
                .map(drop)
            }
        }
    };
}

pub(crate) use sql_engine;
