//! The axum layer and extractors answer as RFC 6750 says.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};
use tower::ServiceExt;
use warrant_guard::Claims;
use warrant_guard::Verifier;
use warrant_guard::axum::{GuardLayer, RequireScope, require_scope};

use crate::support::{AUDIENCE, ISSUER, JwksServer, Mode, RsaKey, claims_with};

warrant_guard::scope!(DeleteDocuments = "delete:documents");

async fn data(claims: Claims) -> String {
    claims.sub().to_owned()
}

async fn remove(scoped: RequireScope<DeleteDocuments>) -> String {
    format!("deleted by {}", scoped.claims().sub())
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/data", get(data))
        .route("/docs/{id}", delete(remove))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(require_scope("admin:all")),
        )
        .layer(GuardLayer::new(verifier).realm("internal"))
}

async fn call(app: &Router, method: &str, path: &str, auth: &[&str]) -> (u16, String, Value) {
    let mut request = Request::builder().method(method).uri(path);
    for value in auth {
        request = request.header("authorization", *value);
    }
    let response: Response<Body> = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, challenge, body)
}

#[tokio::test]
async fn answers_follow_rfc6750() {
    let key = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let app = app(verifier);
    let reader = key.token(&claims_with(json!({"scope": "read:data"})));
    let deleter = key.token(&claims_with(json!({"scope": "read:data delete:documents"})));
    let bearer = |t: &str| format!("Bearer {t}");

    let (status, challenge, body) = call(&app, "GET", "/data", &[]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "Bearer realm=\"internal\"")
    );
    assert_eq!(body["error"], "unauthorized");

    let (status, challenge, _) = call(&app, "GET", "/data", &["Basic dXNlcjpwYXNz"]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "Bearer realm=\"internal\"")
    );

    for malformed in ["Bearer", "Bearer ", "Bearer a b", "Bearer {json}"] {
        let (status, challenge, body) = call(&app, "GET", "/data", &[malformed]).await;
        assert_eq!(status, 400, "{malformed}");
        assert!(
            challenge.contains("error=\"invalid_request\""),
            "{challenge}"
        );
        assert_eq!(body["error"], "invalid_request");
    }
    let (status, _, _) = call(&app, "GET", "/data", &[&bearer(&reader), &bearer(&reader)]).await;
    assert_eq!(status, 400, "two Authorization headers");

    let (status, challenge, body) = call(&app, "GET", "/data", &["Bearer not.a.token"]).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with(
            "Bearer realm=\"internal\", error=\"invalid_token\", error_description=\""
        ),
        "{challenge}"
    );
    assert_eq!(body["error"], "invalid_token");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("malformed")
    );

    let (status, _, body) = call(&app, "GET", "/data", &[&bearer(&reader)]).await;
    assert_eq!((status, body), (200, json!("worker@clients")));
    let (status, _, _) = call(&app, "GET", "/data", &[&format!("bearer {reader}")]).await;
    assert_eq!(status, 200, "the scheme is case-insensitive");

    let (status, challenge, body) = call(&app, "DELETE", "/docs/42", &[&bearer(&reader)]).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with("scope=\"delete:documents\""),
        "{challenge}"
    );
    assert_eq!(body["error"], "insufficient_scope");

    let (status, _, body) = call(&app, "DELETE", "/docs/42", &[&bearer(&deleter)]).await;
    assert_eq!((status, body), (200, json!("deleted by worker@clients")));

    let (status, challenge, _) = call(&app, "GET", "/admin", &[&bearer(&deleter)]).await;
    assert_eq!(status, 403);
    assert!(challenge.contains("scope=\"admin:all\""), "{challenge}");
    let (status, _, _) = call(&app, "GET", "/admin", &[]).await;
    assert_eq!(status, 401, "the guard runs before the scope layer");
}

#[tokio::test]
async fn no_keys_is_a_503_not_the_callers_fault() {
    let key = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    jwks.set_mode(Mode::Down);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let app = app(verifier);
    let token = key.token(&crate::support::claims());
    let request = Request::get("/data")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
}

/// The realm given to the guard, in every challenge: the guard's own 400/401/503 and the 403s
/// of the scope checks behind it (the extractor and the layer, for a token verified in full and
/// one from the token cache).
#[tokio::test]
async fn every_challenge_names_the_configured_realm() {
    let key = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .token_cache(10)
        .build()
        .unwrap();
    let guarded = app(verifier);
    let reader = format!(
        "Bearer {}",
        key.token(&claims_with(json!({"scope": "read:data"})))
    );
    let realm = "Bearer realm=\"internal\"";
    let cases: [(&str, &str, &str, u16); 7] = [
        ("GET", "/data", "", 401),
        ("GET", "/data", "Bearer {json}", 400),
        ("GET", "/data", "Bearer not.a.token", 401),
        ("DELETE", "/docs/42", &reader, 403),
        ("DELETE", "/docs/42", &reader, 403),
        ("GET", "/admin", &reader, 403),
        ("GET", "/admin", &reader, 403),
    ];
    for (method, path, auth, expected) in cases {
        let auth: &[&str] = if auth.is_empty() { &[] } else { &[auth] };
        let (status, challenge, _) = call(&guarded, method, path, auth).await;
        assert_eq!(status, expected, "{method} {path}");
        assert!(challenge.starts_with(realm), "{method} {path}: {challenge}");
    }

    jwks.set_mode(Mode::Down);
    let cold = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let (status, challenge, _) = call(&app(cold.clone()), "GET", "/data", &[&reader]).await;
    assert_eq!((status, challenge.as_str()), (503, realm));

    // A realm that would break the header is cleaned, not dropped.
    let odd = Router::new()
        .route("/", get(data))
        .layer(GuardLayer::new(cold).realm("in\"ter\\nal\n"));
    let (status, challenge, _) = call(&odd, "GET", "/", &[]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "Bearer realm=\"internal\"")
    );
}
