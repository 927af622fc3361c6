//! Tokens from the real Warrant server, started in-process, verify; the verifier's JWKS
//! requests are counted at the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warrant_guard::{Error, Verifier};
use warrant_server::admin::Admin;
use warrant_server::clock::SystemClock;
use warrant_server::keys::MasterKey;
use warrant_testkit::TestServer;

const API: &str = "https://api.example.com";
const OTHER: &str = "https://other.example.com";

struct Running {
    server: TestServer,
    client_id: String,
    secret: String,
}

impl std::ops::Deref for Running {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

async fn start() -> Running {
    let server = TestServer::start().await;
    for identifier in [API, OTHER] {
        server
            .create_api(identifier, &["read:data", "delete:documents"], None)
            .await;
    }
    let (client_id, secret) = server
        .create_app(&[(API, &["read:data"]), (OTHER, &["read:data"])])
        .await;
    Running {
        server,
        client_id,
        secret,
    }
}

async fn token(server: &Running, audience: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", server.base))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": server.client_id,
                      "client_secret": server.secret, "audience": audience}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn warrant_tokens_verify_and_the_jwks_is_fetched_once() {
    let server = start().await;
    let verifier = Verifier::new(&server.issuer, API).unwrap();
    let token = token(&server, API).await;
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.sub(), format!("{}@clients", server.client_id));
    assert_eq!(claims.client_id(), Some(server.client_id.as_str()));
    assert!(claims.has_scope("read:data"));
    assert!(!claims.has_scope("delete:documents"));
    assert_eq!(claims.get("gty"), Some(&json!("client-credentials")));

    for _ in 0..50 {
        verifier.verify(&token).await.unwrap();
    }
    assert_eq!(
        server.counters.jwks_requests(),
        1,
        "known keys need no fetch"
    );
    let other = crate::support::RsaKey::generate("unknown");
    for i in 0..200 {
        let forged = other.token_raw(
            &json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("kid-{i}")}).to_string(),
            &json!({"iss": server.issuer, "aud": API, "sub": "x", "exp": crate::support::now() + 60}).to_string(),
        );
        assert_eq!(
            verifier.verify(&forged).await.unwrap_err(),
            Error::UnknownKey
        );
    }
    assert_eq!(
        server.counters.jwks_requests(),
        2,
        "the first fetch and one refetch: 200 unknown key IDs inside one cooldown"
    );

    // A token for another API of the same server is refused.
    let other_token = self::token(&server, OTHER).await;
    assert_eq!(
        verifier.verify(&other_token).await.unwrap_err(),
        Error::WrongAudience
    );
    // A verifier configured without the trailing slash refuses: iss is compared exactly.
    let sloppy = Verifier::builder(server.issuer.trim_end_matches('/'), API)
        .jwks_url(format!("{}/.well-known/jwks.json", server.base))
        .build()
        .unwrap();
    assert_eq!(sloppy.verify(&token).await.unwrap_err(), Error::WrongIssuer);
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// `warrant keys rotate`, then `warrant keys revoke KID`, through the same service the CLI and
/// the management API use: the server withdraws the key from its JWKS (max-age=300), and the
/// guard refuses its tokens, cached ones included, within its refresh interval, not max-age.
#[tokio::test]
async fn a_revoked_key_stops_verifying_within_the_refresh_interval() {
    let server = start().await;
    let interval = Duration::from_millis(200);
    let verifier = Verifier::builder(&server.issuer, API)
        .token_cache(100)
        .refresh_bounds(Duration::from_millis(50), interval)
        .build()
        .unwrap();
    let old = token(&server, API).await;
    verifier.verify(&old).await.unwrap();
    verifier.verify(&old).await.unwrap();
    let kid = kid_of(&old);

    let admin = Admin::with_master_key(
        server.admin.store().clone(),
        Arc::new(SystemClock),
        Arc::new(MasterKey::load(None, server.data_dir()).unwrap()),
    );
    admin.rotate_keys(None).await.unwrap();
    admin.revoke_key(&kid).await.unwrap();
    let jwks_url = format!("{}/.well-known/jwks.json", server.base);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let jwks: Value = reqwest::get(&jwks_url).await.unwrap().json().await.unwrap();
        if !jwks.to_string().contains(&kid) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server still publishes {kid}"
        );
        // Real time under test: the server withdraws the key within its poll.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let withdrawn = Instant::now();
    // One refresh interval, plus the time a fetch takes on a busy machine.
    let deadline = withdrawn + interval + Duration::from_secs(1);
    loop {
        match verifier.verify(&old).await {
            Err(Error::UnknownKey) => break,
            Ok(_) => assert!(
                Instant::now() < deadline,
                "a token of the revoked key still verifies {:?} after its withdrawal",
                withdrawn.elapsed()
            ),
            Err(other) => panic!("{other:?}"),
        }
        // Real time under test: the verifier's refresh interval.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fresh = token(&server, API).await;
    assert_ne!(kid_of(&fresh), kid);
    verifier.verify(&fresh).await.unwrap();
    assert_eq!(
        verifier.verify(&old).await.unwrap_err(),
        Error::UnknownKey,
        "and it stays refused"
    );
}

