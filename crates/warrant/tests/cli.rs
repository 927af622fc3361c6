//! The `warrant` binary against a data directory that a running server (started in-process)
//! also uses: what the CLI writes, the server serves within a second.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warrant_server::Server;
use warrant_server::config::Config;

const API: &str = "https://api.example.com";

fn warrant(data_dir: &Path, args: &[&str]) -> Output {
    warrant_env(data_dir, args, &[])
}

fn ok_json(output: Output) -> Value {
    assert!(
        output.status.success(),
        "warrant failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn fails_with(output: &Output, needle: &str) {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(needle),
        "stderr {stderr:?} lacks {needle:?}"
    );
}

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
        let out = Command::new(env!("CARGO_BIN_EXE_warrant"))
            .args([
                "token",
                "--issuer",
                &issuer,
                "--client-id",
                &client_id,
                "--audience",
                API,
            ])
            .env("WARRANT_CLIENT_SECRET", &secret)
            .output()
            .unwrap();
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap().trim().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
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

#[test]
fn bad_arguments_get_one_line_errors_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    fails_with(&warrant(&missing, &["api", "list"]), "no Warrant database");
    fails_with(
        &warrant(&missing, &["serve", "--listen", "localhost"]),
        "IP:port",
    );
    fails_with(
        &warrant(&missing, &["serve", "--issuer", "auth.example.com"]),
        "http or https URL",
    );
    fails_with(
        &warrant(dir.path(), &["decode", "abc"]),
        "not a compact JWT",
    );
    let no_subcommand = warrant(dir.path(), &[]);
    assert_eq!(no_subcommand.status.code(), Some(2));

    let config = dir.path().join("warrant.toml");
    std::fs::write(&config, "lisen = \"127.0.0.1:1\"\n").unwrap();
    fails_with(
        &warrant(&missing, &["serve", "--config", config.to_str().unwrap()]),
        "unknown field",
    );
}

