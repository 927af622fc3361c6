//! A bare HTTP/1.1 server on `127.0.0.1:0` for answers the real server never gives: redirects
//! (does a client follow them, and re-send its credentials?), and a place to record what a
//! client would send where a redirect points.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running stand-in server. It answers each request on a connection of its own.
#[derive(Debug)]
pub struct StandIn {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    received: Arc<Mutex<Vec<u8>>>,
    requests: Arc<AtomicUsize>,
}

#[derive(Debug, Clone)]
enum Answer {
    /// `status` with `Location: {to}{path}`; `POST /oauth/token` gets a token when
    /// `issue_tokens`.
    Redirect {
        status: u16,
        to: String,
        issue_tokens: bool,
    },
    NotFound,
}

impl StandIn {
    /// Answers every request with a redirect (`status`, to `to` followed by the request's
    /// path), except `POST /oauth/token` when `issue_tokens`: a bearer token (not a JWT), so
    /// that a client gets as far as its next request.
    pub async fn redirecting(status: u16, to: &str, issue_tokens: bool) -> Self {
        Self::start(Answer::Redirect {
            status,
            to: to.trim_end_matches('/').to_owned(),
            issue_tokens,
        })
        .await
    }

    /// Records every byte it receives and answers 404: where a redirect points.
    pub async fn recording() -> Self {
        Self::start(Answer::NotFound).await
    }

    /// Everything received so far (heads and bodies of every request).
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (r, n) = (Arc::clone(&received), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (answer, r, n) = (answer.clone(), Arc::clone(&r), Arc::clone(&n));
                tokio::spawn(async move {
                    let _ = serve(stream, &answer, &r, &n).await;
                });
            }
        });
        Self {
            base,
            received,
            requests,
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    answer: &Answer,
    received: &Mutex<Vec<u8>>,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    // The head, then as much body as Content-Length says.
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    received.lock().unwrap().extend_from_slice(&request);
    requests.fetch_add(1, Ordering::SeqCst);

    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    let response = match answer {
        Answer::Redirect {
            issue_tokens: true, ..
        } if method == "POST" && path == "/oauth/token" => {
            let body =
                r#"{"access_token":"stand-in-token","token_type":"Bearer","expires_in":3600}"#;
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Answer::Redirect { status, to, .. } => format!(
            "HTTP/1.1 {status} Redirect\r\nlocation: {to}{path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        Answer::NotFound => {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
        }
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
