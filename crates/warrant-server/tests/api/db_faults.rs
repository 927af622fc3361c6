//! Database faults that give no sign: the connections to PostgreSQL go silent (a partition, a
//! failover, a NAT dropping its state), through a proxy that freezes them. The instance notices
//! within its deadlines, says how stale its catalog is, refuses unknown clients at once instead
//! of letting them pile up, picks up changes within about a second of the database's return,
//! and shuts down within its deadline whatever the database does.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use warrant_server::admin::{Admin, GrantSpec, NewApi, NewCredential};
use warrant_server::catalog::MAX_CONCURRENT_LOOKUPS;
use warrant_server::clock::{Clock, SystemClock};
use warrant_server::config::{Config, Secret};
use warrant_server::domain::Scope;
use warrant_server::store::{GrantFilter, Store};
use warrant_testkit::{DbProxy, PgDatabase, ProxyMode, TestServer};

use crate::support::assertions::{ClientKey, JWT_BEARER};

const API: &str = "https://api.example.com";
const MASTER_KEY: &str = "ZGF0YWJhc2UgZmF1bHRzIHRlc3QgbWFzdGVyIGtleSA=";

/// An instance whose database connections go through `proxy`.
async fn start(proxy: &DbProxy, configure: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(proxy.url.clone()));
    config.master_key = Some(Secret::new(MASTER_KEY));
    configure(&mut config);
    TestServer::builder()
        .dir(dir)
        .config(config)
        .start()
        .await
        .unwrap()
}

/// Administration straight on the database, around the proxy: an API and an application
/// granted it; returns the administration and the application's credentials.
async fn provision(db: &PgDatabase) -> (Admin, Value) {
    let store = Store::connect(&db.url).await.unwrap();
    let admin = Admin::new(store, Arc::new(SystemClock));
    admin
        .create_api(NewApi {
            identifier: API.into(),
            name: "API".into(),
            scopes: vec![Scope {
                value: "read:data".into(),
                description: String::new(),
            }],
            token_lifetime: None,
            signing_alg: None,
            proof_of_possession: None,
        })
        .await
        .unwrap();
    let created = admin
        .create_application(
            "worker".into(),
            String::new(),
            vec![GrantSpec {
                audience: API.into(),
                scopes: vec!["read:data".into()],
                custom_claims: None,
            }],
        )
        .await
        .unwrap();
    let body = json!({"grant_type": "client_credentials", "audience": API,
                      "client_id": created.application.client_id,
                      "client_secret": created.secret.expose()});
    (admin, body)
}

