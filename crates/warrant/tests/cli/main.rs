//! The `warrant` binary against a data directory that a running server (started in-process)
//! also uses: what the CLI writes, the server serves within a second. One story per file; the
//! helpers that run the binary are in `support.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod arguments;
mod claims;
mod config;
mod credentials;
mod federation;
mod keys;
mod local;
mod operators;
mod redirects;
mod remote;
mod serve;
mod support;
