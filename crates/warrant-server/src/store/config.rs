//! Declarative configuration's one write: every change `warrant apply` makes, across APIs,
//! trusted issuers, applications, their credentials and grants, in one transaction, with each
//! aggregate's own steps. All of it, or on any error none of it.

use super::apis::{DELETE_API, insert_api_in, update_api_in};
use super::applications::{DELETE_APPLICATION, insert_application_in, update_application_in};
use super::credentials::{delete_credential_in, insert_credential_in, update_credential_in};
use super::federation::{
    delete_federated_credential_in, insert_federated_credential_in, update_federated_credential_in,
};
use super::grants::{GrantChanges, set_grants_in};
use super::issuers::{
    delete_trusted_issuer_in, insert_trusted_issuer_in, update_trusted_issuer_in,
};
use super::state::delete_one_in;
use super::{Store, StoreError, db_err, on_engine};
use crate::domain::{
    Application, ClientGrant, ClientSecret, FederatedCredential, PublicKeyCredential,
    ResourceServer, TrustedIssuer,
};

/// What one apply writes, run in this order: APIs and trusted issuers created and changed;
/// applications created (with their first secret); public-key and federated credentials
/// deleted, created and changed; applications changed (whose private_key_jwt lists may name
/// the new credentials); grants set; then applications, trusted issuers and APIs deleted.
#[derive(Debug, Default)]
pub struct ConfigWrite {
    pub apis_created: Vec<ResourceServer>,
    pub apis_updated: Vec<ResourceServer>,
    pub issuers_created: Vec<TrustedIssuer>,
    pub issuers_updated: Vec<TrustedIssuer>,
    pub applications_created: Vec<(Application, ClientSecret)>,
    pub credentials_deleted: Vec<PublicKeyCredential>,
    pub credentials_created: Vec<PublicKeyCredential>,
    pub credentials_updated: Vec<PublicKeyCredential>,
    pub federated_deleted: Vec<FederatedCredential>,
    pub federated_created: Vec<FederatedCredential>,
    pub federated_updated: Vec<FederatedCredential>,
    pub applications_updated: Vec<Application>,
    /// Each application's whole set of grants, as [`Store::set_grants`] takes it.
    pub grants: Vec<(String, Vec<ClientGrant>)>,
    pub applications_deleted: Vec<String>,
    /// By id.
    pub issuers_deleted: Vec<String>,
    /// By id.
    pub apis_deleted: Vec<String>,
    /// Write only if the change counter still reads this (nothing was written since the
    /// plan read the state); `None`: whatever was written since.
    pub unchanged_since: Option<i64>,
}

impl ConfigWrite {
    pub fn is_empty(&self) -> bool {
        self.apis_created.is_empty()
            && self.apis_updated.is_empty()
            && self.issuers_created.is_empty()
            && self.issuers_updated.is_empty()
            && self.applications_created.is_empty()
            && self.credentials_deleted.is_empty()
            && self.credentials_created.is_empty()
            && self.credentials_updated.is_empty()
            && self.federated_deleted.is_empty()
            && self.federated_created.is_empty()
            && self.federated_updated.is_empty()
            && self.applications_updated.is_empty()
            && self.grants.is_empty()
            && self.applications_deleted.is_empty()
            && self.issuers_deleted.is_empty()
            && self.apis_deleted.is_empty()
    }
}

impl Store {
    /// Writes `write` in one transaction; answers what each application's grants became, in
    /// the order of `write.grants`. `None`, and nothing written, when something else was
    /// written since `write.unchanged_since`.
    pub async fn apply_config(
        &self,
        write: &ConfigWrite,
    ) -> Result<Option<Vec<GrantChanges>>, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            if let Some(since) = write.unchanged_since {
                // The transaction's own bump is the one write since.
                let version: i64 =
                    sqlx::query_scalar("SELECT version FROM state_version WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if version != since + 1 {
                    return Ok(None);
                }
            }
            for api in &write.apis_created {
                insert_api_in(&mut tx, api).await?;
            }
            for api in &write.apis_updated {
                update_api_in(&mut tx, api).await?;
            }
            for issuer in &write.issuers_created {
                insert_trusted_issuer_in(&mut tx, issuer).await?;
            }
            for issuer in &write.issuers_updated {
                update_trusted_issuer_in(&mut tx, issuer).await?;
            }
            for (app, secret) in &write.applications_created {
                insert_application_in(&mut tx, app, secret, &[]).await?;
            }
            for cred in &write.credentials_deleted {
                delete_credential_in(&mut tx, &cred.client_id, &cred.id).await?;
            }
            for cred in &write.credentials_created {
                insert_credential_in(&mut tx, cred).await?;
            }
            for cred in &write.credentials_updated {
                update_credential_in(&mut tx, cred).await?;
            }
            for cred in &write.federated_deleted {
                delete_federated_credential_in(&mut tx, &cred.client_id, &cred.id).await?;
            }
            for cred in &write.federated_created {
                insert_federated_credential_in(&mut tx, cred).await?;
            }
            for cred in &write.federated_updated {
                update_federated_credential_in(&mut tx, cred).await?;
            }
            for app in &write.applications_updated {
                update_application_in(&mut tx, app).await?;
            }
            let mut changes = Vec::with_capacity(write.grants.len());
            for (client_id, grants) in &write.grants {
                changes.push(set_grants_in(&mut tx, client_id, grants).await?);
            }
            for client_id in &write.applications_deleted {
                delete_one_in(
                    &mut tx,
                    DELETE_APPLICATION,
                    client_id,
                    "application",
                    Some(client_id),
                )
                .await?;
            }
            for id in &write.issuers_deleted {
                delete_trusted_issuer_in(&mut tx, id).await?;
            }
            for id in &write.apis_deleted {
                delete_one_in(&mut tx, DELETE_API, id, "API", None).await?;
            }
            s.commit(tx).await?;
            Ok(Some(changes))
        })
    }
}
