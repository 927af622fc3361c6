/// Why a token was not accepted.
///
/// The messages are short and safe to send back to a caller (as an RFC 6750
/// `error_description`): they say what failed, never the token, a key ID or the expected
/// issuer or audience.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is longer than the configured maximum; it was not parsed.
    #[error("the token is too long")]
    TooLong,
    /// Not a compact JWS: wrong number of parts, bad base64url, JSON that is not an object, or a
    /// member given twice.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not on the allowlist (this includes `none` in every casing).
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// The header carries a key or a key URL (`jwk`, `jku`, `x5u`, `x5c`). Keys come only from
    /// the configured JWKS.
    #[error("the token header carries a key or key URL, which is not accepted")]
    EmbeddedKey,
    /// The header has `crit` or `b64`, extensions this verifier does not implement.
    #[error("the token header has unsupported critical parameters")]
    UnsupportedHeader,
    /// `typ` is not an access-token type (`at+jwt`, or `JWT` where allowed).
    #[error("the token is not an access token")]
    WrongType,
    /// No `kid`, or no key with that ID in the JWKS (after at most one refetch per cooldown).
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The key's type, curve or declared algorithm does not match the token's `alg`.
    #[error("the token's algorithm does not match its key")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the token signature is invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by an issuer not accepted here")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("the token is not meant for this API")]
    WrongAudience,
    /// `exp` is past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A claim is missing or of the wrong type (time claims must be JSON numbers).
    #[error("the token's {0} claim is missing or invalid")]
    InvalidClaim(&'static str),
    /// The JWKS could not be fetched and no usable keys are cached: not the caller's fault.
    #[error("signing keys are unavailable; try again later")]
    KeysUnavailable,
}

/// Why a [`Verifier`](crate::Verifier) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("{0}")]
    InvalidSetting(String),
    #[error("cannot build the HTTP client for fetching keys: {0}")]
    HttpClient(String),
}
