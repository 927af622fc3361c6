//! A warm `token()`: single-threaded, and with 8 tasks calling it at once on a multi-threaded
//! runtime. Target: under 100 ns, no allocation (the test suite checks the allocation).
//!
//!   cargo bench -p warrant-client --bench token

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_debug_implementations
)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use warrant_client::TokenProvider;

/// A stand-in token endpoint: this measures the cache, not the server.
async fn token_endpoint() -> String {
    let app = Router::new().route(
        "/oauth/token",
        post(|| async {
            (
                [("content-type", "application/json")],
                r#"{"access_token":"header.payload.signature","token_type":"Bearer","expires_in":86400}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn warm_token(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(token_endpoint());
    let provider = TokenProvider::builder()
        .token_endpoint(url)
        .client_id("bench")
        .client_secret("secret")
        .audience("https://api.example.com")
        .build()
        .unwrap();
    rt.block_on(provider.token()).unwrap();

    let mut group = c.benchmark_group("token");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("warm, one task", |b| {
        b.to_async(&rt)
            .iter(|| async { provider.token().await.unwrap() })
    });
    group.bench_function("warm, 8 tasks at once (wall time / calls)", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let provider = provider.clone();
            async move {
                let per_task = iters.div_ceil(8);
                let started = Instant::now();
                let tasks: Vec<_> = (0..8)
                    .map(|_| {
                        let p = provider.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                std::hint::black_box(p.token().await.unwrap());
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                // Wall time divided over the calls (two run at once on two cores).
                let calls = per_task * 8;
                started.elapsed().mul_f64(iters as f64 / calls as f64)
            }
        })
    });
    group.finish();
}

criterion_group!(benches, warm_token);
criterion_main!(benches);
