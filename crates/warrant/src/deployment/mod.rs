//! Where administration commands go: the service layer in-process against a data directory
//! (the server may be running on it; [`local`]), or a running server's management API
//! (`--server`; [`remote`]), which calls the same service layer. Both answer in the same wire
//! shapes, behind one interface, [`Target`], so that a command is written once. (The folder is
//! not called `target/`: ignore files everywhere reserve that name for Cargo's build output.)

mod local;
mod remote;

pub use local::local_admin;

use std::future::Future;
use std::pin::Pin;

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use warrant_proto::{
    ClientCredentialView, ClientGrantView, ClientView, ConfigResultView, CreateFederatedCredential,
    CreateTrustedIssuer, FederatedCredentialView, ProofOfPossessionView, ResourceServerView,
    ScopeView, SigningKeyView, TrustedIssuerView, UpdateTrustedIssuer,
};
use warrant_server::admin::{GrantSpec, NewCredential};

use crate::cli::GlobalArgs;

/// A secret of an application, as the local target can show it (the management API shows
/// none).
#[derive(Debug)]
pub struct SecretInfo {
    pub created_at: u64,
    pub expires_at: Option<u64>,
}

/// An application's metadata and custom claims, as a command gives them: `None` leaves a
/// field as it is (or empty, for a new application); `Some` replaces it whole.
#[derive(Debug, Clone, Default)]
pub struct AppFields {
    pub client_metadata: Option<BTreeMap<String, String>>,
    pub custom_claims: Option<Map<String, Value>>,
}

/// What a [`Target`] answers: its result later, or why it failed, in words for the user.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + 'a>>;

/// What the administration commands can do, wherever they go.
pub trait Target: std::fmt::Debug {
    fn create_api(
        &self,
        identifier: String,
        name: String,
        scopes: Vec<ScopeView>,
        token_lifetime: Option<u32>,
        signing_alg: Option<String>,
        proof_of_possession: Option<ProofOfPossessionView>,
    ) -> Answer<'_, ResourceServerView>;

