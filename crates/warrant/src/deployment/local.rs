//! The local target: the service layer ([`Admin`]) in-process, on the data directory's
//! database or `--database-url`. A server running on the same storage picks changes up within
//! a second.

use std::sync::Arc;

use serde_json::{Map, Value};
use warrant_proto::{
    ClientCredentialView, ClientGrantView, ClientView, ConfigResultView, CreateFederatedCredential,
    CreateTrustedIssuer, FederatedCredentialView, LogEventView, ProofOfPossessionView,
    ResourceServerView, ScopeView, SigningKeyView, TrustedIssuerView, UpdateTrustedIssuer,
};
use warrant_server::admin::{
    Actor, Admin, ApiPatch, ApplicationPatch, AuditTrail, GrantPatch, GrantSpec, NewApi, NewClient,
    NewCredential, new_federated_credential, new_trusted_issuer, trusted_issuer_patch,
};
use warrant_server::clock::SystemClock;
use warrant_server::domain::config;
use warrant_server::domain::events::AuditFilter;
use warrant_server::domain::{ProofOfPossession, Scope, SigningAlg};
use warrant_server::keys::MasterKey;
use warrant_server::store::{GrantFilter, Store};
use warrant_server::views::{
    claims_from_view, client_view, config_result_view, federated_credential_view,
    proof_of_possession_from_view,
};

use super::{Answer, AppFields, SecretInfo, Target, err};
use crate::cli::GlobalArgs;
use crate::serve::{data_dir, file_layer, open_store};

#[derive(Debug)]
pub struct Local {
    admin: Admin,
    global: GlobalArgs,
}

impl Local {
    pub async fn open(global: &GlobalArgs) -> Result<Self, String> {
        let store = open_store(global).await?;
        Ok(Self {
            admin: local_admin(store),
            global: global.clone(),
        })
    }
}

/// A proof-of-possession setting as the CLI gives it, checked by the domain's rules.
fn checked(view: Option<ProofOfPossessionView>) -> Result<Option<ProofOfPossession>, String> {
    view.as_ref()
        .map(proof_of_possession_from_view)
        .transpose()
        .map_err(|e| e.0)
}

/// The service layer on the storage, acting as the CLI: each change it makes is recorded in
/// the audit log before the command returns (through `--server`, the server records it).
pub fn local_admin(store: Store) -> Admin {
    Admin::new(store, Arc::new(SystemClock))
        .recording(AuditTrail::Store {
            unrecorded: |e| {
                eprintln!("warning: the change was made, but not recorded in the audit log: {e}");
            },
        })
        .acting_as(Actor::Cli {
            user_agent: format!("warrant-cli/{}", env!("CARGO_PKG_VERSION")),
        })
}

