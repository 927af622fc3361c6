//! Every refusal of the token endpoint, table-driven: status, RFC 6749 §5.2 `error`, no-store
//! headers, `WWW-Authenticate` exactly when HTTP Basic was tried, and no secret echoed back.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::{API, spawn_app};

const OTHER_API: &str = "https://other.example.com";

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: String,
    authorization: Option<String>,
    status: u16,
    error: &'static str,
    challenge: bool,
    description_contains: &'static str,
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[tokio::test]
async fn every_error_case_answers_as_rfc6749_says() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    app.create_api(OTHER_API, &["x"], None).await;
    let (id, secret) = (id.as_str(), secret.as_str());
    let cc = "client_credentials";
    let json_ct = Some("application/json");
    let form_ct = Some("application/x-www-form-urlencoded");
    let good = |extra: Value| {
        let mut body =
            json!({"grant_type": cc, "client_id": id, "client_secret": secret, "audience": API});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body.to_string()
    };
    let basic = |user: &str, pass: &str| {
        Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{user}:{pass}"))
        ))
    };

    let cases = vec![
        Case {
            name: "text/plain body",
            content_type: Some("text/plain"),
            body: good(json!({})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "Content-Type",
        },
        Case {
            name: "no content type",
            content_type: None,
            body: good(json!({})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "Content-Type",
        },
        Case {
            name: "body over 16 KiB",
            content_type: json_ct,
            body: good(json!({"padding": "x".repeat(17 * 1024)})),
            authorization: None,
            status: 413,
            error: "invalid_request",
            challenge: false,
            description_contains: "16 KiB",
        },
        Case {
            name: "form parameter repeated",
            content_type: form_ct,
            body: format!(
                "{}&audience=x",
                form(&[
                    ("grant_type", cc),
                    ("client_id", id),
                    ("client_secret", secret),
                    ("audience", API)
                ])
            ),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "audience",
        },
        Case {
            name: "json member repeated",
            content_type: json_ct,
            body: format!(
                r#"{{"grant_type":"{cc}","client_id":"{id}","client_secret":"{secret}","audience":"{API}","audience":"{OTHER_API}"}}"#
            ),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "more than once",
        },
        Case {
            name: "json parameter not a string",
            content_type: json_ct,
            body: good(json!({"scope": ["read:data"]})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "scope must be a string",
        },
        Case {
            name: "malformed json",
            content_type: json_ct,
            body: "{\"grant_type\":".into(),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "JSON",
        },
        Case {
            name: "json array body",
            content_type: json_ct,
            body: "[]".into(),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "JSON",
        },
        Case {
            name: "grant_type missing",
            content_type: json_ct,
            body: good(json!({"grant_type": null})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "grant_type",
        },
        Case {
            name: "grant_type password",
            content_type: json_ct,
            body: good(json!({"grant_type": "password"})),
            authorization: None,
            status: 400,
            error: "unsupported_grant_type",
            challenge: false,
            description_contains: "password",
        },
        Case {
            name: "basic and post at once",
            content_type: json_ct,
            body: good(json!({})),
            authorization: basic(id, secret),
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "one client authentication method",
        },
        Case {
            name: "basic id differs from body id",
            content_type: json_ct,
            body: good(json!({"client_secret": null, "client_id": "someone-else"})),
            authorization: basic(id, secret),
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "differs",
        },
        Case {
            name: "bearer scheme",
            content_type: json_ct,
            body: good(json!({"client_secret": null})),
            authorization: Some("Bearer abc".into()),
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "Basic",
        },
        Case {
            name: "wrong secret (post)",
            content_type: json_ct,
            body: good(json!({"client_secret": "wrong-secret-value"})),
            authorization: None,
            status: 401,
            error: "invalid_client",
            challenge: false,
            description_contains: "unknown client or wrong secret",
        },
        Case {
            name: "unknown client (post)",
            content_type: json_ct,
            body: good(json!({"client_id": "no-such-client"})),
            authorization: None,
            status: 401,
            error: "invalid_client",
            challenge: false,
            description_contains: "unknown client or wrong secret",
        },
        Case {
            name: "wrong secret (basic)",
            content_type: form_ct,
            body: form(&[("grant_type", cc), ("audience", API)]),
            authorization: basic(id, "wrong-secret-value"),
            status: 401,
            error: "invalid_client",
            challenge: true,
            description_contains: "unknown client or wrong secret",
        },
        Case {
            name: "unknown client (basic)",
            content_type: form_ct,
            body: form(&[("grant_type", cc), ("audience", API)]),
            authorization: basic("nobody", secret),
            status: 401,
            error: "invalid_client",
            challenge: true,
            description_contains: "unknown client or wrong secret",
        },
        Case {
            name: "malformed basic",
            content_type: form_ct,
            body: form(&[("grant_type", cc), ("audience", API)]),
            authorization: Some("Basic !!!not-base64".into()),
            status: 401,
            error: "invalid_client",
            challenge: true,
            description_contains: "malformed",
        },
        Case {
            name: "no client authentication",
            content_type: json_ct,
            body: good(json!({"client_id": null, "client_secret": null})),
            authorization: None,
            status: 401,
            error: "invalid_client",
            challenge: false,
            description_contains: "client authentication is required",
        },
        Case {
            name: "secret without client_id",
            content_type: json_ct,
            body: good(json!({"client_id": null})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "client_id",
        },
        Case {
            name: "no audience",
            content_type: json_ct,
            body: good(json!({"audience": null})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "audience",
        },
        Case {
            name: "unknown audience",
            content_type: json_ct,
            body: good(json!({"audience": "https://nope.example.com"})),
            authorization: None,
            status: 403,
            error: "access_denied",
            challenge: false,
            description_contains: "Service not found: \"https://nope.example.com\"",
        },
        Case {
            name: "unknown resource",
            content_type: json_ct,
            body: good(json!({"audience": null, "resource": "https://nope.example.com"})),
            authorization: None,
            status: 400,
            error: "invalid_target",
            challenge: false,
            description_contains: "nope.example.com",
        },
        Case {
            name: "audience and resource differ",
            content_type: json_ct,
            body: good(json!({"resource": OTHER_API})),
            authorization: None,
            status: 400,
            error: "invalid_request",
            challenge: false,
            description_contains: "different APIs",
        },
        Case {
            name: "no grant for the API",
            content_type: json_ct,
            body: good(json!({"audience": OTHER_API})),
            authorization: None,
            status: 403,
            error: "access_denied",
            challenge: false,
            description_contains: "create a client grant",
        },
        Case {
            name: "scope not granted",
            content_type: json_ct,
            body: good(json!({"scope": "read:data delete:documents"})),
            authorization: None,
            status: 400,
            error: "invalid_scope",
            challenge: false,
            description_contains: "delete:documents",
        },
        Case {
            name: "scope the API does not define",
            content_type: json_ct,
            body: good(json!({"scope": "admin:all"})),
            authorization: None,
            status: 400,
            error: "invalid_scope",
            challenge: false,
            description_contains: "admin:all",
        },
    ];

    for case in &cases {
        let mut request = app
            .http
            .post(app.url("/oauth/token"))
            .body(case.body.clone());
        if let Some(ct) = case.content_type {
            request = request.header("content-type", ct);
        }
        if let Some(auth) = &case.authorization {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        let name = case.name;
        assert_eq!(response.status().as_u16(), case.status, "{name}: status");
        assert_eq!(response.headers()["cache-control"], "no-store", "{name}");
        assert_eq!(response.headers()["pragma"], "no-cache", "{name}");
        match response.headers().get("www-authenticate") {
            Some(v) => {
                assert!(case.challenge, "{name}: unexpected WWW-Authenticate");
                assert_eq!(
                    v.to_str().unwrap(),
                    format!("Basic realm=\"{}\"", app.issuer),
                    "{name}"
                );
            }
            None => assert!(!case.challenge, "{name}: WWW-Authenticate missing"),
        }
        let text = response.text().await.unwrap();
        assert!(!text.contains(secret), "{name}: the secret was echoed");
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON: {text}"));
        let object = body.as_object().unwrap();
        assert_eq!(object.len(), 2, "{name}: {body}");
        assert_eq!(body["error"], case.error, "{name}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(case.description_contains),
            "{name}: description {description:?} lacks {:?}",
            case.description_contains
        );
    }
}

#[tokio::test]
async fn other_methods_on_the_token_endpoint_are_refused() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/oauth/token")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let response = app
        .token_json(&json!({
            "grant_type": "client_credentials", "client_id": id, "client_secret": secret,
            "audience": API, "extra": {"nested": [1, 2]}, "other": 5,
        }))
        .await;
    assert_eq!(response.status(), 200);
}
