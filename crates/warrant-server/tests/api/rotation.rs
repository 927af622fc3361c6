//! Signing-key rotation without downtime, and revocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use warrant_guard::Verifier;

use crate::support::{API, TestServer, spawn_app};

async fn jwks_kids(app: &crate::support::TestServer) -> Vec<String> {
    app.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The master key the server created in its data directory.
fn master_key_of(app: &TestServer) -> warrant_server::keys::MasterKey {
    warrant_server::keys::MasterKey::load_or_create(None, app.data_dir())
        .unwrap()
        .0
}

fn kid_of(token: &str) -> String {
    let header = jsonwebtoken::decode_header(token).unwrap();
    header.kid.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_verifier_sees_no_failure_while_keys_rotate_twice() {
    let app = Arc::new(spawn_app().await);
    let (id, secret) = app.with_worker().await;
    let verifier = Verifier::builder(&app.issuer, API)
        .jwks_url(app.url("/.well-known/jwks.json"))
        .build()
        .unwrap();
    verifier.refresh_keys().await.unwrap();
    let fetches_before = verifier.jwks_stats().fetches;

    let stop = Arc::new(AtomicBool::new(false));
    // How many tokens the load verified and the key of the last one, watched: each rotation
    // waits for the load to have verified tokens under the key before.
    let (verified_tx, mut verified) = tokio::sync::watch::channel((0u64, String::new()));
    let load = {
        let (app, stop, verifier) = (Arc::clone(&app), Arc::clone(&stop), verifier.clone());
        tokio::spawn(async move {
            let mut kids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let token = app.token(&id, &secret).await;
                if let Err(e) = verifier.verify(&token).await {
                    panic!("verification failed during rotation: {e}");
                }
                let kid = kid_of(&token);
                if kids.last() != Some(&kid) {
                    kids.push(kid.clone());
                }
                verified_tx.send_modify(|(n, last)| (*n, *last) = (*n + 1, kid));
            }
            kids
        })
    };
    let token = app.admin_token().await;
    // Ten tokens under each key, the new one once the token endpoint signs with it.
    verified.wait_for(|(n, _)| *n >= 1).await.unwrap();
    let mut current = verified.borrow().1.clone();
    for round in 0..3 {
        let target = verified.borrow().0 + 10;
        let under_current = verified.wait_for(|(n, kid)| *n >= target && *kid == current);
        tokio::time::timeout(Duration::from_secs(5), under_current)
            .await
            .unwrap_or_else(|_| panic!("no ten tokens under {current} within 5 s"))
            .unwrap();
        if round < 2 {
            let (status, rotated) = app
                .mgmt(Method::POST, "/keys/signing/rotate", Some(&token), None)
                .await;
            assert_eq!(status, 201, "{rotated}");
            assert_eq!(rotated["current"], true);
            current = rotated["kid"].as_str().unwrap().to_owned();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let kids = load.await.unwrap();
    assert_eq!(
        kids.len(),
        3,
        "tokens were signed by three keys in turn: {kids:?}"
    );
    assert!(verified.borrow().0 > 20);
    // The first rotation's new key was published in advance; the second's was created by the
    // first rotation, after the verifier fetched: one refetch for it, no more.
    let refetches = verifier.jwks_stats().fetches - fetches_before;
    assert!(refetches <= 1, "{refetches} refetches");
}

#[tokio::test]
async fn rotate_and_revoke_through_the_management_api() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());

    let (status, keys) = app.mgmt(Method::GET, "/keys/signing", t, None).await;
    assert_eq!(status, 200);
    let keys = keys.as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    let current = keys.iter().find(|k| k["current"] == true).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = keys.iter().find(|k| k["next"] == true).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        jwks_kids(&app).await.contains(&next),
        "the next key is published before it signs"
    );
    let before = app.token(&id, &secret).await;
    assert_eq!(kid_of(&before), current);

    let (status, rotated) = app
        .mgmt(Method::POST, "/keys/signing/rotate", t, None)
        .await;
    assert_eq!(status, 201);
    assert_eq!(rotated["kid"], next.as_str());
    let after = app.token(&id, &secret).await;
    assert_eq!(kid_of(&after), next);
    let published = jwks_kids(&app).await;
    assert_eq!(published.len(), 3, "new next, current, previous");
    assert!(
        published.contains(&current),
        "the previous key stays while its tokens live"
    );

    let (status, body) = app
        .mgmt(
            Method::PUT,
            &format!("/keys/signing/{next}/revoke"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 409, "the current key cannot be revoked: {body}");
    let (status, revoked) = app
        .mgmt(
            Method::PUT,
            &format!("/keys/signing/{current}/revoke"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(revoked["revoked"], true);
    assert!(revoked["revoked_at"].is_string());
    assert!(
        !jwks_kids(&app).await.contains(&current),
        "revocation removes the key at once"
    );
    // The admin token was signed by the revoked key: it stops working too.
    let (status, _) = app.mgmt(Method::GET, "/keys/signing", t, None).await;
    assert_eq!(status, 401);
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    let (status, _) = app
        .mgmt(Method::PUT, "/keys/signing/nope/revoke", t, None)
        .await;
    assert_eq!(status, 404);
    let (status, got) = app
        .mgmt(Method::GET, &format!("/keys/signing/{current}"), t, None)
        .await;
    assert_eq!((status, got["previous"].clone()), (200, Value::Bool(false)));
}

#[tokio::test]
async fn concurrent_rotations_from_the_same_key_rotate_once() {
    let app = spawn_app().await;
    let admin = warrant_server::admin::Admin::with_master_key(
        app.store.clone(),
        Arc::new(warrant_server::clock::SystemClock),
        Arc::new(master_key_of(&app)),
    );
    let current = app
        .catalog
        .snapshot()
        .current_key(warrant_server::domain::SigningAlg::RS256)
        .unwrap()
        .0
        .to_owned();
    let (a, b) = tokio::join!(
        admin.rotate_keys_from(&current),
        admin.rotate_keys_from(&current)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one rotation: {a:?} / {b:?}"
    );
    let keys = app.admin.list_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
}

/// Two servers on one data directory with scheduled rotation and a clock the test moves:
/// each interval that passes causes exactly one rotation of each algorithm's keys (RS256's and,
/// with an ES256 API, ES256's), whichever instance makes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_happens_once_per_interval_across_instances() {
    use warrant_server::clock::{Clock, ManualClock};
    use warrant_server::config::Config;

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut servers = Vec::new();
    for _ in 0..2 {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
        // Checked every tenth of the interval, at least once a second.
        config.key_rotation_interval = Some(Duration::from_secs(10));
        let server = TestServer::builder()
            .config(config)
            .clock(clock.clone())
            .start()
            .await
            .unwrap();
        servers.push(server);
    }
    servers[0]
        .create_api_signed(
            "https://fast.example.com",
            &[],
            None,
            Some(warrant_server::domain::SigningAlg::ES256),
        )
        .await;
    servers[1].sync().await;
    let store = servers[0].store.clone();
    let keys = || async { store.list_signing_keys().await.unwrap().len() };
    assert_eq!(
        keys().await,
        4,
        "a current and a next key for RS256 and for ES256"
    );

    for round in 1..=2 {
        clock.advance(11);
        let started = std::time::Instant::now();
        while keys().await < 4 + 2 * round {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no rotation in round {round}"
            );
            // Real time under test: the rotation check's schedule (at least once a second).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Both instances check every second: give the slower one its chance to (not) rotate.
        // Kept: the other instance's check runs on its one-second schedule and shows nothing.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            keys().await,
            4 + 2 * round,
            "exactly one rotation per algorithm in round {round}"
        );
    }
    let now = clock.now();
    let listed = store.list_signing_keys().await.unwrap();
    for alg in [
        warrant_server::domain::SigningAlg::RS256,
        warrant_server::domain::SigningAlg::ES256,
    ] {
        let of_alg: Vec<_> = listed.iter().filter(|k| k.alg == alg).collect();
        assert_eq!(of_alg.len(), 4, "{alg:?}: two rotations");
        let current: Vec<_> = of_alg
            .iter()
            .filter(|k| k.status == warrant_server::keys::KeyStatus::Current)
            .collect();
        assert_eq!(current.len(), 1);
        assert!(current[0].current_since.unwrap() + 10 > now);
    }
    drop(servers);
}
