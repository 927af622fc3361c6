//! The store written as a configuration file: what `warrant export` prints.

use crate::admin::setup::ADMIN_CLIENT_SETTING;
use crate::admin::{Admin, AdminError};
use crate::domain::config::{
    self, ApiSpec, ApplicationSpec, ConfigFile, CredentialSpec, FederatedCredentialSpec,
    GrantSpecAt, MANAGEMENT_API_ALIAS, Place, TrustedIssuerSpec,
};
use crate::domain::{NewFederatedCredential, broad_subject, public_key_pem};
use crate::store::{GrantFilter, StoreError};

impl Admin {
    /// What is stored, as a file that [`apply_config`](Self::apply_config) reads: every API
    /// but the management API, every trusted issuer, every application but the admin one with
    /// its federated credentials, sorted (APIs by identifier, issuers by URL, applications by
    /// name, grants by API, federated credentials by issuer, subject and audience).
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
                proof_of_possession: api.proof_of_possession,
            });
        }
        let issuers = self.store.list_trusted_issuers().await?;
        for issuer in &issuers {
            file.trusted_issuers.push(TrustedIssuerSpec {
                at: Place::default(),
                fields: issuer.into(),
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
            let mut federated_credentials = Vec::new();
            for c in self
                .store
                .list_federated_credentials(&app.client_id)
                .await?
            {
                let issuer = issuers
                    .iter()
                    .find(|i| i.id == c.issuer_id)
                    .ok_or_else(|| {
                        AdminError::Store(StoreError::Corrupt(format!(
                            "federated credential {} names a trusted issuer that does not exist",
                            c.id
                        )))
                    })?;
                federated_credentials.push(FederatedCredentialSpec {
                    at: Place::default(),
                    fields: NewFederatedCredential {
                        confirm_broad_subject: broad_subject(&c.subject).is_some(),
                        conditions: c.conditions_map(),
                        name: Some(c.name),
                        issuer: issuer.issuer.clone(),
                        subject: c.subject,
                        audience: c.audience,
                        expires_at: c.expires_at,
                    },
                });
            }
            file.applications.push(ApplicationSpec {
                federated_credentials,
                at: Place::default(),
                key: app.config_key,
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
                        custom_claims: g.custom_claims.clone(),
                    })
                    .collect(),
                credentials,
                name: app.name,
                description: app.description,
                client_metadata: app.client_metadata,
                custom_claims: app.custom_claims,
                token_quota: app.token_quota,
            });
        }
        // In a stable order, whatever the creation times: diffs of the file stay small.
        file.apis.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        file.trusted_issuers
            .sort_by(|a, b| a.fields.issuer.cmp(&b.fields.issuer));
        file.applications
            .sort_by(|a, b| (&a.name, &a.key).cmp(&(&b.name, &b.key)));
        for app in &mut file.applications {
            app.grants.sort_by(|a, b| a.api.cmp(&b.api));
            app.credentials
                .sort_by(|a, b| (&a.name, &a.pem).cmp(&(&b.name, &b.pem)));
            app.federated_credentials.sort_by(|a, b| {
                let (a, b) = (&a.fields, &b.fields);
                (&a.issuer, &a.subject, &a.audience).cmp(&(&b.issuer, &b.subject, &b.audience))
            });
        }
        Ok(config::render(&file))
    }
}
