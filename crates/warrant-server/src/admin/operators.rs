//! Dashboard administrators ("operators"): creating and removing them, signing in and out.
//!
//! Sessions live in the database (every instance sees them) and are looked up by the SHA-256
//! of the cookie's value: a copy of the table cannot be replayed as cookies. A session ends
//! after [`SESSION_IDLE`] without use or [`SESSION_MAX`] after sign-in, whichever comes first.
//! Each carries its own CSRF token, which every form must send back. Passwords are checked as
//! [`super::passwords`] says.

use super::followup::Change;
use super::passwords::{CheckSlot, dummy_hash, hash_password, verify_password};
use super::{Admin, AdminError};
use crate::domain::operators::{SessionRecord, validate_password, validate_username};
use crate::domain::{hash_secret, random_token};

/// A session unused for this long ends (seconds).
pub const SESSION_IDLE: u64 = 60 * 60;
/// A session ends this long after sign-in regardless (seconds).
pub const SESSION_MAX: u64 = 12 * 60 * 60;
/// How stale `last_seen` may get before a request writes it again (seconds).
const TOUCH_EVERY: u64 = 60;

/// A signed-in administrator, as a request sees them.
#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub username: String,
    /// The token every form of this session must carry.
    pub csrf_token: String,
}

/// A session just opened: the cookie value is only here, never stored.
#[derive(Debug)]
pub struct OpenedSession {
    pub cookie_value: String,
    pub session: OperatorSession,
}

fn session_key(cookie_value: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash_secret(cookie_value).0)
}

impl Admin {
    /// Creates a dashboard administrator.
    pub async fn create_operator(&self, username: &str, password: &str) -> Result<(), AdminError> {
        validate_username(username)?;
        validate_password(password)?;
        let hash = hash_off_thread(password.to_owned()).await?;
        self.store()
            .insert_operator(username, &hash, self.now())
            .await
            .map_err(|e| match AdminError::from(e) {
                AdminError::Conflict(_) => {
                    AdminError::Conflict(format!("administrator {username:?} already exists"))
                }
                other => other,
            })?;
        self.followup(Change::OperatorCreated {
            username: username.to_owned(),
        })
        .await;
        Ok(())
    }

    /// Sets an administrator's password and ends their sessions.
    pub async fn set_operator_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), AdminError> {
        validate_password(password)?;
        let hash = hash_off_thread(password.to_owned()).await?;
        self.store()
            .set_operator_password(username, &hash)
            .await
            .map_err(|e| not_found_as(e, username))?;
        self.followup(Change::OperatorPasswordSet {
            username: username.to_owned(),
        })
        .await;
        Ok(())
    }

    /// Administrators with the time each was created, by name.
    pub async fn list_operators(&self) -> Result<Vec<(String, u64)>, AdminError> {
        Ok(self.store().list_operators().await?)
    }

    /// Removes an administrator and their sessions.
    pub async fn delete_operator(&self, username: &str) -> Result<(), AdminError> {
        self.store()
            .delete_operator(username)
            .await
            .map_err(|e| not_found_as(e, username))?;
        self.followup(Change::OperatorDeleted {
            username: username.to_owned(),
        })
        .await;
        Ok(())
    }

    /// Checks a username and password, in `slot`; on success opens a session. `Ok(None)`: wrong
    /// username or password (which one is not said).
    pub async fn sign_in(
        &self,
        slot: CheckSlot,
        username: &str,
        password: &str,
    ) -> Result<Option<OpenedSession>, AdminError> {
        let stored = if validate_username(username).is_ok() {
            self.store().operator_password_hash(username).await?
        } else {
            None
        };
        let known = stored.is_some();
        let password = password.to_owned();
        let matches = slot
            .run(move |memory| match &stored {
                Some(hash) => verify_password(&password, hash, memory),
                None => verify_password(&password, dummy_hash(), memory),
            })
            .await
            .unwrap_or(false);
        if !(known && matches) {
            return Ok(None);
        }
        let now = self.now();
        let cookie_value = random_token::<32>();
        let record = SessionRecord {
            id_hash: session_key(&cookie_value),
            username: username.to_owned(),
            csrf_token: random_token::<32>(),
            created_at: now,
            last_seen: now,
            expires_at: now + SESSION_MAX,
        };
        self.store()
            .insert_operator_session(&record, now, now.saturating_sub(SESSION_IDLE))
            .await?;
        Ok(Some(OpenedSession {
            cookie_value,
            session: OperatorSession {
                username: record.username,
                csrf_token: record.csrf_token,
            },
        }))
    }

    /// The live session a cookie names, if any; keeps it alive.
    pub async fn operator_session(
        &self,
        cookie_value: &str,
    ) -> Result<Option<OperatorSession>, AdminError> {
        let now = self.now();
        let key = session_key(cookie_value);
        let Some(record) = self.store().operator_session(&key).await? else {
            return Ok(None);
        };
        if now >= record.expires_at || now >= record.last_seen.saturating_add(SESSION_IDLE) {
            self.store().delete_operator_session(&key).await?;
            return Ok(None);
        }
        if now >= record.last_seen.saturating_add(TOUCH_EVERY) {
            self.store().touch_operator_session(&key, now).await?;
        }
        Ok(Some(OperatorSession {
            username: record.username,
            csrf_token: record.csrf_token,
        }))
    }

    /// Ends the session a cookie names (nothing happens for an unknown one).
    pub async fn sign_out(&self, cookie_value: &str) -> Result<(), AdminError> {
        Ok(self
            .store()
            .delete_operator_session(&session_key(cookie_value))
            .await?)
    }
}

async fn hash_off_thread(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AdminError::Invalid(format!("cannot hash the password: {e}")))?
}

fn not_found_as(e: crate::store::StoreError, username: &str) -> AdminError {
    match AdminError::from(e) {
        AdminError::NotFound(_) => AdminError::NotFound(format!("administrator {username:?}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_are_the_sha256_of_the_cookie() {
        let key = session_key("abc");
        assert_eq!(key, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }
}
