//! Administration: create and remove APIs, applications, secrets, grants, signing keys and
//! dashboard administrators. One service layer for every way in (the management API, the
//! dashboard, and the CLI on a data directory or database), so that the rules live in one place.
//!
//! An [`Admin`] makes its changes as an [`Actor`] ([`Admin::acting_as`]), whose [`Rights`] it
//! checks. Each write validates, stores, then follows itself up: it records its one audit event
//! in the actor's name and refreshes this instance's catalog ([`AuditTrail`], [`Refresh`], given
//! at construction). Front ends only parse, call and answer.

use std::sync::Arc;

use crate::clock::Clock;
use std::collections::BTreeMap;

use crate::domain::{
    Application, AuthMethod, ClientGrant, ClientSecret, DEFAULT_TOKEN_LIFETIME, Invalid,
    PlainSecret, ResourceServer, Scope, SigningAlg, TokenQuota, random_alphanumeric,
};
use crate::keys::{KeyStatus, MasterKey, SigningKey, StoredSigningKey};
use crate::store::{GrantChanges, GrantFilter, Store, StoreError};

mod actor;
mod followup;
pub mod operators;
pub mod passwords;
pub mod scopes;

pub use actor::{Actor, ManagementCaller, Rights};
pub use followup::{AuditTrail, Refresh};
use followup::{Change, Followups};
pub use scopes::MANAGEMENT_SCOPES;

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
    /// The one asking lacks the rights for this change (see [`Rights`]); the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// Nobody may make this change: the management API is Warrant's own.
    #[error("{0}")]
    Protected(String),
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

/// A new application, as an administrator describes it.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub description: String,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub client_metadata: Option<BTreeMap<String, String>>,
    pub token_quota: Option<TokenQuota>,
    pub grants: Vec<GrantSpec>,
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

/// The management API's identifier (its `audience`) for an issuer: `<issuer>api/v2/`.
pub fn management_audience(issuer: &str) -> String {
    format!("{}/api/v2/", issuer.trim_end_matches('/'))
}

const ADMIN_CLIENT_SETTING: &str = "admin_client_id";
/// The issuer the deployment was last initialized (served) with, so that local commands run
/// without `--issuer` act for the same deployment.
const ISSUER_SETTING: &str = "issuer";

/// What `initialize` did.
#[derive(Debug)]
pub enum Initialized {
    /// A new admin application; its secret is shown only now.
    Created {
        client_id: String,
        secret: PlainSecret,
    },
    /// The deployment already had one.
    Already { client_id: String },
}

/// Changes to an API; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApiPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<Scope>>,
    pub token_lifetime: Option<u32>,
    pub signing_alg: Option<SigningAlg>,
}

/// Changes to an application; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApplicationPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub client_metadata: Option<BTreeMap<String, String>>,
    /// `Some(None)` removes the application's own quota (the default applies again).
    pub token_quota: Option<Option<TokenQuota>>,
}

#[derive(Debug, Clone)]
pub struct Admin {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Needed only to create signing keys.
    master: Option<Arc<MasterKey>>,
    /// The management API's identifier, when this admin serves an issuer: that API is
    /// Warrant's own, and its grants are management rights.
    management_audience: Option<Arc<str>>,
    /// Who makes the changes: what they may do, and whose name the audit log records.
    actor: Actor,
    /// The audit event and the catalog refresh after each write.
    followups: Followups,
}

