//! Concurrent PATCHes of one application, one grant, one API, through real HTTP on both
//! engines: each changes its own field, and every change is there at the end (none read the
//! record before another's write and wrote its stale copy over it). Likewise the other
//! changes that read before they write: the dashboard's grants form beside a grant's PATCH,
//! a grant's creation beside its application's metadata change, two removals of one scope.

use serde_json::{Value, json};
use warrant_testkit::TestServer;

use crate::support::dashboard::{ADMIN, PASSWORD, Session, http, sign_in};
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

/// `story: sqlite_name, postgres_name`: the story as a test on each engine (PostgreSQL's
/// ignored without WARRANT_TEST_DATABASE_URL).
macro_rules! on_both_engines {
    ($story:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $story(Engine::Sqlite).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(
            not(warrant_test_postgres),
            ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
        )]
        async fn $postgres() {
            $story(Engine::Postgres).await;
        }
    };
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

on_both_engines!(concurrent_application_patches: sqlite_concurrent_application_patches_all_land, postgres_concurrent_application_patches_all_land);

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

on_both_engines!(concurrent_grant_patches: sqlite_concurrent_grant_patches_all_land, postgres_concurrent_grant_patches_all_land);

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

on_both_engines!(concurrent_api_patches: sqlite_concurrent_api_patches_all_land, postgres_concurrent_api_patches_all_land);

/// An API's id, as the dashboard's paths and forms name it.
async fn api_id(app: &TestServer, identifier: &str) -> String {
    app.admin.get_api(identifier).await.unwrap().id
}

/// A dashboard session on `app`, its operator created first.
async fn dashboard_session(app: &TestServer) -> Session {
    app.admin.create_operator(ADMIN, PASSWORD).await.unwrap();
    sign_in(app).await
}

