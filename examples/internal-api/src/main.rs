//! The protected internal API. Run it against a Warrant server:
//!
//! ```sh
//! WARRANT_ISSUER=http://127.0.0.1:8080/ WARRANT_AUDIENCE=https://api.example.com \
//!     cargo run -p internal-api -- --listen 127.0.0.1:3000
//! ```
//!
//! `WARRANT_DPOP=required` refuses every request without a DPoP-bound token and its proof;
//! `WARRANT_DPOP=optional` accepts both. `PUBLIC_URL` is the URL callers use to reach it
//! (default `http://` + the listen address), which their DPoP proofs name.
//! `WARRANT_DPOP_NONCE_SECRET` (at least 16 bytes, the same for every instance, with
//! `WARRANT_DPOP` set) makes the API issue DPoP nonces and require one in every proof
//! (RFC 9449 §9); warrant-client retries once with the nonce it is given.
//!
//! For an API whose tokens are signed with another algorithm than RS256, say which:
//! `WARRANT_ALGORITHMS=ES256` (or `EdDSA`, `PS256`, a comma-separated list).

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use warrant_guard::Verifier;
use warrant_guard::axum::GuardLayer;

#[tokio::main]
async fn main() -> ExitCode {
    // RUST_LOG=warn silences the per-request lines (the load benchmark does).
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: internal-api [--listen IP:PORT]"
                ));
            }
        }
    }
    let issuer = std::env::var("WARRANT_ISSUER").map_err(
        |_| "set WARRANT_ISSUER to the Warrant server's issuer, e.g. http://127.0.0.1:8080/",
    )?;
    let audience = std::env::var("WARRANT_AUDIENCE").map_err(
        |_| "set WARRANT_AUDIENCE to this API's identifier, e.g. https://api.example.com",
    )?;

    let algorithms = internal_api::algorithms(
        &std::env::var("WARRANT_ALGORITHMS").unwrap_or_else(|_| "RS256".to_owned()),
    )?;
    let verifier = Verifier::builder(&issuer, &audience)
        .algorithms(&algorithms)
        .token_cache(10_000)
        .build()
        .map_err(|e| e.to_string())?;
    if let Err(e) = verifier.refresh_keys().await {
        tracing::warn!(error = %e, "could not fetch the signing keys yet; will retry on the first request");
    }
    let public_url = std::env::var("PUBLIC_URL").unwrap_or_else(|_| format!("http://{listen}"));
    let guard = GuardLayer::new(verifier).public_url(&public_url);
    let (guard, dpop) = internal_api::with_dpop(
        guard,
        std::env::var("WARRANT_DPOP").ok().as_deref(),
        std::env::var("WARRANT_DPOP_NONCE_SECRET").ok().as_deref(),
    )?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, %issuer, %audience, dpop, "internal API serving");
    axum::serve(listener, internal_api::app_with(guard))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
