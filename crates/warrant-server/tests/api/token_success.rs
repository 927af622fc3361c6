use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::{API, spawn_app, verify_independently};

fn assert_no_store(response: &reqwest::Response) {
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

#[tokio::test]
async fn json_body_post_auth_gives_a_token_an_independent_library_accepts() {
    let app = spawn_app().await;
    let (client_id, secret) = app.with_worker().await;
    let response = app
        .token_json(&json!({
            "client_id": client_id,
            "client_secret": secret,
            "audience": API,
            "grant_type": "client_credentials",
        }))
        .await;
    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["scope"], "read:data");
    let token = body["access_token"].as_str().unwrap();

    let claims = verify_independently(&app, token, API).await;
    let expected_keys = [
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "jti",
        "client_id",
        "azp",
        "scope",
        "gty",
    ];
    let object = claims.as_object().unwrap();
    assert_eq!(object.len(), expected_keys.len(), "claims: {claims}");
    for key in expected_keys {
        assert!(object.contains_key(key), "missing {key}");
    }
    assert_eq!(claims["iss"], app.issuer);
    assert!(app.issuer.ends_with('/'));
    assert_eq!(claims["sub"], format!("{client_id}@clients"));
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["azp"], client_id);
    assert_eq!(claims["scope"], "read:data");
    assert_eq!(claims["gty"], "client-credentials");
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 86400);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
}

#[tokio::test]
async fn form_body_and_basic_auth_work_and_jtis_differ() {
    let app = spawn_app().await;
    let (client_id, secret) = app.with_worker().await;

    let form = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("audience", API),
        ])
        .await;
    assert_eq!(form.status(), 200);
    assert_no_store(&form);
    let form: Value = form.json().await.unwrap();

    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    let basic = STANDARD.encode(format!("{client_id}:{secret}"));
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials"), ("resource", API)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let basic_body: Value = response.json().await.unwrap();

    let a = verify_independently(&app, form["access_token"].as_str().unwrap(), API).await;
    let b = verify_independently(&app, basic_body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(a["sub"], b["sub"]);
    assert_ne!(a["jti"], b["jti"]);
}

#[tokio::test]
async fn scope_down_scopes_and_absent_scope_gives_all_granted() {
    let app = spawn_app().await;
    app.create_api(
        API,
        &["read:data", "write:data", "delete:documents"],
        Some(600),
    )
    .await;
    let (client_id, secret) = app.create_app(&[(API, &["read:data", "write:data"])]).await;
    let ask = |scope: Option<&str>| crate::support::token_request(&client_id, &secret, scope);
    let all: Value = app.token_json(&ask(None)).await.json().await.unwrap();
    assert_eq!(all["scope"], "read:data write:data");
    assert_eq!(all["expires_in"], 600);

    let one: Value = app
        .token_json(&ask(Some("write:data")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["scope"], "write:data");
    let claims = verify_independently(&app, one["access_token"].as_str().unwrap(), API).await;
    assert_eq!(claims["scope"], "write:data");
}

#[tokio::test]
async fn a_grant_without_scopes_gives_a_token_without_scope_claim() {
    let app = spawn_app().await;
    app.create_api(API, &["read:data"], None).await;
    let (client_id, secret) = app.create_app(&[(API, &[])]).await;
    let token = app.token(&client_id, &secret).await;
    let claims = verify_independently(&app, &token, API).await;
    assert!(claims.get("scope").is_none());
}

#[tokio::test]
async fn jwks_publishes_only_public_parts_with_cache_control() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("max-age="), "{cache}");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // The next key is published before it signs, then the current one.
    assert_eq!(keys.len(), 2);
    for key in keys {
        let key = key.as_object().unwrap();
        let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
        members.sort_unstable();
        // x5c/x5t: the key's self-signed certificate (public), as Auth0 publishes it.
        assert_eq!(
            members,
            ["alg", "e", "kid", "kty", "n", "use", "x5c", "x5t"]
        );
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(key["n"].as_str().unwrap().len(), 342);
    }
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
}

#[tokio::test]
async fn discovery_documents_point_at_the_endpoints() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let meta: Value = app
            .http
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["issuer"], app.issuer);
        assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", app.base));
        // RFC 8414 §2: REQUIRED, and strict validators (Authlib's) refuse it empty.
        assert_eq!(meta["response_types_supported"], json!(["none"]), "{meta}");
        assert!(meta.get("authorization_endpoint").is_none(), "{meta}");
        assert_eq!(
            meta["jwks_uri"],
            format!("{}/.well-known/jwks.json", app.base)
        );
        assert_eq!(meta["grant_types_supported"], json!(["client_credentials"]));
        assert_eq!(
            meta["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_post",
                "client_secret_basic",
                "private_key_jwt"
            ])
        );
        assert_eq!(
            meta["token_endpoint_auth_signing_alg_values_supported"],
            json!(["RS256", "RS384", "PS256", "ES256", "EdDSA"])
        );
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let live = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["signing_key"], "ok");
}
