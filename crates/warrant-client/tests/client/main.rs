//! warrant-client against the real Warrant server started in-process (and, for failure modes
//! the real server does not produce on demand, small stand-in servers).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alloc_count;
mod caching;
mod failures;
mod middleware;
mod support;
mod without_secrets;
