//! Declarative configuration (`warrant plan`, `warrant apply`, `warrant export`, and
//! `/api/v2/config/*`): a file describing APIs, trusted issuers and applications
//! ([`crate::domain::config`]) compared with what is stored, and the difference written in one
//! transaction.
//!
//! APIs are matched by identifier, trusted issuers by issuer URL, applications by their `key`
//! (which the file sets, so that it may rename them), else by name; an application's
//! federated credentials by issuer, subject and audience. What the file names it describes
//! whole: a field left out takes its default, and an application's grants and public keys are
//! those the file lists. What the file does not name stays unless `prune`: APIs, trusted
//! issuers, applications, and the federated credentials of the applications it names. The
//! management API (Warrant's own) is never in a file, nor deleted, and the admin application
//! `warrant init` made is neither exported nor pruned. A grant on the management API names it
//! [`MANAGEMENT_API_ALIAS`], so that an exported file applies at another issuer.
//!
//! `application.rs` compares one application, `issuer.rs` the trusted issuers, each saying
//! what changes through `details.rs` (the lines of a change, and its record in the plan);
//! `export.rs` writes the store as a file.
//!
//! The whole file is checked before anything is written; an error names the line and key.
//! A management client's apply that creates, changes or deletes trusted issuers also takes
//! the trusted-issuer scopes (`issuer.rs`).
//! Each change is then audited as the same change made one by one would be, and the catalog
//! refreshed once. A plan answers the fingerprint of the state it compared the file with; an
//! apply given that fingerprint writes only if the state is still that one (checked in the
//! write's transaction).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

mod application;
mod details;
mod export;
mod issuer;

use ConfigAction::{Create, Delete, Update};
use details::Details;

use super::followup::Change;
use super::setup::ADMIN_CLIENT_SETTING;
use super::{Admin, AdminError, management_audience};
use crate::domain::config::{self, ConfigError, MANAGEMENT_API_ALIAS, Place};
use crate::domain::{
    Application, PlainSecret, ProofOfPossession, ResourceServer, SigningAlg, broad_subject,
    random_alphanumeric,
};
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
    /// `api`, `trusted_issuer` or `application`.
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

/// Another writer kept changing the deployment while a plan or a checked apply read it.
fn still_changing() -> AdminError {
    AdminError::Conflict(
        "the deployment kept changing while the file was compared with it; try again".into(),
    )
}

