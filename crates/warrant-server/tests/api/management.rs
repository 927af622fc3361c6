//! The management API: every route behind its token and scope, Auth0 shapes, paging,
//! validation errors naming the field, 404 and 409, and nothing partial written.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{API, spawn_app};

fn assert_auth0_error(body: &Value, status: u16, code: &str) {
    assert_eq!(body["statusCode"], status, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn every_documented_operation_needs_a_token_and_its_own_scope() {
    let app = spawn_app().await;
    let (status, doc) = app.mgmt(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    // An application granted one management scope only.
    let (narrow_id, narrow_secret) = {
        let created = app
            .admin
            .create_application(
                "narrow".into(),
                String::new(),
                vec![warrant_server::admin::GrantSpec {
                    audience: app.mgmt_audience(),
                    scopes: vec!["read:clients".into()],
                    custom_claims: None,
                }],
            )
            .await
            .unwrap();
        app.sync().await;
        (
            created.application.client_id,
            created.secret.expose().to_owned(),
        )
    };
    let narrow = app
        .token_for(&narrow_id, &narrow_secret, &app.mgmt_audience())
        .await;
    // A token for another API, even with the right scope names, is not a management token.
    app.create_api(API, &["read:clients"], None).await;
    let foreign = {
        let (id, secret) = app.create_app(&[(API, &["read:clients"])]).await;
        app.token_for(&id, &secret, API).await
    };

    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let scope = operation["security"][0]["oauth2"][0].as_str().unwrap();
            let concrete = path
                .replace("{id}", "x")
                .replace("{kid}", "x")
                .replace("{credential_id}", "x");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));

            let (status, body_none) = app
                .mgmt(method.clone(), &concrete, None, body.as_ref())
                .await;
            assert_eq!(status, 401, "{method} {path} without a token");
            assert_auth0_error(&body_none, 401, "missing_authentication");

            let (status, _) = app
                .mgmt(method.clone(), &concrete, Some(&foreign), body.as_ref())
                .await;
            assert_eq!(status, 401, "{method} {path} with a token for another API");

            let (status, body_narrow) = app
                .mgmt(method.clone(), &concrete, Some(&narrow), body.as_ref())
                .await;
            if scope == "read:clients" {
                assert_ne!(status, 403, "{method} {path}");
                assert_ne!(status, 401, "{method} {path}");
            } else {
                assert_eq!(status, 403, "{method} {path} with only read:clients");
                assert_auth0_error(&body_narrow, 403, "insufficient_scope");
                assert!(body_narrow["message"].as_str().unwrap().contains(scope));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 40, "every operation of the document was checked");
    let (status, body) = app.mgmt(Method::GET, "/nope", Some(&narrow), None).await;
    assert_eq!(status, 404);
    assert_auth0_error(&body, 404, "inexistent_resource");
}

#[tokio::test]
async fn clients_crud_paging_and_secret_rotation() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    app.create_api(API, &["read:data"], None).await;

    let (status, created) = app
        .mgmt(Method::POST, "/clients", t, Some(&json!({
            "name": "worker", "description": "nightly job", "app_type": "non_interactive",
            "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic",
            "client_metadata": {"team": "data"}})))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["client_metadata"], json!({"team": "data"}));
    assert_eq!(created["app_type"], "non_interactive");

    let (status, got) = app
        .mgmt(Method::GET, &format!("/clients/{id}"), t, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        got.get("client_secret").is_none(),
        "GET never returns a secret"
    );
    assert_eq!(got["name"], "worker");

    // Grant it, and the secret works at once on this instance.
    let (status, grant) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            t,
            Some(&json!({"client_id": id, "audience": API, "scope": ["read:data"]})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    app.token_for(&id, &secret, API).await;

    let (status, patched) = app
        .mgmt(
            Method::PATCH,
            &format!("/clients/{id}"),
            t,
            Some(&json!({"name": "worker-2", "client_metadata": {}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["name"], "worker-2");
    assert_eq!(patched["client_metadata"], json!({}));

    // Paging: the admin application and this one.
    let (status, page) = app
        .mgmt(
            Method::GET,
            "/clients?per_page=1&page=1&include_totals=true",
            t,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2);
    assert_eq!(page["start"], 1);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["length"], 1);
    assert_eq!(page["clients"].as_array().unwrap().len(), 1);
    let (_, plain) = app.mgmt(Method::GET, "/clients", t, None).await;
    assert_eq!(plain.as_array().unwrap().len(), 2);

    // Rotation with a grace period keeps the old secret; without, it stops.
    let (status, rotated) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{id}/rotate-secret?grace_period=600"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let second = rotated["client_secret"].as_str().unwrap().to_owned();
    app.token_for(&id, &secret, API).await;
    app.token_for(&id, &second, API).await;
    let (_, rotated) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{id}/rotate-secret"),
            t,
            None,
        )
        .await;
    let third = rotated["client_secret"].as_str().unwrap().to_owned();
    app.token_for(&id, &third, API).await;
    let old = app
        .token_json(&json!({"grant_type": "client_credentials", "client_id": id, "client_secret": second, "audience": API}))
        .await;
    assert_eq!(old.status(), 401);

    let (status, body) = app
        .mgmt(Method::DELETE, &format!("/clients/{id}"), t, None)
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = app
        .mgmt(Method::GET, &format!("/clients/{id}"), t, None)
        .await;
    assert_eq!(status, 404);
    assert_auth0_error(&body, 404, "inexistent_resource");
    let (status, _) = app
        .mgmt(
            Method::GET,
            &format!("/client-grants/{}", grant["id"].as_str().unwrap()),
            t,
            None,
        )
        .await;
    assert_eq!(status, 404, "the grant went with the application");
}

#[tokio::test]
async fn resource_servers_and_grants() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    let (status, api) = app
        .mgmt(Method::POST, "/resource-servers", t, Some(&json!({
            "identifier": API, "name": "Internal API", "token_lifetime": 3600,
            "signing_alg": "RS256",
            "scopes": [{"value": "read:data", "description": "Read"}, {"value": "delete:documents"}]})))
        .await;
    assert_eq!(status, 201, "{api}");
    let api_id = api["id"].as_str().unwrap().to_owned();
    let (status, dup) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            t,
            Some(&json!({"identifier": API})),
        )
        .await;
    assert_eq!(status, 409);
    assert_auth0_error(&dup, 409, "conflict");

    // By id, and by url-encoded identifier.
    let encoded: String = form_urlencoded::byte_serialize(API.as_bytes()).collect();
    for key in [api_id.as_str(), encoded.as_str()] {
        let (status, got) = app
            .mgmt(Method::GET, &format!("/resource-servers/{key}"), t, None)
            .await;
        assert_eq!(status, 200, "{key}");
        assert_eq!(got["identifier"], API);
        assert_eq!(got["token_lifetime"], 3600);
    }
    let (status, body) = app
        .mgmt(
            Method::PATCH,
            &format!("/resource-servers/{api_id}"),
            t,
            Some(&json!({"identifier": "https://other"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("identifier"));
    let (status, patched) = app
        .mgmt(
            Method::PATCH,
            &format!("/resource-servers/{api_id}"),
            t,
            Some(&json!({"token_lifetime": 600})),
        )
        .await;
    assert_eq!(
        (status, patched["token_lifetime"].clone()),
        (200, json!(600))
    );

    // Grants: 409 for a scope the API lacks (a well-formed request at odds with the API's
    // scopes) and for a second grant, filters, patch.
    let (status, app_created) = app
        .mgmt(Method::POST, "/clients", t, Some(&json!({"name": "w"})))
        .await;
    assert_eq!(status, 201);
    let client_id = app_created["client_id"].as_str().unwrap();
    let (status, bad) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            t,
            Some(&json!({"client_id": client_id, "audience": API, "scope": ["admin:all"]})),
        )
        .await;
    assert_eq!(status, 409);
    assert!(bad["message"].as_str().unwrap().contains("admin:all"));
    let (status, grant) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            t,
            Some(&json!({"client_id": client_id, "audience": API, "scope": ["read:data"]})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            t,
            Some(&json!({"client_id": client_id, "audience": API, "scope": []})),
        )
        .await;
    assert_eq!(status, 409);
    let (_, filtered) = app
        .mgmt(
            Method::GET,
            &format!("/client-grants?audience={encoded}"),
            t,
            None,
        )
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let (_, by_client) = app
        .mgmt(
            Method::GET,
            &format!("/client-grants?client_id={client_id}"),
            t,
            None,
        )
        .await;
    assert_eq!(by_client[0]["id"], grant["id"]);
    let grant_id = grant["id"].as_str().unwrap();
    let (status, patched) = app
        .mgmt(
            Method::PATCH,
            &format!("/client-grants/{grant_id}"),
            t,
            Some(&json!({"scope": ["read:data", "delete:documents"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["scope"], json!(["read:data", "delete:documents"]));
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("/client-grants/{grant_id}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 204);

    // The management API itself is off limits.
    let mgmt_encoded: String =
        form_urlencoded::byte_serialize(app.mgmt_audience().as_bytes()).collect();
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("/resource-servers/{mgmt_encoded}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("/resource-servers/{api_id}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .mgmt(
            Method::DELETE,
            &format!("/resource-servers/{api_id}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_bodies_and_queries_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    let cases = [
        (json!({"name": 5}), "'name'"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (
            json!({"name": "x", "client_metadata": {"a": 1}}),
            "client_metadata.a",
        ),
        (json!({"name": "x", "app_type": "spa"}), "app_type"),
        (
            json!({"name": "x", "grant_types": ["password"]}),
            "grant_types",
        ),
        (
            json!({"name": "x", "token_endpoint_auth_method": "none"}),
            "token_endpoint_auth_method",
        ),
        (json!({"description": "no name"}), "name"),
        (json!({"name": " "}), "name"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.mgmt(Method::POST, "/clients", t, Some(&body)).await;
        assert_eq!(status, 400, "{body}");
        assert_auth0_error(&answer, 400, "invalid_body");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
    }
    let (status, answer) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            t,
            Some(&json!({"identifier": "not a uri"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("identifier"));
    let (status, answer) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            t,
            Some(&json!({"identifier": "https://x", "token_lifetime": "long"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("token_lifetime")
    );

    // Not JSON at all.
    let response = app
        .http
        .post(app.url("/api/v2/clients"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    for query in ["per_page=0", "per_page=101", "page=x", "colour=red"] {
        let (status, answer) = app
            .mgmt(Method::GET, &format!("/clients?{query}"), t, None)
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(answer["errorCode"], "invalid_query_string", "{query}");
    }
    // Nothing was written: only the admin application exists.
    let (_, clients) = app.mgmt(Method::GET, "/clients", t, None).await;
    assert_eq!(clients.as_array().unwrap().len(), 1);
    let (_, apis) = app.mgmt(Method::GET, "/resource-servers", t, None).await;
    assert_eq!(apis.as_array().unwrap().len(), 1, "only the management API");
}

#[tokio::test]
async fn init_is_idempotent() {
    let app = spawn_app().await;
    let again = app.admin.initialize(&app.issuer).await.unwrap();
    match again {
        warrant_server::admin::Initialized::Already { client_id } => {
            assert_eq!(client_id, app.mgmt_client.0)
        }
        other => panic!("{other:?}"),
    }
}
