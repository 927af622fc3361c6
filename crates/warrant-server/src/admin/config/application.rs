//! One application of a configuration file compared with the stored one: its settings, grants,
//! public keys and federated credentials, and what writing the difference takes.

use std::collections::BTreeMap;

use super::ConfigAction::{Create, Update};
use super::{CreatedSecret, Details, Plan, alias, placed};
use crate::admin::followup::Change;
use crate::admin::{Admin, AdminError};
use crate::domain::config::{ApplicationSpec, MANAGEMENT_API_ALIAS};
use crate::domain::{
    Application, ClientGrant, ClientSecret, FederatedCredential, MAX_CREDENTIALS,
    MAX_FEDERATED_CREDENTIALS, PlainSecret, PublicKeyCredential, ResourceServer, TrustedIssuer,
};

impl Admin {
    /// Compares one application of the file with the stored one (if any) and adds what
    /// changes to `plan`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plan_application(
        &self,
        plan: &mut Plan,
        spec: &ApplicationSpec,
        stored: Option<&Application>,
        current_grants: &[ClientGrant],
        apis: &BTreeMap<String, ResourceServer>,
        issuers: &BTreeMap<String, TrustedIssuer>,
        management: Option<&str>,
        prune: bool,
        now: u64,
    ) -> Result<(), AdminError> {
        let mut app = match stored {
            Some(app) => app.clone(),
            None => Application::new(spec.name.clone(), spec.description.clone(), now)
                .map_err(|e| spec.at.error(e.0))?,
        };
        // Each setting compared, then set to the file's.
        let mut details = Details::default();
        let mut settings_change = false;
        details.quoted("name", &app.name, &spec.name);
        app.name = spec.name.clone();
        if stored.is_some() {
            details.compare("key", &app.config_key, &spec.key, |key| {
                key.as_ref()
                    .map_or_else(|| "none".to_owned(), |k| format!("{k:?}"))
            });
        }
        app.config_key = spec.key.clone();
        details.named("description", &app.description, &spec.description);
        app.description = spec.description.clone();
        let (was, is) = (&app.client_metadata, &spec.client_metadata);
        details.named("client_metadata", was, is);
        app.client_metadata = spec.client_metadata.clone();
        details.named("custom_claims", &app.custom_claims, &spec.custom_claims);
        app.custom_claims = spec.custom_claims.clone();
        details.named("token_quota", &app.token_quota, &spec.token_quota);
        app.token_quota = spec.token_quota;
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
                .map_err(|e| placed(&grant.at.field("scopes"), e))?;
            let old = current_grants.iter().find(|g| {
                Some(&g.client_id) == stored.map(|a| &a.client_id) && g.audience == api.identifier
            });
            let built = ClientGrant::new(&app.client_id, api, grant.scopes.clone(), now)
                .map_err(|e| grant.at.field_error("scopes", e.0))?;
            grants.push(match old {
                // The stored grant, with the scopes and claims asked: its ID and creation time
                // stay.
                Some(old) => ClientGrant {
                    scopes: built.scopes,
                    custom_claims: grant.custom_claims.clone(),
                    ..old.clone()
                },
                None => ClientGrant {
                    custom_claims: grant.custom_claims.clone(),
                    ..built
                },
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
                Some(old) if old.custom_claims != grant.custom_claims => details.push(format!(
                    "grant {}: custom_claims",
                    alias(&grant.audience, management)
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
                !old_grants.iter().any(|o| {
                    o.audience == g.audience
                        && o.scopes == g.scopes
                        && o.custom_claims == g.custom_claims
                })
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

        // Federated credentials, matched by issuer, subject and audience; those the file
        // does not list go only with prune.
        let old_federated = match stored {
            Some(app) => {
                self.store
                    .list_federated_credentials(&app.client_id)
                    .await?
            }
            None => Vec::new(),
        };
        if spec.federated_credentials.len() > MAX_FEDERATED_CREDENTIALS {
            return Err(spec
                .at
                .field_error(
                    "federated_credential",
                    format!(
                        "an application has at most {MAX_FEDERATED_CREDENTIALS} federated credentials"
                    ),
                )
                .into());
        }
        let mut federated_kept: Vec<&str> = Vec::new();
        for federated in &spec.federated_credentials {
            let Some(issuer) = issuers.get(&federated.fields.issuer) else {
                return Err(federated
                    .at
                    .field_error(
                        "issuer",
                        format!(
                            "{} is not a trusted issuer: add it to the file as a [[trusted_issuer]]",
                            federated.fields.issuer
                        ),
                    )
                    .into());
            };
            let new = federated.fields.clone();
            let built = FederatedCredential::new(&app.client_id, &issuer.id, new, now)
                .map_err(|e| federated.at.error(e.0))?;
            let old = old_federated.iter().find(|c| {
                !federated_kept.contains(&c.id.as_str())
                    && (&c.issuer_id, &c.subject, &c.audience)
                        == (&built.issuer_id, &built.subject, &built.audience)
            });
            match old {
                Some(old)
                    if old.name == built.name
                        && old.conditions_map() == built.conditions_map()
                        && old.expires_at == built.expires_at =>
                {
                    federated_kept.push(&old.id);
                }
                Some(old) => {
                    federated_kept.push(&old.id);
                    details.push(format!(
                        "federated credential {:?} ({})",
                        built.name,
                        federated.matched_by()
                    ));
                    credential_changes.push(Change::FederatedCredentialUpdated {
                        client_id: app.client_id.clone(),
                        id: old.id.clone(),
                    });
                    plan.write.federated_updated.push(FederatedCredential {
                        name: built.name,
                        conditions: built.conditions,
                        expires_at: built.expires_at,
                        updated_at: now,
                        ..old.clone()
                    });
                }
                None => {
                    details.push(format!(
                        "add federated credential {:?} ({})",
                        built.name,
                        federated.matched_by()
                    ));
                    credential_changes.push(Change::FederatedCredentialCreated {
                        client_id: app.client_id.clone(),
                        id: built.id.clone(),
                        issuer: issuer.issuer.clone(),
                        subject: built.subject.clone(),
                    });
                    plan.write.federated_created.push(built);
                }
            }
        }
        if prune {
            for old in &old_federated {
                if !federated_kept.contains(&old.id.as_str()) {
                    details.push(format!(
                        "remove federated credential {:?} ({})",
                        old.name, old.subject
                    ));
                    credential_changes.push(Change::FederatedCredentialDeleted {
                        client_id: app.client_id.clone(),
                        id: old.id.clone(),
                    });
                    plan.write.federated_deleted.push(old.clone());
                }
            }
        }
        let credentials_change = !credential_changes.is_empty();

        match stored {
            None => {
                app.updated_at = now;
                let secret = PlainSecret::generate();
                let stored_secret = ClientSecret::new(&app.client_id, secret.hash(), now);
                let created = Change::ApplicationCreated {
                    client_id: app.client_id.clone(),
                    name: app.name.clone(),
                };
                let followups = std::iter::once(created).chain(credential_changes);
                plan.record(Create, "application", &app.name, details, followups);
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
                    .map_err(|e| placed(&spec.at, e))?;
                plan.record(
                    Update,
                    "application",
                    &app.name,
                    details,
                    credential_changes,
                );
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
