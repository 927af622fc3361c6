//! Workload identity federation: trusted issuers (add, list, show, change, remove) and the federated
//! credentials of applications (bind, list, change the expiry, remove). A binding that is
//! broad (a subject of only `*`, a Kubernetes `default` service account) needs the
//! administrator's confirmation and is logged as a warning.

use warrant_proto::{CreateFederatedCredential, CreateTrustedIssuer, UpdateTrustedIssuer};

use super::followup::Change;
use super::{Admin, AdminError};
use crate::clock::parse_rfc3339_expiry;
use crate::domain::{
    FederatedCredential, NewFederatedCredential, NewTrustedIssuer, TrustedIssuer,
    TrustedIssuerPatch, broad_subject,
};
use crate::store::CredentialTable;

/// A trusted issuer as the management API and the CLI describe it, in the domain's terms.
pub fn new_trusted_issuer(body: CreateTrustedIssuer) -> Result<NewTrustedIssuer, AdminError> {
    let jwks = body
        .jwks
        .map(|jwks| serde_json::to_string(&jwks))
        .transpose()
        .map_err(|e| AdminError::Invalid(format!("jwks: {e}")))?;
    Ok(NewTrustedIssuer {
        issuer: body.issuer,
        name: body.name,
        jwks_uri: body.jwks_uri,
        jwks,
        bearer_token_file: body.bearer_token_file,
        ca_file: body.ca_file,
        algorithms: body.algorithms,
        max_assertion_lifetime: body.max_assertion_lifetime,
    })
}

/// Changes to a trusted issuer as the management API and the CLI describe them, in the
/// domain's terms.
pub fn trusted_issuer_patch(body: UpdateTrustedIssuer) -> Result<TrustedIssuerPatch, AdminError> {
    let jwks = body
        .jwks
        .map(|jwks| jwks.map(|jwks| serde_json::to_string(&jwks)).transpose())
        .transpose()
        .map_err(|e| AdminError::Invalid(format!("jwks: {e}")))?;
    Ok(TrustedIssuerPatch {
        issuer: body.issuer,
        name: body.name,
        jwks_uri: body.jwks_uri,
        jwks,
        bearer_token_file: body.bearer_token_file,
        ca_file: body.ca_file,
        algorithms: body.algorithms,
        max_assertion_lifetime: body.max_assertion_lifetime,
    })
}

/// A federated credential as the management API and the CLI describe it, in the domain's
/// terms (`expires_at` ISO 8601).
pub fn new_federated_credential(
    body: CreateFederatedCredential,
) -> Result<NewFederatedCredential, AdminError> {
    let expires_at = body
        .expires_at
        .map(|text| {
            parse_rfc3339_expiry(&text).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "expires_at: {text:?} is not an ISO 8601 date-time (e.g. 2027-01-31T00:00:00Z)"
                ))
            })
        })
        .transpose()?;
    Ok(NewFederatedCredential {
        name: body.name,
        issuer: body.issuer,
        subject: body.subject,
        audience: body.audience,
        conditions: body.conditions,
        expires_at,
        confirm_broad_subject: body.confirm_broad_subject,
    })
}

impl Admin {
    pub async fn create_trusted_issuer(
        &self,
        new: NewTrustedIssuer,
    ) -> Result<TrustedIssuer, AdminError> {
        let issuer = TrustedIssuer::new(new, self.clock.now())?;
        self.store.insert_trusted_issuer(&issuer).await?;
        self.followup(Change::TrustedIssuerCreated {
            id: issuer.id.clone(),
            issuer: issuer.issuer.clone(),
        })
        .await;
        Ok(issuer)
    }

    pub async fn list_trusted_issuers(&self) -> Result<Vec<TrustedIssuer>, AdminError> {
        Ok(self.store.list_trusted_issuers().await?)
    }

    /// A trusted issuer by its ID or its issuer URL.
    pub async fn get_trusted_issuer(&self, key: &str) -> Result<TrustedIssuer, AdminError> {
        Ok(self.store.get_trusted_issuer(key).await?)
    }

