//! What follows every write, whoever made it: its one audit event ("something changed",
//! `sapi`, in the words of the front end that asked) and the refresh of this instance's
//! catalog, so that its token endpoint sees the change at once (other instances follow on
//! their poll). [`Admin`](super::Admin) does both after each write it makes; front ends never
//! do.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::actor::Actor;
use crate::audit::{self, AuditLog};
use crate::domain::ClientGrant;
use crate::domain::events::{AuditEvent, types};
use crate::store::{Store, StoreError};

/// The in-memory view a server's token endpoint reads, which a write must reach at once.
/// `lib.rs` hands the server's catalog to its [`Admin`](super::Admin); the CLI has none.
pub trait Refresh: Send + Sync + fmt::Debug {
    /// Brings the view up to date with the store. An error is logged: the poll retries.
    fn refresh(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// Where the audit events of changes go.
#[derive(Debug, Clone, Default)]
pub enum AuditTrail {
    /// Nowhere.
    #[default]
    None,
    /// The server's audit log: queued, stored by its writer in the background.
    Log(Arc<AuditLog>),
    /// Straight into the store before the write returns: for a process that exits right after
    /// (the CLI). `unrecorded` is told when that fails; the change itself stands.
    Store { unrecorded: fn(&StoreError) },
}

/// The follow-ups an [`Admin`](super::Admin) runs after each write.
#[derive(Debug, Clone, Default)]
pub(super) struct Followups {
    pub(super) audit: AuditTrail,
    pub(super) catalog: Option<Arc<dyn Refresh>>,
}

impl Followups {
    /// Records `change`, made by `actor` at `now_ms`, and refreshes the catalog.
    pub(super) async fn after(&self, store: &Store, actor: &Actor, change: Change, now_ms: u64) {
        self.record(store, actor, change, now_ms).await;
        self.refresh().await;
    }

    /// Records `change`'s audit event only: for a write of many changes (a configuration
    /// apply), which refreshes the catalog once after recording them all.
    pub(super) async fn record(&self, store: &Store, actor: &Actor, change: Change, now_ms: u64) {
        if let Some(event) = event(actor, &change, now_ms) {
            match &self.audit {
                AuditTrail::None => {}
                AuditTrail::Log(log) => log.record(event),
                AuditTrail::Store { unrecorded } => {
                    let written = store
                        .insert_audit_events(&[event], &audit::new_writer_id())
                        .await;
                    if let Err(e) = written {
                        unrecorded(&e);
                    }
                }
            }
        }
    }

    /// Refreshes the catalog, if there is one.
    pub(super) async fn refresh(&self) {
        if let Some(catalog) = &self.catalog {
            if let Err(error) = catalog.refresh().await {
                tracing::warn!(%error, "refreshing after a change failed; the poll will retry");
            }
        }
    }
}

/// The audit event of `change` made by `actor` at `now_ms`; none for Warrant's own changes
/// but a revocation, which an application makes of its own token.
fn event(actor: &Actor, change: &Change, now_ms: u64) -> Option<AuditEvent> {
    if let Change::TokenRevoked {
        client_id,
        audience,
        jti,
        ip,
    } = change
    {
        return Some(AuditEvent {
            date_ms: now_ms,
            kind: types::REVOCATION.into(),
            description: format!("revoked an access token for {audience}").into(),
            client_id: Some(client_id.clone()),
            audience: Some(audience.clone()),
            ip: ip.clone(),
            jti: Some(jti.clone()),
            ..AuditEvent::default()
        });
    }
    if let Change::AdminScopesUpgraded { client_id, .. } = change {
        // Warrant's own change, but one that widens a grant: on the record, whoever ran it.
        return Some(AuditEvent {
            date_ms: now_ms,
            kind: types::MANAGEMENT_OK.into(),
            description: format!("Warrant upgrade: {}", change.in_words()).into(),
            client_id: Some(client_id.clone()),
            ..AuditEvent::default()
        });
    }
    let event = match actor {
        Actor::Warrant => return None,
        Actor::Management(caller) => AuditEvent {
            description: caller.request.clone().into(),
            client_id: Some(caller.client_id.clone()),
            ip: caller.ip.clone(),
            ..AuditEvent::default()
        },
        Actor::Operator { username } => AuditEvent {
            description: format!("dashboard ({username}): {}", change.in_words()).into(),
            client_id: change.application().map(str::to_owned),
            ..AuditEvent::default()
        },
        Actor::Cli { user_agent } => AuditEvent {
            description: format!("{} (local CLI)", change.as_command()).into(),
            user_agent: Some(user_agent.clone()),
            ..AuditEvent::default()
        },
    };
    Some(AuditEvent {
        date_ms: now_ms,
        kind: types::MANAGEMENT_OK.into(),
        ..event
    })
}

/// One change, as the audit log tells it.
#[derive(Debug)]
pub(super) enum Change {
    ApiCreated {
        identifier: String,
    },
    ApiUpdated {
        identifier: String,
    },
    ScopeAdded {
        identifier: String,
        value: String,
    },
    ScopeRemoved {
        identifier: String,
        value: String,
    },
    /// `key`: the id or identifier the API was asked by.
    ApiDeleted {
        key: String,
        identifier: String,
    },
    ApplicationCreated {
        client_id: String,
        name: String,
    },
    ApplicationUpdated {
        client_id: String,
    },
    ApplicationDeleted {
        client_id: String,
    },
    SecretRotated {
        client_id: String,
        grace_seconds: u64,
    },
    CredentialCreated {
        client_id: String,
        id: String,
        kid: String,
    },
    CredentialUpdated {
        client_id: String,
        id: String,
    },
    CredentialDeleted {
        client_id: String,
        id: String,
    },
    /// `audience`: the API as the grant asked for it.
    GrantCreated {
        client_id: String,
        audience: String,
        scopes: Vec<String>,
    },
    GrantUpdated {
        client_id: String,
        audience: String,
        scopes: Vec<String>,
    },
    GrantDeleted {
        id: String,
        client_id: String,
        audience: String,
    },
    /// An application's grants made what was asked, in one transaction: `set`, the grants
    /// added or changed (in the order asked), and `removed`, those deleted.
    GrantsSet {
        client_id: String,
        set: Vec<ClientGrant>,
        removed: Vec<ClientGrant>,
    },
    /// The admin application Warrant created given the management scopes added by an upgrade.
    AdminScopesUpgraded {
        client_id: String,
        audience: String,
        added: Vec<String>,
    },
    KeysRotated {
        current: String,
    },
    KeyRevoked {
        kid: String,
    },
    TrustedIssuerCreated {
        id: String,
        issuer: String,
    },
    TrustedIssuerUpdated {
        id: String,
        issuer: String,
    },
    TrustedIssuerDeleted {
        id: String,
        issuer: String,
    },
    FederatedCredentialCreated {
        client_id: String,
        id: String,
        issuer: String,
        subject: String,
    },
    FederatedCredentialUpdated {
        client_id: String,
        id: String,
    },
    FederatedCredentialDeleted {
        client_id: String,
        id: String,
    },
    /// An access token revoked by its application (RFC 7009).
    TokenRevoked {
        client_id: String,
        audience: String,
        jti: String,
        ip: Option<String>,
    },
    OperatorCreated {
        username: String,
    },
    OperatorPasswordSet {
        username: String,
    },
    OperatorDeleted {
        username: String,
    },
}

impl Change {
    /// The change in words, as the dashboard's events tell it.
    fn in_words(&self) -> String {
        match self {
            Self::ApiCreated { identifier } => format!("created API {identifier}"),
            Self::ApiUpdated { identifier } => format!("updated API {identifier}"),
            Self::ScopeAdded { identifier, value } => {
                format!("added scope {value} on API {identifier}")
            }
            Self::ScopeRemoved { identifier, value } => {
                format!("removed scope {value} on API {identifier}")
            }
            Self::ApiDeleted { identifier, .. } => format!("deleted API {identifier}"),
            Self::ApplicationCreated { client_id, .. } => {
                format!("created application {client_id}")
            }
            Self::ApplicationUpdated { client_id } => format!("updated application {client_id}"),
            Self::ApplicationDeleted { client_id } => format!("deleted application {client_id}"),
            Self::SecretRotated {
                client_id,
                grace_seconds,
            } => format!(
                "rotated the secret of {client_id} (old secret valid for {} more)",
                crate::clock::duration(*grace_seconds)
            ),
            Self::CredentialCreated { client_id, id, kid } => {
                format!("added public key {id} (kid {kid}) to {client_id}")
            }
            Self::CredentialUpdated { client_id, id } => {
                // The API changes only the expiry; a configuration file also the name.
                format!("updated public key {id} of {client_id}")
            }
            Self::CredentialDeleted { client_id, id } => {
                format!("deleted public key {id} of {client_id}")
            }
            Self::TrustedIssuerCreated { id, issuer } => {
                format!("trusted issuer {issuer} ({id})")
            }
            Self::TrustedIssuerUpdated { id, issuer } => {
                format!("changed trusted issuer {issuer} ({id})")
            }
            Self::TrustedIssuerDeleted { id, issuer } => {
                format!("removed trusted issuer {issuer} ({id})")
            }
            Self::FederatedCredentialCreated {
                client_id,
                id,
                issuer,
                subject,
            } => format!("bound {client_id} to {subject} of {issuer} (federated credential {id})"),
            Self::FederatedCredentialUpdated { client_id, id } => {
                // The API changes only the expiry; a configuration file also the name and the
                // claim conditions.
                format!("updated federated credential {id} of {client_id}")
            }
            Self::FederatedCredentialDeleted { client_id, id } => {
                format!("deleted federated credential {id} of {client_id}")
            }
            Self::GrantCreated {
                client_id,
                audience,
                scopes,
            } => format!(
                "authorized {client_id} for {audience} ({})",
                scopes.join(" ")
            ),
            Self::GrantUpdated {
                client_id,
                audience,
                scopes,
            } => format!(
                "granted {client_id} on {audience} the scopes ({})",
                scopes.join(" ")
            ),
            Self::GrantDeleted {
                client_id,
                audience,
                ..
            } => format!("revoked the grant of {client_id} for {audience}"),
            Self::GrantsSet {
                client_id,
                set,
                removed,
            } => {
                let changes: Vec<String> = set
                    .iter()
                    .map(|g| format!("{} ({})", g.audience, g.scopes.join(" ")))
                    .chain(removed.iter().map(|g| format!("{} revoked", g.audience)))
                    .collect();
                format!("changed the grants of {client_id}: {}", changes.join(", "))
            }
            Self::AdminScopesUpgraded {
                client_id,
                audience,
                added,
            } => format!(
                "granted the admin application {client_id} the management scopes added since \
                 it was created, on {audience} ({})",
                added.join(" ")
            ),
            Self::KeysRotated { current } => {
                format!("rotated the signing keys; current key {current}")
            }
            Self::KeyRevoked { kid } => format!("revoked signing key {kid}"),
            Self::TokenRevoked {
                client_id,
                audience,
                jti,
                ..
            } => {
                format!("revoked token {jti} of {client_id} for {audience}")
            }
            Self::OperatorCreated { username } => {
                format!("created dashboard administrator {username}")
            }
            Self::OperatorPasswordSet { username } => {
                format!("set the password of dashboard administrator {username}")
            }
            Self::OperatorDeleted { username } => {
                format!("deleted dashboard administrator {username}")
            }
        }
    }

    /// The change as the CLI's events tell it: the command that made it, for the changes a
    /// command makes; else in words.
    fn as_command(&self) -> String {
        match self {
            Self::ApiCreated { identifier } => format!("api create {identifier}"),
            Self::ApiDeleted { key, .. } => format!("api delete {key}"),
            Self::ApplicationCreated { name, .. } => format!("app create {name:?}"),
            Self::ApplicationDeleted { client_id } => format!("app delete {client_id}"),
            Self::SecretRotated { client_id, .. } => format!("app rotate-secret {client_id}"),
            Self::GrantCreated {
                client_id,
                audience,
                ..
            } => format!("grant create {client_id} {audience}"),
            Self::GrantDeleted { id, .. } => format!("grant delete {id}"),
            Self::KeysRotated { .. } => "keys rotate".to_owned(),
            Self::KeyRevoked { kid } => format!("keys revoke {kid}"),
            Self::TrustedIssuerCreated { issuer, .. } => format!("issuer add {issuer}"),
            Self::TrustedIssuerUpdated { id, .. } => format!("issuer update {id}"),
            Self::TrustedIssuerDeleted { id, .. } => format!("issuer remove {id}"),
            Self::FederatedCredentialCreated {
                client_id, subject, ..
            } => format!("app federate {client_id} --subject {subject}"),
            Self::FederatedCredentialDeleted { client_id, id } => {
                format!("app federated remove {client_id} {id}")
            }
            other => other.in_words(),
        }
    }

    /// The application the change is about, if any.
    fn application(&self) -> Option<&str> {
        match self {
            Self::ApplicationCreated { client_id, .. }
            | Self::ApplicationUpdated { client_id }
            | Self::ApplicationDeleted { client_id }
            | Self::SecretRotated { client_id, .. }
            | Self::CredentialCreated { client_id, .. }
            | Self::CredentialUpdated { client_id, .. }
            | Self::CredentialDeleted { client_id, .. }
            | Self::FederatedCredentialCreated { client_id, .. }
            | Self::FederatedCredentialUpdated { client_id, .. }
            | Self::FederatedCredentialDeleted { client_id, .. }
            | Self::GrantCreated { client_id, .. }
            | Self::GrantUpdated { client_id, .. }
            | Self::GrantDeleted { client_id, .. }
            | Self::GrantsSet { client_id, .. }
            | Self::AdminScopesUpgraded { client_id, .. }
            | Self::TokenRevoked { client_id, .. } => Some(client_id),
            Self::ApiCreated { .. }
            | Self::ApiUpdated { .. }
            | Self::ScopeAdded { .. }
            | Self::ScopeRemoved { .. }
            | Self::ApiDeleted { .. }
            | Self::KeysRotated { .. }
            | Self::KeyRevoked { .. }
            | Self::TrustedIssuerCreated { .. }
            | Self::TrustedIssuerUpdated { .. }
            | Self::TrustedIssuerDeleted { .. }
            | Self::OperatorCreated { .. }
            | Self::OperatorPasswordSet { .. }
            | Self::OperatorDeleted { .. } => None,
        }
    }
}
