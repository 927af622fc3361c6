//! Fetching a JWKS or a discovery document: one GET with a timeout and a size cap, redirects
//! followed only within the origin, and the `max-age` its answer allows.

use std::fmt;
use std::time::Duration;

#[derive(Debug)]
pub(crate) enum FetchError {
    Network(String),
    Status(u16),
    TooLarge,
    NotJwks(String),
    NoUsableKeys,
    Discovery(String),
    /// A redirect to another origin, not followed: it would change whose keys are trusted.
    Redirected(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(e) => write!(f, "request failed: {e}"),
            Self::Status(s) => write!(f, "answered HTTP {s}"),
            Self::TooLarge => f.write_str("the JWKS is larger than the configured maximum"),
            Self::NotJwks(e) => write!(f, "the answer is not a JWKS: {e}"),
            Self::NoUsableKeys => {
                f.write_str("the JWKS has no key usable with the allowed algorithms")
            }
            Self::Discovery(e) => write!(f, "discovery failed: {e}"),
            Self::Redirected(to) => write!(
                f,
                "redirected to another origin ({to}), which is not followed: keys are taken only \
                 from the configured origin; configure the final URL"
            ),
        }
    }
}

/// GET with a timeout and a size cap; returns the body and any `max-age`.
pub(crate) async fn get_capped(
    http: &reqwest::Client,
    url: &str,
    cap: usize,
    timeout: Duration,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let work = async {
        let mut response = http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Network(e.without_url().to_string()))?;
        if response.status().is_redirection() {
            return Err(FetchError::Redirected(redirect_target(&response)));
        }
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Network(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > cap {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| FetchError::Network("timed out".into()))?
}

/// The redirect policy of the default HTTP client: redirects are followed only within the origin
/// (scheme, host and port) of the first request, three at most. No credentials travel with a
/// JWKS or discovery request, but a redirect to another origin would make the verifier trust
/// whatever keys that origin publishes; such a redirect answer is refused instead
/// ([`FetchError::Redirected`]).
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > 3 {
            attempt.error("more than 3 redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Where a redirect answer points: the host (and port) of its `Location`.
fn redirect_target(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| response.url().join(location).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "an unnamed location".to_owned())
}

/// `max-age=N` from a `Cache-Control` value (`no-store`/`no-cache` count as 0).
pub(crate) fn parse_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            max_age = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_parsing() {
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_max_age("max-age=\"60\", stale-while-revalidate=5"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }
}
