//! Token introspection (RFC 7662) and revocation (RFC 7009) through real HTTP: who may
//! introspect which tokens, the members of an active token's answer, `{"active": false}` for
//! everything else, the client authentication and errors of the token endpoint, and revoked
//! tokens on every instance and after a restart.

use std::sync::Arc;

use serde_json::{Value, json};
use warrant_server::clock::{Clock, ManualClock, SystemClock};
use warrant_server::config::{Config, Secret};
use warrant_server::domain::SigningAlg;
use warrant_server::store::GrantFilter;
use warrant_testkit::PgDatabase;

use crate::support::{
    API, TestServer, event_count, logs_of, spawn_app, spawn_with, spawn_with_clock,
    verify_independently,
};

const OTHER_API: &str = "https://other.example.com";

/// Introspects `token` as `id` (secret in the body); the status and the JSON answer.
async fn introspect(app: &TestServer, id: &str, secret: &str, token: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[
            ("client_id", id),
            ("client_secret", secret),
            ("token", token),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    (status, response.json().await.unwrap())
}

/// Revokes `token` as `id`; the status and the body (empty on success).
async fn revoke(app: &TestServer, id: &str, secret: &str, token: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("client_id", id),
            ("client_secret", secret),
            ("token", token),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn inactive() -> Value {
    json!({"active": false})
}

/// On the server `app`: a gateway granted on the API (no scopes) sees a worker's token as
/// active with its members, and so does the worker; a caller of another API, a forged or
/// garbled token, see `{"active": false}` only.
async fn who_sees_what(app: TestServer) {
    let (worker, worker_secret) = app.with_worker().await;
    let (gateway, gateway_secret) = app.create_app(&[(API, &[])]).await;
    app.create_api(OTHER_API, &["x"], None).await;
    let (stranger, stranger_secret) = app.create_app(&[(OTHER_API, &["x"])]).await;
    let token = app.token(&worker, &worker_secret).await;

    let (status, answer) = introspect(&app, &gateway, &gateway_secret, &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], worker.as_str());
    assert_eq!(answer["sub"], format!("{worker}@clients"));
    assert_eq!(answer["aud"], API);
    assert_eq!(answer["iss"], app.issuer.as_str());
    assert_eq!(answer["scope"], "read:data");
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (
        answer["iat"].as_u64().unwrap(),
        answer["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 86_400, "the API's default lifetime");
    assert!(answer.get("cnf").is_none());

    // The application the token was issued to, with HTTP Basic this time.
    let own: Value = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&worker, Some(&worker_secret))
        .form(&[
            ("token", token.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own, answer);

    // Not the stranger's API: nothing, not even that the token exists.
    let (status, answer) = introspect(&app, &stranger, &stranger_secret, &token).await;
    assert_eq!((status, answer), (200, inactive()));
    // Forged: the payload changed under the same signature.
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    for bad in [forged.as_str(), "not-a-token", "a.b.c"] {
        let (status, answer) = introspect(&app, &gateway, &gateway_secret, bad).await;
        assert_eq!((status, answer), (200, inactive()), "{bad}");
    }
}

#[tokio::test]
async fn a_granted_caller_sees_a_token_and_others_see_nothing() {
    who_sees_what(spawn_app().await).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn a_granted_caller_sees_a_token_and_others_see_nothing_on_postgres() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(db.url.clone()));
    config.master_key = Some(Secret::new("aW50cm9zcGVjdGlvbiBvbiBwb3N0Z3JlcyB0ZXN0cyE="));
    who_sees_what(spawn_with(dir, config).await.unwrap()).await;
}

#[tokio::test]
async fn a_token_is_inactive_once_its_grant_application_or_secret_is_gone() {
    let app = spawn_app().await;
    let (gateway, gateway_secret) = {
        app.create_api(API, &["read:data"], None).await;
        app.create_app(&[(API, &[])]).await
    };
    let active = |token: String| {
        let app = &app;
        let (gateway, gateway_secret) = (gateway.clone(), gateway_secret.clone());
        async move {
            let (status, answer) = introspect(app, &gateway, &gateway_secret, &token).await;
            assert_eq!(status, 200);
            answer["active"].as_bool().unwrap()
        }
    };

    // The grant revoked.
    let (a, a_secret) = app.create_app(&[(API, &["read:data"])]).await;
    let token = app.token(&a, &a_secret).await;
    assert!(active(token.clone()).await);
    let grants = app
        .admin
        .list_grants(&GrantFilter {
            client_id: Some(a.clone()),
            audience: None,
        })
        .await
        .unwrap();
    app.admin.delete_grant(&grants[0].id).await.unwrap();
    app.sync().await;
    assert!(!active(token).await, "its grant was revoked");

    // The secret rotated without grace.
    let (b, b_secret) = app.create_app(&[(API, &["read:data"])]).await;
    let token = app.token(&b, &b_secret).await;
    assert!(active(token.clone()).await);
    // Issued in an earlier second than the rotation.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    app.admin.rotate_secret(&b, 0).await.unwrap();
    app.sync().await;
    assert!(!active(token).await, "its secret was rotated");

    // The application deleted.
    let (c, c_secret) = app.create_app(&[(API, &["read:data"])]).await;
    let token = app.token(&c, &c_secret).await;
    assert!(active(token.clone()).await);
    app.admin.delete_application(&c).await.unwrap();
    app.sync().await;
    assert!(!active(token).await, "its application was deleted");

    // The caller's own grant gone: it may no longer introspect that API's tokens.
    let (d, d_secret) = app.create_app(&[(API, &["read:data"])]).await;
    let token = app.token(&d, &d_secret).await;
    let gateway_grants = app
        .admin
        .list_grants(&GrantFilter {
            client_id: Some(gateway.clone()),
            audience: None,
        })
        .await
        .unwrap();
    app.admin.delete_grant(&gateway_grants[0].id).await.unwrap();
    app.sync().await;
    assert!(!active(token).await, "the caller lost its grant on the API");
}

#[tokio::test]
async fn an_expired_token_is_inactive() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    let app = spawn_with_clock(dir, config, clock.clone()).await.unwrap();
    app.create_api(API, &["read:data"], Some(60)).await;
    let (id, secret) = app.create_app(&[(API, &["read:data"])]).await;
    let token = app.token(&id, &secret).await;
    clock.advance(59);
    let (_, answer) = introspect(&app, &id, &secret, &token).await;
    assert_eq!(answer["active"], true, "valid until its exp");
    clock.advance(1);
    let (_, answer) = introspect(&app, &id, &secret, &token).await;
    assert_eq!(answer, inactive(), "no leeway: expired is expired");
}

#[tokio::test]
async fn callers_authenticate_as_at_the_token_endpoint() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;

    let (status, body) = introspect(&app, &id, "wrong", &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = introspect(&app, "nobody", &secret, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&id, Some("wrong"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let (status, body) = introspect(&app, &id, &secret, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "no client authentication");
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("token", &"x".repeat(20_000)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // Discovery names the endpoint and how to authenticate there.
    let metadata: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["introspection_endpoint"],
        app.url("/oauth/introspect")
    );
    assert_eq!(
        metadata["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"])
    );
    assert_eq!(metadata["revocation_endpoint"], app.url("/oauth/revoke"));
    assert_eq!(
        metadata["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"])
    );
}

/// On the server `app`: only the application a token was issued to revokes it; introspection
/// answers it inactive from then on, and its other tokens stay active. Returns the revoked
/// token, the gateway's credentials and a token still active.
async fn revocation_story(app: &TestServer) -> (String, (String, String), String) {
    let (worker, secret) = app.with_worker().await;
    let gateway = app.create_app(&[(API, &[])]).await;
    let token = app.token(&worker, &secret).await;
    let kept = app.token(&worker, &secret).await;

    let (status, body) = revoke(app, &gateway.0, &gateway.1, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let (_, answer) = introspect(app, &gateway.0, &gateway.1, &token).await;
    assert_eq!(
        answer["active"], true,
        "another application cannot revoke it"
    );

    let (status, body) = revoke(app, &worker, &secret, &token).await;
    assert_eq!((status, body), (200, Value::Null));
    let (_, answer) = introspect(app, &gateway.0, &gateway.1, &token).await;
    assert_eq!(answer, inactive());
    let (_, answer) = introspect(app, &worker, &secret, &token).await;
    assert_eq!(answer, inactive());
    let (_, answer) = introspect(app, &gateway.0, &gateway.1, &kept).await;
    assert_eq!(answer["active"], true, "only that token is revoked");

    // Revoked already, or no token at all: 200 all the same (RFC 7009 §2.2).
    for again in [token.as_str(), "not-a-token"] {
        assert_eq!(revoke(app, &worker, &secret, again).await.0, 200);
    }
    assert_eq!(revoke(app, &worker, "wrong", &token).await.0, 401);
    (token, gateway, kept)
}

/// A configuration on `dir` whose issuer does not change with the port: tokens outlive a
/// restart, and instances behind one load balancer share it.
fn fixed_issuer(dir: &std::path::Path) -> Config {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir);
    config.issuer = Some("https://auth.example.com/".to_owned());
    config
}

#[tokio::test]
async fn an_application_revokes_its_token_and_it_stays_revoked_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixed_issuer(dir.path());
    let app = spawn_with(dir, config).await.unwrap();
    let (token, gateway, kept) = revocation_story(&app).await;
    let dir = app.into_data_dir().await;
    let config = fixed_issuer(dir.path());
    let app = spawn_with(dir, config).await.unwrap();
    let (_, answer) = introspect(&app, &gateway.0, &gateway.1, &token).await;
    assert_eq!(answer, inactive(), "loaded from storage");
    let (_, answer) = introspect(&app, &gateway.0, &gateway.1, &kept).await;
    assert_eq!(answer["active"], true);
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn a_revocation_reaches_every_instance_on_postgres() {
    let db = PgDatabase::create().await;
    let config = |dir: &std::path::Path| {
        let mut config = fixed_issuer(dir);
        config.database_url = Some(Secret::new(db.url.clone()));
        config.master_key = Some(Secret::new("aW50cm9zcGVjdGlvbiBvbiBwb3N0Z3JlcyB0ZXN0cyE="));
        config
    };
    let dir = tempfile::tempdir().unwrap();
    let a_config = config(dir.path());
    let a = spawn_with(dir, a_config).await.unwrap();
    // B starts on the database A initialized.
    let dir = tempfile::tempdir().unwrap();
    let b_config = config(dir.path());
    let b = TestServer::builder()
        .config(b_config)
        .dir(dir)
        .start()
        .await
        .unwrap();
    let (worker, secret) = a.with_worker().await;
    let gateway = a.create_app(&[(API, &[])]).await;
    let token = a.token(&worker, &secret).await;
    b.sync().await;
    let (_, answer) = introspect(&b, &gateway.0, &gateway.1, &token).await;
    assert_eq!(answer["active"], true, "{answer}");

    assert_eq!(revoke(&a, &worker, &secret, &token).await.0, 200);
    // B follows within a second, without being told.
    let started = std::time::Instant::now();
    loop {
        let (_, answer) = introspect(&b, &gateway.0, &gateway.1, &token).await;
        if answer == inactive() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "B still answers {answer}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn tokens_of_every_signing_algorithm_are_introspected() {
    let app = spawn_app().await;
    for alg in SigningAlg::ALL {
        let audience = format!("https://{}.example.com", alg.as_str().to_lowercase());
        app.create_api_signed(&audience, &["read:data"], None, Some(alg))
            .await;
        let (id, secret) = app.create_app(&[(audience.as_str(), &["read:data"])]).await;
        let token = app.token_for(&id, &secret, &audience).await;
        let (status, answer) = introspect(&app, &id, &secret, &token).await;
        assert_eq!(status, 200);
        assert_eq!(answer["active"], true, "{}: {answer}", alg.as_str());
        assert_eq!(answer["aud"], audience.as_str());
    }
}

/// Who introspected and revoked what API's token is in the audit log (never the token):
/// introspections aggregated per caller, API and outcome, each revocation on its own with the
/// token's `jti`; `/metrics` counts both endpoints' answers by outcome.
#[tokio::test]
async fn introspections_and_revocations_are_audited_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.metrics_public = true;
    let app = spawn_with(dir, config).await.unwrap();
    let (worker, worker_secret) = app.with_worker().await;
    let (gateway, gateway_secret) = app.create_app(&[(API, &[])]).await;
    let token = app.token(&worker, &worker_secret).await;
    for _ in 0..3 {
        let (_, answer) = introspect(&app, &gateway, &gateway_secret, &token).await;
        assert_eq!(answer["active"], true);
    }
    let (_, answer) = introspect(&app, &gateway, &gateway_secret, "not.a.token").await;
    assert_eq!(answer, inactive());
    let (status, _) = introspect(&app, &gateway, "wrong", &token).await;
    assert_eq!(status, 401);
    let (status, answer) = revoke(&app, &gateway, &gateway_secret, &token).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(revoke(&app, &worker, &worker_secret, &token).await.0, 200);
    assert_eq!(revoke(&app, &worker, &worker_secret, &token).await.0, 200);

    let admin = app.admin_token().await;
    let events = logs_of(&app, &admin, "token_introspection", 4).await;
    let active = events
        .iter()
        .find(|e| e["client_id"] == gateway.as_str() && e["audience"] == API)
        .unwrap_or_else(|| panic!("no event of the gateway's active answers: {events:?}"));
    assert_eq!(event_count(active), 3, "{active}");
    let inactive_event = events
        .iter()
        .find(|e| e["client_id"] == gateway.as_str() && e.get("audience").is_none())
        .unwrap_or_else(|| panic!("no event of the gateway's inactive answer: {events:?}"));
    assert_eq!(event_count(inactive_event), 1, "{inactive_event}");
    let revocations = logs_of(&app, &admin, "token_revocation", 1).await;
    assert_eq!(revocations.len(), 1, "{revocations:?}");
    let claims = verify_independently(&app, &token, API).await;
    assert_eq!(revocations[0]["client_id"], worker.as_str());
    assert_eq!(revocations[0]["audience"], API);
    assert_eq!(revocations[0]["details"]["jti"], claims["jti"]);
    assert!(
        revocations[0]["ip"].as_str().is_some(),
        "{}",
        revocations[0]
    );
    for event in events.iter().chain(&revocations) {
        assert!(
            !event.to_string().contains(&token),
            "the token leaked: {event}"
        );
    }

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "warrant_introspection_requests_total{result=\"active\"} 3",
        "warrant_introspection_requests_total{result=\"inactive\"} 1",
        "warrant_introspection_requests_total{result=\"refused\"} 1",
        "warrant_revocation_requests_total{result=\"revoked\"} 1",
        "warrant_revocation_requests_total{result=\"ignored\"} 1",
        "warrant_revocation_requests_total{result=\"unauthorized_client\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

/// On the server `app` (on a clock that stands still, its refusals written only when flushed):
/// a wrong secret at either endpoint, and a garbled assertion, are audit events with the client
/// ID the caller claimed, its address and the reason, never the secret, the assertion or the
/// token; 1,000 more bad attempts at introspection are counted in a few aggregated events.
async fn failed_authentications_story(app: TestServer) {
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;
    let (status, _) = introspect(&app, &id, "wrong-secret-at-introspect", &token).await;
    assert_eq!(status, 401);
    let (status, _) = revoke(&app, &id, "wrong-secret-at-revoke", &token).await;
    assert_eq!(status, 401);
    let garbled = "garbled-assertion-text";
    let response = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("client_id", id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", garbled),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let admin = app.admin_token().await;
    let introspections = logs_of(&app, &admin, "token_introspection_failed", 1).await;
    let revocations = logs_of(&app, &admin, "token_revocation_failed", 2).await;
    assert_eq!(introspections.len(), 1, "{introspections:?}");
    for event in introspections.iter().chain(&revocations) {
        assert_eq!(event["client_id"], id.as_str(), "{event}");
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        let text = event.to_string();
        for secret in [
            "wrong-secret-at-introspect",
            "wrong-secret-at-revoke",
            garbled,
            &secret,
            &token,
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {event}");
        }
    }
    assert!(
        introspections[0]["description"]
            .as_str()
            .unwrap()
            .contains("wrong secret"),
        "{}",
        introspections[0]
    );
    let wrong_secret = revocations
        .iter()
        .find(|e| e["description"].as_str().unwrap().contains("wrong secret"))
        .unwrap_or_else(|| panic!("no wrong-secret refusal: {revocations:?}"));
    assert_eq!(event_count(wrong_secret), 1, "{wrong_secret}");
    assert_eq!(
        revocations.iter().map(event_count).sum::<u64>(),
        2,
        "{revocations:?}"
    );

    // A flood: refused 401 until the address's failure budget is spent, 429 after; every one
    // of them counted, in a handful of rows.
    for _ in 0..20 {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let request = app.http.post(app.url("/oauth/introspect")).form(&[
                ("client_id", id.as_str()),
                ("client_secret", "guess"),
                ("token", token.as_str()),
            ]);
            requests.spawn(async move { request.send().await.unwrap().status() });
        }
        for status in requests.join_all().await {
            assert!(matches!(status.as_u16(), 401 | 429), "{status}");
        }
    }
    let events = logs_of(&app, &admin, "token_introspection_failed", 1_001).await;
    assert_eq!(events.iter().map(event_count).sum::<u64>(), 1_001);
    assert!(
        events.len() <= 4,
        "1,001 refusals written as {} events: {events:?}",
        events.len()
    );
    assert!(
        events.iter().any(|e| e["description"]
            .as_str()
            .unwrap()
            .starts_with("too many failed client authentications from this address")
            && e.get("client_id").is_none()),
        "throttled for the address, counted under the address alone: {events:?}"
    );
}

/// A server for [`failed_authentications_story`]: a clock that stands still (a throttled
/// request's "retry in N s" stays the same) and refusals written when the test flushes.
async fn standing_still(config: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    settings.audit.refusal_interval = std::time::Duration::from_secs(3_600);
    config(&mut settings);
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    spawn_with_clock(dir, settings, clock).await.unwrap()
}

#[tokio::test]
async fn failed_client_authentications_are_audited_aggregated() {
    failed_authentications_story(standing_still(|_| {}).await).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn failed_client_authentications_are_audited_aggregated_on_postgres() {
    let db = PgDatabase::create().await;
    let app = standing_still(|config| {
        config.database_url = Some(Secret::new(db.url.clone()));
        config.master_key = Some(Secret::new("aW50cm9zcGVjdGlvbiBvbiBwb3N0Z3JlcyB0ZXN0cyE="));
    })
    .await;
    failed_authentications_story(app).await;
}
