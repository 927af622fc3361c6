//! Where administration commands go: the service layer in-process against a data directory
//! (the server may be running on it), or a running server's management API (`--server`), which
//! calls the same service layer. Both answer in the same wire shapes.
//!
//! What the CLI sends over HTTP carries credentials (the admin secret, management tokens, the
//! secret of `warrant token`): it follows no redirect, since a 307 or 308 would replay the
//! request to wherever it points, and it warns when plain http leaves this machine.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use warrant_client::TokenProvider;
use warrant_proto::{
    ClientGrantView, ClientView, LogEventView, ResourceServerView, ScopeView, SigningKeyView,
};
use warrant_server::admin::{Admin, GrantSpec, NewApi, management_audience};
use warrant_server::clock::SystemClock;
use warrant_server::domain::Scope;
use warrant_server::domain::events::AuditFilter;
use warrant_server::keys::MasterKey;
use warrant_server::store::GrantFilter;
use warrant_server::views::client_view;

use crate::cli::GlobalArgs;
use crate::serve::{data_dir, file_layer, open_store};

/// A secret of an application, as the local mode can show it (the management API shows none).
#[derive(Debug)]
pub struct SecretInfo {
    pub created_at: u64,
    pub expires_at: Option<u64>,
}

#[derive(Debug)]
pub enum Backend {
    // Boxed: the service layer is far larger than a remote connection.
    Local {
        admin: Box<Admin>,
        global: GlobalArgs,
    },
    Remote(Remote),
}