    /// Changes a trusted issuer (by ID or issuer URL): its keys' source, algorithms, lifetime
    /// cap or name, checked as a new one is (see [`TrustedIssuer::patched`]). Every instance
    /// uses the new keys and algorithms from its next catalog load, without a restart.
    pub async fn update_trusted_issuer(
        &self,
        key: &str,
        patch: TrustedIssuerPatch,
    ) -> Result<TrustedIssuer, AdminError> {
        patch.check()?;
        let now = self.clock.now();
        let issuer = self
            .store
            .change_trusted_issuer(key, |old| old.patched(patch, now).map_err(AdminError::from))
            .await?;
        self.followup(Change::TrustedIssuerUpdated {
            id: issuer.id.clone(),
            issuer: issuer.issuer.clone(),
        })
        .await;
        Ok(issuer)
    }

    /// Removes a trusted issuer (by ID or issuer URL) that no federated credential uses.
    pub async fn delete_trusted_issuer(&self, key: &str) -> Result<(), AdminError> {
        let issuer = self.store.get_trusted_issuer(key).await?;
        self.store.delete_trusted_issuer(&issuer.id).await?;
        self.followup(Change::TrustedIssuerDeleted {
            id: issuer.id,
            issuer: issuer.issuer,
        })
        .await;
        Ok(())
    }

    /// Binds `client_id` to the workloads `new` describes.
    pub async fn create_federated_credential(
        &self,
        client_id: &str,
        new: NewFederatedCredential,
    ) -> Result<FederatedCredential, AdminError> {
        let issuer = self
            .store
            .get_trusted_issuer(&new.issuer)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => AdminError::Invalid(format!(
                    "issuer: {:?} is not a trusted issuer; add it first (POST /api/v2/trusted-issuers)",
                    new.issuer
                )),
                other => other.into(),
            })?;
        let credential = FederatedCredential::new(client_id, &issuer.id, new, self.clock.now())?;
        self.store.get_application(client_id).await?;
        self.check_may_change(client_id).await?;
        self.store.insert_federated_credential(&credential).await?;
        if let Some(why) = broad_subject(&credential.subject) {
            tracing::warn!(
                client_id,
                credential = %credential.id,
                issuer = %issuer.issuer,
                subject = %credential.subject,
                "a broad federated credential was confirmed: {why}"
            );
        }
        self.followup(Change::FederatedCredentialCreated {
            client_id: client_id.to_owned(),
            id: credential.id.clone(),
            issuer: issuer.issuer,
            subject: credential.subject.clone(),
        })
        .await;
        Ok(credential)
    }

    /// An application's federated credentials; 404 when the application does not exist.
    pub async fn list_federated_credentials(
        &self,
        client_id: &str,
    ) -> Result<Vec<FederatedCredential>, AdminError> {
        self.store.get_application(client_id).await?;
        Ok(self.store.list_federated_credentials(client_id).await?)
    }

    pub async fn get_federated_credential(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<FederatedCredential, AdminError> {
        Ok(self.store.get_federated_credential(client_id, id).await?)
    }

    /// Sets when a federated credential stops working (`None`: never).
    pub async fn update_federated_credential(
        &self,
        client_id: &str,
        id: &str,
        expires_at: Option<u64>,
    ) -> Result<FederatedCredential, AdminError> {
        let now = self.clock.now();
        self.store.get_federated_credential(client_id, id).await?;
        self.check_may_change(client_id).await?;
        self.store
            .update_expiry(CredentialTable::Federated, client_id, id, expires_at, now)
            .await?;
        self.followup(Change::FederatedCredentialUpdated {
            client_id: client_id.to_owned(),
            id: id.to_owned(),
        })
        .await;
        Ok(self.store.get_federated_credential(client_id, id).await?)
    }

    pub async fn delete_federated_credential(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<(), AdminError> {
        self.check_may_change(client_id).await?;
        self.store
            .delete_federated_credential(client_id, id)
            .await?;
        self.followup(Change::FederatedCredentialDeleted {
            client_id: client_id.to_owned(),
            id: id.to_owned(),
        })
        .await;
        Ok(())
    }
}
