//! The remote target: a running server's management API (`--server`), with a management token
//! the admin application's credentials obtain. Every request goes through [`crate::http`]'s
//! client, which follows no redirect.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use warrant_client::TokenProvider;
use warrant_proto::{
    ClientCredentialView, ClientGrantView, ClientView, ConfigExportView, ConfigRequest,
    ConfigResultView, CreateFederatedCredential, CreateTrustedIssuer, CredentialRef,
    FederatedCredentialView, ProofOfPossessionView, ResourceServerView, ScopeView, SigningKeyView,
    TrustedIssuerView, UpdateTrustedIssuer,
};
use warrant_server::admin::{GrantSpec, NewCredential, management_audience};
use warrant_server::clock::rfc3339;
use warrant_server::views::claims_view;

use super::{Answer, AppFields, SecretInfo, Target, err};
use crate::cli::GlobalArgs;
use crate::http::{http_client, warn_if_cleartext};

/// The management API's body for a new grant.
fn grant_body(client_id: &str, spec: GrantSpec) -> Value {
    let mut body = json!({"client_id": client_id, "audience": spec.audience, "scope": spec.scopes});
    if let Some(claims) = spec.custom_claims {
        body["custom_claims"] = Value::Object(claims_view(&claims));
    }
    body
}

#[derive(Debug)]
pub struct Remote {
    http: reqwest::Client,
    base: String,
    token: TokenProvider,
}

