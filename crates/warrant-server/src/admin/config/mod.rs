//! Declarative configuration (`warrant plan`, `warrant apply`, `warrant export`, and
//! `/api/v2/config/*`): a file describing APIs and applications ([`crate::domain::config`])
//! compared with what is stored, and the difference written in one transaction.
//!
//! APIs are matched by identifier, applications by name. What the file names it describes
//! whole: a field left out takes its default, and an application's grants and public keys are
//! those the file lists. What the file does not name stays, unless `prune`. The management API
//! (Warrant's own) is never in a file, nor deleted, and the admin application `warrant init`
//! made is neither exported nor pruned. A grant on the management API names it
//! [`MANAGEMENT_API_ALIAS`], so that an exported file applies at another issuer.
//!
//! `application.rs` compares one application; `export.rs` writes the store as a file.
//!
//! The whole file is checked before anything is written; an error names the line and key.
//! Each change is then audited as the same change made one by one would be.

use std::collections::BTreeMap;

mod application;
mod export;

use super::followup::Change;
use super::setup::ADMIN_CLIENT_SETTING;
use super::{Admin, AdminError, management_audience};
use crate::domain::config::{self, ConfigError, MANAGEMENT_API_ALIAS, Place};
use crate::domain::{PlainSecret, ResourceServer, SigningAlg, random_alphanumeric};
use crate::store::{ConfigWrite, GrantFilter};

/// What a change does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigAction {
    Create,
    Update,
    Delete,
}

impl ConfigAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// One change a file makes: to an API (by identifier) or an application (by name), with what
/// changes in it, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    pub action: ConfigAction,
    /// `api` or `application`.
    pub kind: &'static str,
    pub key: String,
    pub details: Vec<String>,
}

