use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use warrant_client::{Error, TokenProvider};
use warrant_proto::OAuthErrorCode;

use crate::support::{API, claims, start, unix_now};

/// A stand-in token endpoint that answers `failures` with `status` (and `Retry-After`, if
/// given) before answering with a token.
async fn flaky(
    status: StatusCode,
    retry_after: Option<&'static str>,
    failures: u64,
) -> (String, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let state = (Arc::clone(&hits), status, retry_after, failures);
    let app = Router::new()
        .route(
            "/oauth/token",
            post(
                |State((hits, status, retry_after, failures)): State<(
                    Arc<AtomicU64>,
                    StatusCode,
                    Option<&'static str>,
                    u64,
                )>| async move {
                    let n = hits.fetch_add(1, Ordering::SeqCst);
                    if n < failures {
                        let mut r = (status, "slow down").into_response();
                        if let Some(v) = retry_after {
                            r.headers_mut().insert("retry-after", v.parse().unwrap());
                        }
                        return r;
                    }
                    let body =
                        r#"{"access_token":"abc.def.ghi","token_type":"Bearer","expires_in":60}"#;
                    Response::builder()
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(body))
                        .unwrap()
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn provider(url: &str) -> TokenProvider {
    TokenProvider::builder()
        .token_endpoint(url)
        .client_id("c")
        .client_secret("s")
        .audience(API)
        .retry_deadline(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let (url, hits) = flaky(StatusCode::TOO_MANY_REQUESTS, Some("1"), 1).await;
    let started = Instant::now();
    let token = provider(&url).token().await.unwrap();
    assert_eq!(token.as_str(), "abc.def.ghi");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let (url, hits) = flaky(StatusCode::SERVICE_UNAVAILABLE, None, 3).await;
    let started = Instant::now();
    provider(&url).token().await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    // 100 + 200 + 400 ms backoff, each jittered down to half at most.
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_wrong_secret_is_a_typed_error_without_retries() {
    let server = start(None).await;
    let provider = server.provider().client_secret("wrong").build().unwrap();
    let err = provider.token().await.unwrap_err();
    assert_eq!(err.oauth_error(), Some(OAuthErrorCode::InvalidClient));
    match &err {
        Error::Rejected {
            status,
            description,
            ..
        } => {
            assert_eq!(*status, 401);
            assert!(description.as_deref().unwrap().contains("wrong secret"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !err.to_string().contains("wrong\""),
        "no secret in messages"
    );
    assert_eq!(server.counters.token_requests(), 1, "no retries");

    let scoped = server.provider().scopes(["admin:all"]).build().unwrap();
    assert_eq!(
        scoped.token().await.unwrap_err().oauth_error(),
        Some(OAuthErrorCode::InvalidScope)
    );
    let denied = server
        .provider()
        .audience("https://nope.example.com")
        .build()
        .unwrap();
    assert_eq!(
        denied.token().await.unwrap_err().oauth_error(),
        Some(OAuthErrorCode::AccessDenied)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_down_the_cached_token_serves_until_expiry_then_a_clear_error() {
    let mut server = start(Some(3)).await;
    let provider = server
        .provider()
        .retry_deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let first = provider.token().await.unwrap();
    server.stop().await;

    let exp = claims(first.as_str())["exp"].as_f64().unwrap();
    loop {
        match provider.token().await {
            Ok(token) => {
                assert!(token.same_as(&first));
                assert!(unix_now() < exp, "served past expiry");
            }
            Err(e) => {
                assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
                break;
            }
        }
        // Real time under test: the cached token serves until its wall-clock expiry.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(provider.stats().refresh_failures >= 1);
    // After expiry, a caller gets the error after retrying, within the retry deadline (it gives
    // up when the next backoff would cross the deadline: at least 50 + 100 + 200 ms in).
    let started = Instant::now();
    let err = provider.token().await.unwrap_err();
    let took = started.elapsed();
    match err {
        Error::Unavailable { attempts, .. } => assert!(attempts >= 3, "{attempts} attempts"),
        other => panic!("{other:?}"),
    }
    assert!(
        took >= Duration::from_millis(300) && took <= Duration::from_millis(1100),
        "{took:?}"
    );
}

/// A token endpoint (or metadata URL) that redirects: a 307 or 308 would replay the form,
/// secret included, to wherever it points. Not followed, for either way of sending the secret;
/// the error names the host it pointed to, and nothing reaches that host.
#[tokio::test]
async fn redirects_are_not_followed_and_the_secret_goes_nowhere_else() {
    use warrant_client::AuthMethod;
    use warrant_testkit::StandIn;

    let elsewhere = StandIn::recording().await;
    let host = elsewhere.base.trim_start_matches("http://").to_owned();
    for status in [301, 302, 303, 307, 308] {
        let redirecting = StandIn::redirecting(status, &elsewhere.base, false).await;
        let builder = || {
            TokenProvider::builder()
                .client_id("c")
                .client_secret("the-secret-value")
                .audience(API)
        };
        for method in [AuthMethod::ClientSecretPost, AuthMethod::ClientSecretBasic] {
            let provider = builder()
                .token_endpoint(format!("{}/oauth/token", redirecting.base))
                .auth_method(method)
                .build()
                .unwrap();
            let err = provider.token().await.unwrap_err();
            assert_eq!(
                err,
                Error::Redirected {
                    status,
                    location: host.clone()
                }
            );
            assert!(err.to_string().contains(&host), "{err}");
        }
        let discovering = builder()
            .issuer(format!("{}/", redirecting.base))
            .build()
            .unwrap();
        assert!(
            matches!(discovering.token().await, Err(Error::Redirected { location, .. }) if location == host)
        );
        assert_eq!(redirecting.requests(), 3, "one request each, no retries");
    }
    assert_eq!(elsewhere.requests(), 0);
    assert!(!elsewhere.received().contains("the-secret-value"));

    // A client given to the builder that follows redirects re-sends the form itself; the
    // provider refuses the answer and says how to build the client.
    let redirecting = StandIn::redirecting(307, &elsewhere.base, false).await;
    let following = TokenProvider::builder()
        .token_endpoint(format!("{}/oauth/token", redirecting.base))
        .client_id("c")
        .client_secret("the-secret-value")
        .audience(API)
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    let err = following.token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("Policy::none()") && m.contains(&host)),
        "{err}"
    );
}
