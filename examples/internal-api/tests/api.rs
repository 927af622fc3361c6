//! The example API against the real Warrant server, both in-process: 200 with a token, 403 on
//! the delete without the scope, 401 with a tampered token or none; DPoP required, with and
//! without nonces (`WARRANT_DPOP`, `WARRANT_DPOP_NONCE_SECRET`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warrant_client::{AuthorizedClient, TokenProvider};
use warrant_guard::Verifier;
use warrant_guard::axum::GuardLayer;
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

/// `WARRANT_DPOP=required`, without and with `WARRANT_DPOP_NONCE_SECRET`: a bearer token is
/// refused with a `DPoP` challenge; warrant-client's DPoP client gets through, with nonces after
/// being asked for one, and only then does every answer carry a fresh `DPoP-Nonce`.
#[tokio::test]
async fn dpop_required_without_and_with_nonces() {
    let server = TestServer::start().await;
    server.create_api(API, &["read:data"], None).await;
    let (id, secret) = server.create_app(&[(API, &["read:data"])]).await;
    let http = reqwest::Client::new();
    let bearer = server.token_for(&id, &secret, API).await;
    for nonce_secret in [None, Some("the same 32 bytes on every node")] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        let verifier = Verifier::builder(&server.issuer, API).build().unwrap();
        let guard = GuardLayer::new(verifier).public_url(&api);
        let (guard, how) = internal_api::with_dpop(guard, Some("required"), nonce_secret).unwrap();
        let expected = match nonce_secret {
            None => "required",
            Some(_) => "required, with nonces",
        };
        assert_eq!(how, expected);
        tokio::spawn(async move { axum::serve(listener, internal_api::app_with(guard)).await });
        let url = format!("{api}/internal/data");

        let refused = http.get(&url).bearer_auth(&bearer).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{how}");
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("DPoP realm=\"internal-api\""),
            "{challenge}"
        );

        let provider = TokenProvider::builder()
            .issuer(&server.issuer)
            .client_id(&id)
            .client_secret(secret.as_str())
            .audience(API)
            .dpop()
            .build()
            .unwrap();
        let client = AuthorizedClient::new(reqwest::Client::new(), provider);
        for _ in 0..2 {
            let answer = client.send(client.get(&url)).await.unwrap();
            assert_eq!(answer.status(), 200, "{how}");
            assert_eq!(
                answer.headers().contains_key("dpop-nonce"),
                nonce_secret.is_some(),
                "{how}"
            );
        }
    }
}

#[test]
fn dpop_switches_say_what_is_wrong() {
    let guard = || {
        GuardLayer::new(
            Verifier::builder("https://auth.example.com/", API)
                .build()
                .unwrap(),
        )
    };
    let refused = |mode: Option<&str>, secret: Option<&str>| {
        internal_api::with_dpop(guard(), mode, secret)
            .err()
            .unwrap()
    };
    assert!(refused(Some("sometimes"), None).contains("required or optional"));
    let long = Some("a secret of at least sixteen bytes");
    assert!(refused(None, long).contains("set WARRANT_DPOP"));
    assert!(refused(Some(""), long).contains("set WARRANT_DPOP"));
    assert!(refused(Some("optional"), Some("short")).contains("at least 16 bytes"));
    for (mode, secret, how) in [
        (None, None, "off"),
        (Some(""), Some(""), "off"),
        (Some("optional"), None, "optional"),
        (Some("optional"), long, "optional, with nonces"),
    ] {
        let (_, told) = internal_api::with_dpop(guard(), mode, secret).unwrap();
        assert_eq!(told, how);
    }
}