/// Runs `warrant` with extra environment.
fn warrant_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
    command
        .args(args)
        .env("WARRANT_DATA_DIR", data_dir)
        .env_remove("WARRANT_CONFIG")
        .env_remove("WARRANT_SERVER")
        .env_remove("WARRANT_CLIENT_ID")
        .env_remove("WARRANT_CLIENT_SECRET")
        .env_remove("WARRANT_ADMIN_PASSWORD");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

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

    // The audit log, remotely and locally: the token just issued (written within moments).
    let started = Instant::now();
    let logs_args = [
        "logs",
        "--type",
        "seccft",
        "--client-id",
        &client_id,
        "--json",
    ];
    let events = loop {
        let events = ok_json(remote(&logs_args));
        if !events.as_array().unwrap().is_empty() || started.elapsed() > Duration::from_secs(3) {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
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
    let started = Instant::now();
    let counted = loop {
        let events = ok_json(warrant(d, &[&refusals[..], &["--json"]].concat()));
        let counted: u64 = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["details"]["count"].as_u64().unwrap_or(1))
            .sum();
        if counted >= 3 || started.elapsed() > Duration::from_secs(15) {
            break counted;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(counted, 3);
    // Three requests fall into at most two intervals: one event stands for several.
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

/// What the CLI sends over HTTP carries credentials: a redirect is an error naming where it
/// pointed, never a replay of the request there; plain http to another machine is warned about.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_follow_no_redirect_and_plain_http_elsewhere_is_warned_about() {
    use warrant_testkit::StandIn;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let elsewhere = StandIn::recording().await;
    let host = elsewhere.base.trim_start_matches("http://").to_owned();
    let secret = "the-admin-secret";
    let remote = |server: &str, args: &[&str]| {
        warrant_env(
            d,
            args,
            &[
                ("WARRANT_SERVER", server),
                ("WARRANT_CLIENT_ID", "admin"),
                ("WARRANT_CLIENT_SECRET", secret),
            ],
        )
    };
    let mut outputs = Vec::new();
    // The management token request redirected (307 would replay the form with the secret).
    let token_redirected = StandIn::redirecting(307, &elsewhere.base, false).await;
    outputs.push(remote(&token_redirected.base, &["api", "list"]));
    // A token issued, then the management request redirected (308: with the bearer token).
    let api_redirected = StandIn::redirecting(308, &elsewhere.base, true).await;
    outputs.push(remote(&api_redirected.base, &["keys", "rotate"]));
    outputs.push(remote(
        &api_redirected.base,
        &["api", "create", "--identifier", API, "--name", "n"],
    ));
    // `warrant token`.
    outputs.push(warrant_env(
        d,
        &[
            "token",
            "--issuer",
            &format!("{}/", token_redirected.base),
            "--client-id",
            "c",
            "--audience",
            API,
        ],
        &[("WARRANT_CLIENT_SECRET", secret)],
    ));
    for output in &outputs {
        fails_with(output, &format!("a redirect to {host}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("in clear"), "loopback: {stderr}");
    }
    assert_eq!(elsewhere.requests(), 0, "{}", elsewhere.received());
    assert_eq!(
        api_redirected.requests(),
        4,
        "a token request and a management request, each once"
    );

    // Plain http to another machine: a warning first (no request here: no credentials).
    let plain = warrant_env(
        d,
        &["api", "list"],
        &[("WARRANT_SERVER", "http://auth.example.com")],
    );
    fails_with(&plain, "--admin-client-id");
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        stderr.contains("warning: plain http to auth.example.com") && stderr.contains("in clear"),
        "{stderr}"
    );
}

#[test]
fn local_key_rotation_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A first start creates the keys and the master key file.
    runtime.block_on(async {
        Server::bind(Config::new("127.0.0.1:0".parse().unwrap(), d))
            .await
            .unwrap();
    });
    let before = ok_json(warrant(d, &["keys", "list", "--json"]));
    let current = before
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == true)
        .unwrap()["kid"]
        .clone();
    let rotated = ok_json(warrant(d, &["keys", "rotate", "--json"]));
    assert_ne!(rotated["kid"], current);
    let revoked = ok_json(warrant(
        d,
        &["keys", "revoke", current.as_str().unwrap(), "--json"],
    ));
    assert_eq!(revoked["revoked"], true);
    // Changes made straight on the storage are audited too; refusals change nothing.
    let audited = ok_json(warrant(d, &["logs", "--type", "sapi", "--json"]));
    let descriptions: Vec<&str> = audited
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        descriptions,
        vec![
            format!("keys revoke {} (local CLI)", current.as_str().unwrap()),
            "keys rotate (local CLI)".to_owned()
        ]
    );
    fails_with(
        &warrant(d, &["keys", "revoke", rotated["kid"].as_str().unwrap()]),
        "cannot be revoked",
    );
    // Key IDs are base64url and may start with '-': still an argument, not a flag.
    fails_with(&warrant(d, &["keys", "revoke", "-not-a-key"]), "not found");
    // A wrong master key is refused before it can seal a key nobody could open.
    let wrong = warrant_env(
        d,
        &["keys", "rotate"],
        &[("WARRANT_MASTER_KEY", &"0".repeat(64))],
    );
    fails_with(&wrong, "master key");
}

