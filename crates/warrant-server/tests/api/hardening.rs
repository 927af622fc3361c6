//! Hardening: a management token stops working when its application, its grant or its
//! credentials go; no management scope leads to more scopes than the caller holds; secrets do
//! not pile up; oversized bodies and extreme numbers get clean answers; TLS responses carry
//! HSTS.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::admin::{GrantSpec, MANAGEMENT_SCOPES};
use warrant_server::clock::{Clock, ManualClock, SystemClock};
use warrant_server::config::Config;
use warrant_server::store::GrantFilter;

use crate::support::{TestServer, spawn_app, spawn_tls, spawn_with_clock};

/// An application granted `scopes` on the management API: (client_id, secret, a token).
async fn delegate(app: &TestServer, scopes: &[&str]) -> (String, String, String) {
    let created = app
        .admin
        .create_application(
            "delegate".into(),
            String::new(),
            vec![GrantSpec {
                audience: app.mgmt_audience(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                custom_claims: None,
            }],
        )
        .await
        .unwrap();
    app.sync().await;
    let id = created.application.client_id;
    let secret = created.secret.expose().to_owned();
    let token = app.token_for(&id, &secret, &app.mgmt_audience()).await;
    (id, secret, token)
}

/// The ID of `client_id`'s grant on the management API.
async fn management_grant(app: &TestServer, client_id: &str) -> String {
    app.admin
        .list_grants(&GrantFilter {
            client_id: Some(client_id.to_owned()),
            audience: Some(app.mgmt_audience()),
        })
        .await
        .unwrap()
        .remove(0)
        .id
}

fn every_scope() -> Vec<&'static str> {
    MANAGEMENT_SCOPES.iter().map(|(s, _)| *s).collect()
}

/// An Auth0-shaped refusal with `status` and `code` whose message contains `says`.
#[track_caller]
fn assert_refused((status, body): (u16, Value), expected: u16, code: &str, says: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["statusCode"], expected, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} should say {says:?}");
}

/// A server on a clock the test moves, starting at the wall clock's now (the management API's
/// verifier checks `iat` against the wall clock, with a minute's leeway).
async fn clocked_app() -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    let app = spawn_with_clock(dir, config, clock.clone()).await.unwrap();
    (app, clock)
}

#[tokio::test]
async fn a_management_token_dies_with_its_application() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, _, token) = delegate(&app, &["read:clients"]).await;
    let (status, _) = app.mgmt(Method::GET, "/clients", Some(&token), None).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("/clients/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_refused(
        app.mgmt(Method::GET, "/clients", Some(&token), None).await,
        401,
        "invalid_token",
        "application was deleted",
    );
}

