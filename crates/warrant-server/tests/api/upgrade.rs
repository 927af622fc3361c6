//! Upgrading a deployment: the admin application Warrant created gets the management scopes a
//! newer Warrant added, at the next start, once, on the record; no other application does, and
//! a scope an operator took from it stays away.

use std::path::Path;

use reqwest::Method;
use serde_json::json;
use warrant_server::admin::scopes;
use warrant_server::domain::ClientGrant;
use warrant_server::store::{GrantFilter, StoreError};

use crate::support::{Engine, PgDatabase, TestServer, logs_of, spawn_on};

/// Where Warrant remembers the management scopes it granted the admin application.
const REMEMBERED: &str = "admin_scopes_granted";

/// A deployment made before Warrant remembered the scopes it granted lacks the setting: taken
/// out of a stopped server's data directory or database.
async fn forget_remembered_scopes(dir: &Path, db: Option<&PgDatabase>) {
    use sqlx::Connection;
    const SQL: &str = "DELETE FROM deployment WHERE key = 'admin_scopes_granted'";
    let deleted = match db {
        Some(db) => {
            let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(SQL)
                .execute(&mut connection)
                .await
                .unwrap()
                .rows_affected()
        }
        None => {
            let url = format!("sqlite://{}", dir.join("warrant.db").display());
            let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(SQL)
                .execute(&mut connection)
                .await
                .unwrap()
                .rows_affected()
        }
    };
    assert_eq!(deleted, 1, "the setting was there to forget");
}

/// The scopes an older Warrant's admin application lacked.
const NEWER: [&str; 9] = [
    scopes::READ_TRUSTED_ISSUERS,
    scopes::CREATE_TRUSTED_ISSUERS,
    scopes::DELETE_TRUSTED_ISSUERS,
    scopes::READ_CONFIG,
    scopes::UPDATE_CONFIG,
    scopes::READ_CLIENT_CREDENTIALS,
    scopes::CREATE_CLIENT_CREDENTIALS,
    scopes::UPDATE_CLIENT_CREDENTIALS,
    scopes::DELETE_CLIENT_CREDENTIALS,
];

async fn mgmt_grant(app: &TestServer, client_id: &str) -> ClientGrant {
    let grants = app
        .store
        .list_grants(&GrantFilter {
            client_id: Some(client_id.to_owned()),
            audience: Some(app.mgmt_audience()),
        })
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    grants.into_iter().next().unwrap()
}

/// The statuses of one call for each newer scope's kind of route.
async fn newer_routes(app: &TestServer, token: &str, client_id: &str) -> [u16; 3] {
    [
        app.mgmt(Method::GET, "/trusted-issuers", Some(token), None)
            .await
            .0,
        app.mgmt(Method::GET, "/config", Some(token), None).await.0,
        app.mgmt(
            Method::GET,
            &format!("/clients/{client_id}/credentials"),
            Some(token),
            None,
        )
        .await
        .0,
    ]
}

fn upgrades(events: &[serde_json::Value]) -> usize {
    events
        .iter()
        .filter(|e| {
            e["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Warrant upgrade:"))
        })
        .count()
}

async fn old_deployment_upgrades_at_start(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let (admin_id, admin_secret) = app.mgmt_client.clone();
    let mgmt = app.mgmt_audience();

    // Another application holding a narrower management grant: the upgrade leaves it be.
    let (other_id, other_secret) = app
        .create_app(&[(mgmt.as_str(), &[scopes::READ_CLIENTS])])
        .await;

    // What a deployment made before these scopes existed looked like: the admin application's
    // grant without them.
    let grant = mgmt_grant(&app, &admin_id).await;
    let older: Vec<String> = grant
        .scopes
        .iter()
        .filter(|s| !NEWER.contains(&s.as_str()))
        .cloned()
        .collect();
    assert_eq!(older.len(), grant.scopes.len() - NEWER.len());
    app.store
        .change_grant(&grant.id, |stored| {
            Ok::<_, StoreError>(ClientGrant {
                scopes: older,
                ..stored.grant
            })
        })
        .await
        .unwrap();
    app.sync().await;
    let token = app.token_for(&admin_id, &admin_secret, &mgmt).await;
    assert_eq!(newer_routes(&app, &token, &admin_id).await, [403, 403, 403]);
    let dir = app.into_data_dir().await;
    forget_remembered_scopes(dir.path(), db.as_ref()).await;

    // The next start upgrades it, in one event, and remembers what it granted.
    let app = spawn_on(dir, db.as_ref()).await;
    assert_eq!(app.mgmt_client.0, admin_id, "the same admin application");
    let token = app.token_for(&admin_id, &admin_secret, &mgmt).await;
    assert_eq!(newer_routes(&app, &token, &admin_id).await, [200, 200, 200]);
    let grant = mgmt_grant(&app, &admin_id).await;
    let mut held = grant.scopes.clone();
    held.sort();
    let mut every: Vec<String> = scopes::MANAGEMENT_SCOPES
        .iter()
        .map(|(s, _)| (*s).to_owned())
        .collect();
    every.sort();
    assert_eq!(held, every);
    let remembered = app.store.get_setting(REMEMBERED).await.unwrap().unwrap();
    let mut remembered: Vec<&str> = remembered.split(' ').collect();
    remembered.sort_unstable();
    assert_eq!(remembered, every);
    let events = logs_of(&app, &token, "sapi", 1).await;
    assert_eq!(upgrades(&events), 1, "{events:?}");
    let event = events
        .iter()
        .find(|e| {
            e["description"]
                .as_str()
                .unwrap()
                .starts_with("Warrant upgrade:")
        })
        .unwrap();
    assert_eq!(event["client_id"], admin_id.as_str());
    let description = event["description"].as_str().unwrap();
    for scope in NEWER {
        assert!(description.contains(scope), "{description}");
    }
    // The other application's grant is as it was.
    assert_eq!(
        mgmt_grant(&app, &other_id).await.scopes,
        [scopes::READ_CLIENTS]
    );
    let other = app.token_for(&other_id, &other_secret, &mgmt).await;
    assert_eq!(newer_routes(&app, &other, &admin_id).await, [403, 403, 403]);
    let dir = app.into_data_dir().await;

    // A second start finds nothing to do: no change, no event.
    let app = spawn_on(dir, db.as_ref()).await;
    assert_eq!(mgmt_grant(&app, &admin_id).await.scopes, grant.scopes);
    let token = app.token_for(&admin_id, &admin_secret, &mgmt).await;
    let events = logs_of(&app, &token, "sapi", 1).await;
    assert_eq!(upgrades(&events), 1, "{events:?}");
}

