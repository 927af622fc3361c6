//! [`TestServer`]: the real server, bound to `127.0.0.1:0` before its task starts (no waiting
//! for it), and the requests tests make to it most.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warrant_server::admin::{Admin, GrantSpec, Initialized, NewApi, NewCredential};
use warrant_server::catalog::Catalog;
use warrant_server::clock::{Clock, SystemClock};
use warrant_server::config::Config;

use warrant_server::domain::{Scope, SigningAlg};
use warrant_server::metrics::Metrics;
use warrant_server::store::Store;
use warrant_server::{Background, Server, StartError};

/// The API of the standard fixture ([`TestServer::with_worker`]).
pub const API: &str = "https://api.example.com";

/// A running server. Stop it with [`stop`](Self::stop) (or [`into_data_dir`](Self::into_data_dir)
/// to start another on the same data directory); dropping it lets the server shut down on its
/// own.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub base: String,
    /// The issuer, with its trailing slash.
    pub issuer: String,
    /// The client ID and secret of the management API's admin application, when started
    /// [`initialized`](Builder::initialized) (the secret is empty if the data directory had been
    /// initialized before); both empty otherwise.
    pub mgmt_client: (String, String),
    /// An administration service over the server's store, on the server's clock.
    pub admin: Admin,
    pub catalog: Arc<Catalog>,
    /// A handle on the server's store.
    pub store: Store,
    pub counters: Arc<Metrics>,
    /// The server's background work on demand: store the audit log or the token counts now.
    pub background: Background,
    /// Where `/metrics` is served when `metrics_listen` gives it a listener of its own.
    pub metrics_addr: Option<SocketAddr>,
    /// An HTTP client for this server (trusting its CA when it serves a self-signed certificate).
    pub http: reqwest::Client,
    data_dir: PathBuf,
    /// The server's own administration service (it holds the master key, so it can create a
    /// new algorithm's signing keys).
    keyed_admin: Admin,
    dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

/// How to start a [`TestServer`]: by default on a fresh data directory with
/// `Config::new("127.0.0.1:0", dir)` and the system clock, not initialized.
#[derive(Debug)]
pub struct Builder {
    dir: Option<TempDir>,
    config: Option<Config>,
    clock: Arc<dyn Clock>,
    initialize: bool,
}

impl Builder {
    /// Serves this data directory (a restart keeps what the previous server stored); the server
    /// owns it from now on.
    pub fn dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// This configuration instead of the default one. Its `data_dir` is the server's, whether
    /// it is the [`dir`](Self::dir) given or one the test keeps.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// A clock the test controls, for the server and for [`TestServer::admin`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Makes the deployment manageable before serving: the management API and its admin
    /// application, in [`TestServer::mgmt_client`].
    pub fn initialized(mut self) -> Self {
        self.initialize = true;
        self
    }

    pub async fn start(self) -> Result<TestServer, StartError> {
        let (dir, config) = match (self.dir, self.config) {
            (dir, Some(config)) => (dir, config),
            (dir, None) => {
                let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
                let config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
                (Some(dir), config)
            }
        };
        let data_dir = config.data_dir.clone();
        let issuer_configured = config.issuer.is_some();
        let server = Server::bind_with_clock(config, Arc::clone(&self.clock)).await?;
        let mgmt_client = if self.initialize {
            match server.initialize().await.unwrap() {
                Initialized::Created { client_id, secret } => {
                    (client_id, secret.expose().to_owned())
                }
                Initialized::Already { client_id } => (client_id, String::new()),
            }
        } else {
            Default::default()
        };
        let issuer = server.issuer().to_owned();
        let http = match server.tls_ca_path() {
            Some(ca) => {
                let ca = std::fs::read(ca).unwrap();
                reqwest::Client::builder()
                    .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                    .build()
                    .unwrap()
            }
            None => reqwest::Client::new(),
        };
        // The issuer names this server unless the test configured another (a deployment's).
        let base = if issuer_configured {
            format!("http://{}", server.local_addr())
        } else {
            issuer.trim_end_matches('/').to_owned()
        };
        let catalog = Arc::clone(server.catalog());
        let store = server.store().clone();
        let admin = Admin::new(store.clone(), self.clock);
        let keyed_admin = server.admin().clone();
        let counters = server.counters();
        let background = server.background();
        let metrics_addr = server.metrics_addr();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(server.serve(async {
            let _ = rx.await;
        }));
        Ok(TestServer {
            base,
            issuer,
            mgmt_client,
            admin,
            catalog,
            store,
            counters,
            background,
            metrics_addr,
            http,
            data_dir,
            keyed_admin,
            dir,
            stop: Some(tx),
            handle: Some(handle),
        })
    }
}

impl TestServer {
    /// A server on a fresh data directory, default configuration, not initialized.
    pub async fn start() -> Self {
        Self::builder().start().await.unwrap()
    }

