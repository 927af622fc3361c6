//! Concurrent PATCHes of one application, one grant, one API, through real HTTP on both
//! engines: each changes its own field, and every change is there at the end (none read the
//! record before another's write and wrote its stale copy over it).

use serde_json::{Value, json};
use warrant_testkit::TestServer;

use crate::support::{API, Engine, spawn_on};

/// Sends every body as a PATCH to `path` at once; each must be a 200.
async fn patch_all(app: &TestServer, token: &str, path: &str, bodies: Vec<Value>) {
    let url = app.url(&format!("/api/v2{path}"));
    let mut requests = tokio::task::JoinSet::new();
    for body in bodies {
        let request = app.http.patch(url.clone()).bearer_auth(token).json(&body);
        requests.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, body, response.json::<Value>().await.unwrap())
        });
    }
    for (status, body, answer) in requests.join_all().await {
        assert_eq!(status, 200, "{body} -> {answer}");
    }
}

async fn get(app: &TestServer, token: &str, path: &str) -> Value {
    let (status, body) = app
        .mgmt(reqwest::Method::GET, path, Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

const ROUNDS: u64 = 6;

async fn concurrent_application_patches(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data"], None).await;
    let (status, created) = app
        .mgmt(
            reqwest::Method::POST,
            "/clients",
            Some(t),
            Some(
                &json!({"name": "worker", "client_metadata": {"tenant": "t-start"},
                "custom_claims": {"tenant": "{{client_metadata.tenant}}"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap().to_owned();
    let path = format!("/clients/{id}");

    for round in 0..ROUNDS {
        let quota = json!({"client_credentials": {"enforce": true, "per_hour": 100 + round}});
        // The claims refer to a metadata key every metadata change keeps: each PATCH passes
        // the reference check against whatever the others wrote.
        let claims = json!({"tenant": "{{client_metadata.tenant}}", "round": round});
        let metadata = json!({"tenant": format!("t-{round}"), "round": round.to_string()});
        patch_all(
            &app,
            t,
            &path,
            vec![
                json!({"name": format!("round-{round}")}),
                json!({"description": format!("described in round {round}")}),
                json!({"client_metadata": metadata}),
                json!({"token_quota": quota}),
                json!({"custom_claims": claims}),
            ],
        )
        .await;
        let now = get(&app, t, &path).await;
        assert_eq!(now["name"], format!("round-{round}"), "{now}");
        assert_eq!(
            now["description"],
            format!("described in round {round}"),
            "{now}"
        );
        assert_eq!(now["client_metadata"], metadata, "{now}");
        assert_eq!(now["token_quota"], quota, "{now}");
        assert_eq!(now["custom_claims"], claims, "{now}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_application_patches_all_land() {
    concurrent_application_patches(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_concurrent_application_patches_all_land() {
    concurrent_application_patches(Engine::Postgres).await;
}

async fn concurrent_grant_patches(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data", "write:data"], None)
        .await;
    let (client_id, _) = app.create_app(&[]).await;
    let (status, created) = app
        .mgmt(
            reqwest::Method::POST,
            "/client-grants",
            Some(t),
            Some(&json!({"client_id": client_id, "audience": API, "scope": ["read:data"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/client-grants/{}", created["id"].as_str().unwrap());

    for round in 0..ROUNDS {
        let scopes = if round % 2 == 0 {
            json!(["read:data", "write:data"])
        } else {
            json!(["write:data"])
        };
        let claims = json!({"round": round});
        patch_all(
            &app,
            t,
            &path,
            vec![json!({"scope": scopes}), json!({"custom_claims": claims})],
        )
        .await;
        let (status, grants) = app
            .mgmt(
                reqwest::Method::GET,
                &format!("/client-grants?client_id={client_id}"),
                Some(t),
                None,
            )
            .await;
        assert_eq!(status, 200, "{grants}");
        let now = &grants[0];
        assert_eq!(now["scope"], scopes, "{now}");
        assert_eq!(now["custom_claims"], claims, "{now}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_grant_patches_all_land() {
    concurrent_grant_patches(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_concurrent_grant_patches_all_land() {
    concurrent_grant_patches(Engine::Postgres).await;
}

async fn concurrent_api_patches(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data"], None).await;
    let encoded: String = form_urlencoded::byte_serialize(API.as_bytes()).collect();
    let path = format!("/resource-servers/{encoded}");

    for round in 0..ROUNDS {
        let scopes = json!([{"value": format!("scope:{round}"), "description": "a round's"}]);
        patch_all(
            &app,
            t,
            &path,
            vec![
                json!({"name": format!("round-{round}")}),
                json!({"token_lifetime": 600 + round}),
                json!({"scopes": scopes}),
            ],
        )
        .await;
        let now = get(&app, t, &path).await;
        assert_eq!(now["name"], format!("round-{round}"), "{now}");
        assert_eq!(now["token_lifetime"], 600 + round, "{now}");
        assert_eq!(now["scopes"], scopes, "{now}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_api_patches_all_land() {
    concurrent_api_patches(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_concurrent_api_patches_all_land() {
    concurrent_api_patches(Engine::Postgres).await;
}
