//! Grants: which application may get tokens for which API, with which scopes; an
//! application's whole set replaced in one transaction.

use super::followup::Change;
use super::{Admin, AdminError};
use crate::domain::ClientGrant;
use crate::store::{GrantChanges, GrantFilter};

/// A grant to create along with an application, or on its own.
#[derive(Debug, Clone)]
pub struct GrantSpec {
    pub audience: String,
    pub scopes: Vec<String>,
}

impl Admin {
    pub async fn create_grant(
        &self,
        client_id: &str,
        spec: GrantSpec,
    ) -> Result<ClientGrant, AdminError> {
        let application = self.store.get_application(client_id).await?;
        let api = self.existing_api(&spec.audience).await?;
        self.check_may_change(client_id).await?;
        self.check_grantable(&api.identifier, &spec.scopes)?;
        let grant = ClientGrant::new(&application.client_id, &api, spec.scopes, self.clock.now())?;
        self.store.insert_grant(&grant).await?;
        self.followup(Change::GrantCreated {
            client_id: grant.client_id.clone(),
            audience: spec.audience,
            scopes: grant.scopes.clone(),
        })
        .await;
        Ok(grant)
    }

    pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<ClientGrant>, AdminError> {
        Ok(self.store.list_grants(filter).await?)
    }

    pub async fn delete_grant(&self, id: &str) -> Result<(), AdminError> {
        let grant = self.store.get_grant(id).await?;
        self.check_may_change(&grant.client_id).await?;
        self.store.delete_grant(id).await?;
        self.followup(Change::GrantDeleted {
            id: grant.id,
            client_id: grant.client_id,
            audience: grant.audience,
        })
        .await;
        Ok(())
    }

    /// Makes `grants` the application's grants, in one transaction: a grant for an API it has
    /// one for gets these scopes, one for another API is added, and its grants for APIs not
    /// named are deleted. Every grant is checked first; on any error nothing changes. A change
    /// is recorded as one event; no change records none.
    pub async fn set_grants(
        &self,
        client_id: &str,
        grants: Vec<GrantSpec>,
    ) -> Result<GrantChanges, AdminError> {
        let application = self.store.get_application(client_id).await?;
        self.check_may_change(client_id).await?;
        let now = self.clock.now();
        let built = self
            .build_grants(&application.client_id, grants, now)
            .await?;
        let changes = self.store.set_grants(client_id, &built).await?;
        if !changes.is_empty() {
            // In the order asked, as the administrator listed them.
            let set = built
                .iter()
                .filter_map(|wanted| {
                    changes
                        .added
                        .iter()
                        .chain(&changes.changed)
                        .find(|g| g.audience == wanted.audience)
                })
                .cloned()
                .collect();
            self.followup(Change::GrantsSet {
                client_id: client_id.to_owned(),
                set,
                removed: changes.removed.clone(),
            })
            .await;
        }
        Ok(changes)
    }

    /// Replaces a grant's scopes; each must be one its API defines.
    pub async fn update_grant(
        &self,
        id: &str,
        scopes: Vec<String>,
    ) -> Result<ClientGrant, AdminError> {
        let mut grant = self.store.get_grant(id).await?;
        let api = self.existing_api(&grant.audience).await?;
        self.check_may_change(&grant.client_id).await?;
        self.check_grantable(&api.identifier, &scopes)?;
        grant = ClientGrant::new(&grant.client_id, &api, scopes, grant.created_at)
            .map(|g| ClientGrant { id: grant.id, ..g })?;
        self.store
            .update_grant_scopes(&grant.id, &grant.scopes)
            .await?;
        self.followup(Change::GrantUpdated {
            client_id: grant.client_id.clone(),
            audience: grant.audience.clone(),
            scopes: grant.scopes.clone(),
        })
        .await;
        Ok(grant)
    }

    pub async fn get_grant(&self, id: &str) -> Result<ClientGrant, AdminError> {
        Ok(self.store.get_grant(id).await?)
    }

    /// The grants `specs` ask for `client_id`, each checked: an API at most once, an API that
    /// exists, scopes it defines and the caller may grant.
    pub(super) async fn build_grants(
        &self,
        client_id: &str,
        specs: Vec<GrantSpec>,
        now: u64,
    ) -> Result<Vec<ClientGrant>, AdminError> {
        let mut built: Vec<ClientGrant> = Vec::with_capacity(specs.len());
        for spec in specs {
            if built.iter().any(|g| g.audience == spec.audience) {
                return Err(AdminError::Invalid(format!(
                    "API {} is granted twice; give all its scopes in one grant",
                    spec.audience
                )));
            }
            let api = self.existing_api(&spec.audience).await?;
            self.check_grantable(&api.identifier, &spec.scopes)?;
            built.push(ClientGrant::new(client_id, &api, spec.scopes, now)?);
        }
        Ok(built)
    }
}
