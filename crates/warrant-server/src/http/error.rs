use std::borrow::Cow;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warrant_proto::{OAuthErrorBody, OAuthErrorCode};

use crate::catalog::LookupError;
use crate::issuance::IssueError;

/// An RFC 6749 §5.2 error answer of the token endpoint. The description is for the developer
/// calling the endpoint: it says what to fix and never carries internals or secrets.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: OAuthErrorCode,
    pub description: Cow<'static, str>,
    /// `WWW-Authenticate` to send (for failed HTTP Basic client authentication).
    pub challenge: Option<HeaderValue>,
    /// `Retry-After` of a 429 or a 503, and `X-RateLimit-*` of a 429.
    pub limit_headers: Vec<(HeaderName, HeaderValue)>,
}

/// Echoed user input is cut short, so that an error body never grows with the request.
pub(crate) fn quoted(input: &str) -> String {
    const MAX: usize = 200;
    if input.len() <= MAX {
        return format!("{input:?}");
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &input[..end])
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        code: OAuthErrorCode,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
            limit_headers: Vec::new(),
        }
    }

    /// 429: slow down. `retry_after` in seconds.
    pub fn too_many_requests(description: String, retry_after: u64) -> Self {
        Self {
            limit_headers: vec![(header::RETRY_AFTER, HeaderValue::from(retry_after))],
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                OAuthErrorCode::TooManyRequests,
                description,
            )
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            description,
        )
    }

    pub fn invalid_client(challenge: Option<HeaderValue>) -> Self {
        Self {
            challenge,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                OAuthErrorCode::InvalidClient,
                "client authentication failed: unknown client or wrong secret",
            )
        }
    }

    /// 503: the server cannot answer right now, through no fault of the client; retry in a
    /// second (`Retry-After: 1`).
    pub fn temporarily_unavailable(description: &'static str) -> Self {
        Self {
            limit_headers: vec![(header::RETRY_AFTER, HeaderValue::from_static("1"))],
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                OAuthErrorCode::TemporarilyUnavailable,
                description,
            )
        }
    }

    /// A client not in memory could not be looked up: 503.
    pub fn from_lookup(error: &LookupError) -> Self {
        match error {
            LookupError::Busy => Self::temporarily_unavailable(
                "too many clients not yet in memory are being looked up at once; retry shortly",
            ),
            LookupError::Unavailable(_) => Self::temporarily_unavailable(
                "this client's details cannot be loaded while the database is unreachable; retry shortly",
            ),
        }
    }

    pub fn from_issue(error: IssueError) -> Self {
        match error {
            IssueError::MissingAudience => Self::invalid_request(
                "audience is required: set it (or resource) to the identifier of the API the token is for",
            ),
            IssueError::UnknownAudience(aud) => Self::new(
                StatusCode::FORBIDDEN,
                OAuthErrorCode::AccessDenied,
                format!("Service not found: {}", quoted(&aud)),
            ),
            IssueError::UnknownResource(res) => Self::new(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidTarget,
                format!("resource {} is not an API this server knows", quoted(&res)),
            ),
            IssueError::NotGranted { audience } => Self::new(
                StatusCode::FORBIDDEN,
                OAuthErrorCode::AccessDenied,
                format!(
                    "this application is not authorized for the API {}: create a client grant \
                     for this application and API (warrant grant create --client-id <client_id> \
                     --audience {audience})",
                    quoted(&audience)
                ),
            ),
            IssueError::ScopeNotGranted { scope, audience } => Self::new(
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::InvalidScope,
                format!(
                    "scope {} is not granted to this application for the API {}",
                    quoted(&scope),
                    quoted(&audience)
                ),
            ),
            // RFC 9449 keeps invalid_dpop_proof for a proof that is there and wrong; a proof
            // missing where one is required is a missing parameter (RFC 6749 §5.2).
            IssueError::DpopRequired { audience } => Self::invalid_request(format!(
                "the API {} requires DPoP-bound tokens: send a DPoP proof (RFC 9449) in a DPoP \
                 header with the token request",
                quoted(&audience)
            )),
            IssueError::NoSigningKey => {
                Self::temporarily_unavailable("no signing key is loaded yet; retry shortly")
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody {
            error: self.code.as_str().to_owned(),
            error_description: Some(self.description.into_owned()),
        };
        let mut response = (self.status, no_store_json(&body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        for (name, value) in self.limit_headers {
            headers.insert(name, value);
        }
        response
    }
}

/// Serializes a body that cannot fail to serialize (plain structs of strings and numbers).
pub(crate) fn no_store_json<T: serde::Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}
