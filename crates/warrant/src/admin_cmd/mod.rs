//! `warrant api|app|grant|issuer|keys|admin|init|plan|apply|export`: administration, against a data directory (the server may
//! be running on it; it picks changes up within a second) or, with `--server`, through a running
//! server's management API. One file per command group; each goes through [`crate::deployment`]
//! (or, for `init` and `migrate`, the server crate) and prints the answer.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

mod apis;
mod apps;
mod config;
mod credentials;
mod federation;
mod grants;
mod keys;
mod logs;
mod operators;
mod setup;

pub use apis::api;
pub use apps::app;
pub use config::{apply, export, plan};
pub use federation::issuer;
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

/// `--claim NAME=VALUE` arguments as custom claims: a VALUE that is JSON (`3`, `true`,
/// `["a","b"]`, `"quoted"`) is taken as such, any other as a string (`eu`,
/// `{{client_metadata.tenant}}`). The server checks them.
fn parse_claims(args: &[String]) -> Result<Map<String, Value>, String> {
    args.iter()
        .map(|arg| {
            let (name, value) = arg.split_once('=').ok_or_else(|| {
                format!("--claim {arg:?} must look like NAME=VALUE, e.g. tier=3 or region=eu")
            })?;
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// `--metadata KEY=VALUE` arguments as `client_metadata`.
fn parse_metadata(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    args.iter()
        .map(|arg| {
            let (key, value) = arg.split_once('=').ok_or_else(|| {
                format!("--metadata {arg:?} must look like KEY=VALUE, e.g. tenant=acme")
            })?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Replace-whole semantics of repeatable flags: the given entries, none with `--no-…`, or
/// `None` (leave as is) when neither was given.
fn replacement<T: Default>(given: bool, clear: bool, parsed: T) -> Option<T> {
    if clear {
        Some(T::default())
    } else {
        given.then_some(parsed)
    }
}

/// Custom claims as one line: `name=value, …`.
fn claims_line(claims: &Map<String, Value>) -> String {
    claims
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}
