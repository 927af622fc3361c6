use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warrant_server::Server;
use warrant_server::admin::{Admin, GrantSpec, NewApi};
use warrant_server::clock::{Clock, SystemClock};
use warrant_server::config::{Config, Secret};
use warrant_server::directory::Directory;
use warrant_server::domain::Scope;

pub const API: &str = "https://api.example.com";

/// A running server and what a test needs to talk to it and administer it.
pub struct TestApp {
    pub base: String,
    pub issuer: String,
    /// The management API's admin application, from `initialize`.
    pub mgmt_client: (String, String),
    pub admin: Admin,
    pub directory: Arc<Directory>,
    pub http: reqwest::Client,
    pub dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_in(dir, None).await.unwrap()
}

/// Starts a server on an existing data directory (for restarts), optionally with a master key.
pub async fn spawn_in(
    dir: TempDir,
    master_key: Option<&str>,
) -> Result<TestApp, warrant_server::StartError> {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.master_key = master_key.map(Secret::new);
    // Refusals are written aggregated once an interval: tests read them within moments.
    config.audit.refusal_interval = Duration::from_millis(100);
    spawn_with(dir, config).await
}

/// Starts a server serving HTTPS with a self-signed certificate; `http` trusts its CA.
pub async fn spawn_tls() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.tls = Some(warrant_server::tls::TlsSource::SelfSigned);
    let mut app = spawn_with(dir, config).await.unwrap();
    let ca = std::fs::read(app.data_dir().join("tls/ca.pem")).unwrap();
    app.http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    app
}

pub async fn spawn_with(
    dir: TempDir,
    config: Config,
) -> Result<TestApp, warrant_server::StartError> {
    spawn_with_clock(dir, config, Arc::new(SystemClock)).await
}

/// A server on the clock `clock` (its `admin` too), for tests that move time.
pub async fn spawn_with_clock(
    dir: TempDir,
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<TestApp, warrant_server::StartError> {
    let server = Server::bind_with_clock(config, Arc::clone(&clock)).await?;
    let mgmt_client = match server.initialize().await.unwrap() {
        warrant_server::admin::Initialized::Created { client_id, secret } => {
            (client_id, secret.expose().to_owned())
        }
        warrant_server::admin::Initialized::Already { client_id } => (client_id, String::new()),
    };
    let issuer = server.issuer().to_owned();
    let base = issuer.trim_end_matches('/').to_owned();
    let directory = Arc::clone(server.directory());
    let admin = Admin::new(directory.store().clone(), clock);
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    Ok(TestApp {
        base,
        issuer,
        mgmt_client,
        admin,
        directory,
        http: reqwest::Client::new(),
        dir,
        shutdown: Some(tx),
        handle: Some(handle),
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Makes admin changes visible now, instead of after the next poll.
    pub async fn sync(&self) {
        self.directory.reload().await.unwrap();
    }

    pub async fn create_api(&self, identifier: &str, scopes: &[&str], lifetime: Option<u32>) {
        self.admin
            .create_api(NewApi {
                identifier: identifier.to_owned(),
                name: "Test API".to_owned(),
                scopes: scopes
                    .iter()
                    .map(|s| Scope {
                        value: (*s).to_owned(),
                        description: String::new(),
                    })
                    .collect(),
                token_lifetime: lifetime,
                signing_alg: None,
            })
            .await
            .unwrap();
        self.sync().await;
    }

    /// Creates an application with the given grants; returns (client_id, client_secret).
    pub async fn create_app(&self, grants: &[(&str, &[&str])]) -> (String, String) {
        let created = self
            .admin
            .create_application(
                "worker".to_owned(),
                String::new(),
                grants
                    .iter()
                    .map(|(aud, scopes)| GrantSpec {
                        audience: (*aud).to_owned(),
                        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
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

    /// The standard fixture: an API with read:data and delete:documents, and an application
    /// granted read:data.
    pub async fn with_worker(&self) -> (String, String) {
        self.create_api(API, &["read:data", "delete:documents"], None)
            .await;
        self.create_app(&[(API, &["read:data"])]).await
    }

    pub async fn token_json(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn token_form(&self, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .form(pairs)
            .send()
            .await
            .unwrap()
    }

    /// A token for `client`, asserting success.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = self
            .token_json(&json!({
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "audience": API,
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

    /// A management request with `token`; returns status and JSON body (Null when empty).
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

    /// Stops the server (draining in-flight requests) and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
        self.dir
    }
}

/// A client-credentials request body for [`API`], with `scope` when given.
pub fn token_request(client_id: &str, secret: &str, scope: Option<&str>) -> Value {
    let mut body = json!({
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": API,
    });
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    body
}

/// Verifies a token with jsonwebtoken, an implementation independent of Warrant's, against the
/// served JWKS; returns the claims.
pub async fn verify_independently(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.clone().unwrap();
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
    data.claims
}

/// How many requests an audit event stands for (aggregated refusals: more than one).
pub fn event_count(event: &Value) -> u64 {
    event["details"]["count"].as_u64().unwrap_or(1)
}

/// Waits until the audit log holds events of `kind` for at least `n` requests (the writer is
/// asynchronous, and writes refusals aggregated: see [`event_count`]).
pub async fn logs_of(app: &TestApp, token: &str, kind: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = app
            .mgmt(
                reqwest::Method::GET,
                &format!("/logs?type={kind}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let events = body.as_array().unwrap().clone();
        if events.iter().map(event_count).sum::<u64>() >= n as u64 || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