impl Target for Local {
    fn create_api(
        &self,
        identifier: String,
        name: String,
        scopes: Vec<ScopeView>,
        token_lifetime: Option<u32>,
        signing_alg: Option<String>,
        proof_of_possession: Option<ProofOfPossessionView>,
    ) -> Answer<'_, ResourceServerView> {
        Box::pin(async move {
            let proof_of_possession = checked(proof_of_possession)?;
            let signing_alg = signing_alg
                .map(|a| SigningAlg::parse(&a))
                .transpose()
                .map_err(|e| e.0)?;
            // An algorithm other than RS256 may need its first keys made: that takes the
            // master key.
            let admin = match signing_alg {
                Some(alg) if alg != SigningAlg::RS256 => {
                    with_master_key(&self.admin, &self.global)?
                }
                _ => self.admin.clone(),
            };
            let api = admin
                .create_api(NewApi {
                    identifier,
                    name,
                    scopes: scopes
                        .into_iter()
                        .map(|s| Scope {
                            value: s.value,
                            description: s.description,
                        })
                        .collect(),
                    token_lifetime,
                    signing_alg,
                    proof_of_possession,
                })
                .await
                .map_err(err)?;
            Ok(ResourceServerView::from(&api))
        })
    }

    fn set_proof_of_possession<'a>(
        &'a self,
        key: &'a str,
        proof_of_possession: Option<ProofOfPossessionView>,
    ) -> Answer<'a, ResourceServerView> {
        Box::pin(async move {
            let patch = ApiPatch {
                proof_of_possession: Some(checked(proof_of_possession)?),
                ..ApiPatch::default()
            };
            let api = self.admin.update_api(key, patch).await.map_err(err)?;
            Ok(ResourceServerView::from(&api))
        })
    }

    fn list_apis(&self) -> Answer<'_, Vec<ResourceServerView>> {
        Box::pin(async move {
            Ok(self
                .admin
                .list_apis()
                .await
                .map_err(err)?
                .iter()
                .map(ResourceServerView::from)
                .collect())
        })
    }

    fn get_api<'a>(&'a self, key: &'a str) -> Answer<'a, ResourceServerView> {
        Box::pin(async move {
            Ok(ResourceServerView::from(
                &self.admin.get_api(key).await.map_err(err)?,
            ))
        })
    }

    fn delete_api<'a>(&'a self, key: &'a str) -> Answer<'a, String> {
        Box::pin(async move { Ok(self.admin.delete_api(key).await.map_err(err)?.identifier) })
    }

    fn create_app(
        &self,
        name: String,
        description: String,
        fields: AppFields,
        grants: Vec<GrantSpec>,
        secret_expires_at: Option<u64>,
    ) -> Answer<'_, (ClientView, Vec<ClientGrantView>)> {
        Box::pin(async move {
            let new = NewClient {
                name,
                description,
                client_metadata: fields.client_metadata,
                custom_claims: fields
                    .custom_claims
                    .map(claims_from_view)
                    .transpose()
                    .map_err(err)?,
                grants,
                secret_expires_at,
                ..NewClient::default()
            };
            let created = self.admin.create_client(new).await.map_err(err)?;
            let mut view = client_view(&created.application, Some(created.secret.expose()));
            view.client_secret_expires_at = secret_expires_at;
            Ok((
                view,
                created.grants.iter().map(ClientGrantView::from).collect(),
            ))
        })
    }

    fn update_app<'a>(&'a self, client_id: &'a str, fields: AppFields) -> Answer<'a, ClientView> {
        Box::pin(async move {
            let patch = ApplicationPatch {
                client_metadata: fields.client_metadata,
                custom_claims: fields
                    .custom_claims
                    .map(claims_from_view)
                    .transpose()
                    .map_err(err)?,
                ..ApplicationPatch::default()
            };
            let app = self
                .admin
                .update_application(client_id, patch)
                .await
                .map_err(err)?;
            Ok(client_view(&app, None))
        })
    }

    fn list_apps(&self) -> Answer<'_, Vec<ClientView>> {
        Box::pin(async move {
            Ok(self
                .admin
                .list_applications()
                .await
                .map_err(err)?
                .iter()
                .map(|a| client_view(a, None))
                .collect())
        })
    }

    fn get_app<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, (ClientView, Vec<ClientGrantView>, Option<Vec<SecretInfo>>)> {
        Box::pin(async move {
            let details = self.admin.get_application(client_id).await.map_err(err)?;
            let now = warrant_server::clock::Clock::now(&SystemClock);
            let secrets = details
                .secrets
                .iter()
                .filter(|s| s.is_active(now))
                .map(|s| SecretInfo {
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                })
                .collect();
            Ok((
                client_view(&details.application, None),
                details.grants.iter().map(ClientGrantView::from).collect(),
                Some(secrets),
            ))
        })
    }

    fn delete_app<'a>(&'a self, client_id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move { self.admin.delete_application(client_id).await.map_err(err) })
    }

    fn rotate_secret<'a>(
        &'a self,
        client_id: &'a str,
        grace: u64,
        expires_at: Option<u64>,
    ) -> Answer<'a, String> {
        Box::pin(async move {
            Ok(self
                .admin
                .rotate_secret_until(client_id, grace, expires_at)
                .await
                .map_err(err)?
                .expose()
                .to_owned())
        })
    }

    fn list_credentials<'a>(&'a self, client_id: &'a str) -> Answer<'a, Vec<ClientCredentialView>> {
        Box::pin(async move {
            Ok(self
                .admin
                .list_credentials(client_id)
                .await
                .map_err(err)?
                .iter()
                .map(ClientCredentialView::from)
                .collect())
        })
    }

    fn add_credential<'a>(
        &'a self,
        client_id: &'a str,
        new: NewCredential,
    ) -> Answer<'a, ClientCredentialView> {
        Box::pin(async move {
            let credential = self
                .admin
                .add_credential_in_use(client_id, new)
                .await
                .map_err(err)?;
            Ok(ClientCredentialView::from(&credential))
        })
    }

    fn remove_credential<'a>(&'a self, client_id: &'a str, id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            self.admin
                .delete_credential(client_id, id)
                .await
                .map_err(err)
        })
    }

    fn create_grant<'a>(
        &'a self,
        client_id: &'a str,
        spec: GrantSpec,
    ) -> Answer<'a, ClientGrantView> {
        Box::pin(async move {
            Ok(ClientGrantView::from(
                &self
                    .admin
                    .create_grant(client_id, spec)
                    .await
                    .map_err(err)?,
            ))
        })
    }

    fn list_grants(
        &self,
        client_id: Option<String>,
        audience: Option<String>,
    ) -> Answer<'_, Vec<ClientGrantView>> {
        Box::pin(async move {
            Ok(self
                .admin
                .list_grants(&GrantFilter {
                    client_id,
                    audience,
                })
                .await
                .map_err(err)?
                .iter()
                .map(ClientGrantView::from)
                .collect())
        })
    }

    fn update_grant<'a>(
        &'a self,
        id: &'a str,
        scopes: Option<Vec<String>>,
        custom_claims: Option<Map<String, Value>>,
    ) -> Answer<'a, ClientGrantView> {
        Box::pin(async move {
            let patch = GrantPatch {
                scopes,
                custom_claims: custom_claims
                    .map(claims_from_view)
                    .transpose()
                    .map_err(err)?,
            };
            let grant = self.admin.update_grant(id, patch).await.map_err(err)?;
            Ok(ClientGrantView::from(&grant))
        })
    }

    fn delete_grant<'a>(&'a self, id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move { self.admin.delete_grant(id).await.map_err(err) })
    }

    fn list_logs<'a>(
        &'a self,
        kind: Option<&'a str>,
        client_id: Option<&'a str>,
        take: u32,
    ) -> Answer<'a, Vec<serde_json::Value>> {
        Box::pin(async move {
            self.admin
                .list_events(&AuditFilter {
                    kind: kind.map(str::to_owned),
                    client_id: client_id.map(str::to_owned),
                    limit: take,
                    ..AuditFilter::default()
                })
                .await
                .map_err(err)?
                .iter()
                .map(|e| serde_json::to_value(LogEventView::from(e)).map_err(|e| e.to_string()))
                .collect()
        })
    }

    fn list_keys(&self) -> Answer<'_, Vec<SigningKeyView>> {
        Box::pin(async move {
            Ok(self
                .admin
                .list_keys()
                .await
                .map_err(err)?
                .iter()
                .map(SigningKeyView::from)
                .collect())
        })
    }

    fn rotate_keys<'a>(&'a self, alg: Option<&'a str>) -> Answer<'a, SigningKeyView> {
        Box::pin(async move {
            let alg = alg.map(SigningAlg::parse).transpose().map_err(|e| e.0)?;
            let admin = with_master_key(&self.admin, &self.global)?;
            let rotated = admin.rotate_keys(alg).await.map_err(err)?;
            let current = rotated.first().ok_or("there is no signing key to rotate")?;
            Ok(SigningKeyView::from(current))
        })
    }

    fn revoke_key<'a>(&'a self, kid: &'a str) -> Answer<'a, SigningKeyView> {
        Box::pin(async move {
            Ok(SigningKeyView::from(
                &self.admin.revoke_key(kid).await.map_err(err)?,
            ))
        })
    }

    fn plan_config<'a>(&'a self, file: &'a str, prune: bool) -> Answer<'a, ConfigResultView> {
        Box::pin(async move {
            let planned = self.admin.plan_config(file, prune).await.map_err(err)?;
            Ok(config_result_view(
                &planned.changes,
                &[],
                Some(planned.fingerprint),
            ))
        })
    }

    fn apply_config<'a>(
        &'a self,
        file: &'a str,
        prune: bool,
        expect: Option<&'a str>,
    ) -> Answer<'a, ConfigResultView> {
        Box::pin(async move {
            // An API signed with another algorithm than RS256 may need its first keys made:
            // that takes the master key.
            let needs_keys = config::parse(file)
                .map_err(err)?
                .apis
                .iter()
                .any(|api| api.signing_alg != SigningAlg::RS256);
            let admin = if needs_keys {
                with_master_key(&self.admin, &self.global)?
            } else {
                self.admin.clone()
            };
            let applied = admin.apply_config(file, prune, expect).await.map_err(err)?;
            Ok(config_result_view(&applied.changes, &applied.created, None))
        })
    }

    fn export_config(&self) -> Answer<'_, String> {
        Box::pin(async move { self.admin.export_config().await.map_err(err) })
    }

    fn create_trusted_issuer(&self, new: CreateTrustedIssuer) -> Answer<'_, TrustedIssuerView> {
        Box::pin(async move {
            let new = new_trusted_issuer(new).map_err(err)?;
            let issuer = self.admin.create_trusted_issuer(new).await.map_err(err)?;
            Ok(TrustedIssuerView::from(&issuer))
        })
    }

    fn list_trusted_issuers(&self) -> Answer<'_, Vec<TrustedIssuerView>> {
        Box::pin(async move {
            let issuers = self.admin.list_trusted_issuers().await.map_err(err)?;
            Ok(issuers.iter().map(TrustedIssuerView::from).collect())
        })
    }

    fn get_trusted_issuer<'a>(&'a self, key: &'a str) -> Answer<'a, TrustedIssuerView> {
        Box::pin(async move {
            let issuer = self.admin.get_trusted_issuer(key).await.map_err(err)?;
            Ok(TrustedIssuerView::from(&issuer))
        })
    }

    fn update_trusted_issuer<'a>(
        &'a self,
        key: &'a str,
        patch: UpdateTrustedIssuer,
    ) -> Answer<'a, TrustedIssuerView> {
        Box::pin(async move {
            let patch = trusted_issuer_patch(patch).map_err(err)?;
            let issuer = self
                .admin
                .update_trusted_issuer(key, patch)
                .await
                .map_err(err)?;
            Ok(TrustedIssuerView::from(&issuer))
        })
    }

    fn delete_trusted_issuer<'a>(&'a self, key: &'a str) -> Answer<'a, ()> {
        Box::pin(async move { self.admin.delete_trusted_issuer(key).await.map_err(err) })
    }

    fn create_federated_credential<'a>(
        &'a self,
        client_id: &'a str,
        new: CreateFederatedCredential,
    ) -> Answer<'a, FederatedCredentialView> {
        Box::pin(async move {
            let new = new_federated_credential(new).map_err(err)?;
            let credential = self
                .admin
                .create_federated_credential(client_id, new)
                .await
                .map_err(err)?;
            let issuer = self
                .admin
                .get_trusted_issuer(&credential.issuer_id)
                .await
                .map_err(err)?;
            Ok(federated_credential_view(&credential, &issuer.issuer))
        })
    }

    fn list_federated_credentials<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, Vec<FederatedCredentialView>> {
        Box::pin(async move {
            let credentials = self
                .admin
                .list_federated_credentials(client_id)
                .await
                .map_err(err)?;
            let issuers = self.admin.list_trusted_issuers().await.map_err(err)?;
            Ok(credentials
                .iter()
                .map(|c| {
                    let issuer = issuers
                        .iter()
                        .find(|i| i.id == c.issuer_id)
                        .map_or("", |i| i.issuer.as_str());
                    federated_credential_view(c, issuer)
                })
                .collect())
        })
    }

    fn delete_federated_credential<'a>(
        &'a self,
        client_id: &'a str,
        id: &'a str,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            self.admin
                .delete_federated_credential(client_id, id)
                .await
                .map_err(err)
        })
    }
}

/// The master key from `WARRANT_MASTER_KEY`, the configured `master_key_file`, or the data
/// directory's `master.key`: needed to create signing keys.
fn with_master_key(admin: &Admin, global: &GlobalArgs) -> Result<Admin, String> {
    let supplied =
        match std::env::var("WARRANT_MASTER_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(key) => Some(key),
            None => match file_layer(global)?.master_key_file {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                    format!("cannot read the master key file {}: {e}", path.display())
                })?),
                None => None,
            },
        };
    let master = MasterKey::load(supplied.as_deref(), &data_dir(global)?).map_err(err)?;
    Ok(admin.clone().holding_master_key(Arc::new(master)))
}
