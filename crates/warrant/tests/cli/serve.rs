//! `warrant serve` as a process: several on one PostgreSQL following the CLI, SIGTERM and
//! SIGKILL, its logs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{API, Serve, command, ok_json, warrant, warrant_env};

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
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let serve_env = [
        ("WARRANT_ISSUER", issuer),
        ("WARRANT_DATABASE_URL", db.url.as_str()),
        ("WARRANT_MASTER_KEY", master_key),
    ];
    let a = Serve::start(dir_a.path(), &serve_env).await;
    let b = Serve::start(dir_b.path(), &serve_env).await;
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
                // Real time under test: the one-second promise, across processes.
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

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_requests_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let serve = Serve::start(d, &[]).await;
    let base = serve.base.clone();
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
    let body = json!({"grant_type": "client_credentials", "client_id": app["client_id"],
                      "client_secret": app["client_secret"], "audience": API})
    .to_string();
    // The server takes the new client up within its poll (real time: another process).
    let started = Instant::now();
    while reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(started.elapsed() < Duration::from_secs(2), "no token");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

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
    // Kept: time for the other process to read the head and for the signal to close its
    // listener; it shows neither.
    tokio::time::sleep(Duration::from_millis(200)).await;
    serve.signal("TERM");
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
    let status = serve.wait().await;
    assert!(status.success(), "exits cleanly after draining: {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let serve = Serve::start(&d, &[]).await;
    let base = serve.base.clone();
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
        // Real time: the other process takes the new secret up within its poll.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Four writers create APIs as fast as they can; the server is killed under them.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (counted, mut count) = tokio::sync::watch::channel(0usize);
    let counted = std::sync::Arc::new(counted);
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, base, token, acknowledged, counted) = (
            http.clone(),
            base.clone(),
            token.clone(),
            acknowledged.clone(),
            counted.clone(),
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
                    Ok(r) if r.status() == 201 => {
                        acknowledged.lock().unwrap().push(identifier);
                        counted.send_modify(|n| *n += 1);
                    }
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    // Killed once writes are flowing.
    tokio::time::timeout(Duration::from_secs(10), count.wait_for(|n| *n >= 40))
        .await
        .expect("40 writes within 10 s")
        .unwrap();
    serve.signal("KILL");
    serve.wait().await;
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
    let again = Serve::start(&d, &[]).await;
    assert_eq!(
        reqwest::get(format!("{}/readyz", again.base))
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Text logs written to a pipe (a file, a log collector) carry no terminal colour codes.
#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = command(dir.path());
    command.env_remove("NO_COLOR");
    let serve = Serve::spawn(command, "text");
    let log = &serve.log;
    assert!(log.contains("warrant is serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in piped logs: {log:?}"
    );
}
