//! The worker against the real server and the example API, both in-process: many calls, one
//! token fetch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warrant_guard::Verifier;
use warrant_guard::axum::GuardLayer;
use warrant_testkit::{SigningAlg, TestServer};

const API: &str = "https://api.example.com";

#[tokio::test]
async fn many_calls_one_token_fetch() {
    many_calls(SigningAlg::RS256).await;
}

/// The worker needs no change for an API with ES256 tokens; the API's guard is told the
/// algorithm.
#[tokio::test]
async fn many_calls_one_token_fetch_with_es256_tokens() {
    many_calls(SigningAlg::ES256).await;
}

#[tokio::test]
async fn many_calls_one_token_fetch_with_eddsa_tokens() {
    many_calls(SigningAlg::EdDSA).await;
}

async fn many_calls(alg: SigningAlg) {
    let server = TestServer::start().await;
    server
        .create_api_signed(API, &["read:data"], None, Some(alg))
        .await;
    let (client_id, secret) = server.create_app(&[(API, &["read:data"])]).await;
    let (issuer, counters) = (
        server.issuer.clone(),
        std::sync::Arc::clone(&server.counters),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/internal/data", listener.local_addr().unwrap());
    let verifier = Verifier::builder(&issuer, API)
        .algorithms(&internal_api::algorithms(alg.as_str()).unwrap())
        .build()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, internal_api::app(verifier)).await });

    let settings = worker::Settings {
        issuer: Some(issuer),
        token_url: None,
        client_id,
        credential: worker::Credential::Secret(secret.into()),
        audience: API.into(),
        api_url,
        interval: Duration::from_millis(10),
        dpop: false,
    };
    let summary = worker::run(&settings, Some(50)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (50, 0));
    assert_eq!(counters.token_requests(), 1, "one fetch for 50 calls");
    assert!(summary.provider.stats().cache_hits >= 49);
}

/// `WARRANT_DPOP=1` in the worker against the example API with `WARRANT_DPOP=required`: a
/// DPoP-bound token, a fresh proof on every call, still one token fetch.
#[tokio::test]
async fn with_dpop_every_call_carries_a_proof() {
    let server = TestServer::start().await;
    server.create_api(API, &["read:data"], None).await;
    let (client_id, secret) = server.create_app(&[(API, &["read:data"])]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let verifier = Verifier::builder(&server.issuer, API)
        .token_cache(100)
        .build()
        .unwrap();
    let guard = GuardLayer::new(verifier).require_dpop().public_url(&base);
    tokio::spawn(async move { axum::serve(listener, internal_api::app_with(guard)).await });

    let mut settings = worker::Settings {
        issuer: Some(server.issuer.clone()),
        token_url: None,
        client_id,
        credential: worker::Credential::Secret(secret.into()),
        audience: API.into(),
        api_url: format!("{base}/internal/data"),
        interval: Duration::from_millis(10),
        dpop: false,
    };
    // Without DPoP, the API refuses every call.
    let summary = worker::run(&settings, Some(2)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (0, 2));
    settings.dpop = true;
    let summary = worker::run(&settings, Some(20)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (20, 0));
    assert_eq!(summary.provider.stats().token_requests, 1);
    assert!(summary.provider.token().await.unwrap().is_dpop());
}

/// `WARRANT_PRIVATE_KEY_FILE` instead of a secret: the worker signs an assertion per token
/// request (one, for many calls); `WARRANT_ASSERTION_FILE`: it sends the file's assertion.
#[tokio::test]
async fn without_a_secret_from_a_key_or_an_assertion_file() {
    let server = TestServer::start().await;
    server.create_api(API, &["read:data"], None).await;
    let (client_id, _secret) = server.create_app(&[(API, &["read:data"])]).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("worker.pem");
    std::fs::write(&key_file, warrant_testkit::private_key_pem("ES256")).unwrap();
    let key = warrant_client::ClientKey::from_pem_file(&key_file).unwrap();
    server
        .add_public_key(&client_id, "ES256", &key.public_key_pem().unwrap())
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/internal/data", listener.local_addr().unwrap());
    let verifier = Verifier::builder(&server.issuer, API).build().unwrap();
    tokio::spawn(async move { axum::serve(listener, internal_api::app(verifier)).await });

    let mut settings = worker::Settings {
        issuer: Some(server.issuer.clone()),
        token_url: None,
        client_id: client_id.clone(),
        credential: worker::Credential::PrivateKey(key_file),
        audience: API.into(),
        api_url,
        interval: Duration::from_millis(10),
        dpop: false,
    };
    let summary = worker::run(&settings, Some(20)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (20, 0));
    assert_eq!(summary.provider.stats().token_requests, 1);

    let assertion_file = dir.path().join("token");
    std::fs::write(
        &assertion_file,
        key.assertion(&client_id, &server.issuer).unwrap(),
    )
    .unwrap();
    settings.credential =
        worker::Credential::AssertionFile(assertion_file, warrant_client::AssertionType::JwtBearer);
    let summary = worker::run(&settings, Some(5)).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (5, 0));
}