impl Target for Remote {
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
            let mut body = json!({"identifier": identifier, "name": name, "scopes": scopes});
            if let Some(pop) = proof_of_possession {
                body["proof_of_possession"] = json!(pop);
            }
            if let Some(lifetime) = token_lifetime {
                body["token_lifetime"] = json!(lifetime);
            }
            if let Some(alg) = signing_alg {
                body["signing_alg"] = json!(alg);
            }
            self.call(Method::POST, "/resource-servers", Some(body))
                .await
        })
    }

    fn set_proof_of_possession<'a>(
        &'a self,
        key: &'a str,
        proof_of_possession: Option<ProofOfPossessionView>,
    ) -> Answer<'a, ResourceServerView> {
        Box::pin(async move {
            let body = json!({ "proof_of_possession": proof_of_possession });
            self.call(
                Method::PATCH,
                &format!("/resource-servers/{}", encode(key)),
                Some(body),
            )
            .await
        })
    }

    fn list_apis(&self) -> Answer<'_, Vec<ResourceServerView>> {
        Box::pin(self.list("/resource-servers"))
    }

    fn get_api<'a>(&'a self, key: &'a str) -> Answer<'a, ResourceServerView> {
        Box::pin(async move {
            self.call(
                Method::GET,
                &format!("/resource-servers/{}", encode(key)),
                None,
            )
            .await
        })
    }

    fn delete_api<'a>(&'a self, key: &'a str) -> Answer<'a, String> {
        Box::pin(async move {
            let api = self.get_api(key).await?;
            self.call::<Value>(
                Method::DELETE,
                &format!("/resource-servers/{}", api.id),
                None,
            )
            .await?;
            Ok(api.identifier)
        })
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
            let mut body = json!({"name": name, "description": description});
            if let Some(at) = secret_expires_at {
                body["client_secret_expires_at"] = json!(at);
            }
            if let Some(metadata) = fields.client_metadata {
                body["client_metadata"] = json!(metadata);
            }
            if let Some(claims) = fields.custom_claims {
                body["custom_claims"] = Value::Object(claims);
            }
            let client: ClientView = self.call(Method::POST, "/clients", Some(body)).await?;
            let mut made = Vec::new();
            for grant in grants {
                let body = grant_body(&client.client_id, grant);
                match self.call(Method::POST, "/client-grants", Some(body)).await {
                    Ok(view) => made.push(view),
                    Err(e) => {
                        // Nothing partial: the application goes with its grants.
                        let _ = self
                            .call::<Value>(
                                Method::DELETE,
                                &format!("/clients/{}", client.client_id),
                                None,
                            )
                            .await;
                        return Err(e);
                    }
                }
            }
            Ok((client, made))
        })
    }

    fn update_app<'a>(&'a self, client_id: &'a str, fields: AppFields) -> Answer<'a, ClientView> {
        Box::pin(async move {
            let mut body = json!({});
            if let Some(metadata) = fields.client_metadata {
                body["client_metadata"] = json!(metadata);
            }
            if let Some(claims) = fields.custom_claims {
                body["custom_claims"] = Value::Object(claims);
            }
            self.call(
                Method::PATCH,
                &format!("/clients/{}", encode(client_id)),
                Some(body),
            )
            .await
        })
    }

    fn list_apps(&self) -> Answer<'_, Vec<ClientView>> {
        Box::pin(self.list("/clients"))
    }

    fn get_app<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, (ClientView, Vec<ClientGrantView>, Option<Vec<SecretInfo>>)> {
        Box::pin(async move {
            let client = self
                .call(
                    Method::GET,
                    &format!("/clients/{}", encode(client_id)),
                    None,
                )
                .await?;
            let grants = self.list_grants(Some(client_id.to_owned()), None).await?;
            Ok((client, grants, None))
        })
    }

    fn delete_app<'a>(&'a self, client_id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            self.call::<Value>(
                Method::DELETE,
                &format!("/clients/{}", encode(client_id)),
                None,
            )
            .await
            .map(drop)
        })
    }

    fn rotate_secret<'a>(
        &'a self,
        client_id: &'a str,
        grace: u64,
        expires_at: Option<u64>,
    ) -> Answer<'a, String> {
        Box::pin(async move {
            let until = expires_at
                .map(|at| format!("&client_secret_expires_at={at}"))
                .unwrap_or_default();
            let client: ClientView = self
                .call(
                    Method::POST,
                    &format!(
                        "/clients/{}/rotate-secret?grace_period={grace}{until}",
                        encode(client_id)
                    ),
                    None,
                )
                .await?;
            client
                .client_secret
                .ok_or_else(|| "the server answered without a secret".to_owned())
        })
    }

    fn list_credentials<'a>(&'a self, client_id: &'a str) -> Answer<'a, Vec<ClientCredentialView>> {
        Box::pin(async move {
            self.call(
                Method::GET,
                &format!("/clients/{}/credentials", encode(client_id)),
                None,
            )
            .await
        })
    }

    fn add_credential<'a>(
        &'a self,
        client_id: &'a str,
        new: NewCredential,
    ) -> Answer<'a, ClientCredentialView> {
        Box::pin(async move {
            let path = format!("/clients/{}", encode(client_id));
            let mut body = json!({"credential_type": "public_key", "name": new.name,
                "pem": new.pem, "alg": new.alg});
            if let Some(at) = new.expires_at {
                body["expires_at"] = json!(rfc3339(at));
            }
            let credential: ClientCredentialView = self
                .call(Method::POST, &format!("{path}/credentials"), Some(body))
                .await?;
            // Auth0's second step: list it among the credentials the client authenticates with.
            let client: ClientView = self.call(Method::GET, &path, None).await?;
            let mut ids: Vec<CredentialRef> = client
                .client_authentication_methods
                .and_then(|m| m.private_key_jwt)
                .map(|m| m.credentials)
                .unwrap_or_default();
            ids.push(CredentialRef {
                id: credential.id.clone(),
            });
            let patch =
                json!({"client_authentication_methods": {"private_key_jwt": {"credentials": ids}}});
            if let Err(e) = self.call::<Value>(Method::PATCH, &path, Some(patch)).await {
                // Nothing partial: a key the application does not use goes again.
                let _ = self
                    .call::<Value>(
                        Method::DELETE,
                        &format!("{path}/credentials/{}", encode(&credential.id)),
                        None,
                    )
                    .await;
                return Err(e);
            }
            Ok(credential)
        })
    }

    fn remove_credential<'a>(&'a self, client_id: &'a str, id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            self.call::<Value>(
                Method::DELETE,
                &format!("/clients/{}/credentials/{}", encode(client_id), encode(id)),
                None,
            )
            .await
            .map(drop)
        })
    }

    fn create_grant<'a>(
        &'a self,
        client_id: &'a str,
        spec: GrantSpec,
    ) -> Answer<'a, ClientGrantView> {
        Box::pin(async move {
            let body = grant_body(client_id, spec);
            self.call(Method::POST, "/client-grants", Some(body)).await
        })
    }

    fn update_grant<'a>(
        &'a self,
        id: &'a str,
        scopes: Option<Vec<String>>,
        custom_claims: Option<Map<String, Value>>,
    ) -> Answer<'a, ClientGrantView> {
        Box::pin(async move {
            let mut body = json!({});
            if let Some(scopes) = scopes {
                body["scope"] = json!(scopes);
            }
            if let Some(claims) = custom_claims {
                body["custom_claims"] = Value::Object(claims);
            }
            self.call(
                Method::PATCH,
                &format!("/client-grants/{}", encode(id)),
                Some(body),
            )
            .await
        })
    }

    fn list_grants(
        &self,
        client_id: Option<String>,
        audience: Option<String>,
    ) -> Answer<'_, Vec<ClientGrantView>> {
        Box::pin(async move {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(id) = &client_id {
                query.append_pair("client_id", id);
            }
            if let Some(aud) = &audience {
                query.append_pair("audience", aud);
            }
            self.list(&format!("/client-grants?{}", query.finish()))
                .await
        })
    }

    fn delete_grant<'a>(&'a self, id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            self.call::<Value>(
                Method::DELETE,
                &format!("/client-grants/{}", encode(id)),
                None,
            )
            .await
            .map(drop)
        })
    }

    fn list_logs<'a>(
        &'a self,
        kind: Option<&'a str>,
        client_id: Option<&'a str>,
        take: u32,
    ) -> Answer<'a, Vec<Value>> {
        Box::pin(async move {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("per_page", &take.to_string());
            for (name, value) in [("type", kind), ("client_id", client_id)] {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
            self.call(Method::GET, &format!("/logs?{}", query.finish()), None)
                .await
        })
    }

    fn list_keys(&self) -> Answer<'_, Vec<SigningKeyView>> {
        Box::pin(self.call(Method::GET, "/keys/signing", None))
    }

    fn rotate_keys<'a>(&'a self, alg: Option<&'a str>) -> Answer<'a, SigningKeyView> {
        Box::pin(async move {
            let path = match alg {
                Some(alg) => format!("/keys/signing/rotate?alg={}", encode(alg)),
                None => "/keys/signing/rotate".to_owned(),
            };
            self.call(Method::POST, &path, None).await
        })
    }

    fn revoke_key<'a>(&'a self, kid: &'a str) -> Answer<'a, SigningKeyView> {
        Box::pin(async move {
            self.call(
                Method::PUT,
                &format!("/keys/signing/{}/revoke", encode(kid)),
                None,
            )
            .await
        })
    }

    fn plan_config<'a>(&'a self, file: &'a str, prune: bool) -> Answer<'a, ConfigResultView> {
        Box::pin(async move {
            let body = ConfigRequest {
                file: file.to_owned(),
                prune,
                expect: None,
            };
            self.call(Method::POST, "/config/plan", Some(json!(body)))
                .await
        })
    }

    fn apply_config<'a>(
        &'a self,
        file: &'a str,
        prune: bool,
        expect: Option<&'a str>,
    ) -> Answer<'a, ConfigResultView> {
        Box::pin(async move {
            let body = ConfigRequest {
                file: file.to_owned(),
                prune,
                expect: expect.map(str::to_owned),
            };
            self.call(Method::POST, "/config/apply", Some(json!(body)))
                .await
        })
    }

    fn export_config(&self) -> Answer<'_, String> {
        Box::pin(async move {
            let view: ConfigExportView = self.call(Method::GET, "/config", None).await?;
            Ok(view.file)
        })
    }

    fn create_trusted_issuer(&self, new: CreateTrustedIssuer) -> Answer<'_, TrustedIssuerView> {
        Box::pin(async move {
            let body = serde_json::to_value(&new).map_err(err)?;
            self.call(Method::POST, "/trusted-issuers", Some(body))
                .await
        })
    }

    fn list_trusted_issuers(&self) -> Answer<'_, Vec<TrustedIssuerView>> {
        Box::pin(self.call(Method::GET, "/trusted-issuers", None))
    }

    fn get_trusted_issuer<'a>(&'a self, key: &'a str) -> Answer<'a, TrustedIssuerView> {
        Box::pin(async move {
            self.call(
                Method::GET,
                &format!("/trusted-issuers/{}", encode(key)),
                None,
            )
            .await
        })
    }

    fn update_trusted_issuer<'a>(
        &'a self,
        key: &'a str,
        patch: UpdateTrustedIssuer,
    ) -> Answer<'a, TrustedIssuerView> {
        Box::pin(async move {
            let body = serde_json::to_value(&patch).map_err(err)?;
            self.call(
                Method::PATCH,
                &format!("/trusted-issuers/{}", encode(key)),
                Some(body),
            )
            .await
        })
    }

    fn delete_trusted_issuer<'a>(&'a self, key: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            self.call::<Value>(
                Method::DELETE,
                &format!("/trusted-issuers/{}", encode(key)),
                None,
            )
            .await
            .map(drop)
        })
    }

    fn create_federated_credential<'a>(
        &'a self,
        client_id: &'a str,
        new: CreateFederatedCredential,
    ) -> Answer<'a, FederatedCredentialView> {
        Box::pin(async move {
            let body = serde_json::to_value(&new).map_err(err)?;
            self.call(
                Method::POST,
                &format!("/clients/{}/federated-credentials", encode(client_id)),
                Some(body),
            )
            .await
        })
    }

    fn list_federated_credentials<'a>(
        &'a self,
        client_id: &'a str,
    ) -> Answer<'a, Vec<FederatedCredentialView>> {
        Box::pin(async move {
            self.call(
                Method::GET,
                &format!("/clients/{}/federated-credentials", encode(client_id)),
                None,
            )
            .await
        })
    }

    fn delete_federated_credential<'a>(
        &'a self,
        client_id: &'a str,
        id: &'a str,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            self.call::<Value>(
                Method::DELETE,
                &format!(
                    "/clients/{}/federated-credentials/{}",
                    encode(client_id),
                    encode(id)
                ),
                None,
            )
            .await
            .map(drop)
        })
    }
}

