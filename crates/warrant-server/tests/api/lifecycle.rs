//! Changes reach a running server within a second; restarts keep keys and clients; a wrong
//! master key refuses to start.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warrant_server::store::GrantFilter;

use crate::support::{API, Engine, logs_of, spawn_app, spawn_in, spawn_on};

/// Polls the token endpoint until it answers `status`; returns how long that took.
async fn time_until_status(
    app: &crate::support::TestServer,
    body: &Value,
    status: u16,
) -> Duration {
    let start = Instant::now();
    loop {
        let got = app.token_json(body).await.status().as_u16();
        if got == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still {got} after 3 s, waiting for {status}"
        );
        // Real time under test: how long the change takes to reach the token endpoint.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn request(id: &str, secret: &str) -> Value {
    json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": API})
}

#[tokio::test]
async fn a_deleted_grant_stops_issuance_within_one_second() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let body = request(&id, &secret);
    assert_eq!(app.token_json(&body).await.status(), 200);
    let grants = app
        .admin
        .list_grants(&GrantFilter {
            client_id: Some(id.clone()),
            audience: None,
        })
        .await
        .unwrap();
    app.admin.delete_grant(&grants[0].id).await.unwrap();
    // No manual sync: the server must notice by itself.
    let took = time_until_status(&app, &body, 403).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_deleted_application_stops_issuance_within_one_second() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let body = request(&id, &secret);
    assert_eq!(app.token_json(&body).await.status(), 200);
    app.admin.delete_application(&id).await.unwrap();
    let took = time_until_status(&app, &body, 401).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn a_new_application_gets_tokens_within_one_second() {
    let app = spawn_app().await;
    app.create_api(API, &["read:data"], None).await;
    let created = app
        .admin
        .create_application(
            "late".into(),
            String::new(),
            vec![warrant_server::admin::GrantSpec {
                audience: API.into(),
                scopes: vec!["read:data".into()],
                custom_claims: None,
            }],
        )
        .await
        .unwrap();
    let body = request(&created.application.client_id, created.secret.expose());
    let took = time_until_status(&app, &body, 200).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[tokio::test]
async fn rotating_a_secret_stops_the_old_one_unless_a_grace_period_is_given() {
    let app = spawn_app().await;
    let (id, old) = app.with_worker().await;

    let with_grace = app.admin.rotate_secret(&id, 3600).await.unwrap();
    app.sync().await;
    assert_eq!(app.token_json(&request(&id, &old)).await.status(), 200);
    assert_eq!(
        app.token_json(&request(&id, with_grace.expose()))
            .await
            .status(),
        200
    );

    let newest = app.admin.rotate_secret(&id, 0).await.unwrap();
    let took = time_until_status(&app, &request(&id, &old), 401).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        app.token_json(&request(&id, with_grace.expose()))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.token_json(&request(&id, newest.expose()))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn restart_keeps_the_signing_key_and_the_clients() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let jwks_before = app.jwks().await;
    let dir = app.into_data_dir().await;

    let app = spawn_in(dir, None).await.unwrap();
    let jwks_after = app.jwks().await;
    assert_eq!(jwks_before, jwks_after);
    let token = app.token(&id, &secret).await;
    let claims = crate::support::verify_independently(&app, &token, API).await;
    assert_eq!(claims["client_id"], id);
}

#[tokio::test]
async fn a_wrong_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let key_a = "a".repeat(64);
    let key_b = "b".repeat(64);
    let app = spawn_in(dir, Some(&key_a)).await.unwrap();
    // The supplied key is used: no key file is written.
    assert!(!app.data_dir().join("master.key").exists());
    let dir = app.into_data_dir().await;

    let err = spawn_in(dir, Some(&key_b))
        .await
        .expect_err("start refused");
    let message = err.to_string();
    assert!(message.contains("master key"), "{message}");
    assert!(!message.contains(&key_b) && !message.contains(&key_a));
}

#[tokio::test]
async fn the_private_key_is_not_stored_in_the_clear() {
    let app = spawn_app().await;
    let db = std::fs::read(app.data_dir().join("warrant.db")).unwrap();
    let wal = std::fs::read(app.data_dir().join("warrant.db-wal")).unwrap_or_default();
    // A PKCS#8 RSA private key starts with this DER prefix (SEQUENCE, version 0, rsaEncryption).
    let marker: &[u8] = &[
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
    ];
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(marker.len()).any(|w| w == marker));
    }
    let keys = app.store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2, "current and next");
    assert!(keys.iter().all(|k| k.sealed_private_key.len() > 1000));
}

/// An issued token's audit event names the secret that authenticated by its stored row's ID:
/// the same for every token of one secret, another for the secret a rotation issues (so a
/// grace period shows who still uses the old one), and nothing of the secret or its hash.
async fn the_audit_log_names_the_secret_used(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let (id, old) = app.with_worker().await;
    let stored = app.admin.get_application(&id).await.unwrap().secrets;
    assert_eq!(stored.len(), 1);
    let old_id = stored[0].id.clone();
    app.token(&id, &old).await;
    app.token(&id, &old).await;
    let new = app.admin.rotate_secret(&id, 3600).await.unwrap();
    app.sync().await;
    let new = new.expose().to_owned();
    app.token(&id, &new).await;
    app.token(&id, &old).await;
    let new_id = app
        .admin
        .get_application(&id)
        .await
        .unwrap()
        .secrets
        .into_iter()
        .map(|s| s.id)
        .find(|s| *s != old_id)
        .unwrap();

    let token = app.admin_token().await;
    let events = logs_of(&app, &token, "seccft", 5).await;
    let used: Vec<&str> = events
        .iter()
        .filter(|e| e["client_id"] == id.as_str())
        .map(|e| {
            let auth = &e["details"]["client_authentication"];
            assert_eq!(auth["method"], "secret", "{e}");
            auth["credential_id"].as_str().unwrap()
        })
        .collect();
    // Newest first.
    assert_eq!(
        used,
        [
            old_id.as_str(),
            new_id.as_str(),
            old_id.as_str(),
            old_id.as_str()
        ]
    );
    let text = serde_json::to_string(&events).unwrap();
    let hashes: Vec<String> = [&old, &new]
        .iter()
        .map(|s| hex(&warrant_server::domain::hash_secret(s).0))
        .collect();
    for secret in [&old, &new] {
        assert!(!text.contains(secret.as_str()));
    }
    for hash in &hashes {
        assert!(
            !text.contains(&hash[..12]),
            "no part of a secret's hash is logged"
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn sqlite_the_audit_log_names_the_secret_used() {
    the_audit_log_names_the_secret_used(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_the_audit_log_names_the_secret_used() {
    the_audit_log_names_the_secret_used(Engine::Postgres).await;
}
