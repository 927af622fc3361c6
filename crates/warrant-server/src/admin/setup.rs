//! Making a deployment manageable: the management API and its admin application, created
//! once; the issuer the deployment was last initialized with.

use super::followup::Change;
use super::{
    Admin, AdminError, ApiPatch, GrantSpec, MANAGEMENT_SCOPES, NewApi, NewClient,
    management_audience,
};
use crate::domain::{PlainSecret, Scope};
use crate::store::{GrantFilter, StoreError};

pub(super) const ADMIN_CLIENT_SETTING: &str = "admin_client_id";

/// The management scopes Warrant has granted the admin application, space-separated: an
/// upgrade grants only those not in it (added by a newer Warrant), so that a scope an
/// operator took away from that application stays away.
const ADMIN_SCOPES_SETTING: &str = "admin_scopes_granted";

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

impl Admin {
    /// Makes the deployment manageable: the management API (`<issuer>api/v2/`) with Auth0's
    /// scopes, and an admin application granted all of them, created once; on a deployment
    /// made by an older Warrant, that application gets the scopes added since, and only those
    /// (the one part audited, see `upgrade_admin_grant`). Idempotent; safe when several
    /// processes run it at once. Otherwise Warrant's own maintenance: not audited, whoever
    /// runs it.
    pub async fn initialize(&self, issuer: &str) -> Result<Initialized, AdminError> {
        let outcome = self.set_up_management(issuer).await;
        self.followups.refresh().await;
        outcome
    }

    pub(super) async fn set_up_management(&self, issuer: &str) -> Result<Initialized, AdminError> {
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
                self.change_api(&api.id, |_| {
                    Ok(ApiPatch {
                        scopes: Some(scopes),
                        ..ApiPatch::default()
                    })
                })
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
                        proof_of_possession: None,
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
                self.upgrade_admin_grant(client_id, &audience).await?;
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
                    custom_claims: None,
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
            // The secret is shown only in this answer: a failure to record which scopes were
            // granted must not lose it. The next start records them (it adds nothing the
            // grant already holds).
            let remembered = match self.store.get_setting(ADMIN_SCOPES_SETTING).await {
                Ok(remembered) => Some(remembered),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read which management scopes the admin application was granted; recorded at the next start");
                    None
                }
            };
            if let Some(remembered) = remembered
                && let Err(e) = self.remember_admin_scopes(remembered.as_deref()).await
            {
                tracing::warn!(error = %e, "cannot record which management scopes the admin application was granted; recorded at the next start");
            }
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

    /// An upgrade's step: the admin application Warrant created (the one the
    /// `admin_client_id` setting names) gets the management scopes a newer Warrant added
    /// (trusted issuers, configuration, credentials, ...): those not among the scopes Warrant
    /// has granted it before ([`ADMIN_SCOPES_SETTING`]), so that the newer management routes
    /// work, while a scope an operator removed from its grant is not given back. A deployment
    /// made before that setting existed gets every scope it lacks, once. One transaction, one
    /// audit event naming the scopes added; nothing when there are none. No other
    /// application's grant is touched.
    async fn upgrade_admin_grant(&self, client_id: &str, audience: &str) -> Result<(), AdminError> {
        let remembered = self.store.get_setting(ADMIN_SCOPES_SETTING).await?;
        let granted: Vec<&str> = remembered
            .as_deref()
            .map(|list| list.split(' ').collect())
            .unwrap_or_default();
        let new: Vec<&str> = MANAGEMENT_SCOPES
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| remembered.is_none() || !granted.contains(s))
            .collect();
        if !new.is_empty() {
            let added = self
                .store
                .add_grant_scopes(client_id, audience, &new)
                .await?;
            if !added.is_empty() {
                tracing::info!(
                    client_id = %client_id,
                    scopes = %added.join(" "),
                    "upgrade: the admin application now holds the management scopes added since \
                     it was created"
                );
                self.followup(Change::AdminScopesUpgraded {
                    client_id: client_id.to_owned(),
                    audience: audience.to_owned(),
                    added,
                })
                .await;
            }
        }
        self.remember_admin_scopes(remembered.as_deref()).await
    }

    /// Records that Warrant has granted the admin application every management scope this
    /// version knows, beside those `remembered` (an older Warrant starting on the same
    /// deployment keeps a newer one's scopes recorded, so the newer one does not grant them
    /// again).
    async fn remember_admin_scopes(&self, remembered: Option<&str>) -> Result<(), AdminError> {
        let mut list: Vec<&str> = MANAGEMENT_SCOPES.iter().map(|(s, _)| *s).collect();
        for scope in remembered.into_iter().flat_map(|list| list.split(' ')) {
            if !scope.is_empty() && !list.contains(&scope) {
                list.push(scope);
            }
        }
        let list = list.join(" ");
        if remembered != Some(list.as_str()) {
            // Compare and swap: another process recording at the same moment records the same
            // scopes, or a newer Warrant's; either way theirs stays.
            self.store
                .replace_setting(ADMIN_SCOPES_SETTING, remembered, &list)
                .await?;
        }
        Ok(())
    }

    /// The issuer this deployment was last served or initialized with, if any.
    pub async fn recorded_issuer(&self) -> Result<Option<String>, AdminError> {
        Ok(self.store.get_setting(ISSUER_SETTING).await?)
    }
}
