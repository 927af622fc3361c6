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

/// A trusted issuer decides who may authenticate without a secret: an apply that creates,
/// changes or prunes one takes the management API's scope for that as well as update:config,
/// else a 403 naming the missing scope and nothing of the file written.
#[tokio::test]
async fn an_apply_changing_trusted_issuers_takes_their_scopes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let issuer = crate::support::issuer::LocalIssuer::start().await;
    let jwks = issuer.jwks().to_string().replace('\'', "");
    let file = |lifetime: u64| {
        format!(
            "[[api]]\nidentifier = \"https://orders.example.com\"\n\n\
             [[trusted_issuer]]\nissuer = \"{}\"\njwks = '{jwks}'\nmax_assertion_lifetime = {lifetime}\n",
            issuer.base
        )
    };
    let apply = |token: &str, file: &str, prune: bool| {
        let body = json!({"file": file, "prune": prune});
        let (app, token) = (&app, token.to_owned());
        async move {
            app.mgmt(Method::POST, "/config/apply", Some(&token), Some(&body))
                .await
        }
    };
    let refused = |answer: &Value, scope: &str| {
        assert_eq!(answer["statusCode"], 403, "{answer}");
        assert_eq!(answer["errorCode"], "insufficient_scope", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(scope), "{message} should name {scope}");
        assert!(
            message.contains(&issuer.base),
            "{message} should name the issuer"
        );
    };
    let state = || async {
        let (_, issuers) = app
            .mgmt(Method::GET, "/trusted-issuers", Some(&admin), None)
            .await;
        let (_, apis) = app
            .mgmt(Method::GET, "/resource-servers", Some(&admin), None)
            .await;
        (issuers, apis.as_array().unwrap().len())
    };

    // update:config alone: the issuer is not created, nor the API beside it.
    let config_only = token_with(&app, "config-only", &["update:config"]).await;
    let (status, answer) = apply(&config_only, &file(600), false).await;
    assert_eq!(status, 403, "{answer}");
    refused(&answer, "create:trusted_issuers");
    assert!(
        !answer["message"]
            .as_str()
            .unwrap()
            .contains("update:trusted_issuers")
    );
    assert_eq!(state().await, (json!([]), 1), "nothing was written");

    // With create:trusted_issuers too: applied.
    let creator = token_with(
        &app,
        "creator",
        &["update:config", "create:trusted_issuers"],
    )
    .await;
    let (status, applied) = apply(&creator, &file(600), false).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(
        keys(&applied),
        [
            "create api https://orders.example.com".to_owned(),
            format!("create trusted_issuer {}", issuer.base),
        ]
    );
    let (issuers, _) = state().await;
    assert_eq!(issuers[0]["max_assertion_lifetime"], 600, "{issuers}");
    // The same file again changes nothing, so takes nothing more.
    let (status, again) = apply(&config_only, &file(600), false).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["changes"], json!([]));

    // Changing it takes update:trusted_issuers.
    let (status, answer) = apply(&creator, &file(900), false).await;
    assert_eq!(status, 403, "{answer}");
    refused(&answer, "update:trusted_issuers");
    assert_eq!(state().await.0, issuers, "nothing was written");
    let updater = token_with(
        &app,
        "updater",
        &["update:config", "update:trusted_issuers"],
    )
    .await;
    let (status, applied) = apply(&updater, &file(900), false).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(state().await.0[0]["max_assertion_lifetime"], 900);
}

