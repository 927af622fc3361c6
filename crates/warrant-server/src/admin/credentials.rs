//! Applications' public-key credentials (private_key_jwt): add, list, change the expiry,
//! delete. Which of them the application authenticates with is set on the application
//! ([`ApplicationPatch::private_key_jwt`](super::ApplicationPatch)), as Auth0 has it.

use super::followup::Change;
use super::{Admin, AdminError, ApplicationPatch};
use crate::domain::{MAX_CREDENTIALS, PublicKeyCredential};
use crate::store::CredentialTable;

/// A new public-key credential, as an administrator describes it.
#[derive(Debug, Clone, Default)]
pub struct NewCredential {
    pub name: String,
    /// The JOSE algorithm the client signs with: RS256, RS384, PS256, ES256 or EdDSA.
    pub alg: String,
    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub pem: String,
    /// Unix seconds; `None`: it never expires.
    pub expires_at: Option<u64>,
}

impl Admin {
    pub async fn create_credential(
        &self,
        client_id: &str,
        new: NewCredential,
    ) -> Result<PublicKeyCredential, AdminError> {
        let now = self.clock.now();
        let credential =
            PublicKeyCredential::new(client_id, new.name, &new.alg, &new.pem, new.expires_at, now)?;
        self.store.get_application(client_id).await?;
        self.check_may_change(client_id).await?;
        self.store.insert_credential(&credential).await?;
        self.followup(Change::CredentialCreated {
            client_id: client_id.to_owned(),
            id: credential.id.clone(),
            kid: credential.kid.clone(),
        })
        .await;
        Ok(credential)
    }

    /// Adds credential `id` to the ones `client_id` authenticates with (its private_key_jwt
    /// list), so that the application uses its keys from now on and no longer its secret: what
    /// `POST .../credentials` then `PATCH /clients/{id}` do in Auth0's two steps.
    pub async fn use_credential(&self, client_id: &str, id: &str) -> Result<(), AdminError> {
        // The list is read in the change's transaction: two credentials put in use at once
        // both stay on it.
        self.change_application(client_id, |app| {
            let mut ids = app.private_key_jwt.clone().unwrap_or_default();
            if !ids.iter().any(|listed| listed == id) {
                ids.push(id.to_owned());
            }
            ApplicationPatch {
                private_key_jwt: Some(Some(ids)),
                ..ApplicationPatch::default()
            }
        })
        .await
        .map(drop)
    }

    /// [`create_credential`](Self::create_credential) then
    /// [`use_credential`](Self::use_credential): a key registered and in use at once (the CLI's
    /// and the dashboard's "add"). Should the second step fail, the key goes again.
    pub async fn add_credential_in_use(
        &self,
        client_id: &str,
        new: NewCredential,
    ) -> Result<PublicKeyCredential, AdminError> {
        let credential = self.create_credential(client_id, new).await?;
        if let Err(e) = self.use_credential(client_id, &credential.id).await {
            let _ = self.delete_credential(client_id, &credential.id).await;
            return Err(e);
        }
        Ok(credential)
    }

    /// An application's credentials; 404 when the application does not exist.
    pub async fn list_credentials(
        &self,
        client_id: &str,
    ) -> Result<Vec<PublicKeyCredential>, AdminError> {
        self.store.get_application(client_id).await?;
        Ok(self.store.list_credentials(client_id).await?)
    }

    pub async fn get_credential(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<PublicKeyCredential, AdminError> {
        Ok(self.store.get_credential(client_id, id).await?)
    }

    /// Sets when a credential stops working (`None`: never; a time past stops it at once).
    pub async fn update_credential(
        &self,
        client_id: &str,
        id: &str,
        expires_at: Option<u64>,
    ) -> Result<PublicKeyCredential, AdminError> {
        let now = self.clock.now();
        self.store.get_credential(client_id, id).await?;
        self.check_may_change(client_id).await?;
        self.store
            .update_expiry(CredentialTable::PublicKeys, client_id, id, expires_at, now)
            .await?;
        self.followup(Change::CredentialUpdated {
            client_id: client_id.to_owned(),
            id: id.to_owned(),
        })
        .await;
        Ok(self.store.get_credential(client_id, id).await?)
    }

    pub async fn delete_credential(&self, client_id: &str, id: &str) -> Result<(), AdminError> {
        self.check_may_change(client_id).await?;
        self.store.delete_credential(client_id, id).await?;
        self.followup(Change::CredentialDeleted {
            client_id: client_id.to_owned(),
            id: id.to_owned(),
        })
        .await;
        Ok(())
    }

    /// Checks a private_key_jwt list for `client_id`: each one of `existing`, the
    /// application's credentials, none twice.
    pub(super) fn check_private_key_jwt(
        client_id: &str,
        ids: &[String],
        existing: &[PublicKeyCredential],
    ) -> Result<(), AdminError> {
        if ids.len() > MAX_CREDENTIALS {
            return Err(AdminError::Invalid(format!(
                "client_authentication_methods.private_key_jwt.credentials: at most {MAX_CREDENTIALS}"
            )));
        }
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(AdminError::Invalid(format!(
                    "client_authentication_methods.private_key_jwt.credentials: {id:?} is listed twice"
                )));
            }
            if !existing.iter().any(|c| &c.id == id) {
                return Err(AdminError::Invalid(format!(
                    "client_authentication_methods.private_key_jwt.credentials: {id:?} is not a credential of this application; create it with POST /api/v2/clients/{client_id}/credentials"
                )));
            }
        }
        Ok(())
    }
}
