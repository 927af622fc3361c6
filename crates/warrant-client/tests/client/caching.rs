use std::time::{Duration, Instant};

use warrant_client::{AuthMethod, TokenProvider};

use crate::support::{API, OTHER, claims, start, unix_now};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_on_a_cold_cache_cause_one_request() {
    let server = start(None).await;
    let provider = server.provider().build().unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move { p.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap());
    }
    assert_eq!(server.counters.token_requests(), 1);
    assert!(tokens.iter().all(|t| t.same_as(&tokens[0])));
    assert_eq!(provider.stats().token_requests, 1);
    // Warm: no further requests.
    for _ in 0..100 {
        provider.token().await.unwrap();
    }
    assert_eq!(server.counters.token_requests(), 1);
    assert!(provider.stats().cache_hits >= 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_refreshed_ahead_and_never_served_expired() {
    // 3 s tokens: refreshed at half-life (1.5 s), so ~5 requests in 7 s.
    let server = start(Some(3)).await;
    let provider = server.provider().build().unwrap();
    let started = Instant::now();
    let mut distinct: Vec<String> = Vec::new();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(7) {
        let asked = Instant::now();
        let token = provider.token().await.unwrap();
        if !distinct.is_empty() {
            slowest = slowest.max(asked.elapsed());
        }
        let exp = claims(token.as_str())["exp"].as_f64().unwrap();
        assert!(unix_now() < exp, "served an expired token");
        if distinct.last().map(String::as_str) != Some(token.as_str()) {
            distinct.push(token.as_str().to_owned());
        }
        // Real time under test: token expiry is in wall-clock seconds.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests = server.counters.token_requests();
    assert!((4..=6).contains(&requests), "{requests} requests");
    assert_eq!(distinct.len() as u64, requests);
    // Refreshes happen in the background: callers never wait for a fetch once warm.
    assert!(
        slowest < Duration::from_millis(100),
        "a caller waited {slowest:?}"
    );
}

#[tokio::test]
async fn one_provider_serves_several_apis_and_scopes() {
    let server = start(None).await;
    let provider = server
        .provider()
        .auth_method(AuthMethod::ClientSecretBasic)
        .scopes(["read:data"])
        .build()
        .unwrap();
    let a = provider.token().await.unwrap();
    assert_eq!(a.scope(), Some("read:data"));
    let b = provider.token_for(OTHER, &[]).await.unwrap();
    assert_eq!(claims(b.as_str())["aud"], OTHER);
    assert_eq!(b.scope(), Some("read:data write:data"));
    let c = provider.token_for(OTHER, &["write:data"]).await.unwrap();
    assert_eq!(c.scope(), Some("write:data"));
    // Each is cached under its own key.
    provider.token_for(OTHER, &["write:data"]).await.unwrap();
    provider.token().await.unwrap();
    assert_eq!(server.counters.token_requests(), 3);
    assert_eq!(claims(a.as_str())["aud"], API);
}

#[tokio::test]
async fn the_token_endpoint_is_discovered_from_the_issuer() {
    let server = start(None).await;
    let provider = TokenProvider::builder()
        .issuer(&server.issuer)
        .client_id(&server.client_id)
        .client_secret(server.secret.clone())
        .audience(API)
        .build()
        .unwrap();
    let token = provider.token().await.unwrap();
    assert_eq!(claims(token.as_str())["iss"], server.issuer);
}

#[tokio::test]
async fn invalidate_forces_a_new_token() {
    let server = start(None).await;
    let provider = server.provider().build().unwrap();
    let first = provider.token().await.unwrap();
    provider.invalidate();
    let second = provider.token().await.unwrap();
    assert!(!first.same_as(&second));
    assert_eq!(server.counters.token_requests(), 2);
    // Invalidating a stale handle leaves the fresh token alone.
    provider.invalidate_token(&first);
    assert!(provider.token().await.unwrap().same_as(&second));
}
