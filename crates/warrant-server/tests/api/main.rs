//! Integration tests: the real server, started in-process on 127.0.0.1:0 with a temporary data
//! directory, driven over HTTP. One test binary for the crate (link time adds up).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client_cache;
mod concurrent_patches;
mod config;
mod custom_claims;
mod dashboard;
mod dashboard_browser;
mod data_dir;
mod db_faults;
mod dpop;
mod fail_static;
mod federation;
mod hardening;
mod introspection;
mod invisible_characters;
mod lifecycle;
mod limits;
mod management;
mod multi_instance;
mod node_compat;
mod operations;
mod private_key_jwt;
mod python_compat;
mod rotation;
mod shutdown;
mod signing_algs;
mod store_suite;
mod support;
mod token_errors;
mod token_success;
mod upgrade;
mod wire_compat;
