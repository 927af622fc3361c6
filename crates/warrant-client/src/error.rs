use warrant_proto::OAuthErrorCode;

/// Why no token (or no API answer) could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server refused the request (a 4xx other than 429). Not retried: the
    /// credentials, audience or scopes need fixing. `error` and `description` are the server's
    /// RFC 6749 §5.2 `error` and `error_description`.
    #[error("the token request was refused ({status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// Network errors, 5xx or 429 went on until the retry deadline.
    #[error("the authorization server could not be reached after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    /// The server answered 2xx with something that is not a token response.
    #[error("the authorization server's answer is not a token response: {0}")]
    InvalidResponse(String),
    /// The token endpoint (or, during discovery, the metadata URL) answered with a redirect,
    /// which is not followed: a 307 or 308 would re-send the form, secret included, to wherever
    /// it points. `location` is the host (and port) it pointed to. Configure the final URL.
    #[error(
        "the authorization server answered {status}, a redirect to {location}, which is not followed so that credentials go only where configured: configure the final URL"
    )]
    Redirected { status: u16, location: String },
    /// The token endpoint could not be found from the issuer's metadata.
    #[error("discovery of the token endpoint failed: {0}")]
    Discovery(String),
    /// The provider is misconfigured.
    #[error("{0}")]
    Config(String),
    /// The API call itself failed (for [`AuthorizedClient`](crate::AuthorizedClient)).
    #[error("the API request failed: {0}")]
    Http(String),
}

impl Error {
    /// The RFC 6749 error code of a refusal, when it is one this crate knows.
    pub fn oauth_error(&self) -> Option<OAuthErrorCode> {
        match self {
            Self::Rejected { error, .. } => OAuthErrorCode::parse(error),
            _ => None,
        }
    }
}
