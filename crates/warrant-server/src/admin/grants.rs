//! Grants: which application may get tokens for which API, with which scopes; an
//! application's whole set replaced in one transaction.

use super::followup::Change;
use super::{Admin, AdminError, no_such_api};
use crate::domain::{Application, ClientGrant, CustomClaims, Invalid, token_claims};
use crate::store::{GrantChanges, GrantFilter, StoredApplication, StoredGrant};

/// A grant to create along with an application, or on its own.
#[derive(Debug, Clone, Default)]
pub struct GrantSpec {
    pub audience: String,
    pub scopes: Vec<String>,
    /// The claims its tokens carry over the application's. `None`: none for a new grant; in
    /// [`Admin::set_grants`], an existing grant's stay as they are.
    pub custom_claims: Option<CustomClaims>,
}

/// Changes to a grant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GrantPatch {
    pub scopes: Option<Vec<String>>,
    pub custom_claims: Option<CustomClaims>,
}

/// Whether the tokens of `application` through each of `grants` get custom claims that
/// resolve and fit ([`token_claims`]); the error names the claim, and the API when a grant's
/// claims are at fault.
pub(super) fn check_token_claims<'a>(
    application: &Application,
    grants: impl IntoIterator<Item = &'a ClientGrant>,
) -> Result<(), Invalid> {
    for grant in grants {
        token_claims(
            &application.custom_claims,
            &grant.custom_claims,
            &application.client_metadata,
        )
        .map_err(|e| Invalid(format!("{} (the grant for {})", e.0, grant.audience)))?;
    }
    Ok(())
}

impl Admin {
    pub async fn create_grant(
        &self,
        client_id: &str,
        spec: GrantSpec,
    ) -> Result<ClientGrant, AdminError> {
        // The answers' order a client sees: no such application (404), no such API (404), not
        // allowed to change it (403), then what is wrong with the grant (400, 409). The rights
        // are checked again in the write's transaction.
        self.store.get_application(client_id).await?;
        let api = self.existing_api(&spec.audience).await?;
        self.check_may_change(client_id).await?;
        self.check_grantable(&api.identifier, &spec.scopes)?;
        let mut grant = ClientGrant::new(client_id, &api, spec.scopes, self.clock.now())?;
        grant.custom_claims = spec.custom_claims.unwrap_or_default();
        // Its claims checked against the application as it is written: a concurrent change
        // of its metadata either comes first and is checked here, or waits and is checked
        // against this grant.
        self.store
            .change_grants(client_id, |stored| {
                let StoredApplication {
                    application,
                    mut grants,
                    ..
                } = stored;
                self.check_may_change_with(client_id, &grants)?;
                check_token_claims(&application, [&grant])?;
                if grants.iter().any(|g| g.audience == grant.audience) {
                    return Err(AdminError::Conflict(format!(
                        "application {client_id} already has a grant for {}; change or delete \
                         that one",
                        grant.audience
                    )));
                }
                grants.push(grant.clone());
                Ok(grants)
            })
            .await?;
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
        // No such application (404) and not allowed to change it (403) come before what is
        // wrong with the grants; the rights are checked again in the write's transaction.
        self.store.get_application(client_id).await?;
        self.check_may_change(client_id).await?;
        let now = self.clock.now();
        // Grants that keep their claims (`custom_claims: None`) keep those they have when
        // written, read in the write's transaction: a concurrent change of a grant's claims
        // is kept, not overwritten by an older copy.
        let keep_claims: Vec<bool> = grants.iter().map(|g| g.custom_claims.is_none()).collect();
        let mut built = self.build_grants(client_id, grants, now).await?;
        let changes = self
            .store
            .change_grants(client_id, |stored| {
                let StoredApplication {
                    application,
                    grants: current,
                    ..
                } = stored;
                self.check_may_change_with(client_id, &current)?;
                for (grant, keep) in built.iter_mut().zip(&keep_claims) {
                    if *keep {
                        grant.custom_claims = current
                            .iter()
                            .find(|g| g.audience == grant.audience)
                            .map(|g| g.custom_claims.clone())
                            .unwrap_or_default();
                    }
                }
                check_token_claims(&application, &built)?;
                Ok::<_, AdminError>(built.clone())
            })
            .await?;
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

    /// Changes a grant's scopes (each must be one its API defines) or custom claims.
    pub async fn update_grant(
        &self,
        id: &str,
        patch: GrantPatch,
    ) -> Result<ClientGrant, AdminError> {
        // Read and written in one write transaction: of two concurrent changes (its scopes,
        // its claims) neither is lost, and the rules hold for what is written.
        let grant =
            self.store
                .change_grant(id, |stored| {
                    let StoredGrant {
                        grant: old,
                        api,
                        application,
                        grants,
                    } = stored;
                    let api = api.ok_or_else(|| no_such_api(&old.audience))?;
                    self.check_may_change_with(&old.client_id, &grants)?;
                    let scopes = patch.scopes.unwrap_or_else(|| old.scopes.clone());
                    self.check_grantable(&api.identifier, &scopes)?;
                    let grant = ClientGrant::new(&old.client_id, &api, scopes, old.created_at)
                        .map(|g| ClientGrant {
                            id: old.id,
                            custom_claims: patch.custom_claims.unwrap_or(old.custom_claims),
                            ..g
                        })?;
                    check_token_claims(&application, [&grant])?;
                    Ok::<_, AdminError>(grant)
                })
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
            let mut grant = ClientGrant::new(client_id, &api, spec.scopes, now)?;
            grant.custom_claims = spec.custom_claims.unwrap_or_default();
            built.push(grant);
        }
        Ok(built)
    }
}
