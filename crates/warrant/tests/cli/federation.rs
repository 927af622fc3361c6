//! `warrant issuer` and `warrant app federate|federated|unfederate`: workload identity
//! federation from the CLI, on a data directory and through a running server's management API
//! (the same commands, one `Target` interface).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{fails_with, initialized_data_dir, ok_json, warrant, warrant_env};

const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// The commands' story on one target: `run` runs `warrant` with the target's settings.
fn story(run: &dyn Fn(&[&str]) -> std::process::Output, client_id: &str) {
    let issuer = ok_json(run(&[
        "issuer",
        "add",
        GITHUB,
        "--alg",
        "RS256",
        "--max-assertion-lifetime",
        "900",
        "--json",
    ]));
    assert_eq!(issuer["issuer"], GITHUB);
    assert_eq!(issuer["key_source"], "discovery");
    assert_eq!(issuer["max_assertion_lifetime"], 900);
    let id = issuer["id"].as_str().unwrap().to_owned();
    let listed = ok_json(run(&["issuer", "list", "--json"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str())
    );
    let shown = ok_json(run(&["issuer", "show", GITHUB, "--json"]));
    assert_eq!(shown["id"], id.as_str());
    fails_with(&run(&["issuer", "add", "http://cluster.example"]), "https");

    // `issuer update`: keys from a JWKS URL, other algorithms and cap, then back to discovery;
    // refused as `add` refuses, the issuer unchanged then.
    let jwks_uri = "https://token.actions.githubusercontent.com/.well-known/jwks";
    let updated = ok_json(run(&[
        "issuer",
        "update",
        GITHUB,
        "--jwks-uri",
        jwks_uri,
        "--alg",
        "ES256",
        "--alg",
        "RS256",
        "--max-assertion-lifetime",
        "600",
        "--name",
        "GitHub Actions",
        "--json",
    ]));
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["key_source"], "jwks_uri");
    assert_eq!(updated["jwks_uri"], jwks_uri);
    assert_eq!(updated["algorithms"], serde_json::json!(["ES256", "RS256"]));
    assert_eq!(updated["max_assertion_lifetime"], 600);
    assert_eq!(updated["name"], "GitHub Actions");
    fails_with(
        &run(&[
            "issuer",
            "update",
            &id,
            "--bearer-token-file",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
        ]),
        "kubernetes.default.svc",
    );
    fails_with(
        &run(&["issuer", "update", &id, "--ca-file", "/etc/passwd"]),
        "ca_file may only be",
    );
    fails_with(
        &run(&["issuer", "update", &id, "--max-assertion-lifetime", "5"]),
        "max_assertion_lifetime",
    );
    let shown = ok_json(run(&["issuer", "show", &id, "--json"]));
    assert_eq!(shown, updated, "a refused update changes nothing");
    let back = ok_json(run(&[
        "issuer",
        "update",
        &id,
        "--discovery",
        "--alg",
        "RS256",
        "--max-assertion-lifetime",
        "900",
        "--json",
    ]));
    assert_eq!(back["key_source"], "discovery");
    assert!(back.get("jwks_uri").is_none(), "{back}");
    assert_eq!(back["algorithms"], serde_json::json!(["RS256"]));
    let text = run(&["issuer", "update", GITHUB, "--name", "GitHub"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("Changed trusted issuer"),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );

    let cred = ok_json(run(&[
        "app",
        "federate",
        client_id,
        "--issuer",
        GITHUB,
        "--subject",
        "repo:acme/*:ref:refs/heads/main",
        "--audience",
        "https://github.com/acme",
        "--condition",
        "repository_owner_id=123",
        "--json",
    ]));
    assert_eq!(cred["subject"], "repo:acme/*:ref:refs/heads/main");
    assert_eq!(cred["issuer"], GITHUB);
    assert_eq!(cred["conditions"]["repository_owner_id"], "123");
    let cred_id = cred["id"].as_str().unwrap().to_owned();
    fails_with(
        &run(&[
            "app",
            "federate",
            client_id,
            "--issuer",
            GITHUB,
            "--subject",
            "*",
        ]),
        "confirm_broad_subject",
    );
    let listed = ok_json(run(&["app", "federated", client_id, "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let text = run(&["app", "federated", client_id]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&cred_id));

    // A used issuer stays until its credentials are gone.
    fails_with(&run(&["issuer", "remove", GITHUB]), "remove them first");
    let out = run(&["app", "unfederate", client_id, &cred_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["issuer", "remove", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = ok_json(run(&["issuer", "list", "--json"]));
    assert!(listed.as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn federation_on_a_data_directory() {
    let dir = initialized_data_dir().await;
    let d = dir.path();
    let app = ok_json(warrant(
        d,
        &["app", "create", "--name", "deployer", "--json"],
    ));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    story(&|args| warrant(d, args), &client_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn federation_through_the_management_api() {
    let server = warrant_testkit::TestServer::start().await;
    let (base, issuer) = (server.base.clone(), server.issuer.clone());
    let d = server.data_dir();
    let init = ok_json(warrant(d, &["init", "--issuer", &issuer, "--json"]));
    let (admin_id, admin_secret) = (
        init["client_id"].as_str().unwrap().to_owned(),
        init["client_secret"].as_str().unwrap().to_owned(),
    );
    let env = [
        ("WARRANT_SERVER", base.as_str()),
        ("WARRANT_CLIENT_ID", admin_id.as_str()),
        ("WARRANT_CLIENT_SECRET", admin_secret.as_str()),
    ];
    let remote = |args: &[&str]| warrant_env(d, args, &env);
    // The server picks the new admin application up within a second.
    let started = Instant::now();
    let app: Value = loop {
        let out = remote(&["app", "create", "--name", "deployer", "--json"]);
        if out.status.success() {
            break serde_json::from_slice(&out.stdout).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    story(&remote, &client_id);
}
