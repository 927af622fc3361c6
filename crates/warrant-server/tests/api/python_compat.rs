//! The classic flow from the seed documents, run unchanged: Python httpx fetches a token and
//! PyJWT's `PyJWKClient` + `jwt.decode` validate it. Skipped (and said so) where Python lacks
//! PyJWT; CI installs it.

use std::process::Command;

use crate::helpers::{API, spawn_app, spawn_tls};

const SEED_FLOW: &str = r#"
import os, httpx, jwt
from jwt import PyJWKClient

issuer = os.environ["ISSUER"]
response = httpx.post(
    issuer + "oauth/token",
    json={
        "client_id": os.environ["CLIENT_ID"],
        "client_secret": os.environ["CLIENT_SECRET"],
        "audience": os.environ["AUDIENCE"],
        "grant_type": "client_credentials",
    },
)
token = response.json()["access_token"]
jwks_client = PyJWKClient(issuer + ".well-known/jwks.json")
signing_key = jwks_client.get_signing_key_from_jwt(token)
payload = jwt.decode(
    token, signing_key.key, algorithms=["RS256"],
    audience=os.environ["AUDIENCE"], issuer=issuer,
)
scopes = payload.get("scope", "").split()
assert "read:data" in scopes, scopes
assert payload["sub"] == os.environ["CLIENT_ID"] + "@clients"
print("PYJWT_OK")
"#;

fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the Python packages are there; in CI they must be.
fn python_ready(modules: &str, install: &str) -> bool {
    if python_has(modules) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI must install {install} (see .ci/run)");
    }
    eprintln!("SKIPPED: python3 lacks {modules} (pip install {install})");
    false
}

#[tokio::test]
async fn the_seed_python_flow_accepts_warrant_tokens() {
    if !python_ready("jwt, httpx, cryptography", "'pyjwt[crypto]' httpx") {
        return;
    }
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let issuer = app.issuer.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", SEED_FLOW])
            .env("ISSUER", issuer)
            .env("CLIENT_ID", id)
            .env("CLIENT_SECRET", secret)
            .env("AUDIENCE", API)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python failed: {stderr}");
    assert!(stdout.contains("PYJWT_OK"), "{stdout}");
}

/// Auth0's own SDK, unchanged but for the domain, over TLS: `tests/compat/auth0_sdk.py`.
#[tokio::test]
async fn the_auth0_python_sdk_manages_and_gets_tokens_over_tls() {
    if !python_ready("auth0.management", "auth0-python") {
        return;
    }
    let app = spawn_tls().await;
    let domain = app
        .issuer
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let ca = app.data_dir().join("tls/ca.pem");
    let (id, secret) = app.mgmt_client.clone();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/auth0_sdk.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("DOMAIN", domain)
            .env("ADMIN_CLIENT_ID", id)
            .env("ADMIN_CLIENT_SECRET", secret)
            .env("SSL_CERT_FILE", &ca)
            .env("REQUESTS_CA_BUNDLE", &ca)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Auth0 SDK failed: {stderr}");
    assert!(stdout.contains("AUTH0_SDK_OK"), "{stdout}");
}

#[tokio::test]
async fn https_serves_the_flow_and_plain_http_gets_nothing() {
    let app = spawn_tls().await;
    assert!(app.issuer.starts_with("https://127.0.0.1:"));
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;
    let claims = crate::helpers::verify_independently(&app, &token, API).await;
    assert_eq!(claims["iss"], app.issuer);
    let plain = app.base.replacen("https://", "http://", 1);
    let refused = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err() || !refused.unwrap().status().is_success());
}
