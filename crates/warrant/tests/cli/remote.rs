//! `warrant init` and remote administration: the management API's admin application, then the
//! same commands against a running server over HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{API, Serve, fails_with, ok_json, warrant, warrant_env};

#[tokio::test(flavor = "multi_thread")]
async fn init_then_manage_a_running_server_remotely() {
    let server = warrant_testkit::TestServer::start().await;
    let (base, issuer) = (server.base.clone(), server.issuer.clone());
    let d = server.data_dir();

    let init = ok_json(warrant(d, &["init", "--issuer", &issuer, "--json"]));
    let admin_id = init["client_id"].as_str().unwrap().to_owned();
    let admin_secret = init["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(init["audience"], format!("{issuer}api/v2/"));
    let again = ok_json(warrant(d, &["init", "--issuer", &issuer, "--json"]));
    assert_eq!(again["already_initialized"], true);
    assert_eq!(again["client_id"], admin_id.as_str());
    assert!(again.get("client_secret").is_none());

    let env = [
        ("WARRANT_SERVER", base.as_str()),
        ("WARRANT_CLIENT_ID", admin_id.as_str()),
        ("WARRANT_CLIENT_SECRET", admin_secret.as_str()),
    ];
    // The server picks the new admin application up within a second.
    let started = Instant::now();
    let keys = loop {
        let out = warrant_env(d, &["keys", "list", "--json"], &env);
        if out.status.success() {
            break serde_json::from_slice::<Value>(&out.stdout).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Real time under test: the server sees the new admin application within a second.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(keys.as_array().unwrap().len(), 2);

    let remote = |args: &[&str]| warrant_env(d, args, &env);
    let api = ok_json(remote(&[
        "api",
        "create",
        "--identifier",
        API,
        "--name",
        "Remote API",
        "--scope",
        "read:data",
        "--json",
    ]));
    assert_eq!(api["name"], "Remote API");
    // DPoP-bound tokens required, then optional, then as the client chooses.
    let updated = ok_json(remote(&[
        "api", "update", API, "--dpop", "required", "--json",
    ]));
    assert_eq!(
        updated["proof_of_possession"],
        json!({"mechanism": "dpop", "required": true})
    );
    let updated = ok_json(remote(&[
        "api", "update", API, "--dpop", "optional", "--json",
    ]));
    assert_eq!(updated["proof_of_possession"]["required"], false);
    let updated = ok_json(remote(&["api", "update", API, "--dpop", "off", "--json"]));
    assert!(updated.get("proof_of_possession").is_none(), "{updated}");
    fails_with(
        &remote(&["api", "update", API, "--dpop", "mtls"]),
        "required, optional or off",
    );
    let app = ok_json(remote(&[
        "app",
        "create",
        "--name",
        "remote-worker",
        "--grant",
        &format!("{API}=read:data"),
        "--json",
    ]));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let secret = app["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(app["grants"][0]["audience"], API);
    // The same application is visible locally: one service layer, two ways in.
    let shown = ok_json(warrant(d, &["app", "show", &client_id, "--json"]));
    assert_eq!(shown["name"], "remote-worker");
    let remote_shown = ok_json(remote(&["app", "show", &client_id, "--json"]));
    assert_eq!(remote_shown["grants"][0]["scope"], json!(["read:data"]));
    assert!(remote_shown.get("active_secrets").is_none());

    let http = reqwest::Client::new();
    let body = json!({"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret, "audience": API});
    let status = http
        .post(format!("{base}/oauth/token"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status, 200,
        "created through the management API, usable at once"
    );

    // Refusals come back as one-line errors.
    fails_with(
        &remote(&[
            "grant",
            "create",
            "--client-id",
            &client_id,
            "--audience",
            API,
            "--scope",
            "nope",
        ]),
        "nope",
    );
    fails_with(
        &warrant_env(d, &["api", "list"], &[("WARRANT_SERVER", base.as_str())]),
        "--admin-client-id",
    );

    // The audit log, remotely and locally: the token just issued.
    server.background.flush_audit().await;
    let logs_args = [
        "logs",
        "--type",
        "seccft",
        "--client-id",
        &client_id,
        "--json",
    ];
    let events = ok_json(remote(&logs_args));
    assert_eq!(events[0]["audience"], API);
    assert_eq!(events[0]["client_id"], client_id.as_str());
    let local = ok_json(warrant(d, &logs_args));
    assert_eq!(local[0]["log_id"], events[0]["log_id"]);
    let text = warrant(d, &["logs", "--take", "5"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("seccft"));
    fails_with(&warrant(d, &["logs", "--take", "0"]), "--take");

    // Refusals are written aggregated, once an interval, with how many they stand for.
    for _ in 0..3 {
        let wrong = json!({"grant_type": "client_credentials", "client_id": client_id,
                           "client_secret": "wrong", "audience": API});
        let response = http
            .post(format!("{base}/oauth/token"))
            .json(&wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let refusals = ["logs", "--type", "feccft", "--client-id", &client_id];
    server.background.flush_audit().await;
    let events = ok_json(warrant(d, &[&refusals[..], &["--json"]].concat()));
    let counted: u64 = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(counted, 3);
    // Three requests fall into at most two writes (an interval's, the flush's): one event
    // stands for several.
    let text = warrant(d, &refusals);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(" times within "),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    let rotated = ok_json(remote(&["keys", "rotate", "--json"]));
    assert_eq!(rotated["current"], true);
    let listed = ok_json(remote(&["app", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(remote(&["app", "delete", &client_id]).status.success());
    fails_with(&remote(&["app", "show", &client_id]), "does not exist");
}

/// `warrant serve` on another port than the default, then `warrant init` without `--issuer`:
/// init acts for the deployment being served, not for `http://127.0.0.1:8080/`.
#[tokio::test(flavor = "multi_thread")]
async fn init_after_serve_uses_the_recorded_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let serve = Serve::start(d, &[]).await;
    let issuer = format!("{}/", serve.base);

    let init = ok_json(warrant(d, &["init", "--json"]));
    assert_eq!(init["issuer"], issuer.as_str());
    assert_eq!(init["already_initialized"], true, "{init}");
    assert_eq!(init["audience"], format!("{issuer}api/v2/"));

    let other = warrant(d, &["init", "--issuer", "http://127.0.0.1:8080/", "--json"]);
    fails_with(&other, &format!("this deployment's issuer is {issuer}"));
    let apps = ok_json(warrant(d, &["app", "list", "--json"]));
    assert_eq!(
        apps.as_array().unwrap().len(),
        1,
        "one admin application, not a second one: {apps}"
    );
}
