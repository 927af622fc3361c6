use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use warrant_client::AuthorizedClient;

use crate::support::start;

/// A stand-in API that refuses the first `refusals` requests with 401.
async fn api(refusals: u64) -> (String, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/internal/data",
            get(|State((hits, refusals)): State<(Arc<AtomicU64>, u64)>, headers: HeaderMap| async move {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                let bearer = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer ey"));
                if n < refusals || !bearer {
                    (StatusCode::UNAUTHORIZED, "no")
                } else {
                    (StatusCode::OK, "sensitive internal data")
                }
            }),
        )
        .with_state((Arc::clone(&hits), refusals));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/internal/data", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

#[tokio::test]
async fn a_401_causes_one_refetch_and_one_retry() {
    let server = start(None).await;
    let client = AuthorizedClient::new(reqwest::Client::new(), server.provider().build().unwrap());
    let (url, hits) = api(1).await;
    let response = client.send(client.get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "sensitive internal data");
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one retry");
    assert_eq!(server.counters.token_requests(), 2, "one refetch");

    // Later calls reuse the new token.
    client.send(client.get(&url)).await.unwrap();
    assert_eq!(server.counters.token_requests(), 2);
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried_again() {
    let server = start(None).await;
    let client = AuthorizedClient::new(reqwest::Client::new(), server.provider().build().unwrap());
    let (url, hits) = api(u64::MAX).await;
    let response = client.send(client.get(&url)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(server.counters.token_requests(), 2);
}
