//! `/api/v2/config`: declarative configuration through the management API (a Warrant
//! extension), with its own scopes, a caller's rights checked per change, and files refused
//! whole with their line and key.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestServer, spawn_app};

const FILE: &str = r#"
[[api]]
identifier = "https://orders.example.com"
name = "Orders"
scopes = [{ value = "read:orders", description = "Read orders" }]

[[application]]
name = "order-sync"
token_quota = { per_hour = 10, observe_only = true }

[[application.grant]]
api = "https://orders.example.com"
scopes = ["read:orders"]
"#;

/// A management token for a new application granted `scopes` on the management API.
async fn token_with(app: &TestServer, name: &str, scopes: &[&str]) -> String {
    let created = app
        .admin
        .create_application(
            name.into(),
            String::new(),
            vec![warrant_server::admin::GrantSpec {
                audience: app.mgmt_audience(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                custom_claims: None,
            }],
        )
        .await
        .unwrap();
    app.sync().await;
    app.token_for(
        &created.application.client_id,
        created.secret.expose(),
        &app.mgmt_audience(),
    )
    .await
}

fn keys(result: &Value) -> Vec<String> {
    result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["action"], c["kind"], c["key"]).replace('"', ""))
        .collect()
}

#[tokio::test]
async fn plan_apply_and_export_with_their_own_scopes() {
    let app = spawn_app().await;
    let reader = token_with(&app, "reader", &["read:config"]).await;
    let body = json!({"file": FILE});

    let (status, plan) = app
        .mgmt(Method::POST, "/config/plan", Some(&reader), Some(&body))
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        keys(&plan),
        [
            "create api https://orders.example.com",
            "create application order-sync"
        ]
    );
    assert_eq!(plan["created"], json!([]));
    // Planning is reading: applying takes update:config.
    let (status, refused) = app
        .mgmt(Method::POST, "/config/apply", Some(&reader), Some(&body))
        .await;
    assert_eq!(status, 403, "{refused}");

    let admin = app.admin_token().await;
    let (status, applied) = app
        .mgmt(Method::POST, "/config/apply", Some(&admin), Some(&body))
        .await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(keys(&applied), keys(&plan));
    let created = &applied["created"][0];
    assert_eq!(created["name"], "order-sync");
    // The secret works at once, with the quota the file set.
    let client_id = created["client_id"].as_str().unwrap();
    let response = app
        .token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": created["client_secret"],
            "audience": "https://orders.example.com",
        }))
        .await;
    assert_eq!(response.status(), 200);
    let (_, client) = app
        .mgmt(
            Method::GET,
            &format!("/clients/{client_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(client["token_quota"]["client_credentials"]["per_hour"], 10);
    assert_eq!(
        client["token_quota"]["client_credentials"]["enforce"],
        false
    );

    // Again: nothing to do.
    let (status, again) = app
        .mgmt(Method::POST, "/config/apply", Some(&admin), Some(&body))
        .await;
    assert_eq!(
        (status, again),
        (200, json!({"changes": [], "created": []}))
    );

    // Export: the file, with every default written out, and applying it changes nothing.
    let (status, export) = app.mgmt(Method::GET, "/config", Some(&reader), None).await;
    assert_eq!(status, 200);
    let exported = export["file"].as_str().unwrap();
    assert!(exported.contains("token_lifetime = 86400"), "{exported}");
    assert!(
        !exported.contains("api/v2"),
        "no management API: {exported}"
    );
    assert!(
        !exported.contains("Warrant Management"),
        "no admin application: {exported}"
    );
    let (_, plan) = app
        .mgmt(
            Method::POST,
            "/config/plan",
            Some(&reader),
            Some(&json!({"file": exported, "prune": true})),
        )
        .await;
    // Everything is in the file (the admin application is spared): even --prune deletes
    // nothing.
    assert_eq!(keys(&plan), Vec::<String>::new(), "{plan}");
    assert!(exported.contains("name = \"reader\""), "{exported}");
}

#[tokio::test]
async fn a_caller_grants_only_what_it_holds_and_a_bad_file_changes_nothing() {
    let app = spawn_app().await;
    let applier = token_with(&app, "applier", &["read:config", "update:config"]).await;
    let apply = |file: &str| {
        let body = json!({"file": file});
        let app = &app;
        let applier = applier.clone();
        async move {
            app.mgmt(Method::POST, "/config/apply", Some(&applier), Some(&body))
                .await
        }
    };
    // Management scopes the caller lacks: 403, and the place.
    let (status, error) = apply(
        "[[application]]\nname = \"sneaky\"\n\n[[application.grant]]\napi = \"urn:warrant:management-api\"\nscopes = [\"delete:clients\"]\n",
    )
    .await;
    assert_eq!(status, 403, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("line 4, column 1, application[0].grant[0].scopes: "),
        "{message}"
    );
    // The management API itself is not configured by a file.
    let mgmt = app.mgmt_audience();
    let (status, error) = apply(&format!("[[api]]\nidentifier = \"{mgmt}\"\n")).await;
    assert_eq!(status, 400, "{error}");
    // A secret, a bad value, an unknown key: 400 with the line, and nothing written.
    for (file, at) in [
        (
            "[[application]]\nname = \"a\"\nclient_secret = \"x\"\n",
            "line 3, column 1, client_secret:",
        ),
        (
            "[[api]]\nidentifier = \"https://a.example\"\n\n[[api]]\nidentifier = \"https://b.example\"\ntoken_lifetime = 0\n",
            "line 4, column 1, api[1]: token_lifetime must be between",
        ),
        (
            "[[api]]\nidentifier = \"https://a.example\"\nname = 3\n",
            "line 3",
        ),
    ] {
        let (status, error) = apply(file).await;
        assert_eq!(status, 400, "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with(at),
            "{message} does not start with {at}"
        );
    }
    let admin = app.admin_token().await;
    let (_, apis) = app
        .mgmt(Method::GET, "/resource-servers", Some(&admin), None)
        .await;
    assert_eq!(
        apis.as_array().unwrap().len(),
        1,
        "only the management API: {apis}"
    );
}
