//! Shutdown on keep-alive connections: a request already sent when the signal comes (in
//! progress, or crossing the signal on the wire) gets its answer, and every response written
//! after the signal says `Connection: close`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::spawn_app;

/// Reads one HTTP/1.1 response with a `Content-Length` body; returns its head (lowercase)
/// and whether the connection was closed before a full response came.
async fn read_response(stream: &mut TcpStream) -> Result<String, String> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if data.len() >= end + 4 + length {
                return Ok(head);
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .map_err(|_| "no response within 5 s".to_owned())?
            .map_err(|e| format!("connection failed: {e}"))?;
        if read == 0 {
            return Err(format!(
                "connection closed after {} bytes of response",
                data.len()
            ));
        }
        data.extend_from_slice(&chunk[..read]);
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: warrant\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_keep_alive_connections_are_answered_at_shutdown() {
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // Kept-alive connections, each idle after a first exchange.
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(HEALTH).await.unwrap();
        let head = read_response(&mut stream).await.unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
        idle.push(stream);
    }
    // A request in progress: its headers and half of its body are in.
    let body = br#"{"grant_type":"client_credentials","client_id":"nobody","client_secret":"x"}"#;
    let mut busy = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: warrant\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.write_all(&body[..10]).await.unwrap();
    // Kept: time for the server to read the head; it does not show when it has.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let stopping = tokio::spawn(app.into_data_dir());
    // The listener closes first: from then on, the server is shutting down.
    let started = Instant::now();
    while TcpStream::connect(&addr).await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepting"
        );
        // Real time under test: the listener closes first.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    // Requests that crossed the signal on the wire are answered, and the connection closes.
    for stream in &mut idle {
        stream.write_all(HEALTH).await.unwrap();
    }
    for (n, stream) in idle.iter_mut().enumerate() {
        let head = read_response(stream)
            .await
            .unwrap_or_else(|e| panic!("connection {n}: {e}"));
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        let mut rest = [0u8; 1];
        assert_eq!(stream.read(&mut rest).await.unwrap(), 0, "closed after");
    }
    // The request in progress is finished and answered the same way.
    busy.write_all(&body[10..]).await.unwrap();
    let head = read_response(&mut busy).await.unwrap();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("connection: close"), "{head}");

    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("shutdown finishes")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_requests_that_do_not_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        warrant_server::config::Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.request_limits.timeout = Duration::from_secs(1);
    let mut app = crate::support::spawn_with(dir, config).await.unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    // A client sending its headers slowly: only the header timeout (a minute) would end it.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /oauth/token HTTP/1.1\r\nhost: warrant\r\n")
        .await
        .unwrap();
    // Kept: time for the server to read the head; it does not show when it has.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), app.stop())
        .await
        .expect("shutdown finishes");
    let took = started.elapsed();
    // The request timeout and a second, then the connection is dropped.
    assert!(took < Duration::from_secs(4), "shutdown took {took:?}");
    let mut rest = [0u8; 64];
    assert!(
        matches!(slow.read(&mut rest).await, Ok(0) | Err(_)),
        "closed"
    );
}
