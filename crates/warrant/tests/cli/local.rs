//! The CLI on the data directory of a running server (started in-process): APIs, applications
//! and grants it writes, the server serves within a second.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{API, fails_with, ok_json, warrant, warrant_env};

#[tokio::test(flavor = "multi_thread")]
async fn cli_administers_a_running_server() {
    let server = warrant_testkit::TestServer::start().await;
    let (base, issuer) = (server.base.clone(), server.issuer.clone());
    let d = server.data_dir();

    let api = ok_json(warrant(
        d,
        &[
            "api",
            "create",
            "--identifier",
            API,
            "--name",
            "Internal API",
            "--scope",
            "read:data",
            "--scope",
            "delete:documents=Delete documents",
            "--token-lifetime",
            "3600",
            "--json",
        ],
    ));
    assert_eq!(api["identifier"], API);
    assert_eq!(api["token_lifetime"], 3600);
    assert_eq!(
        api["scopes"][1],
        json!({"value": "delete:documents", "description": "Delete documents"})
    );

    let app = ok_json(warrant(
        d,
        &[
            "app",
            "create",
            "--name",
            "worker",
            "--grant",
            &format!("{API}=read:data"),
            "--json",
        ],
    ));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let secret = app["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(app["grants"][0]["scope"], json!(["read:data"]));

    // `app show` never shows the secret.
    let shown = warrant(d, &["app", "show", &client_id, "--json"]);
    assert!(!String::from_utf8_lossy(&shown.stdout).contains(&secret));
    assert_eq!(ok_json(shown)["active_secrets"], 1);

    // `warrant token` fetches from the running server (after it noticed the new client).
    let started = Instant::now();
    let token = loop {
        let out = warrant_env(
            d,
            &[
                "token",
                "--issuer",
                &issuer,
                "--client-id",
                &client_id,
                "--audience",
                API,
            ],
            &[("WARRANT_CLIENT_SECRET", &secret)],
        );
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap().trim().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Real time under test: the server sees the CLI's writes within a second.
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let decoded = warrant(d, &["decode", &token]);
    assert!(String::from_utf8_lossy(&decoded.stderr).contains("NOT VERIFIED"));
    let decoded = ok_json(decoded);
    assert_eq!(decoded["header"]["typ"], "at+jwt");
    assert_eq!(decoded["claims"]["sub"], format!("{client_id}@clients"));
    assert_eq!(decoded["claims"]["scope"], "read:data");

    // Delete the grant with the CLI: issuance stops within a second.
    let grants = ok_json(warrant(
        d,
        &["grant", "list", "--client-id", &client_id, "--json"],
    ));
    let grant_id = grants[0]["id"].as_str().unwrap().to_owned();
    assert!(warrant(d, &["grant", "delete", &grant_id]).status.success());
    let http = reqwest::Client::new();
    let body = json!({"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret, "audience": API});
    let started = Instant::now();
    loop {
        let status = http
            .post(format!("{base}/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        if status == 403 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still {status} after 1 s"
        );
        // Real time under test: the server sees the CLI's writes within a second.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A grant for a scope the API lacks is refused with a clear message.
    fails_with(
        &warrant(
            d,
            &[
                "grant",
                "create",
                "--client-id",
                &client_id,
                "--audience",
                API,
                "--scope",
                "write:all",
            ],
        ),
        "write:all",
    );
    // Rotation prints a new secret once.
    let rotated = ok_json(warrant(d, &["app", "rotate-secret", &client_id, "--json"]));
    assert_ne!(rotated["client_secret"], secret);
    assert!(warrant(d, &["app", "delete", &client_id]).status.success());
    fails_with(&warrant(d, &["app", "show", &client_id]), "not found");
}

/// `warrant api create --dpop` and `warrant api update --dpop` on the data directory.
#[test]
fn an_api_can_require_dpop_from_the_cli() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = runtime.block_on(crate::support::initialized_data_dir());
    let d = dir.path();
    let created = crate::support::ok_json(crate::support::warrant(
        d,
        &[
            "api",
            "create",
            "--identifier",
            "https://strict.example.com",
            "--name",
            "Strict",
            "--dpop",
            "required",
            "--json",
        ],
    ));
    assert_eq!(created["proof_of_possession"]["mechanism"], "dpop");
    assert_eq!(created["proof_of_possession"]["required"], true);
    let shown = crate::support::warrant(d, &["api", "show", "https://strict.example.com"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("DPoP:            required"),
        "{shown:?}"
    );
    let updated = crate::support::ok_json(crate::support::warrant(
        d,
        &[
            "api",
            "update",
            "https://strict.example.com",
            "--dpop",
            "off",
            "--json",
        ],
    ));
    assert!(updated.get("proof_of_possession").is_none(), "{updated}");
    crate::support::fails_with(
        &crate::support::warrant(
            d,
            &[
                "api",
                "create",
                "--identifier",
                "https://x.example.com",
                "--name",
                "X",
                "--dpop",
                "off",
            ],
        ),
        "required or optional",
    );
    crate::support::fails_with(
        &crate::support::warrant(d, &["api", "update", "https://strict.example.com"]),
        "--dpop",
    );
}
