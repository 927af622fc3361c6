//! The token provider: cache, single flight, refresh ahead, retries.
//!
//! [`TokenProvider`] and its public methods live in [`token_provider`], its configuration in
//! [`builder`]; [`slot`] is the cache entry of one audience and scopes, [`flight`] the single
//! flight and the refresh ahead that keep it filled, and [`fetch`] the token request itself,
//! with its retries and the discovery of the token endpoint.

mod builder;
mod fetch;
mod flight;
mod slot;
mod token_provider;

pub use builder::TokenProviderBuilder;
pub use token_provider::{AuthMethod, ClientStats, TokenProvider};