/// Pruning a trusted issuer takes delete:trusted_issuers as well as update:config.
#[tokio::test]
async fn pruning_a_trusted_issuer_takes_delete_trusted_issuers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let issuer = crate::support::issuer::LocalIssuer::start().await;
    let (status, created) = app
        .mgmt(
            Method::POST,
            "/trusted-issuers",
            Some(&admin),
            Some(&json!({"issuer": issuer.base, "jwks": issuer.jwks()})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // The state without the issuer, as a file naming every application (prune would
    // delete the others, and a file may grant only management scopes its applier holds).
    let without_issuer = || async {
        let (_, export) = app.mgmt(Method::GET, "/config", Some(&admin), None).await;
        let exported = export["file"].as_str().unwrap().to_owned();
        let start = exported.find("[[trusted_issuer]]").unwrap();
        let end = exported[start..]
            .find("\n[[")
            .map_or(exported.len(), |i| start + i + 1);
        format!("{}{}", &exported[..start], &exported[end..])
    };
    let prune = |token: String, file: String| {
        let app = &app;
        async move {
            let body = json!({"file": file, "prune": true});
            app.mgmt(Method::POST, "/config/apply", Some(&token), Some(&body))
                .await
        }
    };
    let issuers = || async {
        app.mgmt(Method::GET, "/trusted-issuers", Some(&admin), None)
            .await
            .1
    };

    let updater = token_with(
        &app,
        "updater",
        &["update:config", "update:trusted_issuers"],
    )
    .await;
    let (status, answer) = prune(updater, without_issuer().await).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["errorCode"], "insufficient_scope", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("delete:trusted_issuers") && message.contains(&issuer.base),
        "{message}"
    );
    assert_eq!(
        issuers().await.as_array().unwrap().len(),
        1,
        "nothing was written"
    );

    let deleter = token_with(
        &app,
        "deleter",
        &[
            "update:config",
            "update:trusted_issuers",
            "delete:trusted_issuers",
        ],
    )
    .await;
    let (status, applied) = prune(deleter, without_issuer().await).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(
        keys(&applied),
        [format!("delete trusted_issuer {}", issuer.base)]
    );
    assert_eq!(issuers().await, json!([]));
}

/// A file with a trusted issuer (inline keys) and an application bound to its workloads:
/// planned, applied only while the plan's fingerprint holds, then a workload's token is
/// exchanged for a Warrant token at once; the issuer's and the credential's rules are the
/// management API's, refused with their place.
#[tokio::test]
async fn trusted_issuers_and_federated_credentials_from_a_file() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let issuer = crate::support::issuer::LocalIssuer::start().await;
    let jwks = issuer.jwks().to_string().replace('\'', "");
    let file = format!(
        r#"
[[api]]
identifier = "https://orders.example.com"
scopes = [{{ value = "read:orders" }}]

[[trusted_issuer]]
issuer = "{base}"
name = "ci"
jwks = '{jwks}'
algorithms = ["RS256"]
max_assertion_lifetime = 600

[[application]]
key = "deployer"
name = "deployer"

[[application.grant]]
api = "https://orders.example.com"
scopes = ["read:orders"]

[[application.federated_credential]]
name = "main"
issuer = "{base}"
subject = "repo:acme/orders:ref:refs/heads/main"
audience = "https://github.com/acme"
conditions = {{ repository_owner_id = "123" }}
expires_at = 4102444800
"#,
        base = issuer.base
    );
    let body = |expect: Option<&str>| json!({"file": file, "expect": expect});

    let (status, plan) = app
        .mgmt(
            Method::POST,
            "/config/plan",
            Some(&admin),
            Some(&body(None)),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        keys(&plan),
        [
            "create api https://orders.example.com".to_owned(),
            format!("create trusted_issuer {}", issuer.base),
            "create application deployer".to_owned(),
        ]
    );
    let details = plan["changes"][2]["details"].to_string();
    assert!(details.contains("add federated credential"), "{details}");
    let fingerprint = plan["fingerprint"].as_str().unwrap().to_owned();

    // Another change lands between the plan and the apply: a 409, and nothing written.
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            Some(&admin),
            Some(&json!({"identifier": "https://meanwhile.example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, stale) = app
        .mgmt(
            Method::POST,
            "/config/apply",
            Some(&admin),
            Some(&body(Some(&fingerprint))),
        )
        .await;
    assert_eq!(status, 409, "{stale}");
    assert_eq!(stale["statusCode"], 409);
    assert!(
        stale["message"]
            .as_str()
            .unwrap()
            .contains("the deployment changed since the plan"),
        "{stale}"
    );
    let (_, issuers) = app
        .mgmt(Method::GET, "/trusted-issuers", Some(&admin), None)
        .await;
    assert_eq!(issuers, json!([]), "nothing was applied");

    // Planned again: applied with that plan's fingerprint.
    let (_, plan) = app
        .mgmt(
            Method::POST,
            "/config/plan",
            Some(&admin),
            Some(&body(None)),
        )
        .await;
    let fingerprint = plan["fingerprint"].as_str().unwrap().to_owned();
    let (status, applied) = app
        .mgmt(
            Method::POST,
            "/config/apply",
            Some(&admin),
            Some(&body(Some(&fingerprint))),
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["created"][0]["name"], "deployer", "{applied}");
    let client_id = {
        let (_, clients) = app.mgmt(Method::GET, "/clients", Some(&admin), None).await;
        clients
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "deployer")
            .unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (_, federated) = app
        .mgmt(
            Method::GET,
            &format!("/clients/{client_id}/federated-credentials"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(federated[0]["expires_at"], "2100-01-01T00:00:00Z");
    assert_eq!(
        federated[0]["conditions"],
        json!({"repository_owner_id": "123"})
    );

    // The workload's own token works at once (one refresh after the apply).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = issuer.mint(&json!({
        "iss": issuer.base, "aud": "https://github.com/acme",
        "sub": "repo:acme/orders:ref:refs/heads/main", "repository_owner_id": "123",
        "iat": now, "exp": now + 300
    }));
    let response = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
            ("client_id", &client_id),
            ("audience", "https://orders.example.com"),
        ])
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    // Applied again: nothing; exported: the issuer and the credential, which apply as they
    // are.
    let (_, again) = app
        .mgmt(
            Method::POST,
            "/config/apply",
            Some(&admin),
            Some(&body(None)),
        )
        .await;
    assert_eq!(again["changes"], json!([]));
    let (_, export) = app.mgmt(Method::GET, "/config", Some(&admin), None).await;
    let exported = export["file"].as_str().unwrap();
    assert!(exported.contains("[[trusted_issuer]]"), "{exported}");
    assert!(exported.contains("key = \"deployer\""), "{exported}");
    assert!(exported.contains("expires_at = 4102444800"), "{exported}");
    let (_, plan) = app
        .mgmt(
            Method::POST,
            "/config/plan",
            Some(&admin),
            Some(&json!({"file": exported, "prune": true})),
        )
        .await;
    assert_eq!(keys(&plan), Vec::<String>::new(), "{plan}");

    // The management API's rules, with the file's place.
    for (from, to, at) in [
        (
            "max_assertion_lifetime = 600",
            "max_assertion_lifetime = 600\nbearer_token_file = \"/etc/warrant/master.key\"",
            "trusted_issuer[0]: bearer_token_file may only be /var/run/secrets/kubernetes.io/serviceaccount/token",
        ),
        (
            "subject = \"repo:acme/orders:ref:refs/heads/main\"",
            "subject = \"*\"",
            "application[0].federated_credential[0]: subject: the subject matches any workload",
        ),
        (
            "issuer = \"http",
            "issuer = \"https://unknown.example.com\"\n# ",
            "application[0].federated_credential[0].issuer: https://unknown.example.com is not a trusted issuer",
        ),
    ] {
        let bad = if at.starts_with("application[0].federated_credential[0].issuer") {
            // Only the credential's issuer, not the trusted issuer's.
            let i = file.rfind(from).unwrap();
            format!("{}{to}{}", &file[..i], &file[i + from.len()..])
        } else {
            file.replacen(from, to, 1)
        };
        let (status, error) = app
            .mgmt(
                Method::POST,
                "/config/apply",
                Some(&admin),
                Some(&json!({"file": bad})),
            )
            .await;
        assert_eq!(status, 400, "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("line ") && message.contains(at),
            "{message} should say {at}"
        );
    }
}

