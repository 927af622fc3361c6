//! The overload guard: request limits at the edge, before any handler. A cap on requests in
//! progress (beyond it, an immediate 503 rather than an unbounded queue), a deadline per
//! request, and a cap on the total size of the request headers. Bodies are capped by each
//! handler (16 KiB for tokens). Per-client and per-address budgets (throttles, quotas) are
//! another matter: `crate::limits`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::Semaphore;

/// The settings, with their defaults.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub max_header_bytes: usize,
    /// How long a client may take to send a request's headers; idle keep-alive connections
    /// close after it too.
    pub header_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 1_024,
            timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct Limiter {
    limits: RequestLimits,
    in_flight: Arc<Semaphore>,
}

impl Limiter {
    pub fn new(limits: RequestLimits) -> Self {
        Self {
            limits,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
        }
    }
}

fn refuse(status: StatusCode, error: &str, message: &str) -> Response {
    let mut response = (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(json!({"error": error, "error_description": message})),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

pub async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > limiter.limits.max_header_bytes {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request",
            "the request headers are larger than 16 KiB",
        );
    }
    let Ok(_permit) = Arc::clone(&limiter.in_flight).try_acquire_owned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is at capacity; retry shortly",
        );
    };
    match tokio::time::timeout(limiter.limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the request took too long and was abandoned; retry shortly",
        ),
    }
}
