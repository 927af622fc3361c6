//! The domain: APIs (resource servers) with their scopes, applications (M2M clients) with their
//! secrets, and the grants that join them. Plain data and validation; no HTTP, no SQL.

mod application;
mod grant;
mod random;
mod resource_server;
mod scope;

pub use application::{
    Application, AuthMethod, ClientSecret, PlainSecret, SecretHash, TokenQuota, hash_secret,
};
pub use grant::ClientGrant;
pub use random::{random_alphanumeric, random_bytes, random_token};
pub use resource_server::{
    DEFAULT_TOKEN_LIFETIME, MAX_SCOPES, MAX_TOKEN_LIFETIME, ResourceServer, SigningAlg,
    validate_identifier,
};
pub use scope::{Scope, parse_scope_param, validate_scope_value};

/// A domain rule broken by input: the message says which field and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Checks a human-readable name: not blank, at most `max` characters, no control characters.
pub fn validate_name(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Invalid(format!("{field} must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}
