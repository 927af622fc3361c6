//! The CLI's HTTP. What it sends carries credentials (the admin secret, management tokens, the
//! secret of `warrant token`): it follows no redirect, since a 307 or 308 would replay the
//! request to wherever it points, and it warns when plain http leaves this machine.

use std::net::IpAddr;
use std::time::Duration;

/// Warns on standard error when `url` is plain http to another machine: `what` would travel
/// in clear.
pub fn warn_if_cleartext(url: &str, what: &str) {
    if let Some(host) = cleartext_remote_host(url) {
        eprintln!("warning: plain http to {host}: {what} would travel in clear; use https");
    }
}

/// The host of `url` if it is plain http to a host other than this machine.
fn cleartext_remote_host(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let local = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (!local).then(|| host.to_owned())
}

/// The HTTP client of the CLI: no redirects (see the module's documentation).
pub fn http_client(ca_cert: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_cert {
        let pem = std::fs::read(ca)
            .map_err(|e| format!("cannot read the CA certificate {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::cleartext_remote_host;

    #[test]
    fn plain_http_is_flagged_only_when_it_leaves_this_machine() {
        for local in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:8080/",
            "https://auth.example.com",
            "https://10.0.0.5:8443",
            "not a url",
        ] {
            assert_eq!(cleartext_remote_host(local), None, "{local}");
        }
        for (remote, host) in [
            ("http://auth.example.com", "auth.example.com"),
            ("http://10.0.0.5:8080/", "10.0.0.5"),
            ("http://[2001:db8::1]/", "[2001:db8::1]"),
            ("http://localhost.evil.example/", "localhost.evil.example"),
        ] {
            assert_eq!(
                cleartext_remote_host(remote).as_deref(),
                Some(host),
                "{remote}"
            );
        }
    }
}