/// An application an apply created, with its secret in the clear (shown once).
#[derive(Debug)]
pub struct CreatedSecret {
    pub name: String,
    pub client_id: String,
    pub secret: PlainSecret,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct AppliedConfig {
    pub changes: Vec<ConfigChange>,
    pub created: Vec<CreatedSecret>,
}

/// A file compared with the store: the changes, and what writing them takes.
#[derive(Debug, Default)]
struct Plan {
    changes: Vec<ConfigChange>,
    write: ConfigWrite,
    /// The audit events, but for grants (known once written).
    followups: Vec<Change>,
    created: Vec<CreatedSecret>,
    /// Algorithms whose first keys an API in the file needs.
    algorithms: Vec<SigningAlg>,
}

impl From<ConfigError> for AdminError {
    fn from(e: ConfigError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl Admin {
    /// The changes `file` would make (`prune`: and the deletions of what it does not name).
    pub async fn plan_config(
        &self,
        file: &str,
        prune: bool,
    ) -> Result<Vec<ConfigChange>, AdminError> {
        Ok(self.plan(file, prune).await?.changes)
    }

    /// Makes the changes `file` describes, in one transaction; nothing when the file is
    /// invalid or any change fails. Applying the same file again changes nothing.
    pub async fn apply_config(&self, file: &str, prune: bool) -> Result<AppliedConfig, AdminError> {
        let plan = self.plan(file, prune).await?;
        if plan.write.is_empty() {
            return Ok(AppliedConfig::default());
        }
        for alg in &plan.algorithms {
            self.ensure_key_set(*alg).await?;
        }
        let grant_changes = self.store.apply_config(&plan.write).await?;
        for change in plan.followups {
            self.followup(change).await;
        }
        for ((client_id, _), changes) in plan.write.grants.iter().zip(grant_changes) {
            if !changes.is_empty() {
                self.followup(Change::GrantsSet {
                    client_id: client_id.clone(),
                    set: changes.added.into_iter().chain(changes.changed).collect(),
                    removed: changes.removed,
                })
                .await;
            }
        }
        Ok(AppliedConfig {
            changes: plan.changes,
            created: plan.created,
        })
    }

    /// The management API's identifier: this server's, or the recorded issuer's (the CLI on a
    /// data directory).
    async fn management_identifier(&self) -> Result<Option<String>, AdminError> {
        if let Some(audience) = &self.management_audience {
            return Ok(Some(audience.to_string()));
        }
        Ok(self
            .recorded_issuer()
            .await?
            .map(|issuer| management_audience(&issuer)))
    }

    async fn plan(&self, text: &str, prune: bool) -> Result<Plan, AdminError> {
        let file = config::parse(text)?;
        let now = self.clock.now();
        let management = self.management_identifier().await?;
        let current_apis = self.store.list_resource_servers().await?;
        let mut plan = Plan::default();

        // APIs: the file's, then (with prune) the deletion of the others.
        let mut apis: BTreeMap<String, ResourceServer> = BTreeMap::new();
        for spec in &file.apis {
            if Some(&spec.identifier) == management.as_ref()
                || spec.identifier == MANAGEMENT_API_ALIAS
            {
                return Err(spec
                    .at
                    .field_error(
                        "identifier",
                        "the management API is Warrant's own and is not configured by a file",
                    )
                    .into());
            }
            let stored = current_apis
                .iter()
                .find(|a| a.identifier == spec.identifier);
            let wanted = ResourceServer {
                id: stored.map_or_else(|| random_alphanumeric(24), |a| a.id.clone()),
                identifier: spec.identifier.clone(),
                name: spec.name.clone(),
                scopes: spec.scopes.clone(),
                token_lifetime: spec.token_lifetime,
                signing_alg: spec.signing_alg,
                proof_of_possession: spec.proof_of_possession,
                created_at: stored.map_or(now, |a| a.created_at),
                updated_at: now,
            };
            wanted.validate().map_err(|e| spec.at.error(e.0))?;
            match stored {
                None => {
                    plan.note_algorithm(wanted.signing_alg);
                    plan.changes.push(ConfigChange {
                        action: ConfigAction::Create,
                        kind: "api",
                        key: wanted.identifier.clone(),
                        details: Vec::new(),
                    });
                    plan.followups.push(Change::ApiCreated {
                        identifier: wanted.identifier.clone(),
                    });
                    plan.write.apis_created.push(wanted.clone());
                }
                Some(old) => {
                    let mut details = Vec::new();
                    if old.name != wanted.name {
                        details.push(format!("name {:?} -> {:?}", old.name, wanted.name));
                    }
                    if old.scopes != wanted.scopes {
                        details.push(scopes_change(old, &wanted));
                    }
                    if old.token_lifetime != wanted.token_lifetime {
                        details.push(format!(
                            "token_lifetime {} -> {}",
                            old.token_lifetime, wanted.token_lifetime
                        ));
                    }
                    if old.proof_of_possession != wanted.proof_of_possession {
                        details.push(format!(
                            "dpop {} -> {}",
                            dpop_words(old),
                            dpop_words(&wanted)
                        ));
                    }
                    if old.signing_alg != wanted.signing_alg {
                        plan.note_algorithm(wanted.signing_alg);
                        details.push(format!(
                            "signing_alg {} -> {}",
                            old.signing_alg.as_str(),
                            wanted.signing_alg.as_str()
                        ));
                    }
                    if !details.is_empty() {
                        plan.changes.push(ConfigChange {
                            action: ConfigAction::Update,
                            kind: "api",
                            key: wanted.identifier.clone(),
                            details,
                        });
                        plan.followups.push(Change::ApiUpdated {
                            identifier: wanted.identifier.clone(),
                        });
                        plan.write.apis_updated.push(wanted.clone());
                    }
                }
            }
            apis.insert(wanted.identifier.clone(), wanted);
        }
        for api in &current_apis {
            if apis.contains_key(&api.identifier) {
                continue;
            }
            if !prune || Some(&api.identifier) == management.as_ref() {
                apis.insert(api.identifier.clone(), api.clone());
                continue;
            }
            plan.changes.push(ConfigChange {
                action: ConfigAction::Delete,
                kind: "api",
                key: api.identifier.clone(),
                details: Vec::new(),
            });
            plan.followups.push(Change::ApiDeleted {
                key: api.identifier.clone(),
                identifier: api.identifier.clone(),
            });
            plan.write.apis_deleted.push(api.id.clone());
        }

        // Applications, matched by name.
        let current_apps = self.store.list_applications().await?;
        let current_grants = self.store.list_grants(&GrantFilter::default()).await?;
        let admin_client = self.store.get_setting(ADMIN_CLIENT_SETTING).await?;
        let mut matched: Vec<&str> = Vec::new();
        for spec in &file.applications {
            if spec.key.is_some() {
                return Err(spec
                    .at
                    .field_error(
                        "key",
                        "`key` is not supported yet: applications are matched by name",
                    )
                    .into());
            }
            let mut named = current_apps.iter().filter(|a| a.name == spec.name);
            let stored = named.next();
            if named.next().is_some() {
                return Err(spec
                    .at
                    .field_error(
                        "name",
                        format!(
                            "several applications are named {:?}, so the file cannot tell which it \
                         describes: rename all but one first",
                            spec.name
                        ),
                    )
                    .into());
            }
            if let Some(app) = stored {
                matched.push(&app.client_id);
            }
            self.plan_application(
                &mut plan,
                spec,
                stored,
                &current_grants,
                &apis,
                management.as_deref(),
                now,
            )
            .await?;
        }
        if prune {
            for app in &current_apps {
                if matched.contains(&app.client_id.as_str())
                    || Some(&app.client_id) == admin_client.as_ref()
                {
                    continue;
                }
                self.check_may_change(&app.client_id).await?;
                plan.changes.push(ConfigChange {
                    action: ConfigAction::Delete,
                    kind: "application",
                    key: app.name.clone(),
                    details: vec![format!("client_id {}", app.client_id)],
                });
                plan.followups.push(Change::ApplicationDeleted {
                    client_id: app.client_id.clone(),
                });
                plan.write.applications_deleted.push(app.client_id.clone());
            }
        }
        Ok(plan)
    }
}

impl Plan {
    fn note_algorithm(&mut self, alg: SigningAlg) {
        if !self.algorithms.contains(&alg) {
            self.algorithms.push(alg);
        }
    }
}

/// A refusal about the object at `at`, naming its place and keeping its kind (a caller's
/// lacking rights stay a 403).
fn placed(at: &Place, error: AdminError) -> AdminError {
    match error {
        AdminError::Forbidden(message) => AdminError::Forbidden(at.error(message).to_string()),
        AdminError::Invalid(message) => at.error(message).into(),
        other => other,
    }
}

/// An API's DPoP setting as the file writes it.
fn dpop_words(api: &ResourceServer) -> &'static str {
    match api.proof_of_possession {
        None => "off",
        Some(pop) if pop.required => "required",
        Some(_) => "optional",
    }
}

/// The management API by its alias, others by identifier.
fn alias<'a>(identifier: &'a str, management: Option<&str>) -> &'a str {
    if Some(identifier) == management {
        MANAGEMENT_API_ALIAS
    } else {
        identifier
    }
}

/// An API's scopes change, in words: those added and removed (or that only descriptions or
/// the order changed).
fn scopes_change(old: &ResourceServer, new: &ResourceServer) -> String {
    let added: Vec<&str> = new
        .scopes
        .iter()
        .filter(|s| !old.has_scope(&s.value))
        .map(|s| s.value.as_str())
        .collect();
    let removed: Vec<&str> = old
        .scopes
        .iter()
        .filter(|s| !new.has_scope(&s.value))
        .map(|s| s.value.as_str())
        .collect();
    if added.is_empty() && removed.is_empty() {
        return "scopes (descriptions or order)".to_owned();
    }
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("+{}", added.join(" +")));
    }
    if !removed.is_empty() {
        parts.push(format!("-{}", removed.join(" -")));
    }
    format!("scopes {}", parts.join(" "))
}