async fn token(http: &reqwest::Client, base: &str, body: &Value) -> reqwest::Response {
    http.post(format!("{base}/oauth/token"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn readyz(http: &reqwest::Client, base: &str) -> (u16, Value) {
    let response = http.get(format!("{base}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Waits (up to `limit`) until `check` holds; returns how long it took.
async fn until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        // Real time under test: each caller states its deadline.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// An HTTP client whose connections come from `ip` (any 127.x address is local), so that
/// per-address throttling tells test clients apart.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn after_the_database_went_silent_changes_arrive_soon_after_it_returns() {
    let db = PgDatabase::create().await;
    let proxy = DbProxy::start(&db.url).await;
    let (admin, body) = provision(&db).await;
    // Its /metrics on the main listener, to read the staleness gauge.
    let mut instance = start(&proxy, |config| config.metrics_public = true).await;
    let http = reqwest::Client::new();
    assert_eq!(token(&http, &instance.base, &body).await.status(), 200);
    let (status, ready) = readyz(&http, &instance.base).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["catalog"], "current");

    // Every connection goes silent, the LISTEN connection and a query in flight included:
    // the watcher's look at the change counter waits on a lock when the silence starts.
    let mut locker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE state_version IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let observer = sqlx::PgPool::connect(&db.url).await.unwrap();
    until(
        "the watcher waits on the lock",
        Duration::from_secs(5),
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks \
                 WHERE NOT granted AND relation = 'state_version'::regclass",
            )
            .fetch_one(&observer)
            .await
            .unwrap();
            waiting > 0
        },
    )
    .await;
    observer.close().await;
    proxy.set(ProxyMode::Freeze);
    sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    let noticed = until(
        "/readyz reports the outage",
        Duration::from_secs(8),
        || async {
            let (status, ready) = readyz(&http, &instance.base).await;
            status == 503 && ready["checks"]["storage"] == "unreachable"
        },
    )
    .await;
    println!("outage noticed after {noticed:?}");
    // The catalog grows stale, and says since when.
    until(
        "the catalog is reported stale",
        Duration::from_secs(8),
        || async {
            let (_, ready) = readyz(&http, &instance.base).await;
            ready["checks"]["catalog"] == "stale"
        },
    )
    .await;
    let (_, ready) = readyz(&http, &instance.base).await;
    let age = ready["catalog"]["age_ms"].as_u64().unwrap();
    assert!(age > 1_000, "{ready}");
    let metrics = http
        .get(format!("{}/metrics", instance.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let staleness: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warrant_catalog_age_seconds "))
        .expect("the staleness gauge")
        .parse()
        .unwrap();
    assert!(staleness > 1.0, "warrant_catalog_age_seconds {staleness}");
    assert!(metrics.contains("\nwarrant_ready 0\n"));
    // Known clients keep being served from memory.
    assert_eq!(token(&http, &instance.base, &body).await.status(), 200);

    // Meanwhile the grant is deleted (on the database, around the proxy).
    let client_id = body["client_id"].as_str().unwrap();
    let grants = admin
        .list_grants(&GrantFilter {
            client_id: Some(client_id.into()),
            audience: None,
        })
        .await
        .unwrap();
    admin.delete_grant(&grants[0].id).await.unwrap();

    // The database answers again (the frozen connections stay dead, as after a failover).
    proxy.set(ProxyMode::Pass);
    let followed = until(
        "the deleted grant is in force",
        Duration::from_secs(3),
        || async { token(&http, &instance.base, &body).await.status() == 403 },
    )
    .await;
    println!("the deletion was in force {followed:?} after the database returned");
    // At worst a retry's deadline (1 s) and a poll interval, and some scheduling.
    assert!(
        followed < Duration::from_millis(2_500),
        "took {followed:?} after the database returned"
    );
    until("/readyz recovers", Duration::from_secs(2), || async {
        readyz(&http, &instance.base).await.0 == 200
    })
    .await;

    // With the database silent again, shutdown still ends within its deadline: idle
    // connections get their grace, the background tasks theirs.
    proxy.set(ProxyMode::Freeze);
    let _ = token(&http, &instance.base, &body).await;
    let started = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(15), instance.stop()).await;
    let took = started.elapsed();
    assert!(served.is_ok(), "shutdown did not finish (after {took:?})");
    println!("shutdown with the database frozen took {took:?}");
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn the_listen_connection_comes_back_by_itself() {
    let db = PgDatabase::create().await;
    let proxy = DbProxy::start(&db.url).await;
    let (admin, body) = provision(&db).await;
    // A poll too slow to matter: changes can only come through LISTEN/NOTIFY.
    let instance = start(&proxy, |config| {
        config.poll_interval = Duration::from_secs(120);
    })
    .await;
    let http = reqwest::Client::new();
    assert_eq!(token(&http, &instance.base, &body).await.status(), 200);

    proxy.set(ProxyMode::Freeze);
    // Long enough for the LISTEN connection to be found silent: 10 s of quiet, then a ping.
    // Real time under test: the store's own timers find the LISTEN connection silent.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let client_id = body["client_id"].as_str().unwrap();
    let grants = admin
        .list_grants(&GrantFilter {
            client_id: Some(client_id.into()),
            audience: None,
        })
        .await
        .unwrap();
    admin.delete_grant(&grants[0].id).await.unwrap();
    proxy.set(ProxyMode::Pass);
    // At worst a connection attempt's deadline (3 s), then a look.
    let followed = until(
        "the deleted grant is in force",
        Duration::from_secs(6),
        || async { token(&http, &instance.base, &body).await.status() == 403 },
    )
    .await;
    println!("through a new LISTEN connection {followed:?} after the database returned");
    proxy.set(ProxyMode::Cut);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn unknown_clients_during_an_outage_are_refused_at_once_and_leave_known_ones_alone() {
    let db = PgDatabase::create().await;
    let proxy = DbProxy::start(&db.url).await;
    let (_admin, body) = provision(&db).await;
    // A global cap that the unknown clients below would fill many times over.
    let instance = start(&proxy, |config| {
        config.request_limits.max_in_flight = 64;
    })
    .await;
    let warm = client_from("127.0.0.1");
    assert_eq!(token(&warm, &instance.base, &body).await.status(), 200);
    let unknown = |n: usize| {
        json!({"grant_type": "client_credentials", "audience": API,
               "client_id": format!("unknown-{n}"), "client_secret": "whatever"})
    };

    proxy.set(ProxyMode::Freeze);
    // Before the instance noticed: lookups beyond their own cap are refused at once.
    let extra = 16;
    let (attacker_a, base) = (client_from("127.0.0.2"), instance.base.clone());
    let lookups: Vec<_> = (0..MAX_CONCURRENT_LOOKUPS + extra)
        .map(|n| {
            let (http, base, body) = (attacker_a.clone(), base.clone(), unknown(n));
            tokio::spawn(async move {
                let started = Instant::now();
                let response = token(&http, &base, &body).await;
                let retry_after = response.headers().contains_key("retry-after");
                (response.status().as_u16(), retry_after, started.elapsed())
            })
        })
        .collect();
    // Known clients keep getting tokens while those are in flight.
    for _ in 0..20 {
        assert_eq!(token(&warm, &instance.base, &body).await.status(), 200);
    }
    let mut fast = 0;
    for lookup in lookups {
        let (status, retry_after, took) = lookup.await.unwrap();
        // 429 once the address spent its budget of misses during the outage.
        assert!(status == 503 || status == 429, "{status}");
        assert!(retry_after, "a 503 without Retry-After");
        // The others wait for storage: a ping's deadline, then a lookup's.
        if took < Duration::from_secs(1) {
            fast += 1;
        }
    }
    assert!(
        fast >= extra,
        "only {fast} lookups beyond the cap were refused at once"
    );

    until("the outage is noticed", Duration::from_secs(8), || async {
        readyz(&warm, &instance.base).await.0 == 503
    })
    .await;
    // Once the outage is known, an unknown client is refused at once, with Retry-After.
    let attacker_b = client_from("127.0.0.3");
    let started = Instant::now();
    let refused = token(&attacker_b, &instance.base, &unknown(1_000)).await;
    let took = started.elapsed();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"], "temporarily_unavailable");
    assert!(took < Duration::from_millis(500), "refused after {took:?}");

    // Many unknown clients at once, from many connections: known clients are still served.
    let stop = Arc::new(AtomicBool::new(false));
    let (refusals, other) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let flood: Vec<_> = (0..128)
        .map(|n| {
            let (http, base) = (client_from("127.0.0.4"), instance.base.clone());
            let (stop, refusals, other) =
                (Arc::clone(&stop), Arc::clone(&refusals), Arc::clone(&other));
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let body = json!({"grant_type": "client_credentials", "audience": API,
                        "client_id": format!("flood-{n}-{i}"), "client_secret": "whatever"});
                    match token(&http, &base, &body).await.status().as_u16() {
                        503 | 429 => refusals.fetch_add(1, Ordering::Relaxed),
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let (mut served, started) = (0, Instant::now());
    while started.elapsed() < Duration::from_secs(2) {
        assert_eq!(token(&warm, &instance.base, &body).await.status(), 200);
        served += 1;
    }
    stop.store(true, Ordering::Relaxed);
    // Those misses counted against their address: it is now refused before any work. Asked at
    // once, before the flood's last requests are awaited (on a loaded machine that can take
    // longer than the address's refill of one attempt every 3 s). One refill may still land
    // just now and let one request through to the silent database (503); the next cannot.
    let attacker_c = client_from("127.0.0.4");
    let mut throttled = token(&attacker_c, &instance.base, &unknown(2_000)).await;
    if throttled.status() == 503 {
        throttled = token(&attacker_c, &instance.base, &unknown(2_001)).await;
    }
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    for task in flood {
        task.await.unwrap();
    }
    println!(
        "known client: {served} tokens in 2 s beside {} refused unknown ones",
        refusals.load(Ordering::Relaxed)
    );
    assert_eq!(other.load(Ordering::Relaxed), 0);
    assert!(refusals.load(Ordering::Relaxed) > 128);
    assert_eq!(token(&warm, &instance.base, &body).await.status(), 200);
    proxy.set(ProxyMode::Cut);
}

/// private_key_jwt while the database is silent: an assertion's `jti` cannot be recorded, so
/// the request is refused as 503 "try again" within the replay check's deadline (never a token
/// without the single-use check, never a longer wait), requests queued behind the silent batch
/// included; once the database is back, fresh assertions get tokens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn assertions_whose_jti_cannot_be_recorded_are_refused_for_a_retry() {
    let db = PgDatabase::create().await;
    let proxy = DbProxy::start(&db.url).await;
    let (admin, body) = provision(&db).await;
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let key = ClientKey::es256();
    let new = NewCredential {
        name: "worker key".into(),
        alg: "ES256".into(),
        pem: key.public_pem(),
        expires_at: None,
    };
    admin.add_credential_in_use(&client_id, new).await.unwrap();
    let instance = start(&proxy, |_| {}).await;
    let request = || {
        let now = SystemClock.now();
        let claims = json!({"iss": client_id, "sub": client_id, "iat": now, "exp": now + 60,
            "aud": format!("{}oauth/token", instance.issuer),
            "jti": warrant_server::domain::random_token::<16>()});
        json!({"grant_type": "client_credentials", "audience": API,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": key.sign(&json!({"alg": "ES256"}), &claims)})
    };
    let http = reqwest::Client::new();
    assert_eq!(token(&http, &instance.base, &request()).await.status(), 200);

    proxy.set(ProxyMode::Freeze);
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let (http, base, body) = (http.clone(), instance.base.clone(), request());
            tokio::spawn(async move {
                let started = Instant::now();
                let response = token(&http, &base, &body).await;
                let retry_after = response.headers().contains_key("retry-after");
                let status = response.status().as_u16();
                let error: Value = response.json().await.unwrap();
                (status, retry_after, error, started.elapsed())
            })
        })
        .collect();
    for request in waiting {
        let (status, retry_after, error, took) = request.await.unwrap();
        assert_eq!(status, 503, "{error}");
        assert!(retry_after, "a 503 without Retry-After");
        assert_eq!(error["error"], "temporarily_unavailable");
        assert!(
            error["error_description"]
                .as_str()
                .unwrap()
                .contains("cannot be checked for reuse"),
            "{error}"
        );
        // The deadline is 2 s, queueing included.
        assert!(took < Duration::from_secs(4), "refused after {took:?}");
    }

    proxy.set(ProxyMode::Pass);
    until(
        "assertions are accepted again",
        Duration::from_secs(15),
        || async { token(&http, &instance.base, &request()).await.status() == 200 },
    )
    .await;
    proxy.set(ProxyMode::Cut);
}
