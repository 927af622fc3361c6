//! Get, cache and refresh OAuth 2.0 client-credentials access tokens.
//!
//! "Cache the M2M token until it expires; requesting a new token on every API call is
//! wasteful." This crate does the caching, so a worker, cron job or agent calls protected APIs
//! without thinking about tokens:
//!
//! ```no_run
//! use warrant_client::{AuthorizedClient, TokenProvider};
//!
//! # async fn run() -> Result<(), warrant_client::Error> {
//! let provider = TokenProvider::builder()
//!     .issuer("https://auth.example.com/")        // token endpoint from its metadata
//!     .client_id("my-client-id")
//!     .client_secret(std::env::var("CLIENT_SECRET").unwrap_or_default())
//!     .audience("https://api.example.com")
//!     .build()?;
//!
//! let token = provider.token().await?;            // cached until shortly before expiry
//! let api = AuthorizedClient::new(reqwest::Client::new(), provider);
//! let response = api.send(api.get("https://api.example.com/internal/data")).await?;
//! # Ok(()) }
//! ```
//!
//! - **Single flight**: any number of concurrent callers on a cold or expired cache cause one
//!   token request; the others wait for its result.
//! - **Refresh ahead**: past 80% of the lifetime (never later than 60 s before expiry, never
//!   earlier than half-life, minus a per-instance jitter of up to 5% of the lifetime), one
//!   background refresh starts while callers keep getting the still-valid token. A token is never
//!   served past its expiry, counted from when it was requested.
//! - **Retries**: network errors, 5xx and 429 are retried with exponential backoff and jitter,
//!   honouring `Retry-After`, until a deadline (10 s); other 4xx (`invalid_client`,
//!   `access_denied`, `invalid_scope`, ...) are not retried and come back as
//!   [`Error::Rejected`] with the server's `error` and `error_description`. A refresh that fails
//!   while the old token is valid keeps serving the old token.
//! - **No redirects**: token and discovery requests follow none, since a 307 or 308 would
//!   replay the form, secret included, to wherever it points (another host, or plain http). A
//!   redirect answer is [`Error::Redirected`], naming the host it pointed to. Discovery refuses
//!   them too: the metadata names the token endpoint, so a redirect elsewhere would choose where
//!   the secret goes.
//! - A warm [`TokenProvider::token`] takes a read lock and clones an `Arc`: no allocation.
//! - **DPoP** (RFC 9449) with one builder call, [`TokenProviderBuilder::dpop`]: a P-256 key
//!   generated for the provider (or [`TokenProviderBuilder::dpop_key`] for Ed25519 or a loaded
//!   key) signs a proof for each token request, so the tokens are bound to it; the server's
//!   `use_dpop_nonce` gets one retry with its nonce. [`AuthorizedClient`] then sends
//!   `Authorization: DPoP` with a fresh proof per request (method, URL, the token's hash) and
//!   retries once when an API asks for a nonce. A token stolen from a log is worthless without
//!   the key, which never leaves the process.
//! - **No secret at all**: [`TokenProviderBuilder::private_key`] signs a fresh RFC 7523 client
//!   assertion per token request with a [`ClientKey`] (RSA, P-256 or Ed25519 from PKCS#8 PEM;
//!   Warrant holds only the public key), and [`TokenProviderBuilder::assertion_file`] sends a
//!   token another platform keeps fresh in a file (a Kubernetes projected service-account
//!   token, a SPIFFE JWT-SVID), read again for each token request so a rotation is picked up.
//!   Neither the key nor an assertion is ever logged.

mod assertion;
mod dpop;
mod error;
mod http;
mod provider;
mod redirect;
mod secret;
mod token;

pub use assertion::{AssertionType, ClientKey};
pub use dpop::DpopKey;
pub use error::Error;
pub use http::AuthorizedClient;
pub use provider::{AuthMethod, ClientStats, TokenProvider, TokenProviderBuilder};
pub use redirect::redirect_target;
pub use secret::ClientSecret;
pub use token::AccessToken;