/// Counts the catalog refreshes an admin asks for.
#[derive(Debug, Default)]
struct CountingCatalog(std::sync::atomic::AtomicUsize);

impl warrant_server::admin::Refresh for CountingCatalog {
    fn refresh(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

/// An apply of many changes records one audit event per change but refreshes the catalog
/// once, after its one transaction.
#[tokio::test]
async fn an_apply_refreshes_the_catalog_once_and_audits_each_change() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use warrant_server::admin::{Actor, Admin, AuditTrail};
    use warrant_server::domain::events::AuditFilter;

    let dir = tempfile::tempdir().unwrap();
    let store = warrant_server::store::Store::open_data_dir(dir.path())
        .await
        .unwrap();
    let catalog = Arc::new(CountingCatalog::default());
    let admin = Admin::new(store.clone(), Arc::new(warrant_server::clock::SystemClock))
        .refreshing(Arc::clone(&catalog) as Arc<dyn warrant_server::admin::Refresh>)
        .recording(AuditTrail::Store {
            unrecorded: |e| panic!("an audit event was not recorded: {e}"),
        })
        .acting_as(Actor::Cli {
            user_agent: "warrant-cli/test".into(),
        });
    let file = format!(
        "{FILE}\n[[application]]\nname = \"second\"\n\n[[application]]\nname = \"third\"\n"
    );
    let applied = admin.apply_config(&file, false, None).await.unwrap();
    // An API, three applications, and one application's grants.
    assert_eq!(applied.changes.len(), 4, "{:?}", applied.changes);
    assert_eq!(catalog.0.load(Ordering::SeqCst), 1, "one refresh per apply");
    let events = store
        .count_audit_events(&AuditFilter {
            kind: Some("sapi".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events, 5, "one event per change, the grants' too");
    // Nothing to apply: no refresh at all.
    admin.apply_config(&file, false, None).await.unwrap();
    assert_eq!(catalog.0.load(Ordering::SeqCst), 1);
}

/// A plan says what changes in each object field by field, each line as `warrant plan` shows
/// it: an API's, a trusted issuer's and an application's fields changed, and those created and
/// (with prune) deleted.
#[tokio::test]
async fn a_plan_says_each_changed_field_in_words() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let before = r#"
[[api]]
identifier = "https://orders.example.com"
name = "Orders"
token_lifetime = 3600
signing_alg = "RS256"
scopes = [{ value = "read:orders" }, { value = "write:orders" }]

[[api]]
identifier = "https://retired.example.com"

[[trusted_issuer]]
issuer = "https://kubernetes.default.svc"
name = "cluster"
jwks_uri = "https://kubernetes.default.svc/openid/v1/jwks"
bearer_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
algorithms = ["RS256", "ES256"]
max_assertion_lifetime = 3600

[[application]]
key = "sync"
name = "order-sync"
description = "Copies orders"
client_metadata = { "team" = "logistics" }
custom_claims = { "region" = "eu" }
token_quota = { per_hour = 10, observe_only = true }

[[application]]
name = "billing"

[[application]]
name = "retired"
"#;
    let after = r#"
[[api]]
identifier = "https://orders.example.com"
name = "Orders v2"
token_lifetime = 7200
signing_alg = "ES256"
dpop = "required"
scopes = [{ value = "read:orders" }, { value = "ship:orders" }]

[[api]]
identifier = "https://new.example.com"

[[trusted_issuer]]
issuer = "https://kubernetes.default.svc"
name = "cluster-2"
algorithms = ["RS256"]
max_assertion_lifetime = 600

[[trusted_issuer]]
issuer = "https://token.actions.githubusercontent.com"

[[application]]
key = "sync"
name = "order-sync-v2"
description = "Copies orders to the warehouse"
client_metadata = { "team" = "shipping" }
custom_claims = { "region" = "us" }

[[application]]
key = "billing"
name = "billing"
"#;
    let post = |path: &'static str, file: &str| {
        let body = json!({"file": file, "prune": true});
        let admin = admin.clone();
        let app = &app;
        async move {
            app.mgmt(Method::POST, path, Some(&admin), Some(&body))
                .await
        }
    };
    let (status, applied) = post("/config/apply", before).await;
    assert_eq!(status, 200, "{applied}");
    let retired = app
        .admin
        .list_applications()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == "retired")
        .unwrap()
        .client_id;

