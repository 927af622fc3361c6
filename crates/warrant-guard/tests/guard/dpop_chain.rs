//! The whole chain with DPoP, through real HTTP: warrant-client gets a DPoP-bound token from
//! the real server and calls an API guarded by warrant-guard, with a fresh proof per call.

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use warrant_client::{AuthorizedClient, DpopKey, TokenProvider};
use warrant_guard::axum::GuardLayer;
use warrant_guard::{Claims, DpopNonces, Verifier};
use warrant_testkit::TestServer;

const API: &str = "https://api.example.com";

#[tokio::test]
async fn client_server_and_guard_work_together_with_dpop() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.with_worker().await;
    let verifier = Verifier::builder(&server.issuer, API)
        .token_cache(100)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route(
            "/internal/data",
            get(|claims: Claims| async move { claims.sub().to_owned() }),
        )
        .layer(GuardLayer::new(verifier).require_dpop().public_url(&api));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("{api}/internal/data");

    for key in [None, Some(DpopKey::generate_ed25519().unwrap())] {
        let builder = TokenProvider::builder()
            .issuer(&server.issuer)
            .client_id(&client_id)
            .client_secret(secret.as_str())
            .audience(API);
        let provider = match key {
            None => builder.dpop(),
            Some(key) => builder.dpop_key(key),
        }
        .build()
        .unwrap();
        let client = AuthorizedClient::new(reqwest::Client::new(), provider.clone());
        for _ in 0..3 {
            let response = client.send(client.get(&url)).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.text().await.unwrap(),
                format!("{client_id}@clients")
            );
        }
        assert_eq!(provider.stats().token_requests, 1, "one token, many proofs");
        let token = provider.token().await.unwrap();
        assert!(token.is_dpop());

        // The token alone is worthless: as Bearer, or with a proof from another key.
        let http = reqwest::Client::new();
        let response = http
            .get(&url)
            .bearer_auth(token.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("DPoP ")
        );
        let thief = DpopKey::generate_es256().unwrap();
        let response = http
            .get(&url)
            .header("authorization", format!("DPoP {}", token.as_str()))
            .header(
                "dpop",
                thief.proof("GET", &url, Some(token.as_str())).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof");
        // A proof captured on the way is spent.
        let own = provider.dpop_key().unwrap();
        let proof = own.proof("GET", &url, Some(token.as_str())).unwrap();
        let send = || {
            http.get(&url)
                .header("authorization", format!("DPoP {}", token.as_str()))
                .header("dpop", &proof)
                .send()
        };
        assert_eq!(send().await.unwrap().status(), 200);
        assert_eq!(send().await.unwrap().status(), 401);
    }
}

/// With nonces at both ends (the server's, RFC 9449 §8; the API's, §9), warrant-client is asked
/// for one by each and retries once with it.
#[tokio::test]
async fn client_server_and_guard_work_together_with_nonces_at_both_ends() {
    let dir = warrant_testkit::tempfile::tempdir().unwrap();
    let mut config =
        warrant_server::config::Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.dpop_nonces = true;
    let server = TestServer::builder().config(config).start().await.unwrap();
    let (client_id, secret) = server.with_worker().await;
    let verifier = Verifier::builder(&server.issuer, API).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let nonces = DpopNonces::new(&[3u8; 32], DpopNonces::DEFAULT_LIFETIME).unwrap();
    let app = Router::new()
        .route(
            "/internal/data",
            get(|claims: Claims| async move { claims.sub().to_owned() }),
        )
        .layer(
            GuardLayer::new(verifier)
                .require_dpop()
                .dpop_nonces(nonces)
                .public_url(&api),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("{api}/internal/data");

    let provider = TokenProvider::builder()
        .issuer(&server.issuer)
        .client_id(&client_id)
        .client_secret(secret.as_str())
        .audience(API)
        .dpop()
        .build()
        .unwrap();
    let client = AuthorizedClient::new(reqwest::Client::new(), provider.clone());
    for _ in 0..3 {
        let response = client.send(client.get(&url)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("dpop-nonce"));
    }
    assert!(provider.token().await.unwrap().is_dpop());
    drop(dir);
}
