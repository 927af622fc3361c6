//! Without secrets from the command line: `warrant app credentials add|list|remove` (locally
//! and through `--server`), `warrant token --private-key` and `--assertion-file`, and client
//! secrets that expire (`--secret-expires-at` at creation and rotation).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use warrant_client::ClientKey;
use warrant_testkit::{TestServer, private_key_pem};

use crate::support::{API, fails_with, ok_json, warrant, warrant_env};

/// A private key file and its public key file for `alg`, in `dir`.
fn key_pair(dir: &Path, alg: &str) -> (String, String, ClientKey) {
    let private = dir.join(format!("{alg}.pem"));
    std::fs::write(&private, private_key_pem(alg)).unwrap();
    let key = ClientKey::from_pem_file(&private).unwrap();
    let public = dir.join(format!("{alg}.pub.pem"));
    std::fs::write(&public, key.public_key_pem().unwrap()).unwrap();
    (
        private.display().to_string(),
        public.display().to_string(),
        key,
    )
}

/// Runs `warrant token` until the running server has noticed the latest change (within a
/// second); returns the last output.
async fn token_eventually(d: &Path, args: &[&str], env: &[(&str, &str)], ok: bool) -> String {
    let started = Instant::now();
    loop {
        let out = warrant_env(d, args, env);
        if out.status.success() == ok {
            let text = if ok { out.stdout } else { out.stderr };
            return String::from_utf8(text).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Real time under test: the server polls the store for changes.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.trim().split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_application_without_a_secret_from_the_command_line() {
    let server = TestServer::start().await;
    let (client_id, secret) = server.with_worker().await;
    let issuer = server.issuer.clone();
    let d = server.data_dir();
    let keys = tempfile::tempdir().unwrap();
    let (private, public, key) = key_pair(keys.path(), "ES256");

    let added = ok_json(warrant(
        d,
        &[
            "app",
            "credentials",
            "add",
            &client_id,
            "--pem",
            &public,
            "--alg",
            "ES256",
            "--expires-at",
            "30d",
            "--json",
        ],
    ));
    assert_eq!(added["kid"], key.kid(), "the kid the client computes");
    assert_eq!(added["alg"], "ES256");
    assert_eq!(added["name"], "ES256.pub.pem");
    assert!(added["expires_at"].as_str().is_some(), "{added}");
    let listed = ok_json(warrant(
        d,
        &["app", "credentials", "list", &client_id, "--json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], added["id"]);
    let text = warrant(d, &["app", "credentials", "list", &client_id]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(key.kid()));

    // `warrant token --private-key`: a fresh assertion per run.
    let token_args = |extra: &[&'static str]| {
        let mut args = vec![
            "token".to_owned(),
            "--issuer".to_owned(),
            issuer.clone(),
            "--client-id".to_owned(),
            client_id.clone(),
            "--audience".to_owned(),
            API.to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let with_key = {
        let mut args = token_args(&[]);
        args.extend(["--private-key".to_owned(), private.clone()]);
        args
    };
    let token = token_eventually(d, &refs(&with_key), &[], true).await;
    assert_eq!(claims(&token)["client_id"], client_id.as_str());
    // Again: a second assertion (its jti is new).
    let again = warrant(d, &refs(&with_key));
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // The environment's WARRANT_PRIVATE_KEY_FILE does the same.
    let out = warrant_env(
        d,
        &refs(&token_args(&[])),
        &[("WARRANT_PRIVATE_KEY_FILE", &private)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The secret no longer works, and the refusal says why.
    let refused = warrant_env(
        d,
        &refs(&token_args(&[])),
        &[("WARRANT_CLIENT_SECRET", &secret)],
    );
    fails_with(&refused, "private_key_jwt");

    // `--assertion-file`: an assertion made elsewhere, sent as it is.
    let file = keys.path().join("assertion.jwt");
    std::fs::write(&file, key.assertion(&client_id, &issuer).unwrap()).unwrap();
    let mut with_file = token_args(&[]);
    with_file.extend(["--assertion-file".to_owned(), file.display().to_string()]);
    let out = warrant(d, &refs(&with_file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sent twice, its jti is spent.
    fails_with(&warrant(d, &refs(&with_file)), "jti");

    // Mistakes are named before anything is sent.
    let mut public_as_private = token_args(&[]);
    public_as_private.extend(["--private-key".to_owned(), public.clone()]);
    fails_with(&warrant(d, &refs(&public_as_private)), "public key");
    let mut wrong_alg = with_key.clone();
    wrong_alg.extend(["--alg".to_owned(), "RS256".to_owned()]);
    fails_with(&warrant(d, &refs(&wrong_alg)), "does not fit a P-256 key");
    fails_with(
        &warrant(d, &refs(&token_args(&[]))),
        "a client credential is required",
    );
    fails_with(
        &warrant(
            d,
            &[
                "app",
                "credentials",
                "add",
                &client_id,
                "--pem",
                &private,
                "--alg",
                "ES256",
            ],
        ),
        "private key",
    );

    // Removed, the application authenticates with its secret again.
    let id = added["id"].as_str().unwrap();
    let out = warrant(d, &["app", "credentials", "remove", &client_id, id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = ok_json(warrant(
        d,
        &["app", "credentials", "list", &client_id, "--json"],
    ));
    assert_eq!(listed, serde_json::json!([]));
    token_eventually(
        d,
        &refs(&token_args(&[])),
        &[("WARRANT_CLIENT_SECRET", &secret)],
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_and_expiring_secrets_through_the_management_api() {
    let server = TestServer::start().await;
    server.create_api(API, &["read:data"], None).await;
    let (base, issuer) = (server.base.clone(), server.issuer.clone());
    let d = server.data_dir();
    let init = ok_json(warrant(d, &["init", "--issuer", &issuer, "--json"]));
    let env = [
        ("WARRANT_SERVER", base.as_str()),
        ("WARRANT_CLIENT_ID", init["client_id"].as_str().unwrap()),
        (
            "WARRANT_CLIENT_SECRET",
            init["client_secret"].as_str().unwrap(),
        ),
    ];
    let started = Instant::now();
    let remote = |args: &[&str]| warrant_env(d, args, &env);
    let app = loop {
        let out = remote(&[
            "app",
            "create",
            "--name",
            "expiring",
            "--grant",
            &format!("{API}=read:data"),
            "--secret-expires-at",
            "2099-01-31T00:00:00Z",
            "--json",
        ]);
        if out.status.success() {
            break serde_json::from_slice::<Value>(&out.stdout).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(3));
        // Real time under test: the server sees the new admin application within a second.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(app["client_secret_expires_at"], 4_073_500_800u64);
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let rotated = ok_json(remote(&[
        "app",
        "rotate-secret",
        &client_id,
        "--secret-expires-at",
        "90d",
        "--json",
    ]));
    let now = warrant_server::clock::Clock::now(&warrant_server::clock::SystemClock);
    let until = rotated["client_secret_expires_at"].as_u64().unwrap();
    assert!(until.abs_diff(now + 90 * 86_400) < 60, "{rotated}");
    let local = ok_json(warrant(
        d,
        &[
            "app",
            "rotate-secret",
            &client_id,
            "--secret-expires-at",
            "1h",
            "--json",
        ],
    ));
    assert!(local["client_secret_expires_at"].as_u64().unwrap() < until);
    fails_with(
        &remote(&[
            "app",
            "rotate-secret",
            &client_id,
            "--secret-expires-at",
            "soon",
        ]),
        "is neither an RFC 3339 time",
    );
    let shown = warrant(d, &["app", "show", &client_id]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("expires"));

    let keys = tempfile::tempdir().unwrap();
    let (private, public, key) = key_pair(keys.path(), "RS256");
    let added = ok_json(remote(&[
        "app",
        "credentials",
        "add",
        &client_id,
        "--pem",
        &public,
        "--alg",
        "RS256",
        "--name",
        "ci",
        "--json",
    ]));
    assert_eq!(added["kid"], key.kid());
    assert_eq!(added["name"], "ci");
    let listed = ok_json(remote(&[
        "app",
        "credentials",
        "list",
        &client_id,
        "--json",
    ]));
    assert_eq!(listed[0]["kid"], key.kid());
    let token = token_eventually(
        d,
        &[
            "token",
            "--issuer",
            &issuer,
            "--client-id",
            &client_id,
            "--audience",
            API,
            "--private-key",
            &private,
        ],
        &[],
        true,
    )
    .await;
    assert_eq!(claims(&token)["client_id"], client_id.as_str());
    fails_with(
        &remote(&[
            "app",
            "credentials",
            "add",
            &client_id,
            "--pem",
            &public,
            "--alg",
            "ES256",
        ]),
        "400",
    );
    let out = remote(&[
        "app",
        "credentials",
        "remove",
        &client_id,
        added["id"].as_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = ok_json(remote(&[
        "app",
        "credentials",
        "list",
        &client_id,
        "--json",
    ]));
    assert_eq!(listed, serde_json::json!([]));
}
