//! Where the CLI sends credentials: never along a redirect, and not in clear to another machine
//! without a warning.

use warrant_testkit::StandIn;

use crate::support::{API, fails_with, warrant_env};

/// What the CLI sends over HTTP carries credentials: a redirect is an error naming where it
/// pointed, never a replay of the request there; plain http to another machine is warned about.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_follow_no_redirect_and_plain_http_elsewhere_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let elsewhere = StandIn::recording().await;
    let host = elsewhere.base.trim_start_matches("http://").to_owned();
    let secret = "the-admin-secret";
    let remote = |server: &str, args: &[&str]| {
        warrant_env(
            d,
            args,
            &[
                ("WARRANT_SERVER", server),
                ("WARRANT_CLIENT_ID", "admin"),
                ("WARRANT_CLIENT_SECRET", secret),
            ],
        )
    };
    let mut outputs = Vec::new();
    // The management token request redirected (307 would replay the form with the secret).
    let token_redirected = StandIn::redirecting(307, &elsewhere.base, false).await;
    outputs.push(remote(&token_redirected.base, &["api", "list"]));
    // A token issued, then the management request redirected (308: with the bearer token).
    let api_redirected = StandIn::redirecting(308, &elsewhere.base, true).await;
    outputs.push(remote(&api_redirected.base, &["keys", "rotate"]));
    outputs.push(remote(
        &api_redirected.base,
        &["api", "create", "--identifier", API, "--name", "n"],
    ));
    // `warrant token`.
    outputs.push(warrant_env(
        d,
        &[
            "token",
            "--issuer",
            &format!("{}/", token_redirected.base),
            "--client-id",
            "c",
            "--audience",
            API,
        ],
        &[("WARRANT_CLIENT_SECRET", secret)],
    ));
    for output in &outputs {
        fails_with(output, &format!("a redirect to {host}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("in clear"), "loopback: {stderr}");
    }
    assert_eq!(elsewhere.requests(), 0, "{}", elsewhere.received());
    assert_eq!(
        api_redirected.requests(),
        4,
        "a token request and a management request, each once"
    );

    // Plain http to another machine: a warning first (no request here: no credentials).
    let plain = warrant_env(
        d,
        &["api", "list"],
        &[("WARRANT_SERVER", "http://auth.example.com")],
    );
    fails_with(&plain, "--admin-client-id");
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        stderr.contains("warning: plain http to auth.example.com") && stderr.contains("in clear"),
        "{stderr}"
    );
}
