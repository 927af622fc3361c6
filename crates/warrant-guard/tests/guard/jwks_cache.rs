//! The JWKS cache: rotation, floods of unknown key IDs, outages, staleness, max-age, size cap,
//! single flight, and the token cache's purge when a key leaves the JWKS.

use std::time::Duration;

use serde_json::json;
use warrant_guard::{Error, Verifier};
use warrant_testkit::StandIn;

use crate::support::{AUDIENCE, ISSUER, JwksServer, Mode, RsaKey, claims, claims_with};

fn verifier(jwks: &JwksServer) -> warrant_guard::VerifierBuilder {
    Verifier::builder(ISSUER, AUDIENCE).jwks_url(&jwks.url)
}

#[tokio::test]
async fn a_cold_verifier_fetches_once_for_many_concurrent_requests() {
    let key = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let v = verifier(&jwks).build().unwrap();
    let token = key.token(&claims());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let v = v.clone();
            let t = token.clone();
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn a_new_key_is_picked_up_with_one_refetch_and_floods_cause_at_most_one() {
    let k1 = RsaKey::generate("k1");
    let k2 = RsaKey::generate("k2");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks)
        .unknown_kid_cooldown(Duration::from_secs(30))
        .build()
        .unwrap();
    v.verify(&k1.token(&claims())).await.unwrap();
    assert_eq!(jwks.hits(), 1);

    // Rotation: the issuer publishes k2 and signs with it.
    jwks.set_keys(vec![k1.jwk(), k2.jwk()]);
    let claims = v.verify(&k2.token(&claims())).await.unwrap();
    assert_eq!(claims.sub(), "worker@clients");
    assert_eq!(jwks.hits(), 2, "one refetch for the unknown kid");

    // A flood of random kids, concurrently, inside the cooldown: no fetch at all.
    let attacker = RsaKey::generate("x");
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let v = v.clone();
            let t = attacker.token_raw(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("random-{i}")}).to_string(),
                &crate::support::claims().to_string(),
            );
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err(), Error::UnknownKey);
    }
    assert_eq!(jwks.hits(), 2, "no fetches inside the cooldown");
    // Known keys still verify.
    v.verify(&k1.token(&crate::support::claims()))
        .await
        .unwrap();
    assert_eq!(v.jwks_stats().unknown_kid_fetches, 1);
}

#[tokio::test]
async fn after_the_cooldown_a_flood_causes_one_fetch_per_cooldown() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks)
        .unknown_kid_cooldown(Duration::from_millis(300))
        .build()
        .unwrap();
    v.refresh_keys().await.unwrap();
    let attacker = RsaKey::generate("x");
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_millis(1000) {
        let t = attacker.token_raw(
            &json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("r{n}")}).to_string(),
            &claims().to_string(),
        );
        assert_eq!(v.verify(&t).await.unwrap_err(), Error::UnknownKey);
        n += 1;
    }
    let fetches = jwks.hits() - 1;
    // 1 s at one fetch per 300 ms: at most 4, however many requests (n is in the thousands).
    assert!(
        (1..=4).contains(&fetches),
        "{fetches} fetches for {n} requests"
    );
    assert!(n > 100);
}

// Paused time: the verifier's refresh loop runs in this runtime, so its waits pass at once.
#[tokio::test(start_paused = true)]
async fn known_keys_keep_verifying_while_the_jwks_is_down_or_garbage() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    jwks.set_max_age(0);
    let v = verifier(&jwks)
        .refresh_bounds(Duration::from_millis(100), Duration::from_millis(100))
        .build()
        .unwrap();
    let token = k1.token(&claims());
    v.verify(&token).await.unwrap();

    for mode in [Mode::Down, Mode::Garbage] {
        jwks.set_mode(mode);
        let failures_before = v.jwks_stats().failures;
        let hits_before = jwks.hits();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            jwks.hits() > hits_before,
            "the background refresh kept trying"
        );
        assert!(
            v.jwks_stats().failures > failures_before,
            "failures are counted"
        );
        for _ in 0..20 {
            v.verify(&token).await.unwrap();
        }
        jwks.set_mode(Mode::Serve);
    }
}

