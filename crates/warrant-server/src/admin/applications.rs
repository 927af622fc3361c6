//! Applications (M2M clients): create with their first secret and grants, change, delete,
//! rotate the secret.

use std::collections::BTreeMap;

use super::followup::Change;
use super::grants::check_token_claims;
use super::{Admin, AdminError, GrantSpec};
use crate::domain::{
    Application, AuthMethod, ClientGrant, ClientSecret, CustomClaims, PlainSecret, TokenQuota,
};
use crate::store::{GrantFilter, StoredApplication};

/// A new application, as an administrator describes it.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub description: String,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub client_metadata: Option<BTreeMap<String, String>>,
    pub custom_claims: Option<CustomClaims>,
    pub token_quota: Option<TokenQuota>,
    pub grants: Vec<GrantSpec>,
    /// When its first secret stops working (Unix seconds); `None`: never.
    pub secret_expires_at: Option<u64>,
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

/// Changes to an application; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApplicationPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub client_metadata: Option<BTreeMap<String, String>>,
    /// Replaces the application's custom claims.
    pub custom_claims: Option<CustomClaims>,
    /// `Some(None)` removes the application's own quota (the default applies again).
    pub token_quota: Option<Option<TokenQuota>>,
    /// The credentials it authenticates with (private_key_jwt), by ID; `Some(None)`: none,
    /// the secret again.
    pub private_key_jwt: Option<Option<Vec<String>>>,
}

impl Admin {
    /// Creates an application with one secret and, in the same transaction, its grants.
    pub async fn create_application(
        &self,
        name: String,
        description: String,
        grants: Vec<GrantSpec>,
    ) -> Result<CreatedApplication, AdminError> {
        self.create_client(NewClient {
            name,
            description,
            grants,
            ..NewClient::default()
        })
        .await
    }

    /// As [`create_application`](Self::create_application), with every field: all validated
    /// before anything is written, then written in one transaction.
    pub async fn create_client(&self, new: NewClient) -> Result<CreatedApplication, AdminError> {
        let name = new.name.clone();
        let created = self.insert_client(new).await?;
        self.followup(Change::ApplicationCreated {
            client_id: created.application.client_id.clone(),
            name,
        })
        .await;
        Ok(created)
    }

    pub(super) async fn insert_client(
        &self,
        new: NewClient,
    ) -> Result<CreatedApplication, AdminError> {
        let now = self.clock.now();
        let mut application = Application::new(new.name, new.description, now)?;
        if let Some(method) = new.token_endpoint_auth_method {
            application.token_endpoint_auth_method = method;
        }
        if let Some(metadata) = new.client_metadata {
            application.client_metadata = metadata;
        }
        application.custom_claims = new.custom_claims.unwrap_or_default();
        application.token_quota = new.token_quota;
        application.validate()?;
        let built = self
            .build_grants(&application.client_id, new.grants, now)
            .await?;
        check_token_claims(&application, &built)?;
        let secret = PlainSecret::generate();
        let mut stored = ClientSecret::new(&application.client_id, secret.hash(), now);
        stored.expires_at = new.secret_expires_at;
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

    /// One page of applications in creation order, and how many there are in all: what lists
    /// show, at any number of applications.
    pub async fn list_applications_page(
        &self,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Application>, u64), AdminError> {
        Ok(self.store.list_applications_page(offset, limit).await?)
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
        self.check_may_change(client_id).await?;
        self.store.delete_application(client_id).await?;
        self.followup(Change::ApplicationDeleted {
            client_id: client_id.to_owned(),
        })
        .await;
        Ok(())
    }

    /// Issues a new secret. The current one keeps working for `grace_seconds` (0: it stops
    /// now, as Auth0's rotation does); older ones stop now, so that at most two are ever valid.
    pub async fn rotate_secret(
        &self,
        client_id: &str,
        grace_seconds: u64,
    ) -> Result<PlainSecret, AdminError> {
        self.rotate_secret_until(client_id, grace_seconds, None)
            .await
    }

    /// As [`rotate_secret`](Self::rotate_secret); the new secret stops working at
    /// `expires_at` (Unix seconds; a time past expires it at once), or never.
    pub async fn rotate_secret_until(
        &self,
        client_id: &str,
        grace_seconds: u64,
        expires_at: Option<u64>,
    ) -> Result<PlainSecret, AdminError> {
        const MAX_GRACE: u64 = 30 * 86_400;
        if grace_seconds > MAX_GRACE {
            return Err(AdminError::Invalid(format!(
                "the grace period must be at most {MAX_GRACE} seconds (30 days)"
            )));
        }
        self.check_may_change(client_id).await?;
        let now = self.clock.now();
        let secret = PlainSecret::generate();
        let mut stored = ClientSecret::new(client_id, secret.hash(), now);
        stored.expires_at = expires_at;
        self.store
            .rotate_secret(&stored, now + grace_seconds, now)
            .await?;
        self.followup(Change::SecretRotated {
            client_id: client_id.to_owned(),
            grace_seconds,
        })
        .await;
        Ok(secret)
    }

    pub async fn update_application(
        &self,
        client_id: &str,
        patch: ApplicationPatch,
    ) -> Result<Application, AdminError> {
        self.change_application(client_id, |_| patch).await
    }

    /// Applies the patch `make` asks for, given the stored application, with every rule
    /// checked against what is stored, all in one write transaction
    /// ([`Store::change_application`](crate::store::Store::change_application)).
    pub(super) async fn change_application(
        &self,
        client_id: &str,
        make: impl FnOnce(&Application) -> ApplicationPatch,
    ) -> Result<Application, AdminError> {
        let now = self.clock.now();
        let app = self
            .store
            .change_application(client_id, |stored| {
                // Never before the stored change: the clock was read before the write's turn.
                let now = now.max(stored.application.updated_at);
                self.patched(stored, make, now)
            })
            .await?;
        self.followup(Change::ApplicationUpdated {
            client_id: app.client_id.clone(),
        })
        .await;
        Ok(app)
    }

    fn patched(
        &self,
        stored: StoredApplication,
        make: impl FnOnce(&Application) -> ApplicationPatch,
        now: u64,
    ) -> Result<Application, AdminError> {
        let StoredApplication {
            application: mut app,
            grants,
            credentials,
        } = stored;
        let patch = make(&app);
        self.check_may_change_with(&app.client_id, &grants)?;
        if let Some(name) = patch.name {
            app.name = name;
        }
        if let Some(description) = patch.description {
            app.description = description;
        }
        if let Some(method) = patch.token_endpoint_auth_method {
            app.token_endpoint_auth_method = method;
        }
        // What its tokens' claims are made of: checked against its grants' claims below.
        let claims_changed = patch.client_metadata.is_some() || patch.custom_claims.is_some();
        if let Some(metadata) = patch.client_metadata {
            app.client_metadata = metadata;
        }
        if let Some(claims) = patch.custom_claims {
            app.custom_claims = claims;
        }
        if let Some(quota) = patch.token_quota {
            app.token_quota = quota;
        }
        if let Some(ids) = patch.private_key_jwt {
            if let Some(ids) = &ids {
                Self::check_private_key_jwt(&app.client_id, ids, &credentials)?;
            }
            app.private_key_jwt = ids;
        }
        app.updated_at = now;
        app.validate()?;
        if claims_changed {
            check_token_claims(&app, &grants)?;
        }
        Ok(app)
    }
}
