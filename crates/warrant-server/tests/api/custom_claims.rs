//! Custom claims and `client_metadata` through real HTTP, on both engines: claims set on an
//! application and on its grant (the grant's win) reach tokens and introspection answers,
//! references copy metadata values, every malformed write is a 400 that names the claim, and a
//! change shows in the next token.

use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::config::{Config, Secret};
use warrant_testkit::PgDatabase;

use crate::support::{API, TestServer, spawn_app, spawn_with, verify_independently};

/// The claims of a fresh token of `id` for [`API`], checked by an independent verifier.
async fn claims_of(app: &TestServer, id: &str, secret: &str) -> Value {
    let token = app.token(id, secret).await;
    verify_independently(app, &token, API).await
}

/// A management write that must be refused with a 400 whose message holds `says`.
async fn refused(
    app: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
    says: &str,
) {
    let (status, answer) = app.mgmt(method, path, Some(token), Some(&body)).await;
    assert_eq!(status, 400, "{body} -> {answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{body}: {message:?} should say {says:?}"
    );
}

async fn story(app: TestServer) {
    let token = app.admin_token().await;
    app.create_api(API, &["read:data"], None).await;

    // An application with metadata and claims, one a reference to its metadata.
    let (status, client) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(&token),
            Some(&json!({
                "name": "tenant-worker",
                "client_metadata": {"tenant": "acme", "plan": "gold"},
                "custom_claims": {
                    "tenant": "{{client_metadata.tenant}}",
                    "tier": 1,
                    "region": "eu",
                    "flags": ["a", 2, true],
                    "https://example.com/team": "data"
                }
            })),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(
        client["custom_claims"]["tenant"],
        "{{client_metadata.tenant}}"
    );
    assert_eq!(
        client["client_metadata"],
        json!({"tenant": "acme", "plan": "gold"})
    );
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();

    // Its grant overrides one claim.
    let (status, grant) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&token),
            Some(
                &json!({"client_id": id, "audience": API, "scope": ["read:data"],
                "custom_claims": {"tier": 2}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["custom_claims"], json!({"tier": 2}));
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    let (status, read) = app
        .mgmt(Method::GET, &format!("/clients/{id}"), Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["custom_claims"], client["custom_claims"]);

    let claims = claims_of(&app, &id, &secret).await;
    assert_eq!(claims["tenant"], "acme", "{claims}");
    assert_eq!(claims["tier"], 2, "the grant's value wins: {claims}");
    assert_eq!(claims["region"], "eu");
    assert_eq!(claims["flags"], json!(["a", 2, true]));
    assert_eq!(claims["https://example.com/team"], "data");
    assert_eq!(claims["scope"], "read:data");
    assert_eq!(claims["sub"], format!("{id}@clients"));

    // Introspection answers carry them too (the application introspects its own token).
    let token_now = app.token(&id, &secret).await;
    let answer: Value = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("token", token_now.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["tenant"], "acme", "{answer}");
    assert_eq!(answer["tier"], 2);
    assert_eq!(answer["flags"], json!(["a", 2, true]));
    assert!(
        answer.get("gty").is_none() && answer.get("azp").is_none(),
        "{answer}"
    );

    // Every malformed write is a 400 naming the claim, and changes nothing.
    let app_path = format!("/clients/{id}");
    let grant_path = format!("/client-grants/{grant_id}");
    for (name, value, says) in [
        ("iss", json!("me"), "\"iss\""),
        ("client_id", json!("me"), "\"client_id\""),
        ("permissions", json!(["x"]), "\"permissions\""),
        ("cnf", json!("x"), "\"cnf\""),
        ("nested", json!({"a": 1}), "custom_claims.nested"),
        ("deep", json!([[1]]), "custom_claims.deep"),
        ("nothing", Value::Null, "custom_claims.nothing"),
        (
            "ref",
            json!("{{client_metadata.missing}}"),
            "client_metadata.missing",
        ),
        (
            "typo",
            json!("{{client_metadata.tenant}"),
            "custom_claims.typo",
        ),
        ("other", json!("{{tenant}}"), "custom_claims.other"),
        ("big", json!("x".repeat(5000)), "4096"),
    ] {
        let body = json!({"custom_claims": {name: value}});
        refused(&app, &token, Method::PATCH, &app_path, body.clone(), says).await;
        refused(&app, &token, Method::PATCH, &grant_path, body.clone(), says).await;
        let mut create = json!({"client_id": id, "audience": API, "scope": []});
        create["custom_claims"] = body["custom_claims"].clone();
        // A second grant for the API would be a 409; the claims are refused first.
        refused(&app, &token, Method::POST, "/client-grants", create, says).await;
        let new_app = json!({"name": "x", "custom_claims": body["custom_claims"].clone()});
        refused(&app, &token, Method::POST, "/clients", new_app, says).await;
    }
    // Together too big: the application's and the grant's claims each fit, not both.
    let half = json!({"a_half": "y".repeat(2500)});
    let (status, answer) = app
        .mgmt(
            Method::PATCH,
            &grant_path,
            Some(&token),
            Some(&json!({"custom_claims": {"tier": 2, "b_half": "z".repeat(2500)}})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    refused(
        &app,
        &token,
        Method::PATCH,
        &app_path,
        json!({"custom_claims": half}),
        "4096",
    )
    .await;
    // Metadata a claim refers to cannot go, and metadata follows Auth0's rules.
    refused(
        &app,
        &token,
        Method::PATCH,
        &app_path,
        json!({"client_metadata": {"plan": "gold"}}),
        "custom_claims.tenant",
    )
    .await;
    refused(
        &app,
        &token,
        Method::PATCH,
        &app_path,
        json!({"client_metadata": {"tenant": "acme", "a.b": "x"}}),
        "a.b",
    )
    .await;
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    refused(
        &app,
        &token,
        Method::PATCH,
        &app_path,
        json!({"client_metadata": eleven}),
        "at most 10",
    )
    .await;
    let claims = claims_of(&app, &id, &secret).await;
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["b_half"].as_str().map(str::len), Some(2500));

    // A change shows in the next token: new metadata flows through the reference, and the
    // grant's claims removed leave the application's.
    let (status, answer) = app
        .mgmt(
            Method::PATCH,
            &app_path,
            Some(&token),
            Some(&json!({"client_metadata": {"tenant": "globex", "plan": "gold"}})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = app
        .mgmt(
            Method::PATCH,
            &grant_path,
            Some(&token),
            Some(&json!({"custom_claims": {}})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("custom_claims").is_none(), "{answer}");
    assert_eq!(
        answer["scope"],
        json!(["read:data"]),
        "scopes stay: {answer}"
    );
    let claims = claims_of(&app, &id, &secret).await;
    assert_eq!(claims["tenant"], "globex", "{claims}");
    assert_eq!(claims["tier"], 1, "{claims}");
    assert!(claims.get("b_half").is_none());

    // The application's claims removed: tokens as before custom claims.
    let (status, _) = app
        .mgmt(
            Method::PATCH,
            &app_path,
            Some(&token),
            Some(&json!({"custom_claims": {}, "client_metadata": {}})),
        )
        .await;
    assert_eq!(status, 200);
    let claims = claims_of(&app, &id, &secret).await;
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "aud",
            "azp",
            "client_id",
            "exp",
            "gty",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub"
        ]
    );
}

#[tokio::test]
async fn custom_claims_reach_tokens_and_bad_ones_are_refused() {
    story(spawn_app().await).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn custom_claims_reach_tokens_and_bad_ones_are_refused_on_postgres() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(db.url.clone()));
    config.master_key = Some(Secret::new("Y3VzdG9tIGNsYWltcyBvbiBwb3N0Z3JlcyB0ZXN0cyE="));
    story(spawn_with(dir, config).await.unwrap()).await;
}
