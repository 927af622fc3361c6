use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};

use super::{
    CustomClaims, Invalid, random_alphanumeric, random_token, validate_name, validate_text,
};

/// A machine-to-machine application: a service, cron job or agent with its own credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    pub name: String,
    pub description: String,
    /// The client's declared authentication method, as Auth0 records it. Warrant accepts both
    /// `client_secret_post` and `client_secret_basic` from every application.
    pub token_endpoint_auth_method: AuthMethod,
    /// Free-form string pairs for the operator's own bookkeeping (Auth0's `client_metadata`).
    pub client_metadata: BTreeMap<String, String>,
    /// Claims every token of the application carries (Warrant's extension): see
    /// [`CustomClaims`]. Its grants' claims override them name by name.
    pub custom_claims: CustomClaims,
    /// The application's own token quota; `None`: the deployment's default.
    pub token_quota: Option<TokenQuota>,
    /// The public-key credentials it authenticates with (`private_key_jwt`), by ID: Auth0's
    /// `client_authentication_methods.private_key_jwt.credentials`. `None`: not set. While it
    /// lists any, the application's secret is refused.
    pub private_key_jwt: Option<Vec<String>>,
    /// The stable key a configuration file names it by (`key = "…"`), so that the file may
    /// rename it; set only by `warrant apply`, unique where set.
    pub config_key: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// How many tokens a client may get per hour and per day (`None`: no limit for that window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TokenQuota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
    /// Observe mode (Auth0's `enforce: false`): counted, reported in events and headers, but
    /// no token is refused for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observe_only: bool,
}

impl TokenQuota {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.per_hour == Some(0) || self.per_day == Some(0) {
            return Err(Invalid::new(
                "token_quota: per_hour and per_day must be at least 1 (leave one out for no limit)",
            ));
        }
        Ok(())
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_hour.is_none() && self.per_day.is_none()
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    #[default]
    ClientSecretPost,
    ClientSecretBasic,
}

impl AuthMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        match text {
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            other => Err(Invalid(format!(
                "token_endpoint_auth_method {other:?} is not supported; use client_secret_post or client_secret_basic"
            ))),
        }
    }
}

const MAX_METADATA_KEYS: usize = 10;
const MAX_METADATA_LEN: usize = 255;
/// The characters besides ASCII letters, digits, tab and space that Auth0 allows in a
/// `client_metadata` key.
const METADATA_KEY_SPECIALS: &str = ":,-+=_*?\"/()<>@";

fn metadata_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '\t' || c == ' ' || METADATA_KEY_SPECIALS.contains(c)
}

impl Application {
    pub fn new(name: String, description: String, now: u64) -> Result<Self, Invalid> {
        let app = Self {
            client_id: random_alphanumeric(32),
            name,
            description,
            token_endpoint_auth_method: AuthMethod::default(),
            client_metadata: BTreeMap::new(),
            custom_claims: CustomClaims::default(),
            token_quota: None,
            private_key_jwt: None,
            config_key: None,
            created_at: now,
            updated_at: now,
        };
        app.validate()?;
        Ok(app)
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        validate_name("name", &self.name, 200)?;
        validate_text("description", &self.description, 1_000)?;
        if let Some(key) = &self.config_key {
            validate_config_key(key)?;
        }
        if self.client_metadata.len() > MAX_METADATA_KEYS {
            return Err(Invalid(format!(
                "client_metadata may hold at most {MAX_METADATA_KEYS} keys"
            )));
        }
        if let Some(quota) = &self.token_quota {
            quota.validate()?;
        }
        for (key, value) in &self.client_metadata {
            let chars = |s: &str| s.chars().count();
            if key.is_empty() || chars(key) > MAX_METADATA_LEN || chars(value) > MAX_METADATA_LEN {
                return Err(Invalid(format!(
                    "client_metadata keys must be 1 to {MAX_METADATA_LEN} characters and values at most {MAX_METADATA_LEN}"
                )));
            }
            if let Some(c) = key.chars().find(|c| !metadata_key_char(*c)) {
                return Err(Invalid(format!(
                    "client_metadata: the key {key:?} has {c:?}; keys are letters, digits and {METADATA_KEY_SPECIALS:?}, tab and space (Auth0's rule)"
                )));
            }
            if value.contains('\0') {
                return Err(Invalid::new(
                    "client_metadata values must not contain NUL characters",
                ));
            }
        }
        // Its references resolve in its own metadata, and the claims alone fit in a token.
        super::token_claims(
            &self.custom_claims,
            &CustomClaims::default(),
            &self.client_metadata,
        )?;
        Ok(())
    }
}

/// The SHA-256 of a client secret: all Warrant ever stores of it.
///
/// A secret is 256 random bits, so a slow password hash would add nothing against guessing and
/// would cap token throughput; SHA-256 keeps a stolen database from yielding usable secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    /// Compares in constant time.
    pub fn matches(&self, other: &SecretHash) -> bool {
        verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// The longest key a configuration file may give an application.
pub const MAX_CONFIG_KEY_LEN: usize = 128;

/// A configuration key: 1 to [`MAX_CONFIG_KEY_LEN`] ASCII letters, digits, `-`, `_`, `.`, `:`
/// or `/` (a slug, or a path in the team's repository), so that it reads the same in a file,
/// a diff and a log.
pub fn validate_config_key(key: &str) -> Result<(), Invalid> {
    let valid = !key.is_empty()
        && key.len() <= MAX_CONFIG_KEY_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Invalid(format!(
            "key must be 1 to {MAX_CONFIG_KEY_LEN} ASCII letters, digits, '-', '_', '.', ':' or '/'"
        )))
    }
}

pub fn hash_secret(secret: &str) -> SecretHash {
    let d = digest(&SHA256, secret.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    SecretHash(out)
}

/// A freshly generated client secret, in the clear: shown once, then only its hash is kept.
/// `Debug` does not print it.
#[derive(Clone)]
pub struct PlainSecret(String);

impl PlainSecret {
    pub fn generate() -> Self {
        Self(random_token::<32>())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        hash_secret(&self.0)
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(redacted)")
    }
}

/// One stored secret of an application. During a rotation's grace period an application has
/// several; `expires_at` ends the old ones without any job having to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret {
    pub id: String,
    pub client_id: String,
    pub hash: SecretHash,
    pub created_at: u64,
    pub expires_at: Option<u64>,
}

impl ClientSecret {
    pub fn new(client_id: &str, hash: SecretHash, now: u64) -> Self {
        Self {
            id: random_alphanumeric(16),
            client_id: client_id.to_owned(),
            hash,
            created_at: now,
            expires_at: None,
        }
    }

    pub fn is_active(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bits_and_hash_to_match() {
        let secret = PlainSecret::generate();
        assert_eq!(secret.expose().len(), 43);
        assert!(secret.hash().matches(&hash_secret(secret.expose())));
        assert!(!secret.hash().matches(&hash_secret("something else")));
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn secret_expiry() {
        let mut s = ClientSecret::new("c", hash_secret("x"), 10);
        assert!(s.is_active(1_000));
        s.expires_at = Some(20);
        assert!(s.is_active(19));
        assert!(!s.is_active(20));
    }

    #[test]
    fn application_names_are_checked() {
        assert!(Application::new("worker".into(), String::new(), 0).is_ok());
        assert!(Application::new("  ".into(), String::new(), 0).is_err());
        assert!(Application::new("a\u{7}".into(), String::new(), 0).is_err());
    }
}
