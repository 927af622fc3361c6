//! `warrant api|app|grant|keys|admin|init`: administration, against a data directory (the server may
//! be running on it; it picks changes up within a second) or, with `--server`, through a running
//! server's management API. One file per command group; each goes through [`crate::deployment`]
//! (or, for `init` and `migrate`, the server crate) and prints the answer.

use serde::Serialize;

mod apis;
mod apps;
mod credentials;
mod grants;
mod keys;
mod logs;
mod operators;
mod setup;

pub use apis::api;
pub use apps::app;
pub use grants::grant;
pub use keys::keys;
pub use logs::logs;
pub use operators::operators;
pub use setup::{check, init, migrate};

/// A moment given as an RFC 3339 time (`2027-01-31T00:00:00Z`) or as a duration from now
/// (`90d`, `12h`, `30m`), in Unix seconds.
fn parse_when(text: &str) -> Result<u64, String> {
    if let Some(ms) = warrant_server::clock::parse_rfc3339_ms(text) {
        return Ok(ms / 1000);
    }
    let from_now = warrant_server::config::parse_duration(text).map_err(|_| {
        format!("{text:?} is neither an RFC 3339 time (2027-01-31T00:00:00Z) nor a duration from now (90d, 12h, 30m)")
    })?;
    Ok(warrant_server::clock::Clock::now(&warrant_server::clock::SystemClock) + from_now.as_secs())
}

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
