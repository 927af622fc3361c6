use std::sync::Arc;

use warrant_client::TokenProvider;
use warrant_server::Server;
use warrant_server::admin::{Admin, GrantSpec, NewApi};
use warrant_server::clock::SystemClock;
use warrant_server::config::Config;
use warrant_server::domain::Scope;
use warrant_server::http::RequestCounters;

pub const API: &str = "https://api.example.com";
pub const OTHER: &str = "https://other.example.com";

pub struct TestServer {
    pub base: String,
    pub issuer: String,
    pub counters: Arc<RequestCounters>,
    pub client_id: String,
    pub secret: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// A Warrant server with two APIs (`API` with the given token lifetime) and one application
/// granted `read:data` on both.
pub async fn start(lifetime: Option<u32>) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::bind(Config::new("127.0.0.1:0".parse().unwrap(), dir.path()))
        .await
        .unwrap();
    let admin = Admin::new(server.directory().store().clone(), Arc::new(SystemClock));
    for (identifier, lifetime) in [(API, lifetime), (OTHER, None)] {
        admin
            .create_api(NewApi {
                identifier: identifier.into(),
                name: "API".into(),
                scopes: ["read:data", "write:data"]
                    .map(|v| Scope {
                        value: v.into(),
                        description: String::new(),
                    })
                    .to_vec(),
                token_lifetime: lifetime,
                signing_alg: None,
            })
            .await
            .unwrap();
    }
    let created = admin
        .create_application(
            "worker".into(),
            String::new(),
            [API, OTHER]
                .map(|aud| GrantSpec {
                    audience: aud.into(),
                    scopes: vec!["read:data".into(), "write:data".into()],
                })
                .to_vec(),
        )
        .await
        .unwrap();
    server.directory().reload().await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let running = TestServer {
        base: format!("http://{}", server.local_addr()),
        issuer: server.issuer().to_owned(),
        counters: server.counters(),
        client_id: created.application.client_id,
        secret: created.secret.expose().to_owned(),
        stop: Some(tx),
        handle: None,
        _dir: dir,
    };
    let handle = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    TestServer {
        handle: Some(handle),
        ..running
    }
}

impl TestServer {
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.base)
    }

    pub fn provider(&self) -> warrant_client::TokenProviderBuilder {
        TokenProvider::builder()
            .token_endpoint(self.token_endpoint())
            .client_id(&self.client_id)
            .client_secret(self.secret.as_str())
            .audience(API)
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }
}

/// The claims of a JWT, decoded without verification (the tests only read `exp` and `aud`).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