#[derive(Debug)]
pub struct Remote {
    http: reqwest::Client,
    base: String,
    token: TokenProvider,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Backend {
    pub async fn open(global: &GlobalArgs) -> Result<Self, String> {
        match &global.server {
            Some(server) => Ok(Self::Remote(Remote::connect(global, server)?)),
            None => {
                let store = open_store(global).await?;
                Ok(Self::Local {
                    admin: Box::new(Admin::new(store, Arc::new(SystemClock))),
                    global: global.clone(),
                })
            }
        }
    }

    pub async fn create_api(
        &self,
        identifier: String,
        name: String,
        scopes: Vec<ScopeView>,
        token_lifetime: Option<u32>,
    ) -> Result<ResourceServerView, String> {
        match self {
            Self::Local { admin, .. } => {
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
                        signing_alg: None,
                    })
                    .await
                    .map_err(err)?;
                Ok(ResourceServerView::from(&api))
            }
            Self::Remote(r) => {
                let mut body = json!({"identifier": identifier, "name": name, "scopes": scopes});
                if let Some(lifetime) = token_lifetime {
                    body["token_lifetime"] = json!(lifetime);
                }
                r.call(Method::POST, "/resource-servers", Some(body)).await
            }
        }
    }

    pub async fn list_apis(&self) -> Result<Vec<ResourceServerView>, String> {
        match self {
            Self::Local { admin, .. } => Ok(admin
                .list_apis()
                .await
                .map_err(err)?
                .iter()
                .map(ResourceServerView::from)
                .collect()),
            Self::Remote(r) => r.list("/resource-servers").await,
        }
    }

    pub async fn get_api(&self, key: &str) -> Result<ResourceServerView, String> {
        match self {
            Self::Local { admin, .. } => Ok(ResourceServerView::from(
                &admin.get_api(key).await.map_err(err)?,
            )),
            Self::Remote(r) => {
                r.call(
                    Method::GET,
                    &format!("/resource-servers/{}", encode(key)),
                    None,
                )
                .await
            }
        }
    }

    /// Deletes an API; returns its identifier.
    pub async fn delete_api(&self, key: &str) -> Result<String, String> {
        match self {
            Self::Local { admin, .. } => Ok(admin.delete_api(key).await.map_err(err)?.identifier),
            Self::Remote(r) => {
                let api = self.get_api(key).await?;
                r.call::<Value>(
                    Method::DELETE,
                    &format!("/resource-servers/{}", api.id),
                    None,
                )
                .await?;
                Ok(api.identifier)
            }
        }
    }

    /// Creates an application with its grants; the view carries the secret.
    pub async fn create_app(
        &self,
        name: String,
        description: String,
        grants: Vec<GrantSpec>,
    ) -> Result<(ClientView, Vec<ClientGrantView>), String> {
        match self {
            Self::Local { admin, .. } => {
                let created = admin
                    .create_application(name, description, grants)
                    .await
                    .map_err(err)?;
                Ok((
                    client_view(&created.application, Some(created.secret.expose())),
                    created.grants.iter().map(ClientGrantView::from).collect(),
                ))
            }
            Self::Remote(r) => {
                let client: ClientView = r
                    .call(
                        Method::POST,
                        "/clients",
                        Some(json!({"name": name, "description": description})),
                    )
                    .await?;
                let mut made = Vec::new();
                for grant in grants {
                    let body = json!({"client_id": client.client_id, "audience": grant.audience, "scope": grant.scopes});
                    match r.call(Method::POST, "/client-grants", Some(body)).await {
                        Ok(view) => made.push(view),
                        Err(e) => {
                            // Nothing partial: the application goes with its grants.
                            let _ = r
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
            }
        }
    }

    pub async fn list_apps(&self) -> Result<Vec<ClientView>, String> {
        match self {
            Self::Local { admin, .. } => Ok(admin
                .list_applications()
                .await
                .map_err(err)?
                .iter()
                .map(|a| client_view(a, None))
                .collect()),
            Self::Remote(r) => r.list("/clients").await,
        }
    }

    /// An application, its grants and (locally) its secrets' dates.
    pub async fn get_app(
        &self,
        client_id: &str,
    ) -> Result<(ClientView, Vec<ClientGrantView>, Option<Vec<SecretInfo>>), String> {
        match self {
            Self::Local { admin, .. } => {
                let details = admin.get_application(client_id).await.map_err(err)?;
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
            }
            Self::Remote(r) => {
                let client = r
                    .call(
                        Method::GET,
                        &format!("/clients/{}", encode(client_id)),
                        None,
                    )
                    .await?;
                let grants = self.list_grants(Some(client_id.to_owned()), None).await?;
                Ok((client, grants, None))
            }
        }
    }

    pub async fn delete_app(&self, client_id: &str) -> Result<(), String> {
        match self {
            Self::Local { admin, .. } => admin.delete_application(client_id).await.map_err(err),
            Self::Remote(r) => r
                .call::<Value>(
                    Method::DELETE,
                    &format!("/clients/{}", encode(client_id)),
                    None,
                )
                .await
                .map(drop),
        }
    }

    pub async fn rotate_secret(&self, client_id: &str, grace: u64) -> Result<String, String> {
        match self {
            Self::Local { admin, .. } => Ok(admin
                .rotate_secret(client_id, grace)
                .await
                .map_err(err)?
                .expose()
                .to_owned()),
            Self::Remote(r) => {
                let client: ClientView = r
                    .call(
                        Method::POST,
                        &format!(
                            "/clients/{}/rotate-secret?grace_period={grace}",
                            encode(client_id)
                        ),
                        None,
                    )
                    .await?;
                client
                    .client_secret
                    .ok_or_else(|| "the server answered without a secret".to_owned())
            }
        }
    }

    pub async fn create_grant(
        &self,
        client_id: &str,
        spec: GrantSpec,
    ) -> Result<ClientGrantView, String> {
        match self {
            Self::Local { admin, .. } => Ok(ClientGrantView::from(
                &admin.create_grant(client_id, spec).await.map_err(err)?,
            )),
            Self::Remote(r) => {
                let body = json!({"client_id": client_id, "audience": spec.audience, "scope": spec.scopes});
                r.call(Method::POST, "/client-grants", Some(body)).await
            }
        }
    }

    pub async fn list_grants(
        &self,
        client_id: Option<String>,
        audience: Option<String>,
    ) -> Result<Vec<ClientGrantView>, String> {
        match self {
            Self::Local { admin, .. } => Ok(admin
                .list_grants(&GrantFilter {
                    client_id,
                    audience,
                })
                .await
                .map_err(err)?
                .iter()
                .map(ClientGrantView::from)
                .collect()),
            Self::Remote(r) => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                if let Some(id) = &client_id {
                    query.append_pair("client_id", id);
                }
                if let Some(aud) = &audience {
                    query.append_pair("audience", aud);
                }
                r.list(&format!("/client-grants?{}", query.finish())).await
            }
        }
    }

    pub async fn delete_grant(&self, id: &str) -> Result<(), String> {
        match self {
            Self::Local { admin, .. } => admin.delete_grant(id).await.map_err(err),
            Self::Remote(r) => r
                .call::<Value>(
                    Method::DELETE,
                    &format!("/client-grants/{}", encode(id)),
                    None,
                )
                .await
                .map(drop),
        }
    }

    /// Audit events, newest first, as Auth0's log API shows them.
    pub async fn list_logs(
        &self,
        kind: Option<&str>,
        client_id: Option<&str>,
        take: u32,
    ) -> Result<Vec<Value>, String> {
        match self {
            Self::Local { admin, .. } => admin
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
                .collect(),
            Self::Remote(r) => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("per_page", &take.to_string());
                for (name, value) in [("type", kind), ("client_id", client_id)] {
                    if let Some(value) = value {
                        query.append_pair(name, value);
                    }
                }
                r.call(Method::GET, &format!("/logs?{}", query.finish()), None)
                    .await
            }
        }
    }

    pub async fn list_keys(&self) -> Result<Vec<SigningKeyView>, String> {
        match self {
            Self::Local { admin, .. } => Ok(admin
                .list_keys()
                .await
                .map_err(err)?
                .iter()
                .map(SigningKeyView::from)
                .collect()),
            Self::Remote(r) => r.call(Method::GET, "/keys/signing", None).await,
        }
    }

    pub async fn rotate_keys(&self) -> Result<SigningKeyView, String> {
        match self {
            Self::Local { admin, global } => {
                let admin = with_master_key(admin, global)?;
                Ok(SigningKeyView::from(
                    &admin.rotate_keys().await.map_err(err)?,
                ))
            }
            Self::Remote(r) => r.call(Method::POST, "/keys/signing/rotate", None).await,
        }
    }

    pub async fn revoke_key(&self, kid: &str) -> Result<SigningKeyView, String> {
        match self {
            Self::Local { admin, .. } => Ok(SigningKeyView::from(
                &admin.revoke_key(kid).await.map_err(err)?,
            )),
            Self::Remote(r) => {
                r.call(
                    Method::PUT,
                    &format!("/keys/signing/{}/revoke", encode(kid)),
                    None,
                )
                .await
            }
        }
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
    Ok(Admin::with_master_key(
        admin.store().clone(),
        Arc::new(SystemClock),
        Arc::new(master),
    ))
}

fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Warns on standard error when `url` is plain http to another machine: `what` would travel
/// in clear.
pub fn warn_if_cleartext(url: &str, what: &str) {
    if let Some(host) = cleartext_remote_host(url) {
        eprintln!("warning: plain http to {host}: {what} would travel in clear; use https");
    }
}

/// The host of `url` if it is plain http to a host other than this machine.
fn cleartext_remote_host(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let local = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (!local).then(|| host.to_owned())
}

/// The HTTP client of the CLI: no redirects (see the module's documentation).
pub fn http_client(ca_cert: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_cert {
        let pem = std::fs::read(ca)
            .map_err(|e| format!("cannot read the CA certificate {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(err)
}

impl Remote {
    fn connect(global: &GlobalArgs, server: &str) -> Result<Self, String> {
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

#[cfg(test)]
mod tests {
    use super::cleartext_remote_host;

    #[test]
    fn plain_http_is_flagged_only_when_it_leaves_this_machine() {
        for local in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:8080/",
            "https://auth.example.com",
            "https://10.0.0.5:8443",
            "not a url",
        ] {
            assert_eq!(cleartext_remote_host(local), None, "{local}");
        }
        for (remote, host) in [
            ("http://auth.example.com", "auth.example.com"),
            ("http://10.0.0.5:8080/", "10.0.0.5"),
            ("http://[2001:db8::1]/", "[2001:db8::1]"),
            ("http://localhost.evil.example/", "localhost.evil.example"),
        ] {
            assert_eq!(
                cleartext_remote_host(remote).as_deref(),
                Some(host),
                "{remote}"
            );
        }
    }
}
