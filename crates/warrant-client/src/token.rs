use std::fmt;
use std::sync::Arc;

use tokio::time::Instant;

/// An access token and when it expires. Cloning is one reference-count increment. `Debug`
/// does not print the token.
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

struct Inner {
    token: String,
    /// Local monotonic time at which the token expires (measured from when it was requested).
    expires_at: Instant,
    /// When a background refresh should start.
    refresh_at: Instant,
    expires_in: u64,
    scope: Option<String>,
    /// Bound to the provider's DPoP key (`token_type: "DPoP"`).
    dpop: bool,
}

impl AccessToken {
    pub(crate) fn new(
        token: String,
        expires_at: Instant,
        refresh_at: Instant,
        expires_in: u64,
        scope: Option<String>,
        dpop: bool,
    ) -> Self {
        Self(Arc::new(Inner {
            token,
            expires_at,
            refresh_at,
            expires_in,
            scope,
            dpop,
        }))
    }

    /// Whether the token is bound to the provider's DPoP key: it goes out as
    /// `Authorization: DPoP` with a proof, never as `Bearer`.
    pub fn is_dpop(&self) -> bool {
        self.0.dpop
    }

    /// The token, for `Authorization: Bearer`.
    pub fn as_str(&self) -> &str {
        &self.0.token
    }

    /// The `Authorization` header value: `Bearer <token>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0.token)
    }

    pub fn expires_at(&self) -> Instant {
        self.0.expires_at
    }

    pub(crate) fn refresh_at(&self) -> Instant {
        self.0.refresh_at
    }

    /// The lifetime the server granted, in seconds.
    pub fn expires_in(&self) -> u64 {
        self.0.expires_in
    }

    /// The granted scopes as the server reported them.
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    pub fn is_expired_at(&self, now: Instant) -> bool {
        now >= self.0.expires_at
    }

    /// Whether two handles are the same token (not merely equal strings).
    pub fn same_as(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_in", &self.0.expires_in)
            .field("scope", &self.0.scope)
            .finish_non_exhaustive()
    }
}