#[tokio::test]
async fn sqlite_an_old_deployment_gets_the_new_management_scopes_once() {
    old_deployment_upgrades_at_start(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_an_old_deployment_gets_the_new_management_scopes_once() {
    old_deployment_upgrades_at_start(Engine::Postgres).await;
}

/// An operator narrowed the admin application's grant: a restart leaves it narrowed, and a
/// newer Warrant (a scope taken out of the remembered list, as if it were new) grants only the
/// scope it added, on the record.
async fn narrowed_admin_grant_stays_narrowed(engine: Engine) {
    let db = engine.database().await;
    let app = spawn_on(tempfile::tempdir().unwrap(), db.as_ref()).await;
    let (admin_id, admin_secret) = app.mgmt_client.clone();
    let mgmt = app.mgmt_audience();
    let token = app.token_for(&admin_id, &admin_secret, &mgmt).await;
    let grant = mgmt_grant(&app, &admin_id).await;
    let taken = [scopes::DELETE_CLIENTS, scopes::READ_TRUSTED_ISSUERS];
    let narrowed: Vec<String> = grant
        .scopes
        .iter()
        .filter(|s| !taken.contains(&s.as_str()))
        .cloned()
        .collect();
    assert_eq!(narrowed.len(), grant.scopes.len() - taken.len());
    let (status, body) = app
        .mgmt(
            Method::PATCH,
            &format!("/client-grants/{}", grant.id),
            Some(&token),
            Some(&json!({"scope": narrowed})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let dir = app.into_data_dir().await;

    // The next start leaves it as the operator made it.
    let app = spawn_on(dir, db.as_ref()).await;
    assert_eq!(mgmt_grant(&app, &admin_id).await.scopes, narrowed);
    let token = app.token_for(&admin_id, &admin_secret, &mgmt).await;
    assert_eq!(newer_routes(&app, &token, &admin_id).await, [403, 200, 200]);
    let events = logs_of(&app, &token, "sapi", 1).await;
    assert_eq!(upgrades(&events), 0, "{events:?}");

    // A newer Warrant, which added read:trusted_issuers: only that one is granted.
    let remembered = app.store.get_setting(REMEMBERED).await.unwrap().unwrap();
    let older: Vec<&str> = remembered
        .split(' ')
        .filter(|s| *s != scopes::READ_TRUSTED_ISSUERS)
        .collect();
    assert_eq!(
        older.len(),
        scopes::MANAGEMENT_SCOPES.len() - 1,
        "{remembered}"
    );
    assert!(
        app.store
            .replace_setting(REMEMBERED, Some(&remembered), &older.join(" "))
            .await
            .unwrap()
    );
    let dir = app.into_data_dir().await;
    let app = spawn_on(dir, db.as_ref()).await;
    let mut expected = narrowed.clone();
    expected.push(scopes::READ_TRUSTED_ISSUERS.to_owned());
    assert_eq!(mgmt_grant(&app, &admin_id).await.scopes, expected);
    let token = app.token_for(&admin_id, &admin_secret, &mgmt).await;
    assert_eq!(newer_routes(&app, &token, &admin_id).await, [200, 200, 200]);
    let events = logs_of(&app, &token, "sapi", 1).await;
    assert_eq!(upgrades(&events), 1, "{events:?}");
    let description = events
        .iter()
        .filter_map(|e| e["description"].as_str())
        .find(|d| d.starts_with("Warrant upgrade:"))
        .unwrap();
    assert!(
        description.contains(scopes::READ_TRUSTED_ISSUERS),
        "{description}"
    );
    assert!(
        !description.contains(scopes::DELETE_CLIENTS),
        "{description}"
    );
    assert_eq!(
        app.store.get_setting(REMEMBERED).await.unwrap(),
        Some(remembered),
        "the whole list remembered again"
    );
}

#[tokio::test]
async fn sqlite_a_narrowed_admin_grant_stays_narrowed() {
    narrowed_admin_grant_stays_narrowed(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_a_narrowed_admin_grant_stays_narrowed() {
    narrowed_admin_grant_stays_narrowed(Engine::Postgres).await;
}
