//! Administration: create and remove APIs, applications, secrets and grants. One service layer
//! for every way in (the CLI against a data directory today, the management API later), so that
//! the rules live in one place.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{
    Application, ClientGrant, ClientSecret, DEFAULT_TOKEN_LIFETIME, Invalid, PlainSecret,
    ResourceServer, Scope, SigningAlg, random_alphanumeric,
};
use crate::store::{GrantFilter, Store, StoreError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The input breaks a rule; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<Invalid> for AdminError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e.0)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(what) => Self::Conflict(what),
            other => Self::Store(other),
        }
    }
}

/// A new API, as an administrator describes it.
#[derive(Debug, Clone)]
pub struct NewApi {
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub token_lifetime: Option<u32>,
    pub signing_alg: Option<SigningAlg>,
}

/// A grant to create along with an application, or on its own.
#[derive(Debug, Clone)]
pub struct GrantSpec {
    pub audience: String,
    pub scopes: Vec<String>,
}

/// An application just created, with its secret in the clear (shown once).
#[derive(Debug)]
pub struct CreatedApplication {
    pub application: Application,
    pub secret: PlainSecret,
    pub grants: Vec<ClientGrant>,
}

/// An application with what belongs to it.
#[derive(Debug)]
pub struct ApplicationDetails {
    pub application: Application,
    pub secrets: Vec<ClientSecret>,
    pub grants: Vec<ClientGrant>,
}

#[derive(Debug, Clone)]
pub struct Admin {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Admin {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn create_api(&self, new: NewApi) -> Result<ResourceServer, AdminError> {
        let now = self.clock.now();
        let api = ResourceServer {
            id: random_alphanumeric(24),
            identifier: new.identifier,
            name: new.name,
            scopes: new.scopes,
            token_lifetime: new.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME),
            signing_alg: new.signing_alg.unwrap_or(SigningAlg::RS256),
            created_at: now,
            updated_at: now,
        };
        api.validate()?;
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
        self.store.delete_resource_server(&api.id).await?;
        Ok(api)
    }

    /// Creates an application with one secret and, in the same transaction, its grants.
    pub async fn create_application(
        &self,
        name: String,
        description: String,
        grants: Vec<GrantSpec>,
    ) -> Result<CreatedApplication, AdminError> {
        let now = self.clock.now();
        let application = Application::new(name, description, now)?;
        let mut built = Vec::with_capacity(grants.len());
        for spec in grants {
            if built
                .iter()
                .any(|g: &ClientGrant| g.audience == spec.audience)
            {
                return Err(AdminError::Invalid(format!(
                    "API {} is granted twice; give all its scopes in one grant",
                    spec.audience
                )));
            }
            let api = self.existing_api(&spec.audience).await?;
            built.push(ClientGrant::new(
                &application.client_id,
                &api,
                spec.scopes,
                now,
            )?);
        }
        let secret = PlainSecret::generate();
        let stored = ClientSecret::new(&application.client_id, secret.hash(), now);
        self.store
            .insert_application(&application, &stored, &built)
            .await?;
        Ok(CreatedApplication {
            application,
            secret,
            grants: built,
        })
    }

    pub async fn list_applications(&self) -> Result<Vec<Application>, AdminError> {
        Ok(self.store.list_applications().await?)
    }

    pub async fn get_application(&self, client_id: &str) -> Result<ApplicationDetails, AdminError> {
        let application = self.store.get_application(client_id).await?;
        let secrets = self.store.list_client_secrets(client_id).await?;
        let grants = self
            .store
            .list_grants(&GrantFilter {
                client_id: Some(client_id.to_owned()),
                audience: None,
            })
            .await?;
        Ok(ApplicationDetails {
            application,
            secrets,
            grants,
        })
    }

    pub async fn delete_application(&self, client_id: &str) -> Result<(), AdminError> {
        Ok(self.store.delete_application(client_id).await?)
    }

    /// Issues a new secret. The old ones keep working for `grace_seconds` (0: they stop now,
    /// as Auth0's rotation does).
    pub async fn rotate_secret(
        &self,
        client_id: &str,
        grace_seconds: u64,
    ) -> Result<PlainSecret, AdminError> {
        const MAX_GRACE: u64 = 30 * 86_400;
        if grace_seconds > MAX_GRACE {
            return Err(AdminError::Invalid(format!(
                "the grace period must be at most {MAX_GRACE} seconds (30 days)"
            )));
        }
        let now = self.clock.now();
        let secret = PlainSecret::generate();
        let stored = ClientSecret::new(client_id, secret.hash(), now);
        self.store
            .rotate_secret(&stored, now + grace_seconds, now)
            .await?;
        Ok(secret)
    }

    pub async fn create_grant(
        &self,
        client_id: &str,
        spec: GrantSpec,
    ) -> Result<ClientGrant, AdminError> {
        let application = self.store.get_application(client_id).await?;
        let api = self.existing_api(&spec.audience).await?;
        let grant = ClientGrant::new(&application.client_id, &api, spec.scopes, self.clock.now())?;
        self.store.insert_grant(&grant).await?;
        Ok(grant)
    }

    pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<ClientGrant>, AdminError> {
        Ok(self.store.list_grants(filter).await?)
    }

    pub async fn delete_grant(&self, id: &str) -> Result<(), AdminError> {
        Ok(self.store.delete_grant(id).await?)
    }

    async fn existing_api(&self, audience: &str) -> Result<ResourceServer, AdminError> {
        self.store
            .get_resource_server(audience)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => AdminError::NotFound(format!(
                    "API {audience} (create it first with `warrant api create`)"
                )),
                other => other.into(),
            })
    }
}