impl From<ConfigError> for AdminError {
    fn from(e: ConfigError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// What a plan answers: the changes, and the fingerprint of the state they were computed
/// from (what `apply` with `expect` checks).
#[derive(Debug, Default)]
pub struct PlannedConfig {
    pub changes: Vec<ConfigChange>,
    pub fingerprint: String,
}

/// How many times a plan or a checked apply starts again when another write lands while it
/// reads: each retry needs a write in the few milliseconds between two reads.
const ATTEMPTS: usize = 5;

impl Admin {
    /// The changes `file` would make (`prune`: and the deletions of what it does not name),
    /// with the fingerprint of the state they were computed from.
    pub async fn plan_config(&self, file: &str, prune: bool) -> Result<PlannedConfig, AdminError> {
        for _ in 0..ATTEMPTS {
            let version = self.store.version().await?;
            let fingerprint = self.config_fingerprint().await?;
            let plan = self.plan(file, prune).await?;
            // The fingerprint and the plan describe one state only if nothing was written
            // between their reads.
            if self.store.version().await? == version {
                return Ok(PlannedConfig {
                    changes: plan.changes,
                    fingerprint,
                });
            }
        }
        Err(still_changing())
    }

    /// The fingerprint of the state a file is compared with: the SHA-256 of what
    /// [`export_config`](Self::export_config) writes (base64url), so that it changes with
    /// anything a file can say and with nothing else.
    pub async fn config_fingerprint(&self) -> Result<String, AdminError> {
        let text = self.export_config().await?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
    }

    /// Makes the changes `file` describes, in one transaction; nothing when the file is
    /// invalid or any change fails. Applying the same file again changes nothing. With
    /// `expect` (a fingerprint [`plan_config`](Self::plan_config) gave), only if the state is
    /// still the one planned: else a conflict, and nothing changes.
    pub async fn apply_config(
        &self,
        file: &str,
        prune: bool,
        expect: Option<&str>,
    ) -> Result<AppliedConfig, AdminError> {
        let mut plan = self.plan(file, prune).await?;
        self.check_issuer_rights(&plan)?;
        // A new algorithm's first keys: not part of the state a file describes, so made
        // before the state is read (and checked) again.
        for alg in &plan.algorithms {
            self.ensure_key_set(*alg).await?;
        }
        let grant_changes = match expect {
            None => {
                if plan.write.is_empty() {
                    return Ok(AppliedConfig::default());
                }
                self.store
                    .apply_config(&plan.write)
                    .await?
                    .ok_or_else(still_changing)?
            }
            Some(expected) => {
                let mut written = None;
                for _ in 0..ATTEMPTS {
                    let version = self.store.version().await?;
                    let fingerprint = self.config_fingerprint().await?;
                    if fingerprint != expected {
                        return Err(AdminError::Conflict(format!(
                            "the deployment changed since the plan (its fingerprint is now {fingerprint}, \
                             not {expected}): nothing was applied; run `warrant plan` again \
                             and review its changes"
                        )));
                    }
                    plan = self.plan(file, prune).await?;
                    self.check_issuer_rights(&plan)?;
                    if plan.write.is_empty() {
                        return Ok(AppliedConfig::default());
                    }
                    // Written only if nothing else was since `version`: checked in the
                    // write's own transaction.
                    plan.write.unchanged_since = Some(version);
                    written = self.store.apply_config(&plan.write).await?;
                    if written.is_some() {
                        break;
                    }
                }
                written.ok_or_else(still_changing)?
            }
        };
        let grants =
            plan.write
                .grants
                .iter()
                .zip(grant_changes)
                .filter_map(|((client_id, _), changes)| {
                    (!changes.is_empty()).then(|| Change::GrantsSet {
                        client_id: client_id.clone(),
                        set: changes.added.into_iter().chain(changes.changed).collect(),
                        removed: changes.removed,
                    })
                });
        for cred in &plan.write.federated_created {
            if let Some(why) = broad_subject(&cred.subject) {
                tracing::warn!(
                    client_id = %cred.client_id,
                    credential = %cred.id,
                    issuer = %cred.issuer_id,
                    subject = %cred.subject,
                    "a broad federated credential was confirmed: {why}"
                );
            }
        }
        // One audit event per change, one catalog refresh for them all.
        let followups: Vec<Change> = plan.followups.into_iter().chain(grants).collect();
        self.followup_all(followups).await;
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
                    let created = Change::ApiCreated {
                        identifier: wanted.identifier.clone(),
                    };
                    plan.record(
                        Create,
                        "api",
                        &wanted.identifier,
                        Details::none(),
                        [created],
                    );
                    plan.write.apis_created.push(wanted.clone());
                }
                Some(old) => {
                    let mut details = Details::default();
                    details.quoted("name", &old.name, &wanted.name);
                    if old.scopes != wanted.scopes {
                        details.push(scopes_change(old, &wanted));
                    }
                    details.plain(
                        "token_lifetime",
                        &old.token_lifetime,
                        &wanted.token_lifetime,
                    );
                    let (was, is) = (&old.proof_of_possession, &wanted.proof_of_possession);
                    details.compare("dpop", was, is, dpop_words);
                    let (was, is) = (&old.signing_alg, &wanted.signing_alg);
                    if details.compare("signing_alg", was, is, |alg| alg.as_str()) {
                        plan.note_algorithm(wanted.signing_alg);
                    }
                    if !details.is_empty() {
                        let updated = Change::ApiUpdated {
                            identifier: wanted.identifier.clone(),
                        };
                        plan.record(Update, "api", &wanted.identifier, details, [updated]);
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
            let deleted = Change::ApiDeleted {
                key: api.identifier.clone(),
                identifier: api.identifier.clone(),
            };
            plan.record(Delete, "api", &api.identifier, Details::none(), [deleted]);
            plan.write.apis_deleted.push(api.id.clone());
        }

        // Trusted issuers, matched by issuer URL (deleted with prune once the applications
        // are planned: only one no federated credential keeps using).
        let current_issuers = self.store.list_trusted_issuers().await?;
        let issuers = plan.plan_issuers(&file.trusted_issuers, &current_issuers, now)?;

        // Applications, matched by key, else by name among those no key of the file claims
        // (an application with another key is another object).
        let current_apps = self.store.list_applications().await?;
        let current_grants = self.store.list_grants(&GrantFilter::default()).await?;
        let admin_client = self.store.get_setting(ADMIN_CLIENT_SETTING).await?;
        let claimed = |app: &Application| {
            app.config_key
                .as_ref()
                .is_some_and(|k| file.applications.iter().any(|s| s.key.as_ref() == Some(k)))
        };
        let mut matched: Vec<&str> = Vec::new();
        for spec in &file.applications {
            let by_key = spec.key.as_ref().and_then(|key| {
                current_apps
                    .iter()
                    .find(|a| a.config_key.as_ref() == Some(key))
            });
            let stored = match by_key {
                Some(app) => Some(app),
                None => {
                    let mut named = current_apps.iter().filter(|a| {
                        a.name == spec.name
                            && !claimed(a)
                            && (spec.key.is_none() || a.config_key.is_none())
                    });
                    let stored = named.next();
                    if named.next().is_some() {
                        return Err(spec
                            .at
                            .field_error(
                                "name",
                                format!(
                                    "several applications are named {:?}, so the file cannot \
                                     tell which it describes: rename all but one first",
                                    spec.name
                                ),
                            )
                            .into());
                    }
                    stored
                }
            };
            if let Some(app) = stored {
                if matched.contains(&app.client_id.as_str()) {
                    return Err(spec
                        .at
                        .field_error(
                            if spec.key.is_some() { "key" } else { "name" },
                            format!(
                                "the application {:?} ({}) is described twice in the file: give \
                                 the other table its key",
                                app.name, app.client_id
                            ),
                        )
                        .into());
                }
                matched.push(&app.client_id);
            }
            self.plan_application(
                &mut plan,
                spec,
                stored,
                &current_grants,
                &apis,
                &issuers,
                management.as_deref(),
                prune,
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
                let details = Details::one(format!("client_id {}", app.client_id));
                let deleted = Change::ApplicationDeleted {
                    client_id: app.client_id.clone(),
                };
                plan.record(Delete, "application", &app.name, details, [deleted]);
                plan.write.applications_deleted.push(app.client_id.clone());
            }
            self.prune_issuers(
                &mut plan,
                &current_issuers,
                &file.trusted_issuers,
                &current_apps,
            )
            .await?;
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
fn dpop_words(proof_of_possession: &Option<ProofOfPossession>) -> &'static str {
    match proof_of_possession {
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
