//! What the tests of every crate start: a real Warrant server in-process on `127.0.0.1:0` with
//! a temporary data directory ([`TestServer`], with the APIs, applications and requests a test
//! needs), a fresh PostgreSQL database ([`PgDatabase`]) and a proxy to cut it off
//! ([`DbProxy`]), and [`StandIn`], a bare HTTP server for what the real server never answers
//! (redirects).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod keys;
mod postgres;
mod server;
mod stand_in;

pub use keys::{pem, private_key_pem};
pub use postgres::{DbProxy, PgDatabase, ProxyMode};
pub use server::{API, Builder, TestServer};
pub use stand_in::StandIn;
/// Data directories for servers whose configuration a test writes ([`Builder::config`]).
pub use tempfile;
/// The signing algorithms an API may choose ([`TestServer::create_api_signed`]).
pub use warrant_server::domain::SigningAlg;
