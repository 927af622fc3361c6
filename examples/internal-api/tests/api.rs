//! The example API against the real Warrant server, both in-process: 200 with a token, 403 on
//! the delete without the scope, 401 with a tampered token or none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warrant_guard::Verifier;
use warrant_testkit::{SigningAlg, TestServer};

const API: &str = "https://api.example.com";

#[tokio::test]
async fn the_classic_flow() {
    classic_flow(SigningAlg::RS256).await;
}

/// The same API with ES256 tokens, the guard told so (`WARRANT_ALGORITHMS=ES256`).
#[tokio::test]
async fn the_classic_flow_with_es256_tokens() {
    classic_flow(SigningAlg::ES256).await;
}

/// The same API with EdDSA (Ed25519) tokens.
#[tokio::test]
async fn the_classic_flow_with_eddsa_tokens() {
    classic_flow(SigningAlg::EdDSA).await;
}

#[test]
fn algorithms_are_named_exactly() {
    assert_eq!(internal_api::algorithms(" ES256, EdDSA").unwrap().len(), 2);
    assert!(internal_api::algorithms("es256").is_err());
    assert!(internal_api::algorithms("").is_err());
}

async fn classic_flow(alg: SigningAlg) {
    let server = TestServer::start().await;
    server
        .create_api_signed(API, &["read:data", "delete:documents"], None, Some(alg))
        .await;
    let creds = [
        server.create_app(&[(API, &["read:data"])]).await,
        server
            .create_app(&[(API, &["read:data", "delete:documents"])])
            .await,
    ];
    let (base, issuer) = (server.base.clone(), server.issuer.clone());

    let verifier = Verifier::builder(&issuer, API)
        .algorithms(&internal_api::algorithms(alg.as_str()).unwrap())
        .token_cache(100)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, internal_api::app(verifier)).await });

    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for (id, secret) in &creds {
        let body: Value = http
            .post(format!("{base}/oauth/token"))
            .json(
                &json!({"client_id": id, "client_secret": secret, "audience": API,
                          "grant_type": "client_credentials"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    let (reader, deleter) = (&tokens[0], &tokens[1]);

    let get = |token: Option<String>| {
        let mut r = http.get(format!("{api}/internal/data"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let ok = get(Some(reader.clone())).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"data": "sensitive internal data"})
    );

    let none = get(None).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"internal-api\""
    );

    // The README's forgery, `${TOKEN%??????????}AAAAAAAAAA`: the end of the signature replaced.
    let tampered = format!("{}AAAAAAAAAA", &reader[..reader.len() - 10]);
    let bad = get(Some(tampered)).await.unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.headers()["www-authenticate"],
        "Bearer realm=\"internal-api\", error=\"invalid_token\", \
         error_description=\"the token signature is invalid\""
    );

    let delete = |token: &str| {
        http.delete(format!("{api}/internal/documents/42"))
            .bearer_auth(token)
            .send()
    };
    let forbidden = delete(reader).await.unwrap();
    assert_eq!(forbidden.status(), 403);
    let challenge = forbidden.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"internal-api\", error=\"insufficient_scope\"")
            && challenge.contains("scope=\"delete:documents\""),
        "{challenge}"
    );
    let deleted = delete(deleter).await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        deleted.json::<Value>().await.unwrap(),
        json!({"deleted": "42"})
    );

    let health = http.get(format!("{api}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