/// A `warrant serve` process; killed when dropped.
struct ServeProcess {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `warrant serve` on port 0 and reads the bound address from its JSON log.
fn serve_process(database_url: &str, master_key: &str, issuer: &str) -> ServeProcess {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = spawn_serve(
        dir.path(),
        &[
            ("WARRANT_ISSUER", issuer),
            ("WARRANT_DATABASE_URL", database_url),
            ("WARRANT_MASTER_KEY", master_key),
        ],
    );
    ServeProcess {
        child,
        base,
        _dir: dir,
    }
}

/// `warrant serve` on port 0 over `data_dir`, with `env`; returns the process and its base URL.
fn spawn_serve(data_dir: &Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("WARRANT_DATA_DIR", data_dir)
        .env_remove("WARRANT_CONFIG")
        .env_remove("WARRANT_DATABASE_URL")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let listen = loop {
        let line = lines
            .next()
            .expect("warrant serve exited before serving")
            .unwrap();
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if event["fields"]["message"] == "warrant is serving" {
            break event["fields"]["listen"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining the log so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{listen}"))
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn two_serve_processes_on_one_postgres_follow_the_cli() {
    let db = warrant_testkit::PgDatabase::create().await;
    // 32 bytes, as 64 hex digits.
    const MASTER_KEY: &str = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c";
    let master_key = MASTER_KEY;
    let issuer = "https://auth.example.com/";
    let (a, b) = tokio::task::spawn_blocking({
        let url = db.url.clone();
        move || {
            (
                serve_process(&url, master_key, issuer),
                serve_process(&url, master_key, issuer),
            )
        }
    })
    .await
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let env = [
        ("WARRANT_DATABASE_URL", db.url.as_str()),
        ("WARRANT_MASTER_KEY", master_key),
    ];
    let cli = |args: &[&str]| warrant_env(scratch.path(), args, &env);

    ok_json(cli(&[
        "api",
        "create",
        "--identifier",
        API,
        "--name",
        "API",
        "--scope",
        "read:data",
        "--json",
    ]));
    let app = ok_json(cli(&[
        "app",
        "create",
        "--name",
        "w",
        "--grant",
        &format!("{API}=read:data"),
        "--json",
    ]));
    let body = json!({"grant_type": "client_credentials", "client_id": app["client_id"],
                      "client_secret": app["client_secret"], "audience": API});
    let http = reqwest::Client::new();
    let within_a_second = |base: String, want_kid: Option<String>, want_status: u16| {
        let (http, body) = (http.clone(), body.clone());
        async move {
            let started = Instant::now();
            loop {
                let response = http
                    .post(format!("{base}/oauth/token"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let kid = if status == 200 {
                    let token: Value = response.json().await.unwrap();
                    let header = token["access_token"]
                        .as_str()
                        .unwrap()
                        .split('.')
                        .next()
                        .unwrap()
                        .to_owned();
                    use base64::Engine;
                    let header: Value = serde_json::from_slice(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(header)
                            .unwrap(),
                    )
                    .unwrap();
                    header["kid"].as_str().map(str::to_owned)
                } else {
                    None
                };
                if status == want_status && (want_kid.is_none() || kid == want_kid) {
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "{base}: still {status} {kid:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // Written by the CLI: both processes issue within a second.
    within_a_second(a.base.clone(), None, 200).await;
    within_a_second(b.base.clone(), None, 200).await;

    // Rotated by the CLI: both sign with the new key within a second.
    let rotated = ok_json(cli(&["keys", "rotate", "--json"]));
    let kid = rotated["kid"].as_str().unwrap().to_owned();
    within_a_second(a.base.clone(), Some(kid.clone()), 200).await;
    within_a_second(b.base.clone(), Some(kid), 200).await;

    // Deleted by the CLI: both stop within a second.
    assert!(
        cli(&["app", "delete", app["client_id"].as_str().unwrap()])
            .status
            .success()
    );
    within_a_second(a.base.clone(), None, 401).await;
    within_a_second(b.base.clone(), None, 401).await;
}

/// `warrant serve` over `data_dir` with the defaults, killed when the test ends.
async fn start_serve(data_dir: &Path) -> (Killed, String) {
    let data_dir = data_dir.to_owned();
    let (child, base) = tokio::task::spawn_blocking(move || spawn_serve(&data_dir, &[]))
        .await
        .unwrap();
    (Killed(Some(child)), base)
}

/// A child process killed when the test ends, passing or not.
struct Killed(Option<std::process::Child>);

impl Killed {
    fn take(&mut self) -> std::process::Child {
        self.0.take().unwrap()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Killed, name: &str) {
    let child = child.0.as_ref().unwrap();
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_requests_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mut child, base) = start_serve(d).await;
    ok_json(warrant(
        d,
        &[
            "api",
            "create",
            "--identifier",
            API,
            "--name",
            "API",
            "--scope",
            "read:data",
            "--json",
        ],
    ));
    let app = ok_json(warrant(
        d,
        &[
            "app",
            "create",
            "--name",
            "w",
            "--grant",
            &format!("{API}=read:data"),
            "--json",
        ],
    ));
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let body = json!({"grant_type": "client_credentials", "client_id": app["client_id"],
                      "client_secret": app["client_secret"], "audience": API})
    .to_string();

    // A request whose body is still arriving when SIGTERM comes.
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are refused now, but this request completes.
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "no longer accepting"
    );
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"));
    let mut process = child.take();
    let status = tokio::task::spawn_blocking(move || process.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exits cleanly after draining: {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (mut child, base) = start_serve(&d).await;
    // `serve` made the deployment manageable; a fresh secret for its admin application.
    let issuer = format!("{base}/");
    let init = ok_json(warrant(&d, &["init", "--issuer", &issuer, "--json"]));
    let admin_id = init["client_id"].as_str().unwrap();
    let rotated = ok_json(warrant(&d, &["app", "rotate-secret", admin_id, "--json"]));
    let http = reqwest::Client::new();
    let token_body = json!({"grant_type": "client_credentials", "client_id": admin_id,
                            "client_secret": rotated["client_secret"],
                            "audience": format!("{issuer}api/v2/")});
    let started = Instant::now();
    let token = loop {
        let response = http
            .post(format!("{base}/oauth/token"))
            .json(&token_body)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let body: Value = response.json().await.unwrap();
            break body["access_token"].as_str().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Four writers create APIs as fast as they can; the server is killed under them.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, base, token, acknowledged) = (
            http.clone(),
            base.clone(),
            token.clone(),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let identifier = format!("https://crash-{w}-{i}.example.com");
                let sent = http
                    .post(format!("{base}/api/v2/resource-servers"))
                    .bearer_auth(&token)
                    .json(&json!({"identifier": identifier}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 201 => acknowledged.lock().unwrap().push(identifier),
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    signal(&child, "KILL");
    let mut process = child.take();
    let _ = tokio::task::spawn_blocking(move || process.wait()).await;
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "writes were flowing: {}",
        acknowledged.len()
    );

    // After the crash: the store is whole, and holds every acknowledged write.
    let check = warrant(&d, &["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let listed = ok_json(warrant(&d, &["api", "list", "--json"]));
    let stored: std::collections::HashSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|api| api["identifier"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // And it serves again.
    let (mut again, base) = tokio::task::spawn_blocking(move || spawn_serve(&d, &[]))
        .await
        .unwrap();
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn dashboard_administrators_are_managed_locally() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        Server::bind(Config::new("127.0.0.1:0".parse().unwrap(), d))
            .await
            .unwrap();
    });

    // No password given: one is generated and shown once.
    let out = warrant_env(
        d,
        &["admin", "create", "alice"],
        &[("WARRANT_ADMIN_PASSWORD", "")],
    );
    fails_with(&out, "at least 12 characters");
    let out = warrant(d, &["admin", "create", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let generated = stdout
        .split("Password (shown only now): ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert!(generated.len() >= 24, "{generated}");
    fails_with(&warrant(d, &["admin", "create", "alice"]), "already exists");

    // From standard input, never from a flag.
    let mut child = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .args(["admin", "create", "bob", "--password-stdin"])
        .env("WARRANT_DATA_DIR", d)
        .env_remove("WARRANT_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bob's long password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    fails_with(
        &warrant_env(
            d,
            &["admin", "create", "carol"],
            &[("WARRANT_ADMIN_PASSWORD", "short")],
        ),
        "at least 12 characters",
    );

    let list = ok_json(warrant(d, &["admin", "list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // The passwords sign in.
    runtime.block_on(async {
        let store = warrant_server::store::Store::open_data_dir(d)
            .await
            .unwrap();
        let admin = warrant_server::admin::Admin::new(
            store,
            std::sync::Arc::new(warrant_server::clock::SystemClock),
        );
        let checks = warrant_server::operators::PasswordChecks::new(1);
        let slot = || checks.try_slot().unwrap();
        assert!(
            admin
                .sign_in(slot(), "alice", &generated)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            admin
                .sign_in(slot(), "bob", "bob's long password")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            admin
                .sign_in(slot(), "bob", "bob's long passworD")
                .await
                .unwrap()
                .is_none()
        );
    });

    assert!(warrant(d, &["admin", "delete", "bob"]).status.success());
    fails_with(&warrant(d, &["admin", "delete", "bob"]), "not found");
    fails_with(
        &warrant_env(
            d,
            &["admin", "list"],
            &[("WARRANT_SERVER", "http://127.0.0.1:1")],
        ),
        "not through --server",
    );

    // init can create the first administrator along with the admin application.
    let init = ok_json(warrant_env(
        d,
        &["init", "--admin-user", "dave", "--json"],
        &[("WARRANT_ADMIN_PASSWORD", "dave's long password")],
    ));
    assert_eq!(init["admin_user"], "dave");
    assert!(init.get("admin_password").is_none());
    assert!(init["client_secret"].as_str().is_some());
}

/// `warrant serve` on another port than the default, then `warrant init` without `--issuer`:
/// init acts for the deployment being served, not for `http://127.0.0.1:8080/`.
#[tokio::test(flavor = "multi_thread")]
async fn init_after_serve_uses_the_recorded_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_serve, base) = start_serve(d).await;
    let issuer = format!("{base}/");

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

/// Text logs written to a pipe (a file, a log collector) carry no terminal colour codes.
#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Killed(Some(
        Command::new(env!("CARGO_BIN_EXE_warrant"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "text"])
            .env("WARRANT_DATA_DIR", dir.path())
            .env_remove("WARRANT_CONFIG")
            .env_remove("WARRANT_DATABASE_URL")
            .env_remove("NO_COLOR")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let stderr = child.0.as_mut().unwrap().stderr.take().unwrap();
    let mut log = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("warrant is serving") {
            break;
        }
    }
    assert!(log.contains("warrant is serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in piped logs: {log:?}"
    );
}
