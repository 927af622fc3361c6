//! The background worker: calls the protected internal API every `INTERVAL_MS` with a token
//! from `warrant-client`, which fetches one token per refresh period, not one per call.
//!
//! ```sh
//! WARRANT_ISSUER=http://127.0.0.1:8080/ WARRANT_CLIENT_ID=… WARRANT_CLIENT_SECRET=… \
//!     WARRANT_AUDIENCE=https://api.example.com cargo run -p worker
//! ```
//!
//! Without a secret: `WARRANT_PRIVATE_KEY_FILE=key.pem` (private_key_jwt) or
//! `WARRANT_ASSERTION_FILE=/var/run/secrets/tokens/warrant` (a token the platform rotates)
//! instead of `WARRANT_CLIENT_SECRET`.

use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(tracing::Level::INFO)
        .init();
    let settings = match worker::Settings::from_env() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(api = %settings.api_url, interval_ms = settings.interval.as_millis() as u64, "worker started");
    tokio::select! {
        result = worker::run(&settings, None) => match result {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}
