//! What the stories share: servers started through `warrant-testkit` with the defaults these
//! tests want, and checks on tokens and the audit log. The dashboard's sign-in and forms are in
//! [`dashboard`]; the small WebDriver client of the browser tests in [`webdriver`]; client
//! assertions (keys, servers on either engine, the exchange, a refusal's check) in
//! [`assertions`]; the local OpenID issuer of the federation stories in [`issuer`].

pub mod assertions;
pub mod dashboard;
pub mod issuer;
pub mod webdriver;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use warrant_server::StartError;
use warrant_server::clock::Clock;
use warrant_server::config::{Config, Secret};
pub use warrant_testkit::{API, PgDatabase, TestServer};

/// An initialized server (the management API and its admin application) on a fresh data
/// directory.
pub async fn spawn_app() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    spawn_in(dir, None).await.unwrap()
}

/// Starts a server on an existing data directory (for restarts), optionally with a master key.
pub async fn spawn_in(dir: TempDir, master_key: Option<&str>) -> Result<TestServer, StartError> {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.master_key = master_key.map(Secret::new);
    // Refusals are written aggregated once an interval: tests read them within moments.
    config.audit.refusal_interval = Duration::from_millis(100);
    spawn_with(dir, config).await
}

/// The storage engines a story runs on.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// A fresh database for this engine: none for SQLite, whose data directory holds it.
    pub async fn database(self) -> Option<PgDatabase> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some(PgDatabase::create().await),
        }
    }
}

/// The master key servers on a shared PostgreSQL database are given.
pub const PG_MASTER_KEY: &str = "c2hhcmVkIG1hc3RlciBrZXkgZm9yIHRoZSBkZXBsb3k=";

/// Starts (or restarts, on the same `dir` and `db`) an initialized server: on `db`, or on
/// SQLite in `dir` without one. Its issuer is a deployment's, the same at every start (a
/// server's own address would change with its port, and the management API's with it).
pub async fn spawn_on(dir: TempDir, db: Option<&PgDatabase>) -> TestServer {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.issuer = Some("https://auth.example.com/".to_owned());
    config.audit.refusal_interval = Duration::from_millis(100);
    if let Some(db) = db {
        config.database_url = Some(Secret::new(db.url.clone()));
        config.master_key = Some(Secret::new(PG_MASTER_KEY));
    }
    spawn_with(dir, config).await.unwrap()
}

/// Starts a server serving HTTPS with a self-signed certificate; its `http` trusts its CA.
pub async fn spawn_tls() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.tls = Some(warrant_server::tls::TlsSource::SelfSigned);
    spawn_with(dir, config).await.unwrap()
}

/// An initialized server with this configuration, on `dir` (which it keeps).
pub async fn spawn_with(dir: TempDir, config: Config) -> Result<TestServer, StartError> {
    TestServer::builder()
        .dir(dir)
        .config(config)
        .initialized()
        .start()
        .await
}

/// As [`spawn_with`], on the clock `clock` (its `admin` too), for tests that move time.
pub async fn spawn_with_clock(
    dir: TempDir,
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<TestServer, StartError> {
    TestServer::builder()
        .dir(dir)
        .config(config)
        .clock(clock)
        .initialized()
        .start()
        .await
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
pub async fn verify_independently(app: &TestServer, token: &str, audience: &str) -> Value {
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

/// The audit log's events of `kind`, once the server stored every event recorded so far;
/// asserts that they stand for at least `n` requests (refusals are written aggregated: see
/// [`event_count`]).
pub async fn logs_of(app: &TestServer, token: &str, kind: &str, n: usize) -> Vec<Value> {
    app.background.flush_audit().await;
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
    assert!(
        events.iter().map(event_count).sum::<u64>() >= n as u64,
        "fewer than {n} {kind} requests in {events:?}"
    );
    events
}
