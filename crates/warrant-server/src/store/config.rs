//! Declarative configuration's one write: every change `warrant apply` makes, across APIs,
//! applications, their credentials and grants, in one transaction, with each aggregate's own
//! steps. All of it, or on any error none of it.

use super::apis::{DELETE_API, insert_api_in, update_api_in};
use super::applications::{DELETE_APPLICATION, insert_application_in, update_application_in};
use super::credentials::{delete_credential_in, insert_credential_in, update_credential_in};
use super::grants::{GrantChanges, set_grants_in};
use super::state::delete_one_in;
use super::{Store, StoreError, on_engine};
use crate::domain::{Application, ClientGrant, ClientSecret, PublicKeyCredential, ResourceServer};

/// What one apply writes, run in this order: APIs created and changed; applications created
/// (with their first secret); credentials deleted, created and changed; applications changed
/// (whose private_key_jwt lists may name the new credentials); grants set; then applications
/// and APIs deleted.
#[derive(Debug, Default)]
pub struct ConfigWrite {
    pub apis_created: Vec<ResourceServer>,
    pub apis_updated: Vec<ResourceServer>,
    pub applications_created: Vec<(Application, ClientSecret)>,
    pub credentials_deleted: Vec<PublicKeyCredential>,
    pub credentials_created: Vec<PublicKeyCredential>,
    pub credentials_updated: Vec<PublicKeyCredential>,
    pub applications_updated: Vec<Application>,
    /// Each application's whole set of grants, as [`Store::set_grants`] takes it.
    pub grants: Vec<(String, Vec<ClientGrant>)>,
    pub applications_deleted: Vec<String>,
    /// By id.
    pub apis_deleted: Vec<String>,
}

impl ConfigWrite {
    pub fn is_empty(&self) -> bool {
        self.apis_created.is_empty()
            && self.apis_updated.is_empty()
            && self.applications_created.is_empty()
            && self.credentials_deleted.is_empty()
            && self.credentials_created.is_empty()
            && self.credentials_updated.is_empty()
            && self.applications_updated.is_empty()
            && self.grants.is_empty()
            && self.applications_deleted.is_empty()
            && self.apis_deleted.is_empty()
    }
}

impl Store {
    /// Writes `write` in one transaction; answers what each application's grants became, in
    /// the order of `write.grants`.
    pub async fn apply_config(&self, write: &ConfigWrite) -> Result<Vec<GrantChanges>, StoreError> {
        on_engine!(self, |s| {
            let mut tx = s.write_tx().await?;
            for api in &write.apis_created {
                insert_api_in(&mut tx, api).await?;
            }
            for api in &write.apis_updated {
                update_api_in(&mut tx, api).await?;
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
            for id in &write.apis_deleted {
                delete_one_in(&mut tx, DELETE_API, id, "API", None).await?;
            }
            s.commit(tx).await?;
            Ok(changes)
        })
    }
}
