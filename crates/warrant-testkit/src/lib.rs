//! A real Warrant server, started in-process on `127.0.0.1:0` with a temporary data directory,
//! and the APIs and applications a test needs. For the tests of the crates around the server
//! (client, guard, examples); the server's own tests have their own helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warrant_server::Server;
use warrant_server::admin::{Admin, GrantSpec, NewApi};
use warrant_server::clock::SystemClock;
use warrant_server::config::Config;
use warrant_server::directory::Directory;
use warrant_server::domain::Scope;
use warrant_server::http::RequestCounters;

/// A running server. Dropping it stops nothing: call [`stop`](Self::stop) to shut it down.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The issuer, with its trailing slash.
    pub issuer: String,
    pub counters: Arc<RequestCounters>,
    pub admin: Admin,
    directory: Arc<Directory>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::bind(Config::new("127.0.0.1:0".parse().unwrap(), dir.path()))
            .await
            .unwrap();
        let admin = Admin::new(server.directory().store().clone(), Arc::new(SystemClock));
        let base = format!("http://{}", server.local_addr());
        let issuer = server.issuer().to_owned();
        let counters = server.counters();
        let directory = Arc::clone(server.directory());
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(server.serve(async {
            let _ = rx.await;
        }));
        Self {
            base,
            issuer,
            counters,
            admin,
            directory,
            stop: Some(tx),
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.base)
    }

    /// Creates an API with these scopes; visible to the token endpoint at once.
    pub async fn api(&self, identifier: &str, scopes: &[&str], token_lifetime: Option<u32>) {
        self.admin
            .create_api(NewApi {
                identifier: identifier.into(),
                name: "Test API".into(),
                scopes: scopes
                    .iter()
                    .map(|v| Scope {
                        value: (*v).into(),
                        description: String::new(),
                    })
                    .collect(),
                token_lifetime,
                signing_alg: None,
            })
            .await
            .unwrap();
        self.directory.reload().await.unwrap();
    }

    /// Creates an application with these grants (audience, scopes); returns its client ID and
    /// secret. Visible to the token endpoint at once.
    pub async fn app(&self, grants: &[(&str, &[&str])]) -> (String, String) {
        let created = self
            .admin
            .create_application(
                "worker".into(),
                String::new(),
                grants
                    .iter()
                    .map(|(audience, scopes)| GrantSpec {
                        audience: (*audience).into(),
                        scopes: scopes.iter().map(|s| (*s).into()).collect(),
                    })
                    .collect(),
            )
            .await
            .unwrap();
        self.directory.reload().await.unwrap();
        (
            created.application.client_id,
            created.secret.expose().to_owned(),
        )
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
}