    let (status, plan) = post("/config/plan", after).await;
    assert_eq!(status, 200, "{plan}");
    let changes: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}: {}",
                c["action"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["key"].as_str().unwrap(),
                c["details"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            "update api https://orders.example.com: name \"Orders\" -> \"Orders v2\" | \
             scopes +ship:orders -write:orders | token_lifetime 3600 -> 7200 | \
             dpop off -> required | signing_alg RS256 -> ES256"
                .to_owned(),
            "create api https://new.example.com: ".to_owned(),
            "delete api https://retired.example.com: ".to_owned(),
            "update trusted_issuer https://kubernetes.default.svc: \
             name \"cluster\" -> \"cluster-2\" | keys by jwks_uri -> discovery | \
             bearer_token_file Some(\"/var/run/secrets/kubernetes.io/serviceaccount/token\") -> None | \
             ca_file Some(\"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt\") -> None | \
             algorithms RS256,ES256 -> RS256 | max_assertion_lifetime 3600 -> 600"
                .to_owned(),
            "create trusted_issuer https://token.actions.githubusercontent.com: keys by discovery"
                .to_owned(),
            "update application order-sync-v2: name \"order-sync\" -> \"order-sync-v2\" | \
             description | client_metadata | custom_claims | token_quota"
                .to_owned(),
            "update application billing: key none -> \"billing\"".to_owned(),
            format!("delete application retired: client_id {retired}"),
        ]
    );
}