// Paused time: the verifier's refresh loop runs in this runtime, so its waits pass at once.
#[tokio::test(start_paused = true)]
async fn keys_older_than_the_maximum_staleness_stop_serving() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks)
        .max_staleness(Duration::from_millis(300))
        .build()
        .unwrap();
    let token = k1.token(&claims());
    v.verify(&token).await.unwrap();
    jwks.set_mode(Mode::Down);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(v.verify(&token).await.unwrap_err(), Error::KeysUnavailable);
    jwks.set_mode(Mode::Serve);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.verify(&token).await.unwrap();
}

// Paused time: the verifier's refresh loop runs in this runtime, so its waits pass at once.
#[tokio::test(start_paused = true)]
async fn the_background_refresh_follows_max_age() {
    let k1 = RsaKey::generate("k1");
    let k2 = RsaKey::generate("k2");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    jwks.set_max_age(1);
    let v = verifier(&jwks)
        .refresh_bounds(Duration::from_millis(200), Duration::from_secs(60))
        .build()
        .unwrap();
    v.refresh_keys().await.unwrap();
    jwks.set_keys(vec![k1.jwk(), k2.jwk()]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(jwks.hits() >= 2, "refreshed after max-age");
    v.verify(&k2.token(&claims())).await.unwrap();
    assert_eq!(
        v.jwks_stats().unknown_kid_fetches,
        0,
        "k2 was known before it was used"
    );
}

#[tokio::test]
async fn an_oversized_jwks_is_refused() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks).max_jwks_bytes(100).build().unwrap();
    assert_eq!(v.refresh_keys().await.unwrap_err(), Error::KeysUnavailable);
    assert_eq!(
        v.verify(&k1.token(&claims())).await.unwrap_err(),
        Error::KeysUnavailable
    );
}

#[tokio::test]
async fn the_token_cache_forgets_tokens_whose_key_left_the_jwks() {
    let k1 = RsaKey::generate("k1");
    let k2 = RsaKey::generate("k2");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks)
        .token_cache(1000)
        .unknown_kid_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let old = k1.token(&claims());
    v.verify(&old).await.unwrap();
    v.verify(&old).await.unwrap();

    // k1 is revoked: the JWKS now has only k2. Seeing a k2 token refetches.
    jwks.set_keys(vec![k2.jwk()]);
    v.verify(&k2.token(&claims())).await.unwrap();
    assert_eq!(v.verify(&old).await.unwrap_err(), Error::UnknownKey);
}