impl Admin {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            master: None,
            management_audience: None,
            actor: Actor::Warrant,
            followups: Followups::default(),
        }
    }

    /// An admin that can also rotate signing keys.
    pub fn with_master_key(store: Store, clock: Arc<dyn Clock>, master: Arc<MasterKey>) -> Self {
        Self {
            master: Some(master),
            ..Self::new(store, clock)
        }
    }

    /// The admin of a server whose issuer is `issuer`: its management API
    /// (`<issuer>api/v2/`) can then be neither changed nor deleted, nor get test tokens, and
    /// grants on it are checked against the [`Rights`] of whoever asks.
    #[must_use]
    pub fn serving(mut self, issuer: &str) -> Self {
        self.management_audience = Some(management_audience(issuer).into());
        self
    }

    /// An admin that records the audit event of each change in `trail`.
    #[must_use]
    pub fn recording(mut self, trail: AuditTrail) -> Self {
        self.followups.audit = trail;
        self
    }

    /// An admin that refreshes `catalog` after each change, so that this instance's token
    /// endpoint sees it at once.
    #[must_use]
    pub fn refreshing(mut self, catalog: Arc<dyn Refresh>) -> Self {
        self.followups.catalog = Some(catalog);
        self
    }

    /// The same admin, with the master key (to create signing keys).
    #[must_use]
    pub fn holding_master_key(mut self, master: Arc<MasterKey>) -> Self {
        self.master = Some(master);
        self
    }

    /// The same admin, making changes as `actor`: with their rights, in their name.
    #[must_use]
    pub fn acting_as(&self, actor: Actor) -> Self {
        Self {
            actor,
            ..self.clone()
        }
    }

    /// Records `change` and refreshes the catalog: after every write.
    async fn followup(&self, change: Change) {
        let now_ms = self.clock.now_ms();
        self.followups
            .after(&self.store, &self.actor, change, now_ms)
            .await;
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn create_api(&self, new: NewApi) -> Result<ResourceServer, AdminError> {
        let api = self.insert_api(new).await?;
        self.followup(Change::ApiCreated {
            identifier: api.identifier.clone(),
        })
        .await;
        Ok(api)
    }

    async fn insert_api(&self, new: NewApi) -> Result<ResourceServer, AdminError> {
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
        self.refuse_management_api(&api.identifier)?;
        self.store.delete_resource_server(&api.id).await?;
        self.followup(Change::ApiDeleted {
            key: key.to_owned(),
            identifier: api.identifier.clone(),
        })
        .await;
        Ok(api)
    }

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

    async fn insert_client(&self, new: NewClient) -> Result<CreatedApplication, AdminError> {
        let now = self.clock.now();
        let mut application = Application::new(new.name, new.description, now)?;
        if let Some(method) = new.token_endpoint_auth_method {
            application.token_endpoint_auth_method = method;
        }
        if let Some(metadata) = new.client_metadata {
            application.client_metadata = metadata;
        }
        application.token_quota = new.token_quota;
        application.validate()?;
        let mut built = Vec::with_capacity(new.grants.len());
        for spec in new.grants {
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
            self.check_grantable(&api.identifier, &spec.scopes)?;
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
        const MAX_GRACE: u64 = 30 * 86_400;
        if grace_seconds > MAX_GRACE {
            return Err(AdminError::Invalid(format!(
                "the grace period must be at most {MAX_GRACE} seconds (30 days)"
            )));
        }
        self.check_may_change(client_id).await?;
        let now = self.clock.now();
        let secret = PlainSecret::generate();
        let stored = ClientSecret::new(client_id, secret.hash(), now);
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
        let mut built: Vec<ClientGrant> = Vec::with_capacity(grants.len());
        for spec in grants {
            if built.iter().any(|g| g.audience == spec.audience) {
                return Err(AdminError::Invalid(format!(
                    "API {} is granted twice; give all its scopes in one grant",
                    spec.audience
                )));
            }
            let api = self.existing_api(&spec.audience).await?;
            self.check_grantable(&api.identifier, &spec.scopes)?;
            built.push(ClientGrant::new(
                &application.client_id,
                &api,
                spec.scopes,
                now,
            )?);
        }
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

    /// Changes an API (by id or identifier). The identifier cannot change.
    pub async fn update_api(
        &self,
        key: &str,
        patch: ApiPatch,
    ) -> Result<ResourceServer, AdminError> {
        let api = self.store.get_resource_server(key).await?;
        self.refuse_management_api(&api.identifier)?;
        let api = self.write_api(api, patch).await?;
        self.followup(Change::ApiUpdated {
            identifier: api.identifier.clone(),
        })
        .await;
        Ok(api)
    }

    /// Adds a scope to an API (by id or identifier).
    pub async fn add_scope(&self, key: &str, scope: Scope) -> Result<ResourceServer, AdminError> {
        let api = self.store.get_resource_server(key).await?;
        self.refuse_management_api(&api.identifier)?;
        if api.has_scope(&scope.value) {
            return Err(AdminError::Conflict(format!(
                "{:?} is already a scope of API {}",
                scope.value, api.identifier
            )));
        }
        let value = scope.value.clone();
        let mut scopes = api.scopes.clone();
        scopes.push(scope);
        let api = self
            .write_api(
                api,
                ApiPatch {
                    scopes: Some(scopes),
                    ..ApiPatch::default()
                },
            )
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
        let api = self.store.get_resource_server(key).await?;
        self.refuse_management_api(&api.identifier)?;
        if !api.has_scope(value) {
            return Ok(false);
        }
        let scopes = api
            .scopes
            .iter()
            .filter(|s| s.value != value)
            .cloned()
            .collect();
        let api = self
            .write_api(
                api,
                ApiPatch {
                    scopes: Some(scopes),
                    ..ApiPatch::default()
                },
            )
            .await?;
        self.followup(Change::ScopeRemoved {
            identifier: api.identifier,
            value: value.to_owned(),
        })
        .await;
        Ok(true)
    }

    async fn write_api(
        &self,
        mut api: ResourceServer,
        patch: ApiPatch,
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
        if let Some(alg) = patch.signing_alg {
            api.signing_alg = alg;
        }
        api.updated_at = self.clock.now();
        api.validate()?;
        self.store.update_resource_server(&api).await?;
        Ok(api)
    }

    pub async fn update_application(
        &self,
        client_id: &str,
        patch: ApplicationPatch,
    ) -> Result<Application, AdminError> {
        let mut app = self.store.get_application(client_id).await?;
        self.check_may_change(client_id).await?;
        if let Some(name) = patch.name {
            app.name = name;
        }
        if let Some(description) = patch.description {
            app.description = description;
        }
        if let Some(method) = patch.token_endpoint_auth_method {
            app.token_endpoint_auth_method = method;
        }
        if let Some(metadata) = patch.client_metadata {
            app.client_metadata = metadata;
        }
        if let Some(quota) = patch.token_quota {
            app.token_quota = quota;
        }
        app.updated_at = self.clock.now();
        app.validate()?;
        self.store.update_application(&app).await?;
        self.followup(Change::ApplicationUpdated {
            client_id: app.client_id.clone(),
        })
        .await;
        Ok(app)
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

    /// Audit events matching `filter`.
    pub async fn list_events(
        &self,
        filter: &crate::domain::events::AuditFilter,
    ) -> Result<Vec<crate::domain::events::StoredEvent>, AdminError> {
        Ok(self.store.list_audit_events(filter).await?)
    }

    /// How many audit events match `filter` (its paging aside).
    pub async fn count_events(
        &self,
        filter: &crate::domain::events::AuditFilter,
    ) -> Result<u64, AdminError> {
        Ok(self.store.count_audit_events(filter).await?)
    }

    /// Token requests since `from_ms` counted per outcome, client, audience, failure reason and
    /// time bucket (the dashboard's Activity page).
    pub async fn token_activity(
        &self,
        from_ms: u64,
        bucket_ms: u64,
    ) -> Result<Vec<crate::domain::events::ActivityCount>, AdminError> {
        Ok(self.store.token_activity(from_ms, bucket_ms).await?)
    }

    pub async fn list_keys(&self) -> Result<Vec<StoredSigningKey>, AdminError> {
        Ok(self.store.list_signing_keys().await?)
    }

    pub async fn get_key(&self, kid: &str) -> Result<StoredSigningKey, AdminError> {
        Ok(self.store.get_signing_key(kid).await?)
    }

    /// Rotates the signing keys: next becomes current, current becomes previous (still
    /// published until its tokens expire), and a new next key is published. Returns the new
    /// current key.
    pub async fn rotate_keys(&self) -> Result<StoredSigningKey, AdminError> {
        let current = self
            .store
            .list_signing_keys()
            .await?
            .into_iter()
            .find(|k| k.status == KeyStatus::Current)
            .ok_or_else(|| AdminError::Conflict("there is no current signing key yet".into()))?;
        self.rotate_keys_from(&current.kid).await
    }

    /// Rotates only if `expected_current` is still the current key: of several processes that
    /// decide to rotate at once, exactly one does.
    pub async fn rotate_keys_from(
        &self,
        expected_current: &str,
    ) -> Result<StoredSigningKey, AdminError> {
        let master = self.master.as_ref().ok_or_else(|| {
            AdminError::Invalid("rotating keys needs the master key (WARRANT_MASTER_KEY or the data directory's master.key)".into())
        })?;
        // A wrong master key would seal the new key so that no server could open it: check
        // that it opens the current one first.
        let current = self.store.get_signing_key(expected_current).await?;
        SigningKey::from_stored(&current, master)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let now = self.clock.now();
        let next = SigningKey::generate()
            .and_then(|k| k.to_stored(master, KeyStatus::Next, now))
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        self.store
            .rotate_signing_keys(expected_current, &next, now)
            .await?;
        let current = self
            .store
            .list_signing_keys()
            .await?
            .into_iter()
            .find(|k| k.status == KeyStatus::Current)
            .ok_or_else(|| AdminError::Conflict("the rotation left no current key".into()))?;
        self.followup(Change::KeysRotated {
            current: current.kid.clone(),
        })
        .await;
        Ok(current)
    }

    /// Withdraws a previous key from the JWKS at once (compromise response).
    pub async fn revoke_key(&self, kid: &str) -> Result<StoredSigningKey, AdminError> {
        self.store.revoke_signing_key(kid, self.clock.now()).await?;
        self.followup(Change::KeyRevoked {
            kid: kid.to_owned(),
        })
        .await;
        Ok(self.store.get_signing_key(kid).await?)
    }

    /// Makes the deployment manageable: the management API (`<issuer>api/v2/`) with Auth0's
    /// scopes, and an admin application granted all of them, created once. Idempotent; safe
    /// when several processes run it at once. Warrant's own maintenance: not audited, whoever
    /// runs it.
    pub async fn initialize(&self, issuer: &str) -> Result<Initialized, AdminError> {
        let outcome = self.set_up_management(issuer).await;
        self.followups.refresh().await;
        outcome
    }

    async fn set_up_management(&self, issuer: &str) -> Result<Initialized, AdminError> {
        let recorded = self.store.get_setting(ISSUER_SETTING).await?;
        if recorded.as_deref() != Some(issuer) {
            if let Some(previous) = &recorded {
                tracing::warn!(
                    previous = %previous,
                    issuer = %issuer,
                    "the deployment's issuer changed: tokens issued under the previous one no \
                     longer verify where the new one is expected"
                );
            }
            // Compare and swap: when another process records at the same moment, theirs stays.
            self.store
                .replace_setting(ISSUER_SETTING, recorded.as_deref(), issuer)
                .await?;
        }
        let audience = management_audience(issuer);
        let scopes: Vec<Scope> = MANAGEMENT_SCOPES
            .iter()
            .map(|(value, description)| Scope {
                value: (*value).to_owned(),
                description: (*description).to_owned(),
            })
            .collect();
        match self.store.get_resource_server(&audience).await {
            Ok(api) if api.scopes == scopes => {}
            Ok(api) => {
                // Warrant's own maintenance of its API: the one change nobody else may make.
                self.write_api(
                    api,
                    ApiPatch {
                        scopes: Some(scopes),
                        ..ApiPatch::default()
                    },
                )
                .await?;
            }
            Err(StoreError::NotFound(_)) => {
                let created = self
                    .insert_api(NewApi {
                        identifier: audience.clone(),
                        name: "Warrant Management API".into(),
                        scopes,
                        token_lifetime: Some(3600),
                        signing_alg: None,
                    })
                    .await;
                match created {
                    Ok(_) | Err(AdminError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e.into()),
        }

        let existing = self.store.get_setting(ADMIN_CLIENT_SETTING).await?;
        if let Some(client_id) = &existing {
            let granted = self
                .store
                .list_grants(&GrantFilter {
                    client_id: Some(client_id.clone()),
                    audience: Some(audience.clone()),
                })
                .await?;
            if !granted.is_empty() {
                return Ok(Initialized::Already {
                    client_id: client_id.clone(),
                });
            }
        }
        let created = self
            .insert_client(NewClient {
                name: "Warrant Management (admin)".into(),
                description: "Created by warrant init: full access to the management API".into(),
                grants: vec![GrantSpec {
                    audience,
                    scopes: MANAGEMENT_SCOPES
                        .iter()
                        .map(|(s, _)| (*s).to_owned())
                        .collect(),
                }],
                ..NewClient::default()
            })
            .await?;
        let client_id = created.application.client_id.clone();
        if self
            .store
            .replace_setting(ADMIN_CLIENT_SETTING, existing.as_deref(), &client_id)
            .await?
        {
            Ok(Initialized::Created {
                client_id,
                secret: created.secret,
            })
        } else {
            // Another process initialized at the same moment: keep theirs.
            self.store.delete_application(&client_id).await?;
            let client_id = self
                .store
                .get_setting(ADMIN_CLIENT_SETTING)
                .await?
                .unwrap_or_default();
            Ok(Initialized::Already { client_id })
        }
    }

    /// The issuer this deployment was last served or initialized with, if any.
    pub async fn recorded_issuer(&self) -> Result<Option<String>, AdminError> {
        Ok(self.store.get_setting(ISSUER_SETTING).await?)
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

    fn is_management(&self, identifier: &str) -> bool {
        self.management_audience.as_deref() == Some(identifier)
    }

    /// The management API is Warrant's own: nobody changes or deletes it through the service
    /// layer ([`initialize`](Self::initialize) maintains it).
    fn refuse_management_api(&self, identifier: &str) -> Result<(), AdminError> {
        if self.is_management(identifier) {
            return Err(AdminError::Protected(
                "the management API is managed by Warrant itself and cannot be changed or deleted"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Granting management scopes takes holding them.
    fn check_grantable(&self, identifier: &str, scopes: &[String]) -> Result<(), AdminError> {
        if !self.is_management(identifier) {
            return Ok(());
        }
        let lacking = self.actor.rights().lacking(scopes);
        if lacking.is_empty() {
            return Ok(());
        }
        Err(AdminError::Forbidden(format!(
            "a caller may grant only the management scopes it holds itself; it lacks {}",
            lacking.join(" ")
        )))
    }

    /// Changing an application (its settings, secret, grants, or deleting it) takes holding
    /// every management scope it holds: else rotating the admin application's secret, or
    /// widening a grant, would be a way to more rights than one has.
    async fn check_may_change(&self, client_id: &str) -> Result<(), AdminError> {
        if self.actor.rights() == Rights::Full {
            return Ok(());
        }
        // Without the management API's identifier the rule cannot be checked: refuse.
        let Some(audience) = &self.management_audience else {
            return Err(AdminError::Forbidden(
                "this server cannot tell management grants apart; nothing was changed".into(),
            ));
        };
        let grants = self
            .store
            .list_grants(&GrantFilter {
                client_id: Some(client_id.to_owned()),
                audience: Some(audience.to_string()),
            })
            .await?;
        for grant in grants {
            let lacking = self.actor.rights().lacking(&grant.scopes);
            if !lacking.is_empty() {
                return Err(AdminError::Forbidden(format!(
                    "application {client_id} holds management scopes the caller lacks ({}); \
                     only a caller holding all of them may change it",
                    lacking.join(" ")
                )));
            }
        }
        Ok(())
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
