//! Verify OAuth 2.0 JWT access tokens in any Rust API.
//!
//! The other half of machine-to-machine auth: the API that receives
//! `Authorization: Bearer <token>` checks the signature against the issuer's published keys,
//! then the issuer, audience, expiry and the scopes each route needs. Done by hand this goes
//! subtly wrong (no refetch when keys rotate, a refetch on every unknown `kid`, a hard failure
//! when the JWKS blips, `alg` trusted from the token); here the right thing is the one-liner.
//!
//! ```no_run
//! use axum::{Router, routing::{delete, get}};
//! use warrant_guard::{Claims, Verifier};
//! use warrant_guard::axum::{GuardLayer, RequireScope};
//!
//! warrant_guard::scope!(DeleteDocuments = "delete:documents");
//!
//! async fn data(claims: Claims) -> String {
//!     format!("hello {}", claims.sub())
//! }
//!
//! async fn remove(scoped: RequireScope<DeleteDocuments>) -> String {
//!     format!("deleted by {}", scoped.claims().sub())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder("https://auth.example.com/", "https://api.example.com")
//!     .token_cache(10_000)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/internal/data", get(data))
//!     .route("/internal/documents/{id}", delete(remove))
//!     .layer(GuardLayer::new(verifier));
//! # Ok(()) }
//! ```
//!
//! **Validation** (RFC 8725, RFC 9068), strict by default: an algorithm allowlist (RS256) bound
//! to the key's type, so `none`, HS/RS confusion and curve mix-ups fail; `typ` must be `at+jwt`
//! (optionally also `JWT`); `iss` exact; `aud` (string or array) must contain the audience;
//! `exp` required, `nbf` and `iat` checked, with a leeway (60 s); time claims must be numbers;
//! `crit` and `b64` are refused, as are keys or key URLs in the header (`jwk`, `jku`, `x5u`,
//! `x5c`): keys come only from the configured JWKS. Tokens over 8 KiB are refused unparsed, and
//! JSON with duplicate members is refused.
//!
//! **Keys** are fetched on first use (or with [`Verifier::refresh_keys`] at start-up) and
//! re-checked in the background every 60 s (less up to 10% jitter, one fetch at a time; sooner
//! when the JWKS answer's `Cache-Control: max-age` is shorter, not under 10 s; see
//! [`VerifierBuilder::refresh_bounds`]). Each successful fetch replaces the keys, so a key the
//! issuer revokes stops verifying here within that interval, whatever `max-age` says, and the
//! token cache forgets the tokens it signed. A token with an unknown `kid` causes at most one
//! refetch per cooldown (30 s), shared by all concurrent requests. When the JWKS cannot be
//! fetched, the last good keys keep serving for up to the maximum staleness (24 h): a
//! revocation cannot be seen meanwhile, but a key the last successful fetch no longer listed
//! never comes back. Failures are logged and counted ([`Verifier::jwks_stats`]).
//!
//! **Redirects**: the default HTTP client follows redirects of the JWKS and discovery fetches
//! only within the origin (scheme, host, port) of the request, three at most. No credentials
//! travel there, but a redirect to another origin would make the verifier trust whatever keys
//! that origin publishes; it is refused (and logged, naming where it pointed).
//!
//! **The token cache** ([`VerifierBuilder::token_cache`]), off by default, accepts a token seen
//! before with a hash lookup and one comparison until its `exp`, so a protected route costs
//! about what an unprotected one does for clients that reuse their tokens. It keeps each token
//! in full (about 1 KiB an entry) up to its capacity.

mod alg;
mod assertion;
#[cfg(feature = "axum")]
pub mod axum;
mod cache;
mod claims;
mod dpop;
mod error;
mod fetch;
mod issuer_keys;
mod jwks;
mod jws;
mod keys;
mod nonce;
mod verifier;

pub use alg::Algorithm;
pub use assertion::{Assertion, KeyError, PublicKey};
pub use claims::Claims;
pub use dpop::{
    DpopError, DpopProof, DpopVerifier, DpopVerifierBuilder, ProofCheck, ReplayCacheStats,
};
pub use error::{BuildError, Error};
pub use issuer_keys::{IssuerKeySource, IssuerKeys, IssuerKeysBuilder};
pub use jwks::JwksStats;
pub use nonce::DpopNonces;
pub use verifier::{Verifier, VerifierBuilder};
