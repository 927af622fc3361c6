//! Operations: the audit log (token and management events, `GET /api/v2/logs`, JSON lines)
//! and `GET /metrics`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::config::Config;

use crate::support::{API, TestServer, event_count, logs_of, spawn_app, spawn_with};

#[tokio::test]
async fn token_requests_and_management_writes_are_audited() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;
    let jti = crate::support::verify_independently(&app, &token, API).await["jti"].clone();
    let wrong = app
        .token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": id,
            "client_secret": "not-the-secret",
            "audience": API,
        }))
        .await;
    assert_eq!(wrong.status(), 401);
    let admin = app.admin_token().await;

    let issued = logs_of(&app, &admin, "seccft", 2).await;
    let event = issued
        .iter()
        .find(|e| e["client_id"] == id.as_str())
        .expect("an event for the worker's token");
    assert_eq!(event["audience"], API);
    assert_eq!(event["scope"], "read:data");
    assert_eq!(event["details"]["jti"], jti);
    assert_eq!(event["ip"], "127.0.0.1");
    assert!(event["date"].as_str().unwrap().ends_with('Z'));
    assert!(event["log_id"].as_str().unwrap().parse::<i64>().is_ok());

    let failed = logs_of(&app, &admin, "feccft", 1).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["client_id"], id.as_str());
    assert!(
        failed[0]["description"]
            .as_str()
            .unwrap()
            .contains("wrong secret")
    );

    // A management write names its caller.
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            Some(&admin),
            Some(&json!({"identifier": "https://audited.example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    let writes = logs_of(&app, &admin, "sapi", 1).await;
    assert_eq!(writes[0]["client_id"], app.mgmt_client.0.as_str());
    assert!(
        writes[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("POST /api/v2/resource-servers")
    );

    // Nothing in the log is a secret or a whole token.
    let (_, everything) = app
        .mgmt(Method::GET, "/logs?per_page=100", Some(&admin), None)
        .await;
    let text = everything.to_string();
    for secret in [
        secret.as_str(),
        token.as_str(),
        admin.as_str(),
        &app.mgmt_client.1,
    ] {
        assert!(!text.contains(secret));
    }

    // Checkpoint paging: the events after one, oldest first; filters by client.
    let first = everything.as_array().unwrap().last().unwrap()["log_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, after) = app
        .mgmt(
            Method::GET,
            &format!("/logs?from={first}&take=2"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let after = after.as_array().unwrap();
    assert_eq!(after.len(), 2);
    let seq = |e: &Value| e["log_id"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(seq(&after[0]) > first.parse().unwrap() && seq(&after[1]) > seq(&after[0]));
    let (_, mine) = app
        .mgmt(
            Method::GET,
            &format!("/logs?client_id={id}&include_totals=true"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(mine["total"], 2);
    let (_, one) = app
        .mgmt(Method::GET, &format!("/logs/{first}"), Some(&admin), None)
        .await;
    assert_eq!(one["log_id"], first.as_str());

    let (status, bad) = app
        .mgmt(Method::GET, "/logs?from_date=yesterday", Some(&admin), None)
        .await;
    assert_eq!(status, 400);
    assert!(bad["message"].as_str().unwrap().contains("from_date"));
}

#[tokio::test]
async fn audit_events_can_be_copied_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("audit.jsonl");
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.audit.json_lines = Some(lines.clone());
    let app = spawn_with(dir, config).await.unwrap();
    let (id, secret) = app.with_worker().await;
    app.token(&id, &secret).await;
    app.background.flush_audit().await;
    let text = std::fs::read_to_string(&lines).unwrap_or_default();
    let event: Value = serde_json::from_str(
        text.lines()
            .find(|l| l.contains(&id) && l.contains("seccft"))
            .expect("a line for the token"),
    )
    .unwrap();
    assert_eq!(event["type"], "seccft");
    assert_eq!(event["audience"], API);
    assert!(!text.contains(&secret));
}

/// A server that serves `/metrics` on its main listener too (`metrics_public`).
async fn spawn_with_public_metrics() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.metrics_public = true;
    spawn_with(dir, config).await.unwrap()
}

async fn metrics_text(app: &TestServer) -> String {
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_are_not_public_by_default() {
    let app = spawn_app().await;
    app.with_worker().await;
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(!response.text().await.unwrap().contains(API));
}

#[tokio::test]
async fn metrics_count_requests_with_bounded_labels() {
    let app = spawn_with_public_metrics().await;
    let (id, secret) = app.with_worker().await;
    app.token(&id, &secret).await;
    let unknown = app
        .token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": id,
            "client_secret": secret,
            "audience": "https://made-up.example.com",
        }))
        .await;
    assert_eq!(unknown.status(), 403);
    app.jwks().await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains(&format!(
        "warrant_token_requests_total{{audience=\"{API}\",result=\"issued\"}} 1"
    )));
    // An audience the server does not know is not a label of its own.
    assert!(
        text.contains(
            "warrant_token_requests_total{audience=\"unknown\",result=\"access_denied\"} 1"
        )
    );
    assert!(!text.contains("made-up"));
    assert!(!text.contains(&id), "client IDs are not labels");
    assert!(text.contains("warrant_jwks_requests_total 1"));
    assert!(text.contains("warrant_token_request_duration_seconds_count 2"));
    assert!(text.contains("warrant_client_cache_misses_total"));
    assert!(text.contains("warrant_audit_events_dropped_total 0"));
    assert!(text.contains("warrant_build_info{version="));
    assert!(text.contains("warrant_ready 1"));
}

#[tokio::test]
async fn unauthenticated_requests_do_not_reveal_which_apis_exist() {
    let app = spawn_with_public_metrics().await;
    let (id, _) = app.with_worker().await;
    // A wrong secret for an API that exists, and an unknown client for one that does not.
    for (client, audience) in [
        (id.as_str(), API),
        ("nobody", "https://made-up.example.com"),
    ] {
        let response = app
            .token_json(&json!({
                "grant_type": "client_credentials",
                "client_id": client,
                "client_secret": "guess",
                "audience": audience,
            }))
            .await;
        assert_eq!(response.status(), 401);
    }
    let text = metrics_text(&app).await;
    assert!(!text.contains(API), "{text}");
    assert!(!text.contains("audience=\"unknown\""), "{text}");
    assert!(
        text.contains("warrant_token_requests_total{result=\"invalid_client\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let mut server = TestServer::builder().config(config).start().await.unwrap();
    let metrics = server.metrics_addr.unwrap();
    let http = reqwest::Client::new();
    let on_main = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(on_main.status(), 404);
    // The separate listener serves nothing else.
    let other = http
        .get(format!("http://{metrics}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let separate = http
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(separate.status(), 200);
    assert!(
        separate
            .text()
            .await
            .unwrap()
            .contains("warrant_build_info")
    );
    server.stop().await;
    drop(dir);
}

#[tokio::test]
async fn identical_refusals_are_one_event_with_their_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    // One interval for the whole test: the events are written at shutdown.
    config.audit.refusal_interval = Duration::from_secs(3600);
    let app = spawn_with(dir, config).await.unwrap();
    app.with_worker().await;
    let refused = |grant_type: &'static str| {
        let http = app.http.clone();
        let url = app.url("/oauth/token");
        async move {
            let response = http
                .post(url)
                .form(&[("grant_type", grant_type), ("client_id", "x")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400);
        }
    };
    // 40 at once, and 10 more after.
    let mut at_once = tokio::task::JoinSet::new();
    for _ in 0..40 {
        at_once.spawn(refused("password"));
    }
    at_once.join_all().await;
    for _ in 0..10 {
        refused("password").await;
    }
    refused("implicit").await;
    let _dir = app.into_data_dir().await;

    let store = warrant_server::store::Store::open_data_dir(&path)
        .await
        .unwrap();
    let events = store
        .list_audit_events(&warrant_server::domain::events::AuditFilter {
            kind: Some("feccft".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let counts: Vec<(u64, &str)> = events
        .iter()
        .map(|e| (e.event.count, e.event.description.as_ref()))
        .collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts[0].0, 51, "{counts:?}");
    // Other echoed input (the grant type), one reason: the reason is what the event says.
    assert!(
        counts[0]
            .1
            .starts_with("grant_type \"…\" is not supported; this server issues client_credentials tokens (51 times within 3600 s)"),
        "{counts:?}"
    );
    assert_eq!(events[0].event.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        serde_json::to_value(warrant_proto::LogEventView::from(&events[0])).unwrap()["details"]["count"],
        51
    );
}

#[tokio::test]
async fn refusals_cannot_push_management_writes_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.audit.max_events = 300;
    config.audit.refusal_interval = Duration::from_millis(100);
    let app = spawn_with(dir, config).await.unwrap();
    app.with_worker().await;
    let admin = app.admin_token().await;
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            Some(&admin),
            Some(&json!({"identifier": "https://kept.example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    logs_of(&app, &admin, "sapi", 1).await;

    // 600 unauthenticated requests: unknown clients, then throttled by their address.
    for chunk in 0..12 {
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..50 {
            let request = app.http.post(app.url("/oauth/token")).json(&json!({
                "grant_type": "client_credentials",
                "client_id": format!("guess-{chunk}-{i}"),
                "client_secret": "guess",
                "audience": API,
            }));
            requests.spawn(async move { request.send().await.unwrap().status() });
        }
        for status in requests.join_all().await {
            assert!(matches!(status.as_u16(), 401 | 429), "{status}");
        }
    }
    // Every one of them is counted, in a few events: one per client ID, address and reason an
    // interval, and the throttled ones under their address alone.
    let counted = || async {
        let (mut counted, mut written) = (0, 0);
        for page in 0.. {
            let (_, events) = app
                .mgmt(
                    Method::GET,
                    &format!("/logs?type=feccft&per_page=100&page={page}"),
                    Some(&admin),
                    None,
                )
                .await;
            let events = events.as_array().unwrap().clone();
            if events.is_empty() {
                break;
            }
            counted += events.iter().map(event_count).sum::<u64>();
            written += events.len();
        }
        (counted, written)
    };
    app.background.flush_audit().await;
    let (refused, written) = counted().await;
    assert_eq!(refused, 600);
    assert!(written < 100, "600 refusals written as {written} events");
    // ...and the writer's pruning (by count, as with --audit-max-events 300) keeps the
    // management write.
    app.store.prune_audit_events(0, 300).await.unwrap();
    let (_, writes) = app
        .mgmt(Method::GET, "/logs?type=sapi", Some(&admin), None)
        .await;
    assert!(
        writes.as_array().unwrap().iter().any(|e| e["description"]
            .as_str()
            .unwrap()
            .starts_with("POST /api/v2/resource-servers")),
        "{writes}"
    );
}

/// `warrant_credential_expiry_seconds`: each application's nearest credential expiry (secret or
/// public key), from the catalog; applications whose credentials never expire have no series.
#[tokio::test]
async fn metrics_tell_the_seconds_to_each_applications_nearest_credential_expiry() {
    use warrant_server::admin::{NewClient, NewCredential};
    use warrant_server::clock::Clock;
    let app = spawn_with_public_metrics().await;
    let (forever, _) = app.with_worker().await;
    let now = warrant_server::clock::SystemClock.now();
    let created = app
        .admin
        .create_client(NewClient {
            name: "expiring".into(),
            secret_expires_at: Some(now + 3600),
            ..NewClient::default()
        })
        .await
        .unwrap();
    let id = created.application.client_id;
    app.sync().await;
    let value = |text: &str, id: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "warrant_credential_expiry_seconds{{client_id=\"{id}\"}} "
                ))
            })
            .map(|v| v.parse().unwrap())
    };
    let text = metrics_text(&app).await;
    assert!(text.contains("# TYPE warrant_credential_expiry_seconds gauge"));
    let left = value(&text, &id).unwrap();
    assert!((3590..=3600).contains(&left), "{left}");
    assert_eq!(value(&text, &forever), None);

    // A public key expiring sooner is the nearest.
    let pem = warrant_client::ClientKey::generate_es256()
        .unwrap()
        .public_key_pem()
        .unwrap();
    app.admin
        .create_credential(
            &id,
            NewCredential {
                name: "ci".into(),
                alg: "ES256".into(),
                pem,
                expires_at: Some(now + 600),
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let left = value(&metrics_text(&app).await, &id).unwrap();
    assert!((590..=600).contains(&left), "{left}");

    // And a federated credential expiring sooner still.
    app.admin
        .create_trusted_issuer(warrant_server::domain::NewTrustedIssuer {
            issuer: "https://token.actions.githubusercontent.com".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.admin
        .create_federated_credential(
            &id,
            warrant_server::domain::NewFederatedCredential {
                issuer: "https://token.actions.githubusercontent.com".into(),
                subject: "repo:acme/api:ref:refs/heads/main".into(),
                expires_at: Some(now + 300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let left = value(&metrics_text(&app).await, &id).unwrap();
    assert!((290..=300).contains(&left), "{left}");
}
