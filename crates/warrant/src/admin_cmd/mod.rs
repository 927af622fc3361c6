//! `warrant api|app|grant|keys|admin|init`: administration, against a data directory (the server may
//! be running on it; it picks changes up within a second) or, with `--server`, through a running
//! server's management API. One file per command group; each goes through [`crate::deployment`]
//! (or, for `init` and `migrate`, the server crate) and prints the answer.

use serde::Serialize;

mod apis;
mod apps;
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

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
