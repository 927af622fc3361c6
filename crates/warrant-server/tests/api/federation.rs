//! Workload identity federation through real HTTP, on both engines: a local issuer on
//! 127.0.0.1 (its own keys, discovery document and JWKS) mints Kubernetes-, GitHub-Actions- and
//! SPIFFE-shaped tokens, which applications exchange for Warrant tokens as their client
//! assertion; every refusal says what was wrong without echoing the assertion; the audit log
//! records the method, the credential, the issuer and the subject.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warrant_server::clock::{Clock, ManualClock};
use warrant_server::config::{Config, Secret};
use warrant_testkit::TestServer;

use crate::support::assertions::{
    ClientKey, JWT_BEARER, JWT_SPIFFE, assert_invalid_client, start, with_assertion,
};
use crate::support::issuer::{LocalIssuer, jwk, kubernetes};
use crate::support::{API, Engine, PG_MASTER_KEY, logs_of, spawn_with_clock, verify_independently};

async fn post(app: &TestServer, token: &str, path: &str, body: Value) -> (u16, Value) {
    app.mgmt(Method::POST, path, Some(token), Some(&body)).await
}

/// A GitHub Actions OIDC token's claims.
fn github(issuer: &str, repository: &str, owner_id: &str, now: u64) -> Value {
    json!({
        "iss": issuer, "aud": "https://github.com/acme",
        "sub": format!("repo:{repository}:ref:refs/heads/main"),
        "ref": "refs/heads/main", "repository": repository,
        "repository_owner": "acme", "repository_owner_id": owner_id,
        "workflow": "deploy", "event_name": "push", "run_id": "1234", "jti": "gh-1",
        "iat": now, "nbf": now, "exp": now + 300
    })
}