/// An API whose tokens are signed with ES256, EdDSA or PS256: the guard, configured for that
/// algorithm (its default allowlist is RS256 only, and stays so), verifies them through the
/// rotation of that algorithm's keys, and refuses them once their key is revoked; a guard left
/// on the default refuses them for their algorithm.
#[tokio::test]
async fn tokens_of_every_algorithm_verify_with_the_guard_configured_for_it() {
    use warrant_guard::Algorithm;
    use warrant_server::domain::SigningAlg;

    let server = TestServer::start().await;
    let admin = Admin::with_master_key(
        server.admin.store().clone(),
        Arc::new(SystemClock),
        Arc::new(MasterKey::load(None, server.data_dir()).unwrap()),
    );
    for (i, (alg, guard_alg)) in [
        (SigningAlg::ES256, Algorithm::ES256),
        (SigningAlg::EdDSA, Algorithm::EdDSA),
        (SigningAlg::PS256, Algorithm::PS256),
    ]
    .into_iter()
    .enumerate()
    {
        let audience = format!("https://api{i}.example.com");
        server
            .create_api_signed(&audience, &["read:data"], None, Some(alg))
            .await;
        let (client_id, secret) = server.create_app(&[(&audience, &["read:data"])]).await;
        let token = server.token_for(&client_id, &secret, &audience).await;
        let header: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.split('.').next().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], alg.as_str());

        let verifier = Verifier::builder(&server.issuer, &audience)
            .algorithms(&[guard_alg])
            .refresh_bounds(Duration::from_millis(10), Duration::from_millis(100))
            .build()
            .unwrap();
        let claims = verifier.verify(&token).await.unwrap();
        assert!(claims.has_scope("read:data"), "{alg:?}");
        let default = Verifier::new(&server.issuer, &audience).unwrap();
        assert_eq!(
            default.verify(&token).await.unwrap_err(),
            Error::AlgorithmNotAllowed,
            "{alg:?}"
        );

        // Rotate this algorithm's keys: the new token is signed by the next key (published
        // in advance), the old one still verifies; then revoke the old key.
        let old_kid = kid_of(&token);
        let rotated = admin.rotate_keys(Some(alg)).await.unwrap();
        assert_eq!(rotated.len(), 1);
        assert_eq!(rotated[0].alg, alg);
        server.sync().await;
        let newer = server.token_for(&client_id, &secret, &audience).await;
        assert_eq!(kid_of(&newer), rotated[0].kid, "{alg:?}");
        verifier.verify(&newer).await.unwrap();
        verifier.verify(&token).await.unwrap();
        admin.revoke_key(&old_kid).await.unwrap();
        server.sync().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match verifier.verify(&token).await {
                Err(Error::UnknownKey) => break,
                other => assert!(
                    Instant::now() < deadline,
                    "{alg:?}: the revoked key's token still verifies: {other:?}"
                ),
            }
            // Real time under test: the guard's refresh interval (100 ms).
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        verifier.verify(&newer).await.unwrap();
    }
}
