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

use crate::domain::{ClientGrant, Invalid, ResourceServer};
use crate::keys::{MasterKey, RsaKeySize};
use crate::store::{GrantFilter, Store, StoreError};

mod actor;
mod apis;
mod applications;
mod config;
mod credentials;
mod events;
mod federation;
mod followup;
mod grants;
mod keys;
pub mod operators;
pub mod passwords;
mod revocations;
pub mod scopes;
mod setup;

pub use actor::{Actor, ManagementCaller, Rights};
pub use apis::{ApiPatch, NewApi};
pub use applications::{ApplicationDetails, ApplicationPatch, CreatedApplication, NewClient};
pub use config::{AppliedConfig, ConfigAction, ConfigChange, CreatedSecret, PlannedConfig};
pub use credentials::NewCredential;
pub use federation::{new_federated_credential, new_trusted_issuer, trusted_issuer_patch};
pub use followup::{AuditTrail, Refresh};
use followup::{Change, Followups};
pub use grants::{GrantPatch, GrantSpec};
pub use revocations::MAX_REVOKED_PER_CLIENT;
pub use scopes::MANAGEMENT_SCOPES;
pub use setup::Initialized;

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

/// The management API's identifier (its `audience`) for an issuer: `<issuer>api/v2/`.
pub fn management_audience(issuer: &str) -> String {
    format!("{}/api/v2/", issuer.trim_end_matches('/'))
}

#[derive(Debug, Clone)]
pub struct Admin {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Needed only to create signing keys.
    master: Option<Arc<MasterKey>>,
    /// The size of the RSA signing keys it creates.
    rsa_key_size: RsaKeySize,
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
            rsa_key_size: RsaKeySize::default(),
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

    /// The same admin, creating RSA signing keys of `size` (2048 bits by default).
    #[must_use]
    pub fn with_rsa_key_size(mut self, size: RsaKeySize) -> Self {
        self.rsa_key_size = size;
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

    /// Records each of `changes` (one audit event each), then refreshes the catalog once.
    async fn followup_all(&self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            let now_ms = self.clock.now_ms();
            self.followups
                .record(&self.store, &self.actor, change, now_ms)
                .await;
        }
        self.followups.refresh().await;
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    pub fn store(&self) -> &Store {
        &self.store
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
        let grants = match &self.management_audience {
            Some(audience) => {
                self.store
                    .list_grants(&GrantFilter {
                        client_id: Some(client_id.to_owned()),
                        audience: Some(audience.to_string()),
                    })
                    .await?
            }
            None => Vec::new(),
        };
        self.check_may_change_with(client_id, &grants)
    }

    /// [`check_may_change`](Self::check_may_change) against `grants`, the application's (all
    /// of them, or only those on the management API), read by the caller.
    fn check_may_change_with(
        &self,
        client_id: &str,
        grants: &[ClientGrant],
    ) -> Result<(), AdminError> {
        if self.actor.rights() == Rights::Full {
            return Ok(());
        }
        // Without the management API's identifier the rule cannot be checked: refuse.
        let Some(audience) = &self.management_audience else {
            return Err(AdminError::Forbidden(
                "this server cannot tell management grants apart; nothing was changed".into(),
            ));
        };
        for grant in grants.iter().filter(|g| *g.audience == **audience) {
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
                StoreError::NotFound(_) => no_such_api(audience),
                other => other.into(),
            })
    }
}

/// An API a grant names that does not exist.
fn no_such_api(audience: &str) -> AdminError {
    AdminError::NotFound(format!(
        "API {audience} (create it first with `warrant api create`)"
    ))
}
