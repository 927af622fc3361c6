//! DPoP at the token endpoint (RFC 9449 §5): a request with a proof gets a token bound to the
//! proof's key (`token_type: "DPoP"`, `cnf.jkt`); a bad proof gets 400 `invalid_dpop_proof`
//! before anything is signed; discovery names the proof algorithms; the audit log says which
//! tokens are bound.

use serde_json::{Value, json};
use warrant_client::DpopKey;

use crate::support::{API, TestServer, logs_of, spawn_app, verify_independently};

async fn token_request(
    app: &TestServer,
    id: &str,
    secret: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.token_endpoint()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("audience", API),
    ]);
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.send().await.unwrap()
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
