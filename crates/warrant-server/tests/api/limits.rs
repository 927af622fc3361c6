//! Limits: brute-force throttling by source address and by client ID (without locking out a
//! client that has its secret), the dashboard's sign-in budgets and the bound on password
//! checks, and token quotas counted across instances.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::config::{Config, Secret};
use warrant_server::domain::TokenQuota;
use warrant_testkit::PgDatabase;

use crate::support::dashboard::{ADMIN, PASSWORD, app_with_admin, try_sign_in};
use crate::support::{API, TestServer, spawn_app, spawn_with};

/// A client whose requests come from `ip` (any 127/8 address is this machine).
fn from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Runs `n` requests at once, each on its own task; their results in order.
pub async fn concurrently<F, T>(n: usize, request: impl Fn(usize) -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(request(i))).collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

async fn post(
    http: &reqwest::Client,
    app: &TestServer,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    http.post(app.url("/oauth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": id,
                      "client_secret": secret, "audience": API}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_address_that_keeps_failing_gets_429_but_its_right_secret_still_works() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let attacker = from("127.0.0.11");
    for _ in 0..20 {
        assert_eq!(post(&attacker, &app, &id, "guess").await.status(), 401);
    }
    let refused = post(&attacker, &app, &id, "guess").await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // The right secret from that same address works: behind a proxy or a NAT, one attacker
    // must not lock out every client that shares the address.
    assert_eq!(post(&attacker, &app, &id, &secret).await.status(), 200);
    assert_eq!(post(&attacker, &app, &id, "guess").await.status(), 429);
    // Another address has its own budget.
    assert_eq!(
        post(&from("127.0.0.12"), &app, &id, "guess").await.status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_from_one_address_spend_only_its_budget() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let attacker = from("127.0.0.13");
    let statuses = concurrently(100, |_| {
        let (attacker, url, id) = (attacker.clone(), app.url("/oauth/token"), id.clone());
        async move {
            attacker
                .post(url)
                .json(&json!({"grant_type": "client_credentials", "client_id": id,
                              "client_secret": "guess", "audience": API}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    })
    .await;
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (unauthorized, throttled),
        (20, 80),
        "a budget of 20 failures answers 20 of them 401: {statuses:?}"
    );
    assert_eq!(post(&attacker, &app, &id, &secret).await.status(), 200);
}

#[tokio::test]
async fn guessing_one_client_from_many_addresses_cannot_lock_it_out() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    // 10 failures from each of 13 addresses: under the per-address budget, over the client's.
    let started = Instant::now();
    let mut statuses = Vec::new();
    for n in 0..13 {
        let attacker = from(&format!("127.0.1.{}", n + 1));
        for _ in 0..10 {
            statuses.push(post(&attacker, &app, &id, "guess").await.status().as_u16());
        }
    }
    // The budget is 100, and 2 more a second.
    let refilled = (started.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    assert!(statuses[..100].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(unauthorized <= 100 + refilled, "{statuses:?}");
    assert!(statuses[100..].contains(&429), "{statuses:?}");
    // The right secret still works, from an address that never failed and from one that did.
    assert_eq!(
        post(&from("127.0.2.1"), &app, &id, &secret).await.status(),
        200
    );
    assert_eq!(
        post(&from("127.0.1.1"), &app, &id, &secret).await.status(),
        200
    );
}

#[tokio::test]
async fn a_quota_refuses_tokens_with_rate_limit_headers_and_events() {
    let app = spawn_app().await;
    app.create_api(API, &["read:data"], None).await;
    let admin = app.admin_token().await;
    let (status, client) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(&admin),
            Some(&json!({"name": "limited",
                         "token_quota": {"client_credentials": {"enforce": true, "per_hour": 3}}})),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(client["token_quota"]["client_credentials"]["per_hour"], 3);
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&admin),
            Some(&json!({"client_id": id, "audience": API, "scope": ["read:data"]})),
        )
        .await;
    assert_eq!(status, 201);
    app.sync().await;

    for remaining in [2, 1, 0] {
        let response = post(&app.http, &app, &id, &secret).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let refused = post(&app.http, &app, &id, &secret).await;
    assert_eq!(refused.status(), 429);
    let reset: u64 = refused.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3_600).contains(&retry));
    assert_eq!(reset % 3_600, 0, "the hour window ends on the hour");
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("cache tokens")
    );

    // One warning at 80 %, one event when reached.
    app.background.flush_audit().await;
    let (_, warned) = app
        .mgmt(
            Method::GET,
            "/logs?type=api_limit_warning",
            Some(&admin),
            None,
        )
        .await;
    let (_, reached) = app
        .mgmt(Method::GET, "/logs?type=api_limit", Some(&admin), None)
        .await;
    let (w, r) = (
        warned.as_array().unwrap().len(),
        reached.as_array().unwrap().len(),
    );
    assert_eq!((w, r), (1, 1), "warnings {w}, reached {r}");
    assert_eq!(reached[0]["client_id"], id.as_str());

    // Removing the quota lifts the limit.
    let (status, updated) = app
        .mgmt(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(&admin),
            Some(&json!({"token_quota": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(updated.get("token_quota").is_none());
    app.sync().await;
    assert_eq!(post(&app.http, &app, &id, &secret).await.status(), 200);
}

#[tokio::test]
async fn the_default_quota_is_enforced_across_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), &path);
    config.default_token_quota = Some(TokenQuota {
        per_hour: None,
        per_day: Some(4),
        observe_only: false,
    });
    let a = spawn_with(dir, config.clone()).await.unwrap();
    let (id, secret) = a.with_worker().await;
    // A second instance on the same store, with the same default.
    let b = spawn_with(tempfile::tempdir().unwrap(), config)
        .await
        .unwrap();
    assert_eq!(post(&a.http, &a, &id, &secret).await.status(), 200);
    assert_eq!(post(&a.http, &a, &id, &secret).await.status(), 200);
    assert_eq!(post(&a.http, &a, &id, &secret).await.status(), 200);
    // Each instance adds its counts to the shared total about once a second, and learns the
    // total then: B, new to this client, allows one token before it knows of A's three.
    assert_eq!(post(&b.http, &b, &id, &secret).await.status(), 200);
    // Those flushes, now: A's three, B's one (B learns of four), and A learns of four.
    a.background.flush_quotas().await;
    b.background.flush_quotas().await;
    a.background.flush_quotas().await;
    let refused = post(&b.http, &b, &id, &secret).await;
    assert_eq!(refused.status(), 429, "4 tokens issued in all");
    assert_eq!(post(&a.http, &a, &id, &secret).await.status(), 429);
}

/// Observe mode (Auth0's `enforce: false`) on the server `app`: an application's quota is
/// counted, sends its headers and its events, and refuses nothing; enforcing it later refuses at
/// once, from the counts made while observing.
async fn observed_quota_story(app: TestServer) {
    app.create_api(API, &["read:data"], None).await;
    let admin = app.admin_token().await;
    let (status, client) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(&admin),
            Some(&json!({"name": "observed",
                         "token_quota": {"client_credentials": {"enforce": false, "per_hour": 2}}})),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(
        client["token_quota"]["client_credentials"],
        json!({"enforce": false, "per_hour": 2})
    );
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&admin),
            Some(&json!({"client_id": id, "audience": API, "scope": ["read:data"]})),
        )
        .await;
    assert_eq!(status, 201);
    // Read back from storage, not only from the answer to the write.
    let (_, stored) = app
        .mgmt(Method::GET, &format!("/clients/{id}"), Some(&admin), None)
        .await;
    assert_eq!(
        stored["token_quota"]["client_credentials"]["enforce"],
        false
    );
    app.sync().await;

    for remaining in [1, 0, 0, 0, 0] {
        let response = post(&app.http, &app, &id, &secret).await;
        assert_eq!(response.status(), 200, "an observed quota refuses nothing");
        assert_eq!(response.headers()["x-ratelimit-limit"], "2");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        assert!(response.headers().contains_key("x-ratelimit-reset"));
    }

    app.background.flush_audit().await;
    let (_, warned) = app
        .mgmt(
            Method::GET,
            "/logs?type=api_limit_warning",
            Some(&admin),
            None,
        )
        .await;
    let (_, reached) = app
        .mgmt(Method::GET, "/logs?type=api_limit", Some(&admin), None)
        .await;
    let (warned, reached) = (warned.as_array().unwrap(), reached.as_array().unwrap());
    assert_eq!(
        (warned.len(), reached.len()),
        (1, 1),
        "once a window each: {warned:?} {reached:?}"
    );
    assert_eq!(reached[0]["client_id"], id.as_str());
    let description = reached[0]["description"].as_str().unwrap();
    assert!(description.contains("not enforced"), "{description}");

    // Enforcing it: the five tokens counted already are over the quota.
    let (status, updated) = app
        .mgmt(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(&admin),
            Some(&json!({"token_quota": {"client_credentials": {"per_hour": 2}}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["token_quota"]["client_credentials"]["enforce"],
        true
    );
    app.sync().await;
    assert_eq!(post(&app.http, &app, &id, &secret).await.status(), 429);
}

#[tokio::test]
async fn an_observed_quota_counts_and_reports_but_refuses_nothing() {
    observed_quota_story(spawn_app().await).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn an_observed_quota_counts_and_reports_but_refuses_nothing_on_postgres() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(db.url.clone()));
    config.master_key = Some(Secret::new("b2JzZXJ2ZWQgcXVvdGFzIG9uIHBvc3RncmVzIHRlc3Q="));
    let app = spawn_with(dir, config).await.unwrap();
    observed_quota_story(app).await;
}

#[tokio::test]
async fn an_observed_default_quota_refuses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.default_token_quota = Some(TokenQuota {
        per_hour: Some(1),
        per_day: None,
        observe_only: true,
    });
    let app = spawn_with(dir, config).await.unwrap();
    let (id, secret) = app.with_worker().await;
    for remaining in ["0", "0", "0"] {
        let response = post(&app.http, &app, &id, &secret).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "1");
        assert_eq!(response.headers()["x-ratelimit-remaining"], remaining);
    }
    app.background.flush_audit().await;
    let admin = app.admin_token().await;
    let (_, reached) = app
        .mgmt(Method::GET, "/logs?type=api_limit", Some(&admin), None)
        .await;
    assert_eq!(reached.as_array().unwrap().len(), 1, "{reached}");
}

