//! The classic flow from the seed documents, run unchanged: Python httpx fetches a token and
//! PyJWT's `PyJWKClient` + `jwt.decode` validate it. Skipped (and said so) where Python lacks
//! PyJWT; CI installs it.

use std::process::Command;

use crate::helpers::{API, spawn_app};

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

fn python_with_pyjwt() -> bool {
    Command::new("python3")
        .args(["-c", "import jwt, httpx, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn the_seed_python_flow_accepts_warrant_tokens() {
    if !python_with_pyjwt() {
        if std::env::var_os("CI").is_some() {
            panic!("CI must install PyJWT, httpx and cryptography (see .ci/run)");
        }
        eprintln!(
            "SKIPPED: python3 with PyJWT/httpx/cryptography not found (pip install 'pyjwt[crypto]' httpx)"
        );
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
