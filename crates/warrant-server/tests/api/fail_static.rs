//! Fail static: with the database cut off (through a proxy the test controls), an instance
//! keeps issuing tokens for what it knows and serving its JWKS, reports not-ready, refuses
//! management writes with 503, and recovers by itself. Nothing acknowledged is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::config::{Config, Secret};

use warrant_testkit::{DbProxy, PgDatabase, ProxyMode, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn with_the_database_cut_off_tokens_keep_flowing_and_writes_get_503() {
    let db = PgDatabase::create().await;
    let proxy = DbProxy::start(&db.url).await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(proxy.url.clone()));
    config.master_key = Some(Secret::new("ZmFpbCBzdGF0aWMgdGVzdCBtYXN0ZXIga2V5IDMyIGI="));
    let app = TestServer::builder()
        .dir(dir)
        .config(config)
        .initialized()
        .start()
        .await
        .unwrap();
    let (admin_id, admin_secret) = app.mgmt_client.clone();
    assert!(
        !admin_secret.is_empty(),
        "a fresh database gets a new admin application"
    );
    let created = app
        .admin
        .create_application("steady".into(), String::new(), vec![])
        .await
        .unwrap();
    app.sync().await;
    let base = app.base.clone();
    let mgmt_audience = app.mgmt_audience();
    let http = reqwest::Client::new();

    let token_body = json!({"grant_type": "client_credentials", "client_id": admin_id,
                            "client_secret": admin_secret, "audience": mgmt_audience});
    let admin_token: Value = http
        .post(format!("{base}/oauth/token"))
        .json(&token_body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_token = admin_token["access_token"].as_str().unwrap().to_owned();
    // A write acknowledged before the outage.
    let before = http
        .patch(format!(
            "{base}/api/v2/clients/{}",
            created.application.client_id
        ))
        .bearer_auth(&admin_token)
        .json(&json!({"description": "written before the outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);

    // Steady token load for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let (http, base, body) = (http.clone(), base.clone(), token_body.clone());
            let (stop, ok, failed) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let status = http
                        .post(format!("{base}/oauth/token"))
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16());
                    if matches!(status, Ok(200)) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    let ready = |http: reqwest::Client, base: String| async move {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready(http.clone(), base.clone()).await, 200);

    proxy.set(ProxyMode::Cut);
    let cut_at = Instant::now();
    let started = Instant::now();
    while ready(http.clone(), base.clone()).await != 503 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "/readyz did not flip"
        );
    }
    let jwks = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200, "the JWKS keeps being served");
    let write = http
        .request(Method::POST, format!("{base}/api/v2/clients"))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "during the outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 503);
    let body: Value = write.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{body}"
    );
    // Keep the database away for 10 s in all.
    let remaining = Duration::from_secs(10).saturating_sub(cut_at.elapsed());
    // Real time under test: the outage outlasts the pool's acquire timeout and the writers' backoff (sqlx's and tokio's timers, not the injected clock).
    tokio::time::sleep(remaining).await;

    proxy.set(ProxyMode::Pass);
    let started = Instant::now();
    while ready(http.clone(), base.clone()).await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "/readyz did not recover"
        );
        // Real time under test: recovery by reconnecting.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "token requests failed during the outage"
    );
    assert!(ok.load(Ordering::Relaxed) > 50);

    // Writes work again, and the one acknowledged before the outage is there.
    let after: Value = http
        .get(format!(
            "{base}/api/v2/clients/{}",
            created.application.client_id
        ))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["description"], "written before the outage");
    let write = http
        .post(format!("{base}/api/v2/clients"))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "after the outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 201);
}