async fn grants_form_beside_claims_patches(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let session = dashboard_session(&app).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    app.create_api(API, &["read:data", "write:data"], None)
        .await;
    let api = api_id(&app, API).await;
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
    let grant = format!("/api/v2/client-grants/{}", created["id"].as_str().unwrap());
    let form = format!("/dashboard/applications/{client_id}/grants");
    let scope_field = format!("scope:{api}");

    for round in 0..ROUNDS {
        // The grants form changes the scopes each round, so that each save writes the grant,
        // claims and all; several saves at once beside the one PATCH of its claims.
        let scopes: &[&str] = if round % 2 == 0 {
            &["read:data", "write:data"]
        } else {
            &["write:data"]
        };
        let claims = json!({"round": round});
        let mut saves = tokio::task::JoinSet::new();
        for _ in 0..3 {
            let mut fields = vec![("csrf", session.csrf.clone()), ("api", api.clone())];
            fields.extend(
                scopes
                    .iter()
                    .map(|s| (scope_field.as_str(), (*s).to_owned())),
            );
            let fields: Vec<(String, String)> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let request = http()
                .post(app.url(&form))
                .header(reqwest::header::COOKIE, &session.cookie)
                .form(&fields);
            saves.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let patch = app
            .http
            .patch(app.url(&grant))
            .bearer_auth(t)
            .json(&json!({"custom_claims": claims}))
            .send();
        let (patched, saved) = tokio::join!(patch, saves.join_all());
        assert_eq!(patched.unwrap().status().as_u16(), 200);
        assert!(saved.iter().all(|s| *s == 303), "{saved:?}");
        let now = get(&app, t, &format!("/client-grants?client_id={client_id}")).await;
        assert_eq!(now[0]["scope"], json!(scopes), "{now}");
        assert_eq!(now[0]["custom_claims"], claims, "round {round}: {now}");
    }
}

on_both_engines!(grants_form_beside_claims_patches: sqlite_grants_form_keeps_a_concurrent_claims_patch, postgres_grants_form_keeps_a_concurrent_claims_patch);

const APIS: usize = 4;

async fn grant_creation_beside_metadata_removal(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    let audiences: Vec<String> = (0..APIS)
        .map(|i| format!("https://api-{i}.example.com"))
        .collect();
    for audience in &audiences {
        app.create_api(audience, &["read:data"], None).await;
    }

    for round in 0..ROUNDS {
        // A fresh application a round, whose metadata has the key its grants' claims refer to;
        // its removal races the creation of a grant on each API.
        let (status, created) = app
            .mgmt(
                reqwest::Method::POST,
                "/clients",
                Some(t),
                Some(&json!({"name": format!("round-{round}"),
                    "client_metadata": {"tenant": "t-1"}})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let client_id = created["client_id"].as_str().unwrap().to_owned();
        let mut creations = tokio::task::JoinSet::new();
        for audience in &audiences {
            let request = app
                .http
                .post(app.url("/api/v2/client-grants"))
                .bearer_auth(t)
                .json(&json!({"client_id": client_id, "audience": audience,
                    "scope": ["read:data"],
                    "custom_claims": {"tenant": "{{client_metadata.tenant}}"}}));
            creations.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let removal = app
            .http
            .patch(app.url(&format!("/api/v2/clients/{client_id}")))
            .bearer_auth(t)
            .json(&json!({"client_metadata": {"other": "x"}}))
            .send();
        let (removed, created) = tokio::join!(removal, creations.join_all());
        let removed = removed.unwrap().status().as_u16();
        let granted = created.iter().filter(|s| **s == 201).count();
        assert!(
            created.iter().all(|s| *s == 201 || *s == 400),
            "{created:?}"
        );
        assert!(removed == 200 || removed == 400, "{removed}");
        assert!(
            !(removed == 200 && granted > 0),
            "round {round}: the metadata key was removed and {granted} grants referring to it \
             were created"
        );
        let app_now = get(&app, t, &format!("/clients/{client_id}")).await;
        let grants = get(&app, t, &format!("/client-grants?client_id={client_id}")).await;
        let has_key = app_now["client_metadata"].get("tenant").is_some();
        assert!(
            has_key || grants.as_array().unwrap().is_empty(),
            "round {round}: {app_now} {grants}"
        );
    }
}

on_both_engines!(grant_creation_beside_metadata_removal: sqlite_grant_creation_never_outlives_its_metadata_key, postgres_grant_creation_never_outlives_its_metadata_key);

const REMOVALS: usize = 3;

async fn concurrent_scope_removals(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let session = dashboard_session(&app).await;
    let token = app.admin_token().await;
    let t = token.as_str();
    let scopes: Vec<String> = (0..ROUNDS).map(|r| format!("scope:{r}")).collect();
    let listed: Vec<&str> = scopes.iter().map(String::as_str).collect();
    app.create_api(API, &listed, None).await;
    let api = api_id(&app, API).await;
    let path = app.url(&format!("/dashboard/apis/{api}/permissions/remove"));

    for scope in &scopes {
        let mut removals = tokio::task::JoinSet::new();
        for _ in 0..REMOVALS {
            let request = http()
                .post(path.clone())
                .header(reqwest::header::COOKIE, &session.cookie)
                .form(&[("csrf", session.csrf.as_str()), ("value", scope.as_str())]);
            removals.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let mut statuses = removals.join_all().await;
        app.background.flush_audit().await;
        let logs = get(&app, t, "/logs?type=sapi&per_page=100").await;
        let event = format!("removed scope {scope} on API {API}");
        let events = logs
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["description"]
                    .as_str()
                    .is_some_and(|d| d.ends_with(&format!(": {event}")))
            })
            .count();
        assert_eq!(events, 1, "{scope}: {logs}");
        // One removal; the others found it gone.
        statuses.sort();
        let mut expected = vec![303];
        expected.extend([404; REMOVALS - 1]);
        assert_eq!(statuses, expected, "{scope}");
    }
    let now = get(&app, t, &format!("/resource-servers/{api}")).await;
    assert_eq!(now["scopes"], json!([]), "{now}");
}

on_both_engines!(concurrent_scope_removals: sqlite_concurrent_scope_removals_remove_once, postgres_concurrent_scope_removals_remove_once);
