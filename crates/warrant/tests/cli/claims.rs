//! Custom claims and client_metadata with the CLI, on the data directory and through the
//! management API (`--server`): `app create --metadata/--claim`, `app update`, `grant create
//! --claim`, `grant update`; the running server's tokens carry them, refusals name the claim.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{API, fails_with, ok_json, warrant, warrant_env};

/// The claims of a token of `client_id`, once the server serves what the CLI wrote and `ready`
/// accepts them.
async fn claims_when(
    d: &std::path::Path,
    issuer: &str,
    client_id: &str,
    secret: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let out = warrant_env(
            d,
            &[
                "token",
                "--issuer",
                issuer,
                "--client-id",
                client_id,
                "--audience",
                API,
            ],
            &[("WARRANT_CLIENT_SECRET", secret)],
        );
        if out.status.success() {
            let token = String::from_utf8(out.stdout).unwrap();
            let claims = ok_json(warrant(d, &["decode", token.trim()]))["claims"].clone();
            if ready(&claims) {
                return claims;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not served within 2 s: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Real time under test: the server sees the CLI's writes within a second.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The story, with `run` running the CLI locally or remotely.
async fn story(d: &std::path::Path, issuer: &str, run: impl Fn(&[&str]) -> Output, name: &str) {
    let app = ok_json(run(&[
        "app",
        "create",
        "--name",
        name,
        "--grant",
        &format!("{API}=read:data"),
        "--metadata",
        "tenant=acme",
        "--claim",
        "tenant={{client_metadata.tenant}}",
        "--claim",
        "tier=1",
        "--claim",
        "region=eu",
        "--claim",
        r#"roles=["reader","auditor"]"#,
        "--json",
    ]));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let secret = app["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(app["client_metadata"], json!({"tenant": "acme"}));
    assert_eq!(
        app["custom_claims"],
        json!({"tenant": "{{client_metadata.tenant}}", "tier": 1, "region": "eu",
            "roles": ["reader", "auditor"]})
    );
    let claims = claims_when(d, issuer, &client_id, &secret, |_| true).await;
    assert_eq!(claims["tenant"], "acme", "{claims}");
    assert_eq!(claims["tier"], 1);
    assert_eq!(claims["roles"], json!(["reader", "auditor"]));

    // The grant's claims override the application's.
    let grant_id = app["grants"][0]["id"].as_str().unwrap().to_owned();
    let grant = ok_json(run(&[
        "grant", "update", &grant_id, "--claim", "tier=2", "--json",
    ]));
    assert_eq!(grant["custom_claims"], json!({"tier": 2}));
    assert_eq!(grant["scope"], json!(["read:data"]));
    // Metadata changes flow through the reference.
    let shown = ok_json(run(&[
        "app",
        "update",
        &client_id,
        "--metadata",
        "tenant=globex",
        "--json",
    ]));
    assert_eq!(shown["client_metadata"], json!({"tenant": "globex"}));
    let claims = claims_when(d, issuer, &client_id, &secret, |c| c["tier"] == 2).await;
    assert_eq!(claims["tenant"], "globex", "{claims}");

    // Refusals name the claim.
    fails_with(
        &run(&["app", "update", &client_id, "--claim", "iss=me"]),
        "\"iss\"",
    );
    fails_with(
        &run(&["app", "update", &client_id, "--no-metadata"]),
        "custom_claims.tenant",
    );
    fails_with(
        &run(&[
            "grant",
            "update",
            &grant_id,
            "--claim",
            "x={{client_metadata.nope}}",
        ]),
        "client_metadata.nope",
    );
    let text = run(&["app", "show", &client_id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("metadata:    tenant=globex"), "{text}");
    assert!(text.contains("claims:      "), "{text}");
    assert!(text.contains("claims: tier=2"), "{text}");

    // Removed, they leave the tokens.
    assert!(
        run(&["app", "update", &client_id, "--no-claims"])
            .status
            .success()
    );
    assert!(
        run(&["grant", "update", &grant_id, "--no-claims"])
            .status
            .success()
    );
    let claims = claims_when(d, issuer, &client_id, &secret, |c| c.get("tier").is_none()).await;
    assert!(claims.get("tenant").is_none(), "{claims}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_sets_custom_claims_and_metadata_locally_and_remotely() {
    let server = warrant_testkit::TestServer::start().await;
    let (base, issuer) = (server.base.clone(), server.issuer.clone());
    let d = server.data_dir();
    assert!(
        warrant(
            d,
            &[
                "api",
                "create",
                "--identifier",
                API,
                "--name",
                "API",
                "--scope",
                "read:data"
            ]
        )
        .status
        .success()
    );
    story(d, &issuer, |args| warrant(d, args), "local").await;

    let init = ok_json(warrant(d, &["init", "--issuer", &issuer, "--json"]));
    let env = [
        ("WARRANT_SERVER", base.clone()),
        (
            "WARRANT_CLIENT_ID",
            init["client_id"].as_str().unwrap().to_owned(),
        ),
        (
            "WARRANT_CLIENT_SECRET",
            init["client_secret"].as_str().unwrap().to_owned(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The server picks the new admin application up within a second.
    let started = Instant::now();
    while !warrant_env(d, &["app", "list"], &env).status.success() {
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    story(d, &issuer, |args| warrant_env(d, args, &env), "remote").await;
}