async fn federation_end_to_end(engine: Engine) {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(engine, Arc::clone(&clock), true).await;
    let issuer = LocalIssuer::start().await;
    let spire = LocalIssuer::start().await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data"], None).await;
    let (client_id, _) = app.create_app(&[(API, &["read:data"])]).await;
    let creds = format!("/clients/{client_id}/federated-credentials");

    // The trusted issuers: one by discovery (RS256 only), a SPIFFE trust domain whose keys
    // come from a JWKS URL.
    let (status, trusted) = post(
        &app,
        t,
        "/trusted-issuers",
        json!({"issuer": issuer.base, "name": "cluster", "algorithms": ["RS256"],
            "max_assertion_lifetime": 3600}),
    )
    .await;
    assert_eq!(status, 201, "{trusted}");
    assert_eq!(trusted["key_source"], "discovery");
    assert_eq!(trusted["algorithms"], json!(["RS256"]));
    let (status, again) = post(&app, t, "/trusted-issuers", json!({"issuer": issuer.base})).await;
    assert_eq!(status, 409, "{again}");
    let (status, spiffe) = post(
        &app,
        t,
        "/trusted-issuers",
        json!({"issuer": "spiffe://prod.acme", "jwks_uri": format!("{}/.well-known/jwks", spire.base),
            "algorithms": ["ES256"], "max_assertion_lifetime": 300}),
    )
    .await;
    assert_eq!(status, 201, "{spiffe}");
    let (status, list) = app
        .mgmt(Method::GET, "/trusted-issuers", Some(t), None)
        .await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 2));

    // The bindings: a Kubernetes service account, GitHub repositories of one owner on main,
    // SPIFFE workloads of one namespace.
    let (status, k8s) = post(
        &app,
        t,
        &creds,
        json!({"issuer": issuer.base, "subject": "system:serviceaccount:payments:worker"}),
    )
    .await;
    assert_eq!(status, 201, "{k8s}");
    assert!(k8s["id"].as_str().unwrap().starts_with("fed_"));
    assert_eq!(k8s["issuer"], issuer.base.as_str());
    assert!(
        k8s.get("audience").is_none(),
        "default: Warrant's issuer URL"
    );
    let (status, gh) = post(
        &app,
        t,
        &creds,
        json!({"issuer": trusted["id"], "subject": "repo:acme/*:ref:refs/heads/main",
            "audience": "https://github.com/acme", "conditions": {"repository_owner_id": "123"}}),
    )
    .await;
    assert_eq!(status, 201, "{gh}");
    assert_eq!(gh["conditions"], json!({"repository_owner_id": "123"}));
    let (status, svid) = post(
        &app,
        t,
        &creds,
        json!({"issuer": "spiffe://prod.acme", "subject": "spiffe://prod.acme/ns/payments/sa/*"}),
    )
    .await;
    assert_eq!(status, 201, "{svid}");

    // Broad bindings need confirmation; an unknown issuer and a used issuer's removal are
    // refused with what to do.
    for subject in ["*", "system:serviceaccount:payments:default"] {
        let (status, body) = post(
            &app,
            t,
            &creds,
            json!({"issuer": issuer.base, "subject": subject}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("confirm_broad_subject"),
            "{body}"
        );
    }
    let (status, broad) = post(
        &app,
        t,
        &creds,
        json!({"issuer": issuer.base, "subject": "system:serviceaccount:payments:default",
            "confirm_broad_subject": true}),
    )
    .await;
    assert_eq!(status, 201, "{broad}");
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("{creds}/{}", broad["id"].as_str().unwrap()),
            Some(t),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = post(
        &app,
        t,
        &creds,
        json!({"issuer": "https://nobody.example", "subject": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let trusted_id = trusted["id"].as_str().unwrap();
    let (status, body) = app
        .mgmt(
            Method::DELETE,
            &format!("/trusted-issuers/{trusted_id}"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Kubernetes: the projected token, audience Warrant's issuer, exchanged (twice: platform
    // tokens are reused until they expire, without jti).
    let now = clock.now();
    let k8s_token = issuer.mint(&kubernetes(&issuer.base, &app.issuer, "worker", now));
    for _ in 0..2 {
        let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &k8s_token).await;
        assert_eq!(status, 200, "{body}");
        let claims = verify_independently(&app, body["access_token"].as_str().unwrap(), API).await;
        assert_eq!(claims["sub"], format!("{client_id}@clients"));
        assert_eq!(claims["scope"], "read:data");
    }
    // GitHub Actions: a repository of the owner, on main.
    let gh_token = issuer.mint(&github(&issuer.base, "acme/api", "123", now));
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &gh_token).await;
    assert_eq!(status, 200, "{body}");
    // SPIFFE: a JWT-SVID (no iss: its trust domain picks the trusted issuer), jwt-spiffe.
    let svid = spire.mint_es256(&json!({"sub": "spiffe://prod.acme/ns/payments/sa/worker",
        "aud": [app.issuer.as_str()], "iat": now, "exp": now + 300}));
    let (status, body) = with_assertion(&app, JWT_SPIFFE, Some(&client_id), &svid).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = with_assertion(&app, JWT_SPIFFE, None, &svid).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_id is required")
    );

    // Every refusal, in words.
    let mut claims = kubernetes(&issuer.base, "https://elsewhere.example", "worker", now);
    let token = issuer.mint(&claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "aud",
        &token,
    );
    claims = kubernetes(&issuer.base, &app.issuer, "worker", now - 7200);
    let token = issuer.mint(&claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "expired",
        &token,
    );
    claims = kubernetes(&issuer.base, &app.issuer, "worker", now);
    claims["exp"] = json!(now + 7200);
    let token = issuer.mint(&claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "lifetime",
        &token,
    );
    let claims = kubernetes(&issuer.base, &app.issuer, "worker", now);
    let token = issuer.mint_es256(&claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "alg is not allowed",
        &token,
    );
    let token = issuer
        .rsa
        .sign(&json!({"alg": "RS256", "kid": "rotated-away"}), &claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "kid",
        &token,
    );
    let token = issuer.mint(&kubernetes(&issuer.base, &app.issuer, "intruder", now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "sub matches no",
        &token,
    );
    let token = issuer.mint(&github(&issuer.base, "acme/api", "999", now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "the assertion does not match any federated credential of this client",
        &token,
    );
    let token = issuer.mint(&github(&issuer.base, "acme/api:x", "123", now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "sub matches no",
        &token,
    );
    let mut claims = kubernetes("https://untrusted.example", &app.issuer, "worker", now);
    let token = issuer.mint(&claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "not a trusted issuer",
        &token,
    );
    claims["iss"] = json!(issuer.base);
    claims.as_object_mut().unwrap().remove("exp");
    let token = issuer.mint(&claims);
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "no exp",
        &token,
    );

    // Past the failure budget of 127.0.0.1: time passes, the budget refills.
    clock.advance(120);
    let now = clock.now();

    // The credential's expiry.
    let k8s_path = format!("{creds}/{}", k8s["id"].as_str().unwrap());
    let (status, body) = app
        .mgmt(
            Method::PATCH,
            &k8s_path,
            Some(t),
            Some(&json!({"expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = issuer.mint(&kubernetes(&issuer.base, &app.issuer, "worker", now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "credential expired",
        &token,
    );
    let (status, _) = app
        .mgmt(
            Method::PATCH,
            &k8s_path,
            Some(t),
            Some(&json!({"expires_at": null})),
        )
        .await;
    assert_eq!(status, 200);

    // The issuer's JWKS down: the cached keys keep serving.
    issuer.set_down(true);
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await;
    assert_eq!(status, 200, "served stale: {body}");
    issuer.set_down(false);
    assert!(issuer.fetches.load(Ordering::SeqCst) >= 1);

    // An issuer whose keys were never reachable: a clear refusal.
    let (status, gone) = post(
        &app,
        t,
        "/trusted-issuers",
        json!({"issuer": "https://gone.example", "jwks_uri": "http://127.0.0.1:9/keys"}),
    )
    .await;
    assert_eq!(status, 201, "{gone}");
    let (status, _) = post(
        &app,
        t,
        &creds,
        json!({"issuer": "https://gone.example", "subject": "w"}),
    )
    .await;
    assert_eq!(status, 201);
    let token = issuer.mint(&json!({"iss": "https://gone.example", "sub": "w",
        "aud": app.issuer, "iat": now, "exp": now + 60}));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &token).await,
        "the trusted issuer's keys cannot be fetched",
        &token,
    );

    // The audit log: how each client authenticated.
    let events = logs_of(&app, t, "seccft", 4).await;
    let federated: Vec<&Value> = events
        .iter()
        .filter(|e| e["details"]["client_authentication"]["method"] == "federated")
        .collect();
    assert!(federated.len() >= 4, "{events:?}");
    let auth = &federated
        .iter()
        .find(|e| e["details"]["client_authentication"]["credential_id"] == k8s["id"])
        .unwrap()["details"]["client_authentication"];
    assert_eq!(auth["issuer"], issuer.base.as_str());
    assert_eq!(auth["subject"], "system:serviceaccount:payments:worker");
    assert!(federated.iter().any(|e| {
        e["details"]["client_authentication"]["issuer"] == "spiffe://prod.acme"
            && e["details"]["client_authentication"]["subject"]
                == "spiffe://prod.acme/ns/payments/sa/worker"
    }));
    assert!(events.iter().all(|e| !e.to_string().contains(&k8s_token)));
}

#[tokio::test]
async fn sqlite_federation_end_to_end() {
    federation_end_to_end(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_federation_end_to_end() {
    federation_end_to_end(Engine::Postgres).await;
}

/// An assertion is verified once and remembered, its claims checked on every request: served
/// from memory it is still refused once it expired, once its credential expired or went, once
/// its issuer went (a new issuer record at the same URL verifies it anew), and once the
/// issuer's JWKS dropped its key and the key cache fetched again. A claim condition on a nested
/// claim (`kubernetes.io.namespace`) holds or not, and its refusal does not name the claim.
async fn remembered_assertions_still_follow_the_rules(engine: Engine) {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(engine, Arc::clone(&clock), true).await;
    let issuer = LocalIssuer::start().await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data"], None).await;
    let (client_id, _) = app.create_app(&[(API, &["read:data"])]).await;
    let creds = format!("/clients/{client_id}/federated-credentials");
    let trust = |body: Value| {
        let app = &app;
        async move {
            let (status, trusted) = post(app, t, "/trusted-issuers", body).await;
            assert_eq!(status, 201, "{trusted}");
            trusted["id"].as_str().unwrap().to_owned()
        }
    };
    let bind = || async {
        let (status, cred) = post(
            &app,
            t,
            &creds,
            json!({"issuer": issuer.base, "subject": "system:serviceaccount:payments:worker",
                "conditions": {"kubernetes.io.namespace": "payments",
                    "kubernetes.io.serviceaccount.name": "worker"}}),
        )
        .await;
        assert_eq!(status, 201, "{cred}");
        format!("{creds}/{}", cred["id"].as_str().unwrap())
    };
    let remove = |path: String| {
        let app = &app;
        async move {
            let (status, body) = app.mgmt(Method::DELETE, &path, Some(t), None).await;
            assert_eq!(status, 204, "{body}");
        }
    };
    let accepted = |assertion: String| {
        let app = &app;
        let client_id = client_id.clone();
        async move {
            let (status, body) =
                with_assertion(app, JWT_BEARER, Some(&client_id), &assertion).await;
            assert_eq!(status, 200, "{body}");
            let claims =
                verify_independently(app, body["access_token"].as_str().unwrap(), API).await;
            assert_eq!(claims["sub"], format!("{client_id}@clients"));
        }
    };
    // A binding to another issuer stays throughout: the client remains a federated one.
    let elsewhere_keys = ClientKey::rs256();
    trust(
        json!({"issuer": "https://other.example", "jwks": {"keys": [jwk(&elsewhere_keys, "k")]}}),
    )
    .await;
    let (status, body) = post(
        &app,
        t,
        &creds,
        json!({"issuer": "https://other.example", "subject": "w"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let issuer_id = trust(json!({"issuer": issuer.base})).await;
    let cred = bind().await;
    let now = clock.now();
    let mut claims = kubernetes(&issuer.base, &app.issuer, "worker", now);
    claims["exp"] = json!(now + 600);
    let assertion = issuer.mint(&claims);
    for _ in 0..3 {
        accepted(assertion.clone()).await;
    }

    // The nested claim conditions: another namespace is refused, without naming the claim.
    let mut elsewhere = claims.clone();
    elsewhere["kubernetes.io"]["namespace"] = json!("staging");
    let other = issuer.mint(&elsewhere);
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &other).await;
    assert_invalid_client(
        &answer,
        "the assertion does not match any federated credential of this client",
        &other,
    );
    assert!(!answer.1.to_string().contains("namespace"), "{answer:?}");

    // The credential expired, then not; removed, then bound again.
    let (status, _) = app
        .mgmt(
            Method::PATCH,
            &cred,
            Some(t),
            Some(&json!({"expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200);
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&answer, "credential expired", &assertion);
    let (status, _) = app
        .mgmt(
            Method::PATCH,
            &cred,
            Some(t),
            Some(&json!({"expires_at": null})),
        )
        .await;
    assert_eq!(status, 200);
    accepted(assertion.clone()).await;
    remove(cred).await;
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(
        &answer,
        "no federated credential of this client trusts",
        &assertion,
    );
    let cred = bind().await;
    accepted(assertion.clone()).await;

    // The assertion expires (exp, then the 30 s leeway) while remembered.
    clock.advance(600 + 30);
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&answer, "expired", &assertion);
    let now = clock.now();
    let mut claims = kubernetes(&issuer.base, &app.issuer, "worker", now);
    claims["exp"] = json!(now + 600);
    let assertion = issuer.mint(&claims);
    accepted(assertion.clone()).await;
    accepted(assertion.clone()).await;

    // The issuer removed: refused. Trusted again at the same URL with other keys under the
    // same kid: what was verified for the old record does not count for the new one.
    remove(cred).await;
    remove(format!("/trusted-issuers/{issuer_id}")).await;
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&answer, "not a trusted issuer", &assertion);
    let impostor = ClientKey::rs256();
    let issuer_id =
        trust(json!({"issuer": issuer.base, "jwks": {"keys": [jwk(&impostor, "rsa-1")]}})).await;
    let cred = bind().await;
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&answer, "signature does not verify", &assertion);

    // Its keys by discovery again; then the issuer withdraws the key, and the key cache
    // fetches again (an unknown kid makes it): the remembered assertion goes with the key.
    remove(cred).await;
    remove(format!("/trusted-issuers/{issuer_id}")).await;
    trust(json!({"issuer": issuer.base})).await;
    bind().await;
    accepted(assertion.clone()).await;
    accepted(assertion.clone()).await;
    issuer.withdraw_rsa();
    let fetches = issuer.fetches.load(Ordering::SeqCst);
    let unknown = issuer
        .rsa
        .sign(&json!({"alg": "RS256", "kid": "rsa-2"}), &claims);
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &unknown).await;
    assert_invalid_client(&answer, "kid", &unknown);
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        fetches + 1,
        "refetched"
    );
    let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&answer, "kid names no key", &assertion);
}

#[tokio::test]
async fn sqlite_remembered_assertions_still_follow_the_rules() {
    remembered_assertions_still_follow_the_rules(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_remembered_assertions_still_follow_the_rules() {
    remembered_assertions_still_follow_the_rules(Engine::Postgres).await;
}

/// Without `--allow-http-issuers`, an http issuer's keys are not fetched, even on loopback;
/// inline keys need no fetch.
#[tokio::test]
async fn http_issuers_need_the_flag_and_inline_keys_need_no_fetch() {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(Engine::Sqlite, Arc::clone(&clock), false).await;
    let issuer = LocalIssuer::start().await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data"], None).await;
    let (client_id, _) = app.create_app(&[(API, &["read:data"])]).await;
    let creds = format!("/clients/{client_id}/federated-credentials");
    let (status, body) = post(&app, t, "/trusted-issuers", json!({"issuer": issuer.base})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        &app,
        t,
        &creds,
        json!({"issuer": issuer.base, "subject": "system:serviceaccount:payments:worker"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let now = clock.now();
    let assertion = issuer.mint(&kubernetes(&issuer.base, &app.issuer, "worker", now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await,
        // Why (not an https URL) is in the server's log: fetch details are not the client's.
        "the trusted issuer's keys cannot be fetched",
        &assertion,
    );
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        0,
        "nothing was fetched"
    );

    // The same issuer's keys uploaded: no fetch, no flag needed.
    let (status, body) = post(
        &app,
        t,
        "/trusted-issuers",
        json!({"issuer": "https://cluster.internal", "jwks": issuer.jwks(), "algorithms": ["RS256"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["key_source"], "inline");
    let (status, body) = post(&app, t, &creds, json!({"issuer": "https://cluster.internal", "subject": "system:serviceaccount:payments:worker"})).await;
    assert_eq!(status, 201, "{body}");
    let assertion = issuer.mint(&kubernetes(
        "https://cluster.internal",
        &app.issuer,
        "worker",
        now,
    ));
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_eq!(status, 200, "{body}");

    // Management refusals: not https, both key sources, files other than Kubernetes' own mounts.
    for (body, says) in [
        (json!({"issuer": "http://cluster.example"}), "https"),
        (
            json!({"issuer": "https://a.example", "jwks_uri": "https://a.example/k", "jwks": issuer.jwks()}),
            "not both",
        ),
        (
            json!({"issuer": "https://a.example", "ca_file": "ca.pem"}),
            "may only be /var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        ),
        (
            json!({"issuer": "https://a.example", "jwks_uri": "https://a.example/k",
                   "bearer_token_file": "/var/lib/warrant/master.key"}),
            "may only be /var/run/secrets/kubernetes.io/serviceaccount/token",
        ),
        (
            json!({"issuer": "https://a.example", "jwks_uri": "https://a.example/k",
                   "bearer_token_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"}),
            "needs a jwks_uri on the cluster's API server",
        ),
        (
            json!({"issuer": "https://a.example",
                   "bearer_token_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"}),
            "needs a jwks_uri on the cluster's API server",
        ),
        (
            json!({"issuer": "https://a.example", "algorithms": ["HS256"]}),
            "HS256",
        ),
        (json!({"issuer": "spiffe://prod.acme"}), "jwks_uri"),
    ] {
        let (status, answer) = post(&app, t, "/trusted-issuers", body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer} should say {says}"
        );
    }
}

async fn patch(app: &TestServer, token: &str, id: &str, body: Value) -> (u16, Value) {
    app.mgmt(
        Method::PATCH,
        &format!("/trusted-issuers/{id}"),
        Some(token),
        Some(&body),
    )
    .await
}

/// Polls the token endpoint of `app` until the exchange answers `status` (another instance
/// follows a change within its LISTEN/NOTIFY round trip).
async fn exchange_until(app: &TestServer, client_id: &str, assertion: &str, status: u16) {
    let started = std::time::Instant::now();
    loop {
        let (got, body) = with_assertion(app, JWT_BEARER, Some(client_id), assertion).await;
        if got == status {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still {got} ({body}) after 3 s, waiting for {status}"
        );
        // Real time under test: how long the change takes to reach the other instance.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `PATCH /api/v2/trusted-issuers/{id}`: the key source and the algorithms change without a
/// restart, on this instance at once and on another one sharing the database; a patch is held
/// to every rule of a new issuer (the files, where the service-account token may go), and a
/// refused one changes nothing.
async fn trusted_issuer_changes(engine: Engine) {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, db) = start(engine, Arc::clone(&clock), true).await;
    let issuer = LocalIssuer::start().await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data"], None).await;
    let (client_id, _) = app.create_app(&[(API, &["read:data"])]).await;
    // An explicit audience, so that an assertion is good at either instance.
    let audience = "https://warrant.example.com";

    // Trusted with only its P-256 key, uploaded, ES256 only.
    let ec_only = json!({"keys": [issuer.jwks()["keys"][1].clone()]});
    let (status, created) = post(
        &app,
        t,
        "/trusted-issuers",
        json!({"issuer": issuer.base, "jwks": ec_only, "algorithms": ["ES256"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &app,
        t,
        &format!("/clients/{client_id}/federated-credentials"),
        json!({"issuer": id, "subject": "system:serviceaccount:payments:worker",
            "audience": audience}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let claims = kubernetes(&issuer.base, audience, "worker", clock.now());
    let (rs256, es256) = (issuer.mint(&claims), issuer.mint_es256(&claims));
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &es256).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = with_assertion(&app, JWT_BEARER, Some(&client_id), &rs256).await;
    assert_eq!(status, 401);

    // On PostgreSQL, a second instance on the same database, which has used the old keys.
    let other = match &db {
        Some(db) => {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
            config.allow_http_issuers = true;
            config.database_url = Some(Secret::new(db.url.clone()));
            config.master_key = Some(Secret::new(PG_MASTER_KEY));
            let other = spawn_with_clock(dir, config, Arc::clone(&clock) as Arc<dyn Clock>)
                .await
                .unwrap();
            exchange_until(&other, &client_id, &es256, 200).await;
            Some(other)
        }
        None => None,
    };

    // Both keys uploaded, RS256 only: the RSA-signed token passes at once, the P-256 one no
    // longer does, though its key is still published.
    let (status, changed) = patch(
        &app,
        t,
        &id,
        json!({"jwks": issuer.jwks(), "algorithms": ["RS256"], "name": "cluster"}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["key_source"], "inline");
    assert_eq!(changed["algorithms"], json!(["RS256"]));
    assert_eq!(changed["name"], "cluster");
    assert_eq!(changed["issuer"], issuer.base.as_str());
    assert_eq!(changed["created_at"], created["created_at"]);
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &rs256).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = with_assertion(&app, JWT_BEARER, Some(&client_id), &es256).await;
    assert_eq!(status, 401);
    if let Some(other) = &other {
        exchange_until(other, &client_id, &rs256, 200).await;
        exchange_until(other, &client_id, &es256, 401).await;
    }

    // Back to its discovery document (the uploaded keys dropped), both algorithms: the keys
    // are fetched now.
    let fetches = issuer.fetches.load(Ordering::SeqCst);
    let (status, changed) = patch(
        &app,
        t,
        &id,
        json!({"jwks": null, "algorithms": ["RS256", "ES256"]}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["key_source"], "discovery");
    assert!(changed.get("jwks").is_none(), "{changed}");
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &es256).await;
    assert_eq!(status, 200, "{body}");
    assert!(issuer.fetches.load(Ordering::SeqCst) > fetches);
    if let Some(other) = &other {
        exchange_until(other, &client_id, &es256, 200).await;
    }

    // A patch is held to a new issuer's rules, on the issuer as it would be.
    let token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    let in_cluster = "https://kubernetes.default.svc/openid/v1/jwks";
    let (_, before) = app
        .mgmt(
            Method::GET,
            &format!("/trusted-issuers/{id}"),
            Some(t),
            None,
        )
        .await;
    for (body, says) in [
        (
            json!({"bearer_token_file": token_file}),
            "needs a jwks_uri on the cluster's API server",
        ),
        (
            json!({"jwks_uri": "https://elsewhere.example/jwks", "bearer_token_file": token_file}),
            "needs a jwks_uri on the cluster's API server",
        ),
        (
            json!({"jwks_uri": in_cluster, "bearer_token_file": "/var/lib/warrant/master.key"}),
            "may only be /var/run/secrets/kubernetes.io/serviceaccount/token",
        ),
        (
            json!({"ca_file": "/etc/passwd"}),
            "may only be /var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        ),
        (json!({"jwks_uri": "http://cluster.example/jwks"}), "https"),
        (
            json!({"jwks_uri": in_cluster, "jwks": issuer.jwks()}),
            "not both",
        ),
        (json!({"jwks": {"keys": []}}), "no keys"),
        (json!({"algorithms": ["HS256"]}), "HS256"),
        (
            json!({"max_assertion_lifetime": 30}),
            "max_assertion_lifetime",
        ),
        (json!({"name": " "}), "name"),
        (
            json!({"issuer": "https://other.example.com"}),
            "issuer cannot be changed",
        ),
    ] {
        let (status, answer) = patch(&app, t, &id, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{body}: {answer} should say {says}"
        );
    }
    let (status, unknown) = patch(&app, t, &id, json!({"keys": "discovery"})).await;
    assert_eq!(status, 400, "{unknown}");
    let (_, after) = app
        .mgmt(
            Method::GET,
            &format!("/trusted-issuers/{id}"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(after, before, "a refused patch changes nothing");

    // The in-cluster shape is accepted; then the token's destination cannot be moved away,
    // nor the keys uploaded while a token file is set, until the file is cleared.
    let (status, changed) = patch(
        &app,
        t,
        &id,
        json!({"jwks_uri": in_cluster, "bearer_token_file": token_file,
            "ca_file": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            "issuer": issuer.base}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["key_source"], "jwks_uri");
    for (body, says) in [
        (
            json!({"jwks_uri": "https://elsewhere.example/jwks"}),
            "needs a jwks_uri on the cluster's API server",
        ),
        (json!({"jwks_uri": null}), "needs a jwks_uri"),
        (
            json!({"jwks": issuer.jwks()}),
            "inline keys are not fetched",
        ),
    ] {
        let (status, answer) = patch(&app, t, &id, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{body}: {answer} should say {says}"
        );
    }
    let (status, changed) = patch(
        &app,
        t,
        &id,
        json!({"jwks": issuer.jwks(), "bearer_token_file": null, "ca_file": null}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["key_source"], "inline");
    assert!(changed.get("bearer_token_file").is_none(), "{changed}");
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &rs256).await;
    assert_eq!(status, 200, "{body}");

    let (status, missing) = patch(&app, t, "tis_nope", json!({"name": "x"})).await;
    assert_eq!(status, 404, "{missing}");
    // Each change is on the record.
    let events = logs_of(&app, t, "sapi", 1).await;
    let patches = events
        .iter()
        .filter(|e| {
            e["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("PATCH /api/v2/trusted-issuers/"))
        })
        .count();
    assert_eq!(patches, 4, "{events:?}");
}

#[tokio::test]
async fn sqlite_trusted_issuers_change_without_a_restart() {
    trusted_issuer_changes(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_trusted_issuers_change_without_a_restart_on_every_instance() {
    trusted_issuer_changes(Engine::Postgres).await;
}

/// Concurrent PATCHes of one trusted issuer, each changing its own field: every change is
/// there at the end (none read the issuer before another's write and wrote over it), and each
/// moves `updated_at` (what each instance's key cache keys on) past every other, with the clock
/// standing still, so within one second.
async fn concurrent_issuer_patches(engine: Engine) {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(engine, Arc::clone(&clock), true).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    let token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    let ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
    let (status, created) = post(
        &app,
        t,
        "/trusted-issuers",
        json!({"issuer": "https://cluster.example.com",
            "jwks_uri": "https://kubernetes.default.svc/openid/v1/jwks"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let url = app.url(&format!("/api/v2/trusted-issuers/{id}"));
    let get = || async {
        let (status, body) = app
            .mgmt(
                Method::GET,
                &format!("/trusted-issuers/{id}"),
                Some(t),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    };

    // Sequential PATCHes within one second: each answer's updated_at past the one before.
    let mut last = created["updated_at"].as_str().unwrap().to_owned();
    for n in 0..3 {
        let (status, changed) = patch(&app, t, &id, json!({"name": format!("seq-{n}")})).await;
        assert_eq!(status, 200, "{changed}");
        let updated_at = changed["updated_at"].as_str().unwrap().to_owned();
        assert!(updated_at > last, "{updated_at} after {last}");
        assert_eq!(get().await["updated_at"], updated_at.as_str());
        last = updated_at;
    }

    for round in 0..6u64 {
        let even = round % 2 == 0;
        let bodies = [
            json!({"name": format!("round-{round}")}),
            json!({"max_assertion_lifetime": 60 * (round + 2)}),
            json!({"algorithms": if even { json!(["ES256"]) } else { json!(["RS256", "EdDSA"]) }}),
            json!({"bearer_token_file": if even { json!(token_file) } else { Value::Null }}),
            json!({"ca_file": if even { json!(ca_file) } else { Value::Null }}),
        ];
        let mut requests = tokio::task::JoinSet::new();
        for body in bodies {
            let request = app.http.patch(url.clone()).bearer_auth(t).json(&body);
            requests.spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            });
        }
        let mut stamps = std::collections::BTreeSet::new();
        for (status, changed) in requests.join_all().await {
            assert_eq!(status, 200, "{changed}");
            stamps.insert(changed["updated_at"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            stamps.len(),
            5,
            "two PATCHes wrote the same updated_at: {stamps:?}"
        );
        assert!(stamps.first().unwrap() > &last, "{stamps:?} after {last}");
        last = stamps.last().unwrap().clone();

        let now = get().await;
        assert_eq!(now["name"], format!("round-{round}"), "{now}");
        assert_eq!(now["max_assertion_lifetime"], 60 * (round + 2), "{now}");
        let algorithms = if even {
            json!(["ES256"])
        } else {
            json!(["RS256", "EdDSA"])
        };
        assert_eq!(now["algorithms"], algorithms, "{now}");
        assert_eq!(
            now.get("bearer_token_file").and_then(Value::as_str),
            even.then_some(token_file),
            "{now}"
        );
        assert_eq!(
            now.get("ca_file").and_then(Value::as_str),
            even.then_some(ca_file),
            "{now}"
        );
        assert_eq!(now["updated_at"], last.as_str(), "{now}");
        assert_eq!(now["key_source"], "jwks_uri", "{now}");
        assert_eq!(now["created_at"], created["created_at"], "{now}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_issuer_patches_all_land() {
    concurrent_issuer_patches(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_concurrent_issuer_patches_all_land() {
    concurrent_issuer_patches(Engine::Postgres).await;
}

/// The dashboard: the Trusted issuers page (trust, list, remove) and the federated credentials
/// on an application's page (add, list, remove), each change through the service layer.
#[tokio::test]
async fn the_dashboard_trusts_issuers_and_binds_workloads() {
    use crate::support::dashboard::{app_with_admin, page, post, sign_in};

    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let (client_id, _) = app.create_app(&[]).await;
    let issuers = page(&app, &session, "/dashboard/issuers").await;
    assert!(issuers.contains("No trusted issuers yet"), "{issuers}");

    let answer = post(
        &app,
        &session,
        "/dashboard/issuers",
        &[
            ("issuer", "https://token.actions.githubusercontent.com"),
            ("jwks_uri", ""),
            ("algorithms", "RS256, ES256"),
            ("max_assertion_lifetime", "900"),
        ],
    )
    .await;
    assert_eq!(answer.status(), 303);
    let refused = post(
        &app,
        &session,
        "/dashboard/issuers",
        &[("issuer", "http://cluster.example")],
    )
    .await;
    assert!(refused.text().await.unwrap().contains("https"));
    let issuers = page(&app, &session, "/dashboard/issuers").await;
    assert!(issuers.contains("https://token.actions.githubusercontent.com"));
    assert!(issuers.contains("RS256, ES256") && issuers.contains("900 s"));
    let listed = app.admin.list_trusted_issuers().await.unwrap();
    let issuer_id = listed[0].id.clone();

    // Its page changes it: keys from a JWKS URL, RS256 only; a refusal is shown on the form,
    // with what was typed, and changes nothing.
    let edit = page(&app, &session, &format!("/dashboard/issuers/{issuer_id}")).await;
    assert!(
        edit.contains("edit-issuer") && edit.contains("cannot change"),
        "{edit}"
    );
    let refused = post(
        &app,
        &session,
        &format!("/dashboard/issuers/{issuer_id}"),
        &[
            ("name", "GitHub"),
            ("keys", "jwks_uri"),
            ("jwks_uri", "http://elsewhere.example/jwks"),
            ("algorithms", "RS256"),
            ("max_assertion_lifetime", "900"),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(refused.contains("https"), "{refused}");
    assert!(
        refused.contains("http://elsewhere.example/jwks"),
        "{refused}"
    );
    assert_eq!(app.admin.list_trusted_issuers().await.unwrap(), listed);
    let answer = post(
        &app,
        &session,
        &format!("/dashboard/issuers/{issuer_id}"),
        &[
            ("name", "GitHub"),
            ("keys", "jwks_uri"),
            (
                "jwks_uri",
                "https://token.actions.githubusercontent.com/.well-known/jwks",
            ),
            ("jwks", ""),
            ("algorithms", "RS256"),
            ("max_assertion_lifetime", "600"),
        ],
    )
    .await;
    assert_eq!(answer.status(), 303);
    let saved = app.admin.get_trusted_issuer(&issuer_id).await.unwrap();
    assert_eq!(
        saved.keys,
        warrant_server::domain::IssuerKeySource::JwksUri(
            "https://token.actions.githubusercontent.com/.well-known/jwks".into()
        )
    );
    assert_eq!(saved.algorithm_names(), "RS256");
    assert_eq!(
        (saved.max_assertion_lifetime, saved.name.as_str()),
        (600, "GitHub")
    );

    let app_page = format!("/dashboard/applications/{client_id}");
    let credentials_tab = format!("{app_page}?tab=credentials");
    let settings = page(&app, &session, &app_page).await;
    assert!(!settings.contains("id=\"expiry-warning\""), "{settings}");
    let in_a_week = &warrant_server::clock::rfc3339(app.admin.now() + 7 * 86_400)[..10];
    let answer = post(
        &app,
        &session,
        &format!("{app_page}/federated"),
        &[
            ("issuer", issuer_id.as_str()),
            ("subject", "repo:acme/*:ref:refs/heads/main"),
            ("audience", "https://github.com/acme"),
            ("condition", "repository_owner_id=123"),
            ("federated_expires", in_a_week),
        ],
    )
    .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        format!("{credentials_tab}&notice=federated-added")
    );
    // Refusals are shown in the Credentials tab, next to the form, with what was sent; nothing
    // is added.
    for (subject, expires, says) in [
        ("*", "", "confirm_broad_subject"),
        (
            "repo:acme/api:ref:refs/heads/main",
            "next week",
            "YYYY-MM-DD",
        ),
    ] {
        let refused = post(
            &app,
            &session,
            &format!("{app_page}/federated"),
            &[
                ("issuer", issuer_id.as_str()),
                ("subject", subject),
                ("federated_expires", expires),
            ],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let refused = refused.text().await.unwrap();
        let error = &refused[refused.find("id=\"federated-error\"").expect("an error")..];
        assert!(error.contains(says), "{error}");
        assert!(
            refused.contains(&format!("value=\"{subject}\"")),
            "{refused}"
        );
        assert!(refused.contains("aria-current=\"page\">Credentials<"));
    }
    let shown = page(&app, &session, &credentials_tab).await;
    let federated = &shown[shown.find("id=\"federated-credentials\"").unwrap()..];
    assert!(federated.contains("repo:acme/*:ref:refs/heads/main"));
    assert!(federated.contains("repository_owner_id = 123"));
    // Midnight (UTC) of the day a week from now: six days and some hours away.
    assert!(
        federated.contains("expires in 6 days") || federated.contains("expires in 7 days"),
        "{federated}"
    );
    // The federated credential is the application's only one that expires: the banner says
    // so on every tab.
    let settings = page(&app, &session, &app_page).await;
    assert!(settings.contains("id=\"expiry-warning\""), "{settings}");
    let creds = app
        .admin
        .list_federated_credentials(&client_id)
        .await
        .unwrap();
    assert_eq!(creds.len(), 1);

    // A used issuer stays; once its credential is removed, it goes.
    let kept = post(
        &app,
        &session,
        &format!("/dashboard/issuers/{issuer_id}/remove"),
        &[],
    )
    .await;
    assert!(kept.text().await.unwrap().contains("remove them first"));
    let answer = post(
        &app,
        &session,
        &format!("{app_page}/federated/{}/remove", creds[0].id),
        &[],
    )
    .await;
    assert_eq!(answer.status(), 303);
    let answer = post(
        &app,
        &session,
        &format!("/dashboard/issuers/{issuer_id}/remove"),
        &[],
    )
    .await;
    assert_eq!(answer.status(), 303);
    assert!(app.admin.list_trusted_issuers().await.unwrap().is_empty());
}

/// The Activity page names an application whose only credential expiring within 14 days is a
/// federated one.
#[tokio::test]
async fn the_activity_page_names_expiring_federated_credentials() {
    use crate::support::dashboard::{app_with_admin, page, sign_in};

    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let (client_id, _) = app.create_app(&[]).await;
    let activity = page(&app, &session, "/dashboard/activity").await;
    let expiring = &activity[activity.find("id=\"expiring\"").unwrap()..];
    assert!(
        expiring.contains("federated credential expires"),
        "{expiring}"
    );
    assert!(!expiring.contains(&client_id), "{expiring}");

    let issuer = app
        .admin
        .create_trusted_issuer(warrant_server::domain::NewTrustedIssuer {
            issuer: "https://token.actions.githubusercontent.com".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.admin
        .create_federated_credential(
            &client_id,
            warrant_server::domain::NewFederatedCredential {
                issuer: issuer.id,
                subject: "repo:acme/deploy:ref:refs/heads/main".into(),
                expires_at: Some(app.admin.now() + 3 * 86_400),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let activity = page(&app, &session, "/dashboard/activity").await;
    let expiring = &activity[activity.find("id=\"expiring\"").unwrap()..];
    assert!(
        expiring.contains(&format!("/dashboard/applications/{client_id}")),
        "{expiring}"
    );
}

/// An inline JWKS is the issuer's public keys: a key with any private or symmetric member
/// (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is a 400 that names no value, whether the
/// issuer is trusted with it or changed to it.
#[tokio::test]
async fn inline_keys_with_private_members_are_refused() {
    let app = crate::support::spawn_app().await;
    let token = app.admin_token().await;
    let t = token.as_str();
    let public = jwk(&ClientKey::es256(), "ec-1");
    let with = |member: &str| {
        let mut key = public.clone();
        key[member] = json!("c2VjcmV0LXZhbHVl");
        json!({"keys": [key]})
    };
    let refused = |status: u16, body: &Value| {
        assert_eq!(status, 400, "{body}");
        let text = body.to_string();
        assert!(text.contains("private key material"), "{text}");
        assert!(!text.contains("c2VjcmV0LXZhbHVl"), "{text}");
    };
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let body = json!({"issuer": "https://issuer.example.com", "jwks": with(member)});
        let (status, body) = post(&app, t, "/trusted-issuers", body).await;
        refused(status, &body);
    }

    let body = json!({"issuer": "https://issuer.example.com", "jwks": {"keys": [public]}});
    let (status, trusted) = post(&app, t, "/trusted-issuers", body).await;
    assert_eq!(status, 201, "{trusted}");
    let path = format!("/trusted-issuers/{}", trusted["id"].as_str().unwrap());
    let patch = json!({"jwks": with("d")});
    let (status, body) = app.mgmt(Method::PATCH, &path, Some(t), Some(&patch)).await;
    refused(status, &body);
}
