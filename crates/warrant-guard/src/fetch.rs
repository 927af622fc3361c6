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
    /// A URL that is not https (nor http on a loopback address where that is allowed).
    NotHttps(String),
    /// The bearer token file could not be read.
    TokenFile(String),
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
            Self::NotHttps(url) => write!(
                f,
                "{url} is not an https URL; keys are fetched over https only (http only from a \
                 loopback address, where the server allows it)"
            ),
            Self::TokenFile(e) => write!(f, "cannot read the bearer token file: {e}"),
            Self::Redirected(to) => write!(
                f,
                "redirected to another origin ({to}), which is not followed: keys are taken only \
                 from the configured origin; configure the final URL"
            ),
        }
    }
}

/// Which URLs keys may be fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlPolicy {
    /// Any URL the application configured (a verifier's own issuer).
    Any,
    /// https only; with `loopback_http`, also http to 127.0.0.0/8, `::1` or `localhost`.
    Https { loopback_http: bool },
}

impl UrlPolicy {
    /// Checks `url` before anything is sent to it.
    pub(crate) fn check(self, url: &str) -> Result<(), FetchError> {
        let Self::Https { loopback_http } = self else {
            return Ok(());
        };
        let refused = || FetchError::NotHttps(url.to_owned());
        let parsed = reqwest::Url::parse(url).map_err(|_| refused())?;
        match parsed.scheme() {
            "https" => Ok(()),
            "http" if loopback_http && is_loopback(&parsed) => Ok(()),
            _ => Err(refused()),
        }
    }
}

/// Whether `url`'s host is a loopback address (or `localhost`).
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// GET with a timeout and a size cap, and a bearer token when given; returns the body and any
/// `max-age`.
pub(crate) async fn get_capped(
    http: &reqwest::Client,
    url: &str,
    cap: usize,
    timeout: Duration,
    bearer: Option<&str>,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let work = async {
        let mut request = http.get(url).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let mut response = request
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
    fn issuer_keys_come_over_https_or_loopback_http_when_allowed() {
        let strict = UrlPolicy::Https {
            loopback_http: false,
        };
        let loopback = UrlPolicy::Https {
            loopback_http: true,
        };
        assert!(
            strict
                .check("https://token.actions.githubusercontent.com/.well-known/jwks")
                .is_ok()
        );
        assert!(strict.check("http://127.0.0.1:8080/keys").is_err());
        assert!(loopback.check("http://127.0.0.1:8080/keys").is_ok());
        assert!(loopback.check("http://[::1]:8080/keys").is_ok());
        assert!(loopback.check("http://localhost/keys").is_ok());
        assert!(loopback.check("http://10.0.0.1/keys").is_err());
        assert!(loopback.check("http://127.0.0.1.example.com/keys").is_err());
        assert!(loopback.check("file:///etc/passwd").is_err());
        assert!(UrlPolicy::Any.check("http://10.0.0.1/keys").is_ok());
    }

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
