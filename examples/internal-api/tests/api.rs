//! The example API against the real Warrant server, both in-process: 200 with a token, 403 on
//! the delete without the scope, 401 with a tampered token or none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::{Value, json};
use warrant_guard::Verifier;
use warrant_server::Server;
use warrant_server::admin::{Admin, GrantSpec, NewApi};
use warrant_server::clock::SystemClock;
use warrant_server::config::Config;
use warrant_server::domain::Scope;

const API: &str = "https://api.example.com";

#[tokio::test]
async fn the_classic_flow() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::bind(Config::new("127.0.0.1:0".parse().unwrap(), dir.path()))
        .await
        .unwrap();
    let admin = Admin::new(server.directory().store().clone(), Arc::new(SystemClock));
    admin
        .create_api(NewApi {
            identifier: API.into(),
            name: "Internal API".into(),
            scopes: ["read:data", "delete:documents"]
                .map(|v| Scope {
                    value: v.into(),
                    description: String::new(),
                })
                .to_vec(),
            token_lifetime: None,
            signing_alg: None,
        })
        .await
        .unwrap();
    let mut creds = Vec::new();
    for scopes in [vec!["read:data"], vec!["read:data", "delete:documents"]] {
        let created = admin
            .create_application(
                "worker".into(),
                String::new(),
                vec![GrantSpec {
                    audience: API.into(),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                }],
            )
            .await
            .unwrap();
        creds.push((
            created.application.client_id,
            created.secret.expose().to_owned(),
        ));
    }
    server.directory().reload().await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let issuer = server.issuer().to_owned();
    tokio::spawn(server.serve(std::future::pending()));

    let verifier = Verifier::builder(&issuer, API)
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

    // Flip one character of the signature.
    let mut tampered = reader.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let bad = get(Some(String::from_utf8(tampered).unwrap()))
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let delete = |token: &str| {
        http.delete(format!("{api}/internal/documents/42"))
            .bearer_auth(token)
            .send()
    };
    let forbidden = delete(reader).await.unwrap();
    assert_eq!(forbidden.status(), 403);
    assert!(
        forbidden.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"delete:documents\"")
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
