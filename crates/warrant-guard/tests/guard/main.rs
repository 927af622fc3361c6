//! warrant-guard's integration tests: tokens the tests sign against a JWKS server they control,
//! and tokens from the real Warrant server started in-process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attacks;
mod dpop;
mod dpop_chain;
mod jwks_cache;
mod layer;
mod real_server;
mod support;
