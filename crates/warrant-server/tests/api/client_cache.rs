//! The bounded client cache: a server holds at most its capacity of clients whatever the
//! number registered, and what it holds follows the store (API changes, unknown clients that
//! appear later) exactly as a full copy would.

use serde_json::Value;
use warrant_server::admin::ApiPatch;
use warrant_server::config::Config;
use warrant_server::domain::{Application, ClientSecret, Scope, hash_secret};

use crate::support::{API, TestServer, spawn_app, spawn_with, token_request as request};

async fn status_and_body(app: &TestServer, body: &Value) -> (u16, Value) {
    let response = app.token_json(body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_small_cache_serves_more_clients_than_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.client_cache_capacity = 4;
    let app = spawn_with(dir, config).await.unwrap();
    app.create_api(API, &["read:data"], None).await;
    let mut clients = Vec::new();
    for _ in 0..12 {
        clients.push(app.create_app(&[(API, &["read:data"])]).await);
    }
    for round in 0..3 {
        for (id, secret) in &clients {
            let (status, body) = status_and_body(&app, &request(id, secret, None)).await;
            assert_eq!(status, 200, "round {round}: {body}");
            assert_eq!(body["scope"], "read:data");
            if round == 0 {
                // (Once: failures from one address are throttled after 20.)
                let (status, _) = status_and_body(&app, &request(id, "wrong", None)).await;
                assert_eq!(status, 401);
            }
        }
        let stats = app.catalog.client_cache_stats();
        assert!(stats.entries <= 4, "{stats:?}");
    }
    let stats = app.catalog.client_cache_stats();
    assert!(stats.misses >= 12, "every client was looked up: {stats:?}");
    assert!(stats.hits > 0, "{stats:?}");
}

#[tokio::test]
async fn api_changes_apply_to_clients_already_in_memory() {
    let app = spawn_app().await;
    app.create_api(API, &["read:data", "write:data"], None)
        .await;
    let (id, secret) = app.create_app(&[(API, &["read:data", "write:data"])]).await;
    let (status, body) = status_and_body(&app, &request(&id, &secret, None)).await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("read:data write:data"))
    );

    // The API stops defining write:data: the cached grant loses it at once.
    let only_read = vec![Scope {
        value: "read:data".into(),
        description: String::new(),
    }];
    app.admin
        .update_api(
            API,
            ApiPatch {
                scopes: Some(only_read.clone()),
                ..ApiPatch::default()
            },
        )
        .await
        .unwrap();
    app.sync().await;
    let (status, body) = status_and_body(&app, &request(&id, &secret, None)).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("read:data")));
    let (status, body) = status_and_body(&app, &request(&id, &secret, Some("write:data"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Deleted and re-created under the same identifier, it is another API: the old grant went
    // with the old one, even though this client's entry was cached before.
    app.admin.delete_api(API).await.unwrap();
    app.create_api(API, &["read:data"], None).await;
    let (status, body) = status_and_body(&app, &request(&id, &secret, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied")),
        "{body}"
    );
}

#[tokio::test]
async fn a_client_unknown_when_first_asked_for_works_once_created() {
    let app = spawn_app().await;
    app.create_api(API, &["read:data"], None).await;
    let application = Application::new("late".into(), String::new(), 1).unwrap();
    let secret = "a-secret-chosen-by-the-test-with-enough-length";
    let body = request(&application.client_id, secret, None);
    let (status, _) = status_and_body(&app, &body).await;
    assert_eq!(status, 401);
    let misses = app.catalog.client_cache_stats().misses;
    let (status, _) = status_and_body(&app, &body).await;
    assert_eq!(status, 401);
    assert_eq!(
        app.catalog.client_cache_stats().misses,
        misses,
        "an unknown client is remembered as unknown"
    );

    let stored = ClientSecret::new(&application.client_id, hash_secret(secret), 1);
    let api = app.admin.get_api(API).await.unwrap();
    let grant = warrant_server::domain::ClientGrant::new(
        &application.client_id,
        &api,
        vec!["read:data".into()],
        1,
    )
    .unwrap();
    app.admin
        .store()
        .insert_application(&application, &stored, &[grant])
        .await
        .unwrap();
    app.sync().await;
    let (status, body) = status_and_body(&app, &body).await;
    assert_eq!(status, 200, "{body}");
}
