//! APIs (resource servers): create, change, delete, and their scopes.

use super::followup::Change;
use super::{Admin, AdminError};
use crate::domain::{
    DEFAULT_TOKEN_LIFETIME, ProofOfPossession, ResourceServer, Scope, SigningAlg,
    random_alphanumeric,
};

/// A new API, as an administrator describes it.
#[derive(Debug, Clone)]
pub struct NewApi {
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub token_lifetime: Option<u32>,
    pub signing_alg: Option<SigningAlg>,
    /// DPoP-bound tokens, required or not; `None`: as the client chooses.
    pub proof_of_possession: Option<ProofOfPossession>,
}

/// Changes to an API; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApiPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<Scope>>,
    pub token_lifetime: Option<u32>,
    pub signing_alg: Option<SigningAlg>,
    /// `Some(None)` removes the setting.
    pub proof_of_possession: Option<Option<ProofOfPossession>>,
}

impl Admin {
    pub async fn create_api(&self, new: NewApi) -> Result<ResourceServer, AdminError> {
        let api = self.insert_api(new).await?;
        self.followup(Change::ApiCreated {
            identifier: api.identifier.clone(),
        })
        .await;
        Ok(api)
    }

    pub(super) async fn insert_api(&self, new: NewApi) -> Result<ResourceServer, AdminError> {
        let now = self.clock.now();
        let api = ResourceServer {
            id: random_alphanumeric(24),
            identifier: new.identifier,
            name: new.name,
            scopes: new.scopes,
            token_lifetime: new.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME),
            signing_alg: new.signing_alg.unwrap_or(SigningAlg::RS256),
            proof_of_possession: new.proof_of_possession,
            created_at: now,
            updated_at: now,
        };
        api.validate()?;
        // The key set first, so that the API's tokens can be signed as soon as it exists.
        self.ensure_key_set(api.signing_alg).await?;
        self.store.insert_resource_server(&api).await?;
        Ok(api)
    }

    pub async fn list_apis(&self) -> Result<Vec<ResourceServer>, AdminError> {
        Ok(self.store.list_resource_servers().await?)
    }

    /// Finds an API by id or identifier.
    pub async fn get_api(&self, key: &str) -> Result<ResourceServer, AdminError> {
        Ok(self.store.get_resource_server(key).await?)
    }

    /// Deletes an API (by id or identifier) and every grant for it.
    pub async fn delete_api(&self, key: &str) -> Result<ResourceServer, AdminError> {
        let api = self.store.get_resource_server(key).await?;
        self.refuse_management_api(&api.identifier)?;
        self.store.delete_resource_server(&api.id).await?;
        self.followup(Change::ApiDeleted {
            key: key.to_owned(),
            identifier: api.identifier.clone(),
        })
        .await;
        Ok(api)
    }

    /// Changes an API (by id or identifier). The identifier cannot change.
    pub async fn update_api(
        &self,
        key: &str,
        patch: ApiPatch,
    ) -> Result<ResourceServer, AdminError> {
        let api = self.store.get_resource_server(key).await?;
        if self.is_management(&api.identifier)
            && patch
                .signing_alg
                .is_some_and(|alg| alg != SigningAlg::RS256)
        {
            return Err(AdminError::Invalid(format!(
                "signing_alg: the management API's tokens are signed with RS256, which cannot \
                 change (the algorithms other APIs may use are {})",
                SigningAlg::ALLOWED
            )));
        }
        self.refuse_management_api(&api.identifier)?;
        if let Some(alg) = patch.signing_alg.filter(|alg| *alg != api.signing_alg) {
            // New tokens are signed with `alg`: its keys first, outside the change's
            // transaction (they are written in their own), and only for a change that passes
            // the rules. The old algorithm's keys stay published while tokens they signed may
            // be valid (the same rule as previous keys).
            patched_api(api.clone(), patch.clone(), self.clock.now())?;
            self.ensure_key_set(alg).await?;
        }
        let api = self.change_api(&api.id, |_| Ok(patch)).await?;
        self.followup(Change::ApiUpdated {
            identifier: api.identifier.clone(),
        })
        .await;
        Ok(api)
    }

    /// Adds a scope to an API (by id or identifier).
    pub async fn add_scope(&self, key: &str, scope: Scope) -> Result<ResourceServer, AdminError> {
        let value = scope.value.clone();
        let api = self
            .change_api(key, |api| {
                self.refuse_management_api(&api.identifier)?;
                if api.has_scope(&scope.value) {
                    return Err(AdminError::Conflict(format!(
                        "{:?} is already a scope of API {}",
                        scope.value, api.identifier
                    )));
                }
                let mut scopes = api.scopes.clone();
                scopes.push(scope);
                Ok(ApiPatch {
                    scopes: Some(scopes),
                    ..ApiPatch::default()
                })
            })
            .await?;
        self.followup(Change::ScopeAdded {
            identifier: api.identifier.clone(),
            value,
        })
        .await;
        Ok(api)
    }

    /// Removes a scope from an API (by id or identifier); `false` when it had none such.
    pub async fn remove_scope(&self, key: &str, value: &str) -> Result<bool, AdminError> {
        // Whether it has the scope is read in the write's transaction: of two concurrent
        // removals one removes it and records the event, the other finds it gone and writes
        // nothing.
        let mut had_none = false;
        let removed = self
            .change_api(key, |api| {
                self.refuse_management_api(&api.identifier)?;
                if !api.has_scope(value) {
                    had_none = true;
                    return Err(AdminError::NotFound(format!(
                        "scope {value:?} of API {}",
                        api.identifier
                    )));
                }
                let scopes = api
                    .scopes
                    .iter()
                    .filter(|s| s.value != value)
                    .cloned()
                    .collect();
                Ok(ApiPatch {
                    scopes: Some(scopes),
                    ..ApiPatch::default()
                })
            })
            .await;
        let api = match removed {
            Err(AdminError::NotFound(_)) if had_none => return Ok(false),
            other => other?,
        };
        self.followup(Change::ScopeRemoved {
            identifier: api.identifier,
            value: value.to_owned(),
        })
        .await;
        Ok(true)
    }

    /// Applies the patch `make` asks for, given the stored API (by id or identifier), read
    /// and written in one write transaction
    /// ([`Store::change_resource_server`](crate::store::Store::change_resource_server)): of
    /// two concurrent changes neither is lost. A new signing algorithm's keys are the
    /// caller's to create first.
    pub(super) async fn change_api(
        &self,
        key: &str,
        make: impl FnOnce(&ResourceServer) -> Result<ApiPatch, AdminError>,
    ) -> Result<ResourceServer, AdminError> {
        let now = self.clock.now();
        self.store
            .change_resource_server(key, |api| {
                let patch = make(&api)?;
                // Never before the stored change: the clock was read before the write's turn.
                let now = now.max(api.updated_at);
                patched_api(api, patch, now)
            })
            .await
    }

    /// Refuses a test token (issued without the application's secret, shown in a browser) for
    /// the management API: management tokens are issued only at the token endpoint, to an
    /// application presenting its own credentials.
    pub fn check_test_token(&self, audience: &str) -> Result<(), AdminError> {
        if self.is_management(audience) {
            return Err(AdminError::Protected(
                "no test tokens for the management API: its tokens are issued only at the token \
                 endpoint, to an application presenting its own credentials"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `api` as `patch` changes it at `now`, checked.
fn patched_api(
    mut api: ResourceServer,
    patch: ApiPatch,
    now: u64,
) -> Result<ResourceServer, AdminError> {
    if let Some(name) = patch.name {
        api.name = name;
    }
    if let Some(scopes) = patch.scopes {
        api.scopes = scopes;
    }
    if let Some(lifetime) = patch.token_lifetime {
        api.token_lifetime = lifetime;
    }
    if let Some(pop) = patch.proof_of_possession {
        api.proof_of_possession = pop;
    }
    if let Some(alg) = patch.signing_alg {
        api.signing_alg = alg;
    }
    api.updated_at = now;
    api.validate()?;
    Ok(api)
}