#[tokio::test]
async fn cached_tokens_still_expire() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks).token_cache(10).build().unwrap();
    let exp = crate::support::now() + 100;
    let token = k1.token(&claims_with(json!({"exp": exp})));
    v.verify(&token).await.unwrap();
    v.verify_at(&token, exp + 59).await.unwrap();
    assert_eq!(
        v.verify_at(&token, exp + 60).await.unwrap_err(),
        Error::Expired
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_url() {
    let server = warrant_testkit::TestServer::start().await;
    let (issuer, counters) = (
        server.issuer.clone(),
        std::sync::Arc::clone(&server.counters),
    );
    let v = Verifier::builder(&issuer, AUDIENCE)
        .discover()
        .build()
        .unwrap();
    v.refresh_keys().await.unwrap();
    assert_eq!(counters.jwks_requests(), 1);
    assert_eq!(v.jwks_stats().keys, 2, "the current and the next key");

    // Metadata for another issuer is not trusted.
    let wrong = Verifier::builder(issuer.trim_end_matches('/'), AUDIENCE)
        .discover()
        .build()
        .unwrap();
    assert_eq!(
        wrong.refresh_keys().await.unwrap_err(),
        Error::KeysUnavailable
    );
}

/// Polls `verify(token)` until it fails, within `deadline`; returns the error.
async fn refused_within(v: &Verifier, token: &str, deadline: Duration) -> Error {
    let started = tokio::time::Instant::now();
    loop {
        match v.verify(token).await {
            Err(e) => return e,
            Ok(_) => assert!(
                started.elapsed() < deadline,
                "still accepted after {:?}",
                started.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// Paused time: the verifier's refresh loop runs in this runtime, so its waits pass at once.
#[tokio::test(start_paused = true)]
async fn a_withdrawn_key_stays_refused_while_the_jwks_is_down_or_garbage() {
    let k1 = RsaKey::generate("k1");
    let k2 = RsaKey::generate("k2");
    let jwks = JwksServer::start(vec![k1.jwk(), k2.jwk()]).await;
    let v = verifier(&jwks)
        .token_cache(10)
        .refresh_bounds(Duration::from_millis(50), Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    let (old, new) = (k1.token(&claims()), k2.token(&claims()));
    v.verify(&old).await.unwrap();
    v.verify(&old).await.unwrap();

    jwks.set_keys(vec![k2.jwk()]);
    let refused = refused_within(&v, &old, Duration::from_secs(2)).await;
    assert_eq!(refused, Error::UnknownKey);
    // The last keys keep serving through the outage; the withdrawn one does not come back,
    // though the refresh and the unknown-kid refetches keep failing.
    for mode in [Mode::Down, Mode::Garbage] {
        jwks.set_mode(mode);
        let failures = v.jwks_stats().failures;
        let started = tokio::time::Instant::now();
        while started.elapsed() < Duration::from_millis(400) {
            assert_eq!(v.verify(&old).await.unwrap_err(), Error::UnknownKey);
            v.verify(&new).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(v.jwks_stats().failures > failures, "the fetches failed");
    }
}

// Paused time: the verifier's refresh loop runs in this runtime, so its waits pass at once.
#[tokio::test(start_paused = true)]
async fn cached_tokens_stop_with_the_keys_past_the_maximum_staleness() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let v = verifier(&jwks)
        .token_cache(10)
        .max_staleness(Duration::from_millis(300))
        .refresh_bounds(Duration::from_millis(50), Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    let token = k1.token(&claims());
    v.verify(&token).await.unwrap();
    v.verify(&token).await.unwrap();
    jwks.set_mode(Mode::Down);
    let refused = refused_within(&v, &token, Duration::from_secs(2)).await;
    assert_eq!(refused, Error::KeysUnavailable);
}

/// A redirect to another origin would change whose keys are trusted: refused, and nothing is
/// fetched there. Within the origin, a moved JWKS is followed.
#[tokio::test]
async fn jwks_redirects_are_followed_only_within_the_origin() {
    let k1 = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![k1.jwk()]).await;
    let origin = jwks.url.trim_end_matches("/jwks.json");
    for status in [301, 302, 307, 308] {
        let elsewhere = StandIn::redirecting(status, origin, false).await;
        let v = Verifier::builder(ISSUER, AUDIENCE)
            .jwks_url(format!("{}/jwks.json", elsewhere.base))
            .build()
            .unwrap();
        assert_eq!(v.refresh_keys().await.unwrap_err(), Error::KeysUnavailable);
        assert_eq!(
            v.verify(&k1.token(&claims())).await.unwrap_err(),
            Error::KeysUnavailable
        );
        assert!(elsewhere.requests() >= 1);
    }
    assert_eq!(jwks.hits(), 0, "nothing was fetched from the other origin");

    let moved = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(format!("{origin}/moved"))
        .build()
        .unwrap();
    moved.refresh_keys().await.unwrap();
    moved.verify(&k1.token(&claims())).await.unwrap();
    assert_eq!(jwks.hits(), 1);
}