#[tokio::test]
async fn a_management_token_holds_only_what_its_grant_still_grants() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, _, token) = delegate(&app, &["read:clients", "read:client_grants"]).await;
    let grant = management_grant(&app, &id).await;

    // Narrowed: the token's read:clients no longer counts.
    let (status, _) = app
        .mgmt(
            Method::PATCH,
            &format!("/client-grants/{grant}"),
            Some(&admin),
            Some(&json!({"scope": ["read:client_grants"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_refused(
        app.mgmt(Method::GET, "/clients", Some(&token), None).await,
        403,
        "insufficient_scope",
        "read:clients",
    );
    let (status, _) = app
        .mgmt(Method::GET, "/client-grants", Some(&token), None)
        .await;
    assert_eq!(status, 200);

    // Deleted: the token is dead.
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("/client-grants/{grant}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_refused(
        app.mgmt(Method::GET, "/client-grants", Some(&token), None)
            .await,
        401,
        "invalid_token",
        "grant",
    );
}

#[tokio::test]
async fn rotating_a_secret_without_grace_revokes_its_management_tokens_at_once() {
    let (app, clock) = clocked_app().await;
    let (admin_id, _) = app.mgmt_client.clone();
    let old = app.admin_token().await;
    clock.advance(1);
    // The admin application rotates its own secret (as after a leak).
    let (status, rotated) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{admin_id}/rotate-secret"),
            Some(&old),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_refused(
        app.mgmt(Method::GET, "/clients", Some(&old), None).await,
        401,
        "invalid_token",
        "secret was rotated",
    );
    let fresh = app
        .token_for(
            &admin_id,
            rotated["client_secret"].as_str().unwrap(),
            &app.mgmt_audience(),
        )
        .await;
    let (status, _) = app.mgmt(Method::GET, "/clients", Some(&fresh), None).await;
    assert_eq!(status, 200, "a token issued after the rotation works");
}

#[tokio::test]
async fn rotating_with_a_grace_period_revokes_older_tokens_when_the_grace_ends() {
    let (app, clock) = clocked_app().await;
    let (id, secret, old) = delegate(&app, &["read:clients", "update:client_keys"]).await;
    clock.advance(1);
    let (status, rotated) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{id}/rotate-secret?grace_period=10"),
            Some(&old),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    let (status, _) = app.mgmt(Method::GET, "/clients", Some(&old), None).await;
    assert_eq!(status, 200, "during the grace, earlier tokens work");
    clock.advance(10);
    assert_refused(
        app.mgmt(Method::GET, "/clients", Some(&old), None).await,
        401,
        "invalid_token",
        "secret was rotated",
    );
    let mut request = crate::support::token_request(&id, &secret, None);
    request["audience"] = json!(app.mgmt_audience());
    let response = app.token_json(&request).await;
    assert_eq!(
        response.status(),
        401,
        "the old secret ended with the grace"
    );
    let fresh = app.token_for(&id, &new_secret, &app.mgmt_audience()).await;
    let (status, _) = app.mgmt(Method::GET, "/clients", Some(&fresh), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn create_clients_and_create_client_grants_cannot_mint_an_admin() {
    let app = spawn_app().await;
    let (_, _, token) = delegate(&app, &["create:clients", "create:client_grants"]).await;
    let (status, created) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(&token),
            Some(&json!({"name": "minted"})),
        )
        .await;
    assert_eq!(status, 201);
    let minted = created["client_id"].as_str().unwrap().to_owned();
    // By identifier or by id, the management API is the same.
    let api_id = app.admin.get_api(&app.mgmt_audience()).await.unwrap().id;
    for audience in [app.mgmt_audience(), api_id] {
        assert_refused(
            app.mgmt(
                Method::POST,
                "/client-grants",
                Some(&token),
                Some(&json!({"client_id": minted, "audience": audience, "scope": every_scope()})),
            )
            .await,
            403,
            "insufficient_scope",
            "may grant only the management scopes it holds itself; it lacks read:clients",
        );
    }
    assert!(
        app.admin
            .get_application(&minted)
            .await
            .unwrap()
            .grants
            .is_empty()
    );
    // What it holds, it may pass on.
    let (status, body) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&token),
            Some(&json!({"client_id": minted, "audience": app.mgmt_audience(), "scope": ["create:clients"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn update_client_grants_cannot_widen_a_grant_nor_touch_a_stronger_application() {
    let app = spawn_app().await;
    let (id, _, token) = delegate(&app, &["update:client_grants"]).await;
    let own = management_grant(&app, &id).await;
    assert_refused(
        app.mgmt(
            Method::PATCH,
            &format!("/client-grants/{own}"),
            Some(&token),
            Some(&json!({"scope": every_scope()})),
        )
        .await,
        403,
        "insufficient_scope",
        "lacks read:clients",
    );
    let admin_grant = management_grant(&app, &app.mgmt_client.0).await;
    assert_refused(
        app.mgmt(
            Method::PATCH,
            &format!("/client-grants/{admin_grant}"),
            Some(&token),
            Some(&json!({"scope": ["update:client_grants"]})),
        )
        .await,
        403,
        "insufficient_scope",
        "only a caller holding all of them may change it",
    );
    assert_eq!(
        app.admin
            .get_grant(&admin_grant)
            .await
            .unwrap()
            .scopes
            .len(),
        MANAGEMENT_SCOPES.len(),
        "nothing changed"
    );
    // Grants on other APIs are no management rights: those it may change.
    let (worker, _) = app.with_worker().await;
    let grant = app
        .admin
        .list_grants(&GrantFilter {
            client_id: Some(worker),
            audience: None,
        })
        .await
        .unwrap()
        .remove(0)
        .id;
    let (status, body) = app
        .mgmt(
            Method::PATCH,
            &format!("/client-grants/{grant}"),
            Some(&token),
            Some(&json!({"scope": ["read:data", "delete:documents"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn update_client_keys_cannot_take_over_a_stronger_application() {
    let app = spawn_app().await;
    let (_, _, token) = delegate(
        &app,
        &["update:client_keys", "update:clients", "delete:clients"],
    )
    .await;
    let admin_id = app.mgmt_client.0.clone();
    for (method, path, body) in [
        (
            Method::POST,
            format!("/clients/{admin_id}/rotate-secret"),
            None,
        ),
        (
            Method::PATCH,
            format!("/clients/{admin_id}"),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/clients/{admin_id}"), None),
    ] {
        assert_refused(
            app.mgmt(method, &path, Some(&token), body.as_ref()).await,
            403,
            "insufficient_scope",
            &format!("application {admin_id} holds management scopes the caller lacks"),
        );
    }
    // The admin application is untouched: its secret still works.
    app.admin_token().await;
    // An application without management rights, it may rotate.
    let (worker, _) = app.with_worker().await;
    let (status, _) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{worker}/rotate-secret"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

/// A new grant's answers come in this order: no such application (404), no such API (404), not
/// allowed to change the application (403), and only then what is wrong with the grant (409 for
/// a scope the API lacks), so a caller without the rights learns nothing about the grant.
#[tokio::test]
async fn a_grant_is_refused_for_the_application_before_its_scopes() {
    let app = spawn_app().await;
    let (worker, _) = app.with_worker().await;
    let (_, _, token) = delegate(&app, &["create:client_grants"]).await;
    let admin_id = app.mgmt_client.0.clone();
    let grant = |client_id: &str, audience: &str| json!({"client_id": client_id, "audience": audience, "scope": ["no:such-scope"]});
    let api = crate::support::API;
    assert_refused(
        app.mgmt(
            Method::POST,
            "/client-grants",
            Some(&token),
            Some(&grant("nobody", api)),
        )
        .await,
        404,
        "inexistent_resource",
        "nobody",
    );
    let (status, body) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&token),
            Some(&grant(&worker, "https://no-such-api.example.com")),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_refused(
        app.mgmt(
            Method::POST,
            "/client-grants",
            Some(&token),
            Some(&grant(&admin_id, api)),
        )
        .await,
        403,
        "insufficient_scope",
        &format!("application {admin_id} holds management scopes the caller lacks"),
    );
    // With the rights, what is wrong with the grant itself.
    let (status, body) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&token),
            Some(&grant(&worker, api)),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn repeated_rotations_with_grace_leave_two_working_secrets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (worker, first) = app.with_worker().await;
    let mut secrets = vec![first];
    for _ in 0..3 {
        let (status, rotated) = app
            .mgmt(
                Method::POST,
                &format!("/clients/{worker}/rotate-secret?grace_period=3600"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 200);
        secrets.push(rotated["client_secret"].as_str().unwrap().to_owned());
    }
    let mut working = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let response = app
            .token_json(&crate::support::token_request(&worker, secret, None))
            .await;
        if response.status() == 200 {
            working.push(i);
        }
    }
    assert_eq!(working, [2, 3], "the newest and the one before it");
}

#[tokio::test]
async fn oversized_management_bodies_are_413() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = json!({"name": "x".repeat(70 * 1024)});
    assert_refused(
        app.mgmt(Method::POST, "/clients", Some(&admin), Some(&body))
            .await,
        413,
        "payload_too_large",
        "64 KiB",
    );
}

#[tokio::test]
async fn extreme_log_ids_get_clean_answers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let min = i64::MIN;
    let (status, body) = app
        .mgmt(
            Method::GET,
            &format!("/logs?from={min}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "invalid_query_string");
    let (status, body) = app
        .mgmt(Method::GET, &format!("/logs/{min}"), Some(&admin), None)
        .await;
    assert_eq!(status, 404, "{body}");
    let max = i64::MAX;
    let (status, body) = app
        .mgmt(
            Method::GET,
            &format!("/logs?from={max}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((status, body), (200, json!([])));
}

#[tokio::test]
async fn tls_responses_carry_strict_transport_security() {
    let tls = spawn_tls().await;
    for path in ["/healthz", "/.well-known/jwks.json", "/api/v2/clients"] {
        let response = tls.http.get(tls.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
    // Over plain HTTP the header means nothing (and browsers ignore it): not sent.
    let plain = spawn_app().await;
    let response = plain.http.get(plain.url("/healthz")).send().await.unwrap();
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}