    pub fn builder() -> Builder {
        Builder {
            dir: None,
            config: None,
            clock: Arc::new(SystemClock),
            initialize: false,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn token_endpoint(&self) -> String {
        self.url("/oauth/token")
    }

    /// The server's data directory (for the CLI against the same store).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Makes changes made through [`admin`](Self::admin) visible to the token endpoint now,
    /// instead of after the next poll.
    pub async fn sync(&self) {
        self.catalog.reload().await.unwrap();
    }

    /// Creates an API with these scopes; visible to the token endpoint at once.
    pub async fn create_api(&self, identifier: &str, scopes: &[&str], token_lifetime: Option<u32>) {
        self.create_api_signed(identifier, scopes, token_lifetime, None)
            .await;
    }

    /// As [`create_api`](Self::create_api), its tokens signed with `alg` (default RS256): the
    /// algorithm's keys are created if it has none yet.
    pub async fn create_api_signed(
        &self,
        identifier: &str,
        scopes: &[&str],
        token_lifetime: Option<u32>,
        alg: Option<SigningAlg>,
    ) {
        let admin = if alg.is_some() {
            &self.keyed_admin
        } else {
            &self.admin
        };
        admin
            .create_api(NewApi {
                identifier: identifier.to_owned(),
                name: "Test API".to_owned(),
                scopes: scopes
                    .iter()
                    .map(|value| Scope {
                        value: (*value).to_owned(),
                        description: String::new(),
                    })
                    .collect(),
                token_lifetime,
                signing_alg: alg,
                proof_of_possession: None,
            })
            .await
            .unwrap();
        self.sync().await;
    }

    /// Creates an application named `worker` with these grants (audience, scopes); returns its
    /// client ID and secret. Visible to the token endpoint at once.
    pub async fn create_app(&self, grants: &[(&str, &[&str])]) -> (String, String) {
        let created = self
            .admin
            .create_application(
                "worker".to_owned(),
                String::new(),
                grants
                    .iter()
                    .map(|(audience, scopes)| GrantSpec {
                        audience: (*audience).to_owned(),
                        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                        custom_claims: None,
                    })
                    .collect(),
            )
            .await
            .unwrap();
        self.sync().await;
        (
            created.application.client_id,
            created.secret.expose().to_owned(),
        )
    }

    /// Registers the public key `pem` (for `alg`) as a credential of `client_id` and makes it
    /// authenticate with its credentials (private_key_jwt, no longer its secret); returns the
    /// credential's ID and `kid`. Visible to the token endpoint at once.
    pub async fn add_public_key(&self, client_id: &str, alg: &str, pem: &str) -> (String, String) {
        let credential = self
            .admin
            .add_credential_in_use(
                client_id,
                NewCredential {
                    name: format!("{alg} key"),
                    alg: alg.to_owned(),
                    pem: pem.to_owned(),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        self.sync().await;
        (credential.id, credential.kid)
    }

    /// The standard fixture: [`API`] with `read:data` and `delete:documents`, and an application
    /// granted `read:data`; returns its client ID and secret.
    pub async fn with_worker(&self) -> (String, String) {
        self.create_api(API, &["read:data", "delete:documents"], None)
            .await;
        self.create_app(&[(API, &["read:data"])]).await
    }

    /// The standard fixture with [`API`]'s tokens signed with `alg`.
    pub async fn with_worker_signed(&self, alg: SigningAlg) -> (String, String) {
        self.create_api_signed(API, &["read:data", "delete:documents"], None, Some(alg))
            .await;
        self.create_app(&[(API, &["read:data"])]).await
    }

    pub async fn token_json(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.token_endpoint())
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn token_form(&self, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.token_endpoint())
            .form(pairs)
            .send()
            .await
            .unwrap()
    }

    /// A token for [`API`], asserting success.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        self.token_for(client_id, secret, API).await
    }

    /// A token for any audience, asserting success.
    pub async fn token_for(&self, client_id: &str, secret: &str, audience: &str) -> String {
        let response = self
            .token_json(&json!({
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "audience": audience,
            }))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The served JWKS.
    pub async fn jwks(&self) -> Value {
        self.http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn mgmt_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }

    /// A management API token for the admin application (every scope).
    pub async fn admin_token(&self) -> String {
        let (id, secret) = &self.mgmt_client;
        self.token_for(id, secret, &self.mgmt_audience()).await
    }

    /// A management request with `token`; returns status and JSON body (`Null` when empty, a
    /// string when not JSON).
    pub async fn mgmt(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v2{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// A management request with a raw JSON text body; returns status and JSON body.
    pub async fn mgmt_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &str,
    ) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.url(&format!("/api/v2{path}")))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }

    /// Stops the server and hands back its data directory, to start another on it.
    pub async fn into_data_dir(mut self) -> TempDir {
        self.stop().await;
        self.dir
            .take()
            .expect("the server was started on a data directory of its own")
    }
}
