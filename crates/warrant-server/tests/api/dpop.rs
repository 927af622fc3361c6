//! DPoP at the token endpoint (RFC 9449 §5): a request with a proof gets a token bound to the
//! proof's key (`token_type: "DPoP"`, `cnf.jkt`); a bad proof gets 400 `invalid_dpop_proof`
//! before anything is signed; discovery names the proof algorithms; the audit log says which
//! tokens are bound.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use warrant_client::DpopKey;
use warrant_server::clock::{Clock, ManualClock, SystemClock};
use warrant_server::config::Config;

use crate::support::{
    API, TestServer, logs_of, spawn_app, spawn_with, spawn_with_clock, verify_independently,
};

/// An ES256 key that signs proofs with the claims a test chooses (a nonce, an `iat`).
pub(crate) struct ProofSigner(EcdsaKeyPair);

impl ProofSigner {
    pub(crate) fn new() -> Self {
        Self(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    pub(crate) fn proof(&self, url: &str, nonce: Option<&str>, iat: u64) -> String {
        let point = self.0.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])});
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let mut claims = json!({"htm": "POST", "htu": url, "iat": iat,
            "jti": URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256,
                format!("{iat}{nonce:?}{}", rand_u64()).as_bytes()))});
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.0.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

fn proof_with_nonce(key: &ProofSigner, url: &str, nonce: &str) -> String {
    key.proof(url, Some(nonce), SystemClock.now())
}

fn proof_at(key: &ProofSigner, url: &str, nonce: &str, iat: u64) -> String {
    key.proof(url, Some(nonce), iat)
}

async fn token_request(
    app: &TestServer,
    id: &str,
    secret: &str,
    proofs: &[&str],
) -> reqwest::Response {
    token_request_for(app, id, secret, API, proofs).await
}

#[tokio::test]
async fn a_proof_gets_a_token_bound_to_its_key() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    for key in [
        DpopKey::generate_es256().unwrap(),
        DpopKey::generate_ed25519().unwrap(),
    ] {
        let proof = key.proof("POST", &app.token_endpoint(), None).unwrap();
        let response = token_request(&app, &id, &secret, &[&proof]).await;
        assert_eq!(response.status(), 200, "{}", key.alg());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP");
        let claims = verify_independently(&app, body["access_token"].as_str().unwrap(), API).await;
        assert_eq!(claims["cnf"], json!({"jkt": key.jkt()}));

        // The same proof again is a replay.
        let again = token_request(&app, &id, &secret, &[&proof]).await;
        assert_eq!(again.status(), 400);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert_eq!(
            body["error_description"],
            "the DPoP proof has been used before"
        );
    }
    // Without a proof: a bearer token, bound to nothing.
    let response = token_request(&app, &id, &secret, &[]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let claims = verify_independently(&app, body["access_token"].as_str().unwrap(), API).await;
    assert!(claims.get("cnf").is_none());

    let metadata: Value = reqwest::get(app.url("/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "PS256", "RS256"])
    );

    let admin = app.admin_token().await;
    let issued = logs_of(&app, &admin, "seccft", 3).await;
    let bound = issued
        .iter()
        .filter(|e| e["description"] == "Client Credentials for Access Token (DPoP-bound)")
        .count();
    assert_eq!(bound, 2, "{issued:?}");
}

#[tokio::test]
async fn bad_proofs_are_refused_and_only_authenticated_requests_spend_a_proof() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let key = DpopKey::generate_es256().unwrap();
    let endpoint = app.token_endpoint();
    let other_host = endpoint.replace("127.0.0.1", "localhost");
    let good = key.proof("POST", &endpoint, None).unwrap();
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "proof for GET",
            vec![key.proof("GET", &endpoint, None).unwrap()],
            "htm",
        ),
        (
            "proof for another URL",
            vec![key.proof("POST", &app.url("/oauth/other"), None).unwrap()],
            "htu",
        ),
        (
            "proof for another host",
            vec![key.proof("POST", &other_host, None).unwrap()],
            "htu",
        ),
        (
            "two proofs",
            vec![good.clone(), key.proof("POST", &endpoint, None).unwrap()],
            "exactly one DPoP header",
        ),
        ("not a JWS", vec!["garbage".into()], "malformed"),
        (
            "a token where the proof goes",
            vec![app.token(&id, &secret).await],
            "public key in jwk",
        ),
    ];
    for (what, proofs, description) in cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let response = token_request(&app, &id, &secret, &proofs).await;
        assert_eq!(response.status(), 400, "{what}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{what}");
        let said = body["error_description"].as_str().unwrap();
        assert!(said.contains(description), "{what}: {said}");
    }
    // A wrong secret with a good proof: invalid_client, and the proof is not spent...
    let response = token_request(&app, &id, "not-the-secret", &[&good]).await;
    assert_eq!(response.status(), 401);
    // ...so the client itself can still use it.
    let response = token_request(&app, &id, &secret, &[&good]).await;
    assert_eq!(response.status(), 200);
}

