//! Several instances on one PostgreSQL database (each with its own pool, cache and listener,
//! sharing nothing else): what one does, the others follow within a second.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::Server;
use warrant_server::config::{Config, Secret};

use warrant_testkit::{PgDatabase, TestServer};

const API: &str = "https://api.example.com";
const MASTER_KEY: &str = "c2hhcmVkIG1hc3RlciBrZXkgZm9yIHRoZSBkZXBsb3k=";

async fn start(db: &PgDatabase, dir: &std::path::Path, issuer: &str) -> TestServer {
    start_with(db, dir, issuer, |_| {}).await
}

async fn start_with(
    db: &PgDatabase,
    dir: &std::path::Path,
    issuer: &str,
    change: impl FnOnce(&mut Config),
) -> TestServer {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir);
    change(&mut config);
    config.database_url = Some(Secret::new(db.url.clone()));
    config.master_key = Some(Secret::new(MASTER_KEY));
    // One issuer for the deployment, as behind a load balancer.
    config.issuer = Some(issuer.to_owned());
    // A poll too slow to meet the 1 s promise: the instances must follow each other through
    // PostgreSQL's LISTEN/NOTIFY.
    config.poll_interval = std::time::Duration::from_secs(30);
    TestServer::builder().config(config).start().await.unwrap()
}