/// Opens a token request whose body never finishes arriving: it holds a request slot.
async fn stalled_request(addr: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"grant_type\":",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn requests_beyond_capacity_or_too_slow_get_a_fast_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.request_limits.max_in_flight = 1;
    config.request_limits.timeout = Duration::from_secs(1);
    let app = spawn_with(dir, config).await.unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();

    let stalled = stalled_request(&addr).await;
    // Kept: time for the server to take the stalled request; it does not show when it has.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let busy = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once, not queued"
    );

    // The stalled request is abandoned at its deadline, and its slot is free again.
    use tokio::io::AsyncReadExt;
    let mut stalled = stalled;
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), stalled.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 503"));
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}

#[tokio::test]
async fn a_client_too_slow_with_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.request_limits.header_timeout = Duration::from_secs(1);
    let app = spawn_with(dir, config).await.unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Slow loris: a request line, then nothing.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf))
        .await
        .expect("the server hangs up")
        .unwrap_or(0);
    let _ = n;
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A keep-alive connection left idle is closed after the same time; meanwhile it works.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the idle connection was closed");
}

/// Wrong sign-ins from `ip`, `n` at once (each loads the form for its CSRF value, then posts);
/// their statuses.
async fn sign_in_burst(
    app: &TestServer,
    n: usize,
    ip: impl Fn(usize) -> String,
    user: &str,
) -> Vec<u16> {
    let user = user.to_owned();
    concurrently(n, |i| {
        let (http, base, user) = (from(&ip(i)), app.base.clone(), user.clone());
        async move {
            try_sign_in(&base, &http, &user, "wrong password!")
                .await
                .status()
                .as_u16()
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ins_check_no_more_passwords_than_the_budget() {
    let app = app_with_admin().await;
    let started = Instant::now();
    // A 401 is a password checked; 429 and 503 are answered without checking one.
    let first = sign_in_burst(&app, 64, |_| "127.0.0.21".to_owned(), ADMIN).await;
    assert!(
        first.iter().all(|s| [401, 429, 503].contains(s)),
        "{first:?}"
    );
    let mut checked = first.iter().filter(|s| **s == 401).count();
    assert!(
        (1..=10).contains(&checked),
        "budget 10, checked {checked}: {first:?}"
    );
    for _ in 0..3 {
        let burst = sign_in_burst(&app, 30, |_| "127.0.0.21".to_owned(), ADMIN).await;
        checked += burst.iter().filter(|s| **s == 401).count();
    }
    // The address earns one more attempt every 10 s.
    let refilled = started.elapsed().as_secs() as usize / 10 + 1;
    assert!(checked <= 10 + refilled, "{checked} passwords checked");
    // The right password from a fresh address still signs in.
    let response = try_sign_in(&app.base, &from("127.0.0.22"), ADMIN, PASSWORD).await;
    assert_eq!(response.status(), 303);
}

/// A line of `/proc/self/status` in MiB (`VmRSS`: resident now; `VmHWM`: the peak so far).
fn memory_mib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

/// A wrong sign-in for `username` from `ip`, over a bare connection (an HTTP client's own
/// memory would blur the server's): its status.
async fn raw_sign_in(server: &str, ip: &str, username: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(server.parse().unwrap()).await.unwrap();
    // The sign-in form's CSRF check compares the field with the cookie.
    let body = format!("csrf=burst&username={username}&password=wrong+password%21");
    let request = format!(
        "POST /dashboard/sign-in HTTP/1.1\r\nHost: {server}\r\nCookie: warrant_sign_in=burst\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let head = String::from_utf8_lossy(&response[..12.min(response.len())]).into_owned();
    head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_sign_ins_from_many_addresses_keeps_memory_flat() {
    // Each attempt costs a 19 MiB argon2id computation: 200 at once took 4 GB, and each check
    // left 19 MiB in glibc's heap for good. Now at most two run at once, on two threads that
    // keep their 19 MiB for the next check: 600 attempts take at most one more thread's 19 MiB
    // (if the warm-up missed it) and the connections' buffers.
    const BOUND_MIB: u64 = 64;
    let app = app_with_admin().await;
    let server = app.base.trim_start_matches("http://").to_owned();
    // Warm up: the first checks' allocations are not counted.
    for i in 0..4 {
        assert_eq!(
            raw_sign_in(&server, &format!("127.0.3.{}", 240 + i), "warm").await,
            401
        );
    }
    let (rss, peak) = (memory_mib("VmRSS"), memory_mib("VmHWM"));
    // Three bursts of 200 from 200 addresses for 200 usernames: no budget stands in the way,
    // only the bound on checks.
    for burst in 0..3 {
        let statuses = concurrently(200, |i| {
            let (server, ip) = (server.clone(), format!("127.0.3.{}", i + 1));
            async move { raw_sign_in(&server, &ip, &format!("nobody-{burst}-{i}")).await }
        })
        .await;
        assert!(
            statuses.iter().all(|s| [401, 503].contains(s)),
            "{statuses:?}"
        );
        assert!(statuses.contains(&401), "{statuses:?}");
        let (rss_after, peak_after) = (memory_mib("VmRSS"), memory_mib("VmHWM"));
        eprintln!(
            "burst {burst}: resident {rss} -> {rss_after} MiB, peak {peak} -> {peak_after} MiB"
        );
        // (A peak set earlier by another test in this process may stand above the bound.)
        assert!(
            peak_after <= peak.max(rss + BOUND_MIB),
            "burst {burst}: peak resident memory grew from {rss} MiB (peak {peak}) to {peak_after} MiB"
        );
        assert!(
            rss_after.saturating_sub(rss) < BOUND_MIB,
            "burst {burst}: resident memory grew from {rss} MiB to {rss_after} MiB"
        );
    }
}
