//! The worker against the real server and the example API, both in-process: many calls, one
//! token fetch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use warrant_guard::Verifier;
use warrant_server::Server;
use warrant_server::admin::{Admin, GrantSpec, NewApi};
use warrant_server::clock::SystemClock;
use warrant_server::config::Config;
use warrant_server::domain::Scope;

const API: &str = "https://api.example.com";

#[tokio::test]
async fn many_calls_one_token_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::bind(Config::new("127.0.0.1:0".parse().unwrap(), dir.path()))
        .await
        .unwrap();
    let admin = Admin::new(server.directory().store().clone(), Arc::new(SystemClock));
    admin
        .create_api(NewApi {
            identifier: API.into(),
            name: "Internal API".into(),
            scopes: vec![Scope {
                value: "read:data".into(),
                description: String::new(),
            }],
            token_lifetime: None,
            signing_alg: None,
        })
        .await
        .unwrap();
    let created = admin
        .create_application(
            "worker".into(),
            String::new(),
            vec![GrantSpec {
                audience: API.into(),
                scopes: vec!["read:data".into()],
            }],
        )
        .await
        .unwrap();
    server.directory().reload().await.unwrap();
    let issuer = server.issuer().to_owned();
    let counters = server.counters();
    tokio::spawn(server.serve(std::future::pending()));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/internal/data", listener.local_addr().unwrap());
    let verifier = Verifier::new(&issuer, API).unwrap();
    tokio::spawn(async move { axum::serve(listener, internal_api::app(verifier)).await });

    let settings = worker::Settings {
        issuer: Some(issuer),
        token_url: None,
        client_id: created.application.client_id,
        client_secret: created.secret.expose().into(),
        audience: API.into(),
        api_url,
        interval: Duration::from_millis(10),
    };
    let summary = worker::run(&settings, Some(50)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (50, 0));
    assert_eq!(counters.token_requests(), 1, "one fetch for 50 calls");
    assert!(summary.provider.stats().cache_hits >= 49);
}
