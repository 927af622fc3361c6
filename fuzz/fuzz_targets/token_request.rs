//! The token endpoint's request parsing: any headers and body must give a parsed request or an
//! RFC 6749 error, never a panic. Input: a selector byte (content type), the Authorization
//! header's bytes up to the first NUL, then the body.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use warrant_server::http::ParsedRequest;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (authorization, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let mut headers = HeaderMap::new();
    let content_type = match selector % 4 {
        0 => "application/x-www-form-urlencoded",
        1 => "application/json",
        2 => "application/json; charset=utf-8",
        _ => "text/plain",
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(value) = authorization.and_then(|a| HeaderValue::from_bytes(a).ok()) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let challenge = HeaderValue::from_static("Basic realm=\"fuzz\"");
    if let Ok(parsed) = ParsedRequest::parse(&headers, body, &challenge) {
        let _ = parsed.request(None);
    }
});
