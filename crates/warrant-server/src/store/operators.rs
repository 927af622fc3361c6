//! Dashboard administrators (operators) and their sessions.

use super::rows::{ts, unts};
use super::{Store, StoreError, db_err, on_engine};
use crate::domain::operators::SessionRecord;

impl Store {
    pub async fn insert_operator(
        &self,
        username: &str,
        password_hash: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            sqlx::query(
                "INSERT INTO operators (username, password_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(username)
            .bind(password_hash)
            .bind(ts(now))
            .execute(s.writer())
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    /// Replaces a password and ends that administrator's sessions, in one transaction.
    pub async fn set_operator_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.writer().begin().await.map_err(db_err)?;
            let changed =
                sqlx::query("UPDATE operators SET password_hash = $2 WHERE username = $1")
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
        })
    }

    pub async fn operator_password_hash(
        &self,
        username: &str,
    ) -> Result<Option<String>, StoreError> {
        on_engine!(self, |s| {
            sqlx::query_scalar("SELECT password_hash FROM operators WHERE username = $1")
                .bind(username)
                .fetch_optional(&s.pool)
                .await
                .map_err(db_err)
        })
    }

    pub async fn list_operators(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_engine!(self, |s| {
            sqlx::query_as("SELECT username, created_at FROM operators ORDER BY username")
                .fetch_all(&s.pool)
                .await
                .map_err(db_err)?
        });
        Ok(rows
            .into_iter()
            .map(|(name, at)| (name, unts(at)))
            .collect())
    }

    /// Removes an administrator and, by cascade, their sessions.
    pub async fn delete_operator(&self, username: &str) -> Result<(), StoreError> {
        let deleted = on_engine!(self, |s| {
            sqlx::query("DELETE FROM operators WHERE username = $1")
                .bind(username)
                .execute(s.writer())
                .await
                .map_err(db_err)?
                .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound("administrator".into()));
        }
        Ok(())
    }

    /// Stores a new session, and drops the expired ones while at it: those past their
    /// `expires_at` at `now`, and those last seen at or before `idle_before` (the caller's
    /// session policy).
    pub async fn insert_operator_session(
        &self,
        session: &SessionRecord,
        now: u64,
        idle_before: u64,
    ) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.writer().begin().await.map_err(db_err)?;
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
            .bind(&session.id_hash)
            .bind(&session.username)
            .bind(&session.csrf_token)
            .bind(ts(session.created_at))
            .bind(ts(session.last_seen))
            .bind(ts(session.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        })
    }

    pub async fn operator_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<(String, String, i64, i64, i64)> = on_engine!(self, |s| {
            sqlx::query_as(
                "SELECT username, csrf_token, created_at, last_seen, expires_at
                 FROM operator_sessions WHERE id_hash = $1",
            )
            .bind(id_hash)
            .fetch_optional(&s.pool)
            .await
            .map_err(db_err)?
        });
        Ok(row.map(
            |(username, csrf_token, created_at, last_seen, expires_at)| SessionRecord {
                id_hash: id_hash.to_owned(),
                username,
                csrf_token,
                created_at: unts(created_at),
                last_seen: unts(last_seen),
                expires_at: unts(expires_at),
            },
        ))
    }

    pub async fn touch_operator_session(&self, id_hash: &str, now: u64) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            sqlx::query("UPDATE operator_sessions SET last_seen = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(ts(now))
                .execute(s.writer())
                .await
                .map(drop)
                .map_err(db_err)
        })
    }

    pub async fn delete_operator_session(&self, id_hash: &str) -> Result<(), StoreError> {
        on_engine!(self, |s| {
            sqlx::query("DELETE FROM operator_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(s.writer())
                .await
                .map(drop)
                .map_err(db_err)
        })
    }
}
