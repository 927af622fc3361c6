//! Hardening: secrets do not pile up; oversized bodies and extreme numbers get clean answers;
//! TLS responses carry HSTS.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_tls};

/// An Auth0-shaped refusal with `status` and `code` whose message contains `says`.
#[track_caller]
fn assert_refused((status, body): (u16, Value), expected: u16, code: &str, says: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["statusCode"], expected, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} should say {says:?}");
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
            .token_json(&crate::helpers::token_request(&worker, secret, None))
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