    /// Sets an API's proof-of-possession setting (`None` removes it).
    fn set_proof_of_possession<'a>(
        &'a self,
        key: &'a str,
        proof_of_possession: Option<ProofOfPossessionView>,
    ) -> Answer<'a, ResourceServerView>;

    fn list_apis(&self) -> Answer<'_, Vec<ResourceServerView>>;

    /// An API by its id or identifier.
    fn get_api<'a>(&'a self, key: &'a str) -> Answer<'a, ResourceServerView>;

    /// Deletes an API; returns its identifier.
    fn delete_api<'a>(&'a self, key: &'a str) -> Answer<'a, String>;

    /// Creates an application with its grants (all or nothing); the view carries the secret,
    /// which stops working at `secret_expires_at` (Unix seconds) when given.
    fn create_app(
        &self,
        name: String,
        description: String,
        fields: AppFields,
        grants: Vec<GrantSpec>,
        secret_expires_at: Option<u64>,
    ) -> Answer<'_, (ClientView, Vec<ClientGrantView>)>;

    /// Replaces an application's metadata or custom claims.
    fn update_app<'a>(&'a self, client_id: &'a str, fields: AppFields) -> Answer<'a, ClientView>;

    fn list_apps(&self) -> Answer<'_, Vec<ClientView>>;

    /// An application, its grants and (locally) its secrets' dates.
    fn get_app<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, (ClientView, Vec<ClientGrantView>, Option<Vec<SecretInfo>>)>;

    fn delete_app<'a>(&'a self, client_id: &'a str) -> Answer<'a, ()>;

    /// A new secret for an application, valid until `expires_at` (Unix seconds) when given; the
    /// old one stays valid for `grace` seconds.
    fn rotate_secret<'a>(
        &'a self,
        client_id: &'a str,
        grace: u64,
        expires_at: Option<u64>,
    ) -> Answer<'a, String>;

    /// An application's public-key credentials (private_key_jwt).
    fn list_credentials<'a>(&'a self, client_id: &'a str) -> Answer<'a, Vec<ClientCredentialView>>;

    /// Registers a public key and has the application authenticate with its keys (its
    /// private_key_jwt list), no longer with its secret.
    fn add_credential<'a>(
        &'a self,
        client_id: &'a str,
        new: NewCredential,
    ) -> Answer<'a, ClientCredentialView>;

    /// Deletes a credential (and takes it off the application's private_key_jwt list).
    fn remove_credential<'a>(&'a self, client_id: &'a str, id: &'a str) -> Answer<'a, ()>;

    fn create_grant<'a>(
        &'a self,
        client_id: &'a str,
        spec: GrantSpec,
    ) -> Answer<'a, ClientGrantView>;

    fn list_grants(
        &self,
        client_id: Option<String>,
        audience: Option<String>,
    ) -> Answer<'_, Vec<ClientGrantView>>;

    /// Replaces a grant's scopes or custom claims (`None`: as they are).
    fn update_grant<'a>(
        &'a self,
        id: &'a str,
        scopes: Option<Vec<String>>,
        custom_claims: Option<Map<String, Value>>,
    ) -> Answer<'a, ClientGrantView>;

    fn delete_grant<'a>(&'a self, id: &'a str) -> Answer<'a, ()>;

    /// Audit events, newest first, as Auth0's log API shows them.
    fn list_logs<'a>(
        &'a self,
        kind: Option<&'a str>,
        client_id: Option<&'a str>,
        take: u32,
    ) -> Answer<'a, Vec<Value>>;

    fn list_keys(&self) -> Answer<'_, Vec<SigningKeyView>>;

    /// Rotates `alg`'s keys, or every algorithm's; answers with the new current key (RS256's
    /// when all were rotated).
    fn rotate_keys<'a>(&'a self, alg: Option<&'a str>) -> Answer<'a, SigningKeyView>;

    fn revoke_key<'a>(&'a self, kid: &'a str) -> Answer<'a, SigningKeyView>;

    /// What a configuration file would change (`prune`: deleting what it does not name too),
    /// with the fingerprint of the state compared with.
    fn plan_config<'a>(&'a self, file: &'a str, prune: bool) -> Answer<'a, ConfigResultView>;

    /// Applies a configuration file in one transaction; the answer holds new secrets. With
    /// `expect`, only if the deployment's fingerprint is still that one.
    fn apply_config<'a>(
        &'a self,
        file: &'a str,
        prune: bool,
        expect: Option<&'a str>,
    ) -> Answer<'a, ConfigResultView>;

    /// The current state as a configuration file.
    fn export_config(&self) -> Answer<'_, String>;

    fn create_trusted_issuer(&self, new: CreateTrustedIssuer) -> Answer<'_, TrustedIssuerView>;

    fn list_trusted_issuers(&self) -> Answer<'_, Vec<TrustedIssuerView>>;

    /// A trusted issuer by its ID or issuer URL.
    fn get_trusted_issuer<'a>(&'a self, key: &'a str) -> Answer<'a, TrustedIssuerView>;

    /// Changes a trusted issuer (by ID or issuer URL).
    fn update_trusted_issuer<'a>(
        &'a self,
        key: &'a str,
        patch: UpdateTrustedIssuer,
    ) -> Answer<'a, TrustedIssuerView>;
    fn delete_trusted_issuer<'a>(&'a self, key: &'a str) -> Answer<'a, ()>;

    fn create_federated_credential<'a>(
        &'a self,
        client_id: &'a str,
        new: CreateFederatedCredential,
    ) -> Answer<'a, FederatedCredentialView>;

    fn list_federated_credentials<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, Vec<FederatedCredentialView>>;

    fn delete_federated_credential<'a>(&'a self, client_id: &'a str, id: &'a str)
    -> Answer<'a, ()>;
}

/// The target the global arguments name: `--server`'s management API, else the local storage.
pub async fn open(global: &GlobalArgs) -> Result<Box<dyn Target>, String> {
    Ok(match &global.server {
        Some(server) => Box::new(remote::Remote::connect(global, server)?),
        None => Box::new(local::Local::open(global).await?),
    })
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}