/// A token request for `audience` with the client's secret and `proofs`.
async fn token_request_for(
    app: &TestServer,
    id: &str,
    secret: &str,
    audience: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.token_endpoint()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("audience", audience),
    ]);
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_api_that_requires_dpop_refuses_tokens_without_a_proof() {
    const STRICT: &str = "https://strict.example.com";
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let post = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            app.mgmt(
                reqwest::Method::POST,
                "/resource-servers",
                Some(admin),
                Some(&body),
            )
            .await
        }
    };
    // Auth0's other mechanism is refused with the reason, and so is anything else.
    let (status, body) = post(json!({"identifier": STRICT,
        "proof_of_possession": {"mechanism": "mtls", "required": true}}))
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("mtls") && message.contains("DPoP"),
        "{message}"
    );
    for bad in [
        json!({"mechanism": "DPoP", "required": true}),
        json!({"mechanism": "dpop"}),
        json!({"mechanism": "dpop", "required": "yes"}),
        json!({"mechanism": "dpop", "required": true, "extra": 1}),
    ] {
        let (status, body) = post(json!({"identifier": STRICT, "proof_of_possession": bad})).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, created) = post(
        json!({"identifier": STRICT, "scopes": [{"value": "read:data"}],
        "proof_of_possession": {"mechanism": "dpop", "required": true}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["proof_of_possession"],
        json!({"mechanism": "dpop", "required": true})
    );
    let (id, secret) = app.create_app(&[(STRICT, &["read:data"])]).await;

    // Without a proof: refused, as a missing parameter (RFC 9449 keeps invalid_dpop_proof for
    // proofs that are there and wrong).
    let response = token_request_for(&app, &id, &secret, STRICT, &[]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let said = body["error_description"].as_str().unwrap();
    assert!(said.contains("requires DPoP-bound tokens"), "{said}");
    // A wrong secret learns nothing about the API's settings.
    let response = token_request_for(&app, &id, "wrong", STRICT, &[]).await;
    assert_eq!(response.status(), 401);
    // With a proof: a bound token.
    let key = DpopKey::generate_es256().unwrap();
    let proof = key.proof("POST", &app.token_endpoint(), None).unwrap();
    let response = token_request_for(&app, &id, &secret, STRICT, &[&proof]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    // The refusal is in the audit log.
    let failed = logs_of(&app, &admin, "feccft", 1).await;
    assert!(
        failed.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.contains("requires DPoP-bound tokens"))),
        "{failed:?}"
    );

    // Optional: a client chooses; null removes the setting.
    let path = format!("/resource-servers/{}", created["id"].as_str().unwrap());
    let patch = |body: Value| {
        let (app, admin, path) = (&app, &admin, &path);
        async move {
            app.mgmt(reqwest::Method::PATCH, path, Some(admin), Some(&body))
                .await
        }
    };
    let (status, body) = patch(json!({"proof_of_possession":
        {"mechanism": "dpop", "required": false}}))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["proof_of_possession"]["required"], false);
    let response = token_request_for(&app, &id, &secret, STRICT, &[]).await;
    assert_eq!(response.status(), 200);
    let (status, body) =
        patch(json!({"proof_of_possession": {"mechanism": "mtls", "required": false}})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = patch(json!({"proof_of_possession": null})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("proof_of_possession").is_none(), "{body}");
    let (status, body) = app
        .mgmt(reqwest::Method::GET, &path, Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    assert!(body.get("proof_of_possession").is_none(), "{body}");
    // Required again, through the same PATCH: read by the token endpoint at once.
    let (status, _) =
        patch(json!({"proof_of_possession": {"mechanism": "dpop", "required": true}})).await;
    assert_eq!(status, 200);
    let response = token_request_for(&app, &id, &secret, STRICT, &[]).await;
    assert_eq!(response.status(), 400);
}

/// A server with these DPoP settings, on the clock given.
async fn spawn_dpop(
    nonces: bool,
    window: Option<u64>,
    clock: Arc<dyn warrant_server::clock::Clock>,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.dpop_nonces = nonces;
    if let Some(window) = window {
        config.dpop_iat_window = Duration::from_secs(window);
    }
    spawn_with_clock(dir, config, clock).await.unwrap()
}

#[tokio::test]
async fn server_nonces_are_asked_for_handed_out_and_expire() {
    let now = SystemClock.now();
    let clock = Arc::new(ManualClock::new(now));
    let app = spawn_dpop(true, None, clock.clone()).await;
    let (id, secret) = app.with_worker().await;
    let key = ProofSigner::new();
    let endpoint = app.token_endpoint();

    // No nonce: 400 use_dpop_nonce, with one to use.
    let proof = key.proof(&endpoint, None, now);
    let response = token_request(&app, &id, &secret, &[&proof]).await;
    assert_eq!(response.status(), 400);
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");
    // A bearer request is not asked for one.
    let response = token_request(&app, &id, &secret, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("dpop-nonce").is_none());

    // With it: a bound token, and a nonce for next time.
    let with_nonce = |nonce: &str| proof_at(&key, &endpoint, nonce, now);
    let response = token_request(&app, &id, &secret, &[&with_nonce(&nonce)]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("dpop-nonce"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    // A made-up nonce is not one.
    let response =
        token_request(&app, &id, &secret, &[&with_nonce("AAAAAAAAAAAAAAAAAAAAAA")]).await;
    assert_eq!(response.status(), 400);
    // The nonce works through the next window, not after.
    clock.advance(60);
    let response = token_request(
        &app,
        &id,
        &secret,
        &[&proof_at(&key, &endpoint, &nonce, clock.now())],
    )
    .await;
    assert_eq!(response.status(), 200);
    clock.advance(60);
    let response = token_request(
        &app,
        &id,
        &secret,
        &[&proof_at(&key, &endpoint, &nonce, clock.now())],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");

    // warrant-client retries once with the nonce it was given.
    clock.set(SystemClock.now());
    let provider = warrant_client::TokenProvider::builder()
        .issuer(&app.issuer)
        .client_id(&id)
        .client_secret(secret.as_str())
        .audience(API)
        .dpop()
        .build()
        .unwrap();
    let token = provider.token().await.unwrap();
    assert!(token.is_dpop());
}

#[tokio::test]
async fn instances_with_one_master_key_accept_each_others_nonces() {
    let master = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let start = |master: &'static str| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
        config.dpop_nonces = true;
        config.master_key = Some(warrant_server::config::Secret::new(master));
        spawn_with(dir, config).await.unwrap()
    };
    let (a, b) = (start(master).await, start(master).await);
    let other = start("f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").await;
    let key = ProofSigner::new();
    let proof = key.proof(&a.token_endpoint(), None, SystemClock.now());
    let (id, secret) = a.with_worker().await;
    let response = token_request(&a, &id, &secret, &[&proof]).await;
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    for (server, accepted) in [(&b, true), (&other, false)] {
        let (id, secret) = server.with_worker().await;
        let proof = proof_with_nonce(&key, &server.token_endpoint(), &nonce);
        let response = token_request(server, &id, &secret, &[&proof]).await;
        assert_eq!(response.status().is_success(), accepted);
    }
}

#[tokio::test]
async fn the_iat_window_is_configurable() {
    let now = SystemClock.now();
    // The server's clock 30 s ahead of the client's.
    let ahead = || Arc::new(ManualClock::new(now + 30)) as Arc<dyn warrant_server::clock::Clock>;
    for (window, accepted) in [(None, true), (Some(10), false)] {
        let app = spawn_dpop(false, window, ahead()).await;
        let (id, secret) = app.with_worker().await;
        let key = DpopKey::generate_es256().unwrap();
        let proof = key.proof("POST", &app.token_endpoint(), None).unwrap();
        let response = token_request(&app, &id, &secret, &[&proof]).await;
        assert_eq!(response.status().is_success(), accepted, "{window:?}");
        if !accepted {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error_description"], "the DPoP proof is too old");
        }
    }
}