impl Remote {
    pub fn connect(global: &GlobalArgs, server: &str) -> Result<Self, String> {
        warn_if_cleartext(server, "the admin client secret and the management tokens");
        let (Some(client_id), Some(secret)) =
            (&global.admin_client_id, &global.admin_client_secret)
        else {
            return Err(
                "--server needs the admin application's credentials: --admin-client-id and \
                 --admin-client-secret, or WARRANT_CLIENT_ID and WARRANT_CLIENT_SECRET (see `warrant init`)"
                    .into(),
            );
        };
        let http = http_client(global.ca_cert.as_deref())?;
        let base = server.trim_end_matches('/').to_owned();
        let token = TokenProvider::builder()
            .token_endpoint(format!("{base}/oauth/token"))
            .client_id(client_id)
            .client_secret(secret.as_str())
            .audience(management_audience(&base))
            .retry_deadline(Duration::from_secs(5))
            .http_client(http.clone())
            .build()
            .map_err(err)?;
        Ok(Self { http, base, token })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, String> {
        let token = self
            .token
            .token()
            .await
            .map_err(|e| format!("cannot get a management token from {}: {e}", self.base))?;
        let url = format!("{}/api/v2{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(token.as_str());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {}", e.without_url()))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(format!(
                "{url} answered {status}, a redirect to {}, which is not followed so that the \
                 management token goes only to --server: use the server's final URL",
                warrant_client::redirect_target(&response)
            ));
        }
        let bytes = response.bytes().await.map_err(err)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| status.to_string());
            return Err(format!("the server refused ({status}): {message}"));
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| format!("unexpected answer from {url}: {e}"))
    }

    /// Every page of a list.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, String> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut all = Vec::new();
        for page in 0.. {
            let batch: Vec<T> = self
                .call(
                    Method::GET,
                    &format!("{path}{separator}per_page=100&page={page}"),
                    None,
                )
                .await?;
            let done = batch.len() < 100;
            all.extend(batch);
            if done {
                break;
            }
        }
        Ok(all)
    }
}

fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