async fn within_a_second<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: not within 1 s"
        );
        // Real time under test: the one-second promise.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn token_status(http: &reqwest::Client, base: &str, body: &Value) -> u16 {
    http.post(format!("{base}/oauth/token"))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn instances_on_one_database_follow_each_other() {
    let db = PgDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let issuer = "https://auth.example.com/";
    let a = start(&db, dir_a.path(), issuer).await;
    let b = start(&db, dir_b.path(), issuer).await;
    let http = reqwest::Client::new();

    // Bootstrap once, through A's service layer.
    let store = warrant_server::store::Store::connect(&db.url)
        .await
        .unwrap();
    let admin = warrant_server::admin::Admin::new(
        store,
        std::sync::Arc::new(warrant_server::clock::SystemClock),
    );
    let (admin_id, admin_secret) = match admin.initialize(&a.issuer).await.unwrap() {
        warrant_server::admin::Initialized::Created { client_id, secret } => {
            (client_id, secret.expose().to_owned())
        }
        other => panic!("{other:?}"),
    };
    let admin_token_at = |base: String| {
        let http = http.clone();
        let body = json!({"grant_type": "client_credentials", "client_id": admin_id, "client_secret": admin_secret, "audience": format!("{issuer}api/v2/")});
        async move {
            loop {
                let r = http
                    .post(format!("{base}/oauth/token"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    return r.json::<Value>().await.unwrap()["access_token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                }
                // Real time: the instance picks the admin application up within its poll.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let token_a = admin_token_at(a.base.clone()).await;
    let mgmt = |base: &str, method: Method, path: &str, token: &str, body: Option<Value>| {
        let mut r = http
            .request(method, format!("{base}/api/v2{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            r = r.json(&body);
        }
        r.send()
    };

    // Same JWKS everywhere.
    let jwks = |base: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(jwks(a.base.clone()).await, jwks(b.base.clone()).await);

    // An API, an application and a grant through A: B issues within a second.
    let r = mgmt(
        &a.base,
        Method::POST,
        "/resource-servers",
        &token_a,
        Some(json!({"identifier": API, "scopes": [{"value": "read:data"}]})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let client: Value = mgmt(
        &a.base,
        Method::POST,
        "/clients",
        &token_a,
        Some(json!({"name": "w"})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let r = mgmt(
        &a.base,
        Method::POST,
        "/client-grants",
        &token_a,
        Some(json!({"client_id": client_id, "audience": API, "scope": ["read:data"]})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let body = json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client["client_secret"], "audience": API});
    within_a_second("B issues for a client created at A", || async {
        token_status(&http, &b.base, &body).await == 200
    })
    .await;

    // A token from A verifies against B's keys.
    let token: Value = http
        .post(format!("{}/oauth/token", a.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = warrant_guard::Verifier::builder(issuer, API)
        .jwks_url(format!("{}/.well-known/jwks.json", b.base))
        .build()
        .unwrap();
    verifier
        .verify(token["access_token"].as_str().unwrap())
        .await
        .unwrap();

    // Rotation through A: B signs with the new key within a second.
    let rotated: Value = mgmt(
        &a.base,
        Method::POST,
        "/keys/signing/rotate",
        &token_a,
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    within_a_second("B follows the rotation", || async {
        let t: Value = http
            .post(format!("{}/oauth/token", b.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jsonwebtoken::decode_header(t["access_token"].as_str().unwrap())
            .unwrap()
            .kid
            .as_deref()
            == Some(new_kid.as_str())
    })
    .await;

    // Deleting the application through B stops A within a second.
    let token_b = admin_token_at(b.base.clone()).await;
    let r = mgmt(
        &b.base,
        Method::DELETE,
        &format!("/clients/{client_id}"),
        &token_b,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    within_a_second("A stops issuing for a client deleted at B", || async {
        token_status(&http, &a.base, &body).await == 401
    })
    .await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn a_shared_database_needs_a_supplied_master_key() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(db.url.clone()));
    let err = Server::bind(config).await.expect_err("refused");
    assert!(err.to_string().contains("WARRANT_MASTER_KEY"), "{err}");
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn dashboard_sessions_work_on_every_instance() {
    use crate::support::dashboard::{
        ADMIN, PASSWORD, cookie_value, csrf_of, set_cookie, try_sign_in,
    };
    use reqwest::header::COOKIE;
    let db = PgDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&db, dir_a.path(), "https://auth.example.com/").await;
    let b = start(&db, dir_b.path(), "https://auth.example.com/").await;
    let store = warrant_server::store::Store::connect(&db.url)
        .await
        .unwrap();
    warrant_server::admin::Admin::new(
        store,
        std::sync::Arc::new(warrant_server::clock::SystemClock),
    )
    .create_operator(ADMIN, PASSWORD)
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Signed in on A (an https issuer: the cookie is Secure)...
    let response = try_sign_in(&a.base, &http, ADMIN, PASSWORD).await;
    let set = set_cookie(&response, "warrant_session");
    assert!(set.contains("; Secure"), "{set}");
    let cookie = format!("warrant_session={}", cookie_value(&set));
    let page = http
        .get(format!("{}/dashboard/apis", a.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    // ...the session works on B, forms included.
    let response = http
        .post(format!("{}/dashboard/apis", b.base))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Shared"),
            ("identifier", API),
            ("token_lifetime", "600"),
            ("signing_alg", "RS256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    // Signed out on B, it is over on A too.
    let response = http
        .post(format!("{}/dashboard/sign-out", b.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let response = http
        .get(format!("{}/dashboard/apis", a.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/dashboard/sign-in");
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn audit_writers_of_two_instances_never_wait_for_each_other() {
    use sqlx::Connection;
    use warrant_server::domain::events::AuditEvent;
    use warrant_server::store::Store;
    let db = PgDatabase::create().await;
    let (a, b) = (
        Store::connect(&db.url).await.unwrap(),
        Store::connect(&db.url).await.unwrap(),
    );
    let bucket = 1_000 * 300_000;
    let issued = |n: usize| -> Vec<AuditEvent> {
        (0..n)
            .map(|_| AuditEvent {
                date_ms: bucket + 1,
                kind: "seccft".into(),
                client_id: Some("busy-client".into()),
                audience: Some(API.into()),
                ..AuditEvent::default()
            })
            .collect()
    };
    a.insert_audit_events(&issued(3), "instance-a")
        .await
        .unwrap();
    // Instance A's next batch is in flight: its transaction holds the locks of the activity
    // rows it counts in (everything counted for this client so far is A's).
    let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut in_flight = connection.begin().await.unwrap();
    let locked: Vec<i64> =
        sqlx::query_scalar("SELECT count FROM token_activity WHERE client_id = $1 FOR UPDATE")
            .bind("busy-client")
            .fetch_all(&mut *in_flight)
            .await
            .unwrap();
    assert_eq!(locked, vec![3]);
    // Meanwhile instance B's batch, same bucket, client and API, commits without waiting.
    tokio::time::timeout(
        Duration::from_secs(5),
        b.insert_audit_events(&issued(2), "instance-b"),
    )
    .await
    .expect("instance B's audit writer waited for instance A's transaction")
    .unwrap();
    in_flight.commit().await.unwrap();
    // The Activity page reads the sum of both.
    let counts = a.token_activity(bucket, 300_000).await.unwrap();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(
        (counts[0].client_id.as_str(), counts[0].count),
        ("busy-client", 5)
    );
}

/// DPoP on two instances of one database: an API's required setting made anywhere is in force
/// everywhere within a second; a nonce one instance hands out works at the other (both derive
/// the nonce key from the master key they share); a token request's proof is replay-checked per
/// instance, as documented (a second token bound to the same key is worthless without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn dpop_settings_and_nonces_hold_across_instances() {
    use warrant_server::admin::ApiPatch;
    use warrant_server::clock::{Clock, SystemClock};
    use warrant_server::domain::{PopMechanism, ProofOfPossession};

    let db = PgDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let issuer = "https://auth.example.com/";
    let nonces = |config: &mut Config| config.dpop_nonces = true;
    let a = start_with(&db, dir_a.path(), issuer, nonces).await;
    let b = start_with(&db, dir_b.path(), issuer, nonces).await;
    let (id, secret) = a.with_worker().await;
    let http = reqwest::Client::new();
    let body = json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": API});
    let require = |required| ApiPatch {
        proof_of_possession: Some(Some(ProofOfPossession {
            mechanism: PopMechanism::Dpop,
            required,
        })),
        ..ApiPatch::default()
    };

    a.admin.update_api(API, require(true)).await.unwrap();
    for base in [&a.base, &b.base] {
        within_a_second("an unbound token request refused", || async {
            token_status(&http, base, &body).await == 400
        })
        .await;
    }

    // The proof names the deployment's public token URL, whichever instance gets it.
    let htu = format!("{issuer}oauth/token");
    let key = crate::dpop::ProofSigner::new();
    let send = |base: &str, proof: String| {
        http.post(format!("{base}/oauth/token"))
            .header("dpop", proof)
            .json(&body)
            .send()
    };
    let asked = send(&a.base, key.proof(&htu, None, SystemClock.now()))
        .await
        .unwrap();
    assert_eq!(asked.status(), 400);
    let nonce = asked.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let proof = key.proof(&htu, Some(&nonce), SystemClock.now());
    let at_b = send(&b.base, proof.clone()).await.unwrap();
    assert_eq!(at_b.status(), 200, "A's nonce works at B");
    let issued: Value = at_b.json().await.unwrap();
    assert_eq!(issued["token_type"], "DPoP");
    let again: Value = send(&b.base, proof.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["error"], "invalid_dpop_proof", "a replay at B");
    // Per instance: A has not seen this proof (documented in docs/deployment.md).
    assert_eq!(send(&a.base, proof).await.unwrap().status(), 200);

    a.admin.update_api(API, require(false)).await.unwrap();
    for base in [&a.base, &b.base] {
        within_a_second("an unbound token request accepted again", || async {
            token_status(&http, base, &body).await == 200
        })
        .await;
    }
}
