//! The worker against the real server and the example API, both in-process: many calls, one
//! token fetch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warrant_guard::Verifier;
use warrant_testkit::TestServer;

const API: &str = "https://api.example.com";

#[tokio::test]
async fn many_calls_one_token_fetch() {
    let server = TestServer::start().await;
    server.create_api(API, &["read:data"], None).await;
    let (client_id, secret) = server.create_app(&[(API, &["read:data"])]).await;
    let (issuer, counters) = (
        server.issuer.clone(),
        std::sync::Arc::clone(&server.counters),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/internal/data", listener.local_addr().unwrap());
    let verifier = Verifier::new(&issuer, API).unwrap();
    tokio::spawn(async move { axum::serve(listener, internal_api::app(verifier)).await });

    let settings = worker::Settings {
        issuer: Some(issuer),
        token_url: None,
        client_id,
        client_secret: secret.into(),
        audience: API.into(),
        api_url,
        interval: Duration::from_millis(10),
    };
    let summary = worker::run(&settings, Some(50)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (50, 0));
    assert_eq!(counters.token_requests(), 1, "one fetch for 50 calls");
    assert!(summary.provider.stats().cache_hits >= 49);
}
