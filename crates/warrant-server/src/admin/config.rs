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
//! The whole file is checked before anything is written; an error names the line and key.
//! Each change is then audited as the same change made one by one would be.

use std::collections::BTreeMap;

use super::followup::Change;
use super::setup::ADMIN_CLIENT_SETTING;
use super::{Admin, AdminError, management_audience};
use crate::domain::config::{
    self, ApiSpec, ApplicationSpec, ConfigError, ConfigFile, CredentialSpec, GrantSpecAt,
    MANAGEMENT_API_ALIAS, Place,
};
use crate::domain::{
    Application, ClientGrant, ClientSecret, MAX_CREDENTIALS, PlainSecret, PublicKeyCredential,
    ResourceServer, SigningAlg, public_key_pem, random_alphanumeric,
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

    /// What is stored, as a file that [`apply_config`](Self::apply_config) reads: every API
    /// but the management API, every application but the admin one, sorted (APIs by
    /// identifier, applications by name, grants by API).
    pub async fn export_config(&self) -> Result<String, AdminError> {
        let management = self.management_identifier().await?;
        let admin_client = self.store.get_setting(ADMIN_CLIENT_SETTING).await?;
        let mut file = ConfigFile::default();
        for api in self.store.list_resource_servers().await? {
            if Some(&api.identifier) == management.as_ref() {
                continue;
            }
            file.apis.push(ApiSpec {
                at: Place::default(),
                identifier: api.identifier,
                name: api.name,
                scopes: api.scopes,
                token_lifetime: api.token_lifetime,
                signing_alg: api.signing_alg,
            });
        }
        let grants = self.store.list_grants(&GrantFilter::default()).await?;
        for app in self.store.list_applications().await? {
            if Some(&app.client_id) == admin_client.as_ref() {
                continue;
            }
            let listed = app.private_key_jwt.clone().unwrap_or_default();
            let credentials = self
                .store
                .list_credentials(&app.client_id)
                .await?
                .into_iter()
                .map(|c| CredentialSpec {
                    at: Place::default(),
                    private_key_jwt: listed.contains(&c.id),
                    pem: public_key_pem(&c.der),
                    name: c.name,
                    alg: c.alg.name().to_owned(),
                    expires_at: c.expires_at,
                })
                .collect();
            file.applications.push(ApplicationSpec {
                at: Place::default(),
                key: None,
                grants: grants
                    .iter()
                    .filter(|g| g.client_id == app.client_id)
                    .map(|g| GrantSpecAt {
                        at: Place::default(),
                        api: if Some(&g.audience) == management.as_ref() {
                            MANAGEMENT_API_ALIAS.to_owned()
                        } else {
                            g.audience.clone()
                        },
                        scopes: g.scopes.clone(),
                    })
                    .collect(),
                credentials,
                name: app.name,
                description: app.description,
                client_metadata: app.client_metadata,
                token_quota: app.token_quota,
            });
        }
        // In a stable order, whatever the creation times: diffs of the file stay small.
        file.apis.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        file.applications.sort_by(|a, b| a.name.cmp(&b.name));
        for app in &mut file.applications {
            app.grants.sort_by(|a, b| a.api.cmp(&b.api));
            app.credentials
                .sort_by(|a, b| (&a.name, &a.pem).cmp(&(&b.name, &b.pem)));
        }
        Ok(config::render(&file))
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
                proof_of_possession: stored.and_then(|a| a.proof_of_possession),
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

    /// Compares one application of the file with the stored one (if any) and adds what
    /// changes to `plan`.
    #[allow(clippy::too_many_arguments)]
    async fn plan_application(
        &self,
        plan: &mut Plan,
        spec: &ApplicationSpec,
        stored: Option<&Application>,
        current_grants: &[ClientGrant],
        apis: &BTreeMap<String, ResourceServer>,
        management: Option<&str>,
        now: u64,
    ) -> Result<(), AdminError> {
        let mut app = match stored {
            Some(app) => app.clone(),
            None => Application::new(spec.name.clone(), spec.description.clone(), now)
                .map_err(|e| spec.at.error(e.0))?,
        };
        let mut details = Vec::new();
        let mut settings_change = false;
        if app.description != spec.description {
            details.push("description".to_owned());
            app.description = spec.description.clone();
        }
        if app.client_metadata != spec.client_metadata {
            details.push("client_metadata".to_owned());
            app.client_metadata = spec.client_metadata.clone();
        }
        if app.token_quota != spec.token_quota {
            details.push("token_quota".to_owned());
            app.token_quota = spec.token_quota;
        }
        settings_change |= !details.is_empty();
        app.validate().map_err(|e| spec.at.error(e.0))?;

        // Grants: the file's, each for an API that exists once the file is applied.
        let mut grants: Vec<ClientGrant> = Vec::with_capacity(spec.grants.len());
        for grant in &spec.grants {
            let identifier = if grant.api == MANAGEMENT_API_ALIAS {
                management.unwrap_or(MANAGEMENT_API_ALIAS)
            } else {
                grant.api.as_str()
            };
            let Some(api) = apis.get(identifier) else {
                return Err(grant
                    .at
                    .field_error(
                        "api",
                        format!(
                            "API {} does not exist{}: add it to the file",
                            grant.api,
                            if stored.is_some() {
                                ""
                            } else {
                                " and is not in the file"
                            }
                        ),
                    )
                    .into());
            };
            if grants.iter().any(|g| g.audience == api.identifier) {
                return Err(grant
                    .at
                    .field_error(
                        "api",
                        format!(
                            "API {} is granted twice; give all its scopes in one grant",
                            grant.api
                        ),
                    )
                    .into());
            }
            self.check_grantable(&api.identifier, &grant.scopes)
                .map_err(|e| grant.at.field_error("scopes", e.to_string()))?;
            let old = current_grants.iter().find(|g| {
                Some(&g.client_id) == stored.map(|a| &a.client_id) && g.audience == api.identifier
            });
            let built = ClientGrant::new(&app.client_id, api, grant.scopes.clone(), now)
                .map_err(|e| grant.at.field_error("scopes", e.0))?;
            grants.push(match old {
                // The stored grant, with the scopes asked: its ID and creation time stay.
                Some(old) => ClientGrant {
                    scopes: built.scopes,
                    ..old.clone()
                },
                None => built,
            });
        }
        let old_grants: Vec<&ClientGrant> = current_grants
            .iter()
            .filter(|g| Some(&g.client_id) == stored.map(|a| &a.client_id))
            .collect();
        for grant in &grants {
            match old_grants.iter().find(|g| g.audience == grant.audience) {
                None => details.push(format!(
                    "grant {} ({})",
                    alias(&grant.audience, management),
                    grant.scopes.join(" ")
                )),
                Some(old) if old.scopes != grant.scopes => details.push(format!(
                    "grant {} ({}) -> ({})",
                    alias(&grant.audience, management),
                    old.scopes.join(" "),
                    grant.scopes.join(" ")
                )),
                Some(_) => {}
            }
        }
        for old in &old_grants {
            if !grants.iter().any(|g| g.audience == old.audience) {
                details.push(format!("revoke grant {}", alias(&old.audience, management)));
            }
        }
        let grants_change = grants.len() != old_grants.len()
            || grants.iter().any(|g| {
                !old_grants
                    .iter()
                    .any(|o| o.audience == g.audience && o.scopes == g.scopes)
            });

        // Public keys, matched by the key itself.
        let old_credentials = match stored {
            Some(app) => self.store.list_credentials(&app.client_id).await?,
            None => Vec::new(),
        };
        if spec.credentials.len() > MAX_CREDENTIALS {
            return Err(spec
                .at
                .field_error(
                    "credential",
                    format!("an application has at most {MAX_CREDENTIALS} public keys"),
                )
                .into());
        }
        let mut credentials_kept: Vec<PublicKeyCredential> = Vec::new();
        let mut listed: Vec<String> = Vec::new();
        let mut credential_changes = Vec::new();
        for credential in &spec.credentials {
            let built = PublicKeyCredential::new(
                &app.client_id,
                credential.name.clone(),
                &credential.alg,
                &credential.pem,
                credential.expires_at,
                now,
            )
            .map_err(|e| credential.at.error(e.0))?;
            if credentials_kept.iter().any(|c| c.kid == built.kid) {
                return Err(credential
                    .at
                    .field_error("pem", "this public key is listed twice for the application")
                    .into());
            }
            let old = old_credentials
                .iter()
                .find(|c| c.kid == built.kid && c.alg == built.alg);
            let kept = match old {
                Some(old) if old.name == built.name && old.expires_at == built.expires_at => {
                    old.clone()
                }
                Some(old) => {
                    let updated = PublicKeyCredential {
                        name: built.name,
                        expires_at: built.expires_at,
                        updated_at: now,
                        ..old.clone()
                    };
                    details.push(format!("public key {:?} ({})", updated.name, updated.kid));
                    credential_changes.push(Change::CredentialUpdated {
                        client_id: app.client_id.clone(),
                        id: updated.id.clone(),
                    });
                    plan.write.credentials_updated.push(updated.clone());
                    updated
                }
                None => {
                    details.push(format!("add public key {:?} ({})", built.name, built.kid));
                    credential_changes.push(Change::CredentialCreated {
                        client_id: app.client_id.clone(),
                        id: built.id.clone(),
                        kid: built.kid.clone(),
                    });
                    plan.write.credentials_created.push(built.clone());
                    built
                }
            };
            if credential.private_key_jwt {
                listed.push(kept.id.clone());
            }
            credentials_kept.push(kept);
        }
        for old in &old_credentials {
            if !credentials_kept.iter().any(|c| c.id == old.id) {
                details.push(format!("remove public key {:?} ({})", old.name, old.kid));
                credential_changes.push(Change::CredentialDeleted {
                    client_id: app.client_id.clone(),
                    id: old.id.clone(),
                });
                plan.write.credentials_deleted.push(old.clone());
            }
        }
        let credentials_change = !credential_changes.is_empty();
        let listed = (!listed.is_empty()).then_some(listed);
        if app.private_key_jwt.as_ref().is_some_and(Vec::is_empty) && listed.is_none() {
            // `[]` and none say the same: the secret.
        } else if app.private_key_jwt != listed {
            details.push(format!(
                "private_key_jwt with {} key(s)",
                listed.as_ref().map_or(0, Vec::len)
            ));
            app.private_key_jwt = listed;
            settings_change = true;
        }

        match stored {
            None => {
                app.updated_at = now;
                let secret = PlainSecret::generate();
                let stored_secret = ClientSecret::new(&app.client_id, secret.hash(), now);
                plan.changes.push(ConfigChange {
                    action: ConfigAction::Create,
                    kind: "application",
                    key: app.name.clone(),
                    details,
                });
                plan.followups.push(Change::ApplicationCreated {
                    client_id: app.client_id.clone(),
                    name: app.name.clone(),
                });
                plan.followups.extend(credential_changes);
                // Its private_key_jwt list names credentials created after it: written by the
                // update that follows them.
                let mut created = app.clone();
                created.private_key_jwt = None;
                if app.private_key_jwt.is_some() {
                    plan.write.applications_updated.push(app.clone());
                }
                plan.write
                    .applications_created
                    .push((created, stored_secret));
                plan.created.push(CreatedSecret {
                    name: app.name.clone(),
                    client_id: app.client_id.clone(),
                    secret,
                });
                if !grants.is_empty() {
                    plan.write.grants.push((app.client_id.clone(), grants));
                }
            }
            Some(_) if !settings_change && !credentials_change && !grants_change => {}
            Some(_) => {
                self.check_may_change(&app.client_id)
                    .await
                    .map_err(|e| spec.at.error(e.to_string()))?;
                plan.changes.push(ConfigChange {
                    action: ConfigAction::Update,
                    kind: "application",
                    key: app.name.clone(),
                    details,
                });
                plan.followups.extend(credential_changes);
                if settings_change {
                    app.updated_at = now;
                    plan.followups.push(Change::ApplicationUpdated {
                        client_id: app.client_id.clone(),
                    });
                    plan.write.applications_updated.push(app.clone());
                }
                if grants_change {
                    plan.write.grants.push((app.client_id.clone(), grants));
                }
            }
        }
        Ok(())
    }
}

impl Plan {
    fn note_algorithm(&mut self, alg: SigningAlg) {
        if !self.algorithms.contains(&alg) {
            self.algorithms.push(alg);
        }
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
