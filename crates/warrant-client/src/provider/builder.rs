//! [`TokenProviderBuilder`]: the provider's configuration, checked when it is built.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::fetch::random_unit;
use super::slot::{Slot, normalize_scopes};
use super::token_provider::{AuthMethod, Counters, Endpoint, Inner, TokenProvider};
use crate::assertion::Authentication;
use crate::{AssertionType, ClientKey, ClientSecret, DpopKey, Error};

impl TokenProvider {
    pub fn builder() -> TokenProviderBuilder {
        TokenProviderBuilder::default()
    }
}

/// Configures a [`TokenProvider`].
#[derive(Debug, Clone, Default)]
pub struct TokenProviderBuilder {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    private_key: Option<ClientKey>,
    assertion_audience: Option<String>,
    assertion_file: Option<(PathBuf, AssertionType)>,
    audience: Option<String>,
    scopes: Vec<String>,
    auth_method: AuthMethod,
    refresh_ratio: Option<f64>,
    retry_deadline: Option<Duration>,
    request_timeout: Option<Duration>,
    http: Option<reqwest::Client>,
    dpop: Option<DpopChoice>,
}

#[derive(Debug, Clone)]
enum DpopChoice {
    Generate,
    Key(DpopKey),
}

impl TokenProviderBuilder {
    /// The issuer; the token endpoint is discovered from its RFC 8414 metadata.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The token endpoint, used as given (no discovery).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Authenticates with `private_key_jwt` (RFC 7523 §2.2) instead of a secret: each token
    /// request carries a fresh assertion signed with `key` (`iss` = `sub` = the client ID, `aud`
    /// the issuer, or the token endpoint when no issuer is given, a unique `jti`, valid 60 s).
    /// Warrant holds only the public key.
    pub fn private_key(mut self, key: ClientKey) -> Self {
        self.private_key = Some(key);
        self
    }

    /// The `aud` of the assertions [`private_key`](Self::private_key) signs, when it must be
    /// something else than the issuer (or token endpoint) configured here.
    pub fn assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// Authenticates with the client assertion in the file at `path`, read again for each token
    /// request (so a Kubernetes projected service-account token, which the kubelet replaces
    /// before it expires, is always sent as it is now), with `client_id`. `kind` is the
    /// `client_assertion_type`: jwt-bearer, or jwt-spiffe for a SPIFFE JWT-SVID.
    pub fn assertion_file(mut self, path: impl Into<PathBuf>, kind: AssertionType) -> Self {
        self.assertion_file = Some((path.into(), kind));
        self
    }

    /// The API that [`TokenProvider::token`] gets tokens for.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Scopes to ask for (default: every granted scope).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// The share of a token's lifetime after which it is refreshed in the background (default
    /// 0.8; never later than 60 s before expiry, never earlier than half-life).
    pub fn refresh_ratio(mut self, ratio: f64) -> Self {
        self.refresh_ratio = Some(ratio);
        self
    }

    /// How long a fetch keeps retrying network errors, 5xx and 429 (default 10 s).
    pub fn retry_deadline(mut self, deadline: Duration) -> Self {
        self.retry_deadline = Some(deadline);
        self
    }

    /// Timeout of each HTTP request to the token endpoint (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The HTTP client to use (default: reqwest with rustls, following no redirects). Build a
    /// client given here with `redirect(reqwest::redirect::Policy::none())`: one that follows
    /// redirects re-sends the form, secret included, on a 307 or 308 before the provider sees
    /// the answer (the provider then refuses the token, too late for the secret).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Asks for DPoP-bound tokens (RFC 9449) with a P-256 (ES256) key generated for this
    /// provider: each token request carries a proof, and [`AuthorizedClient`](crate::AuthorizedClient)
    /// sends each token with a fresh proof.
    pub fn dpop(mut self) -> Self {
        self.dpop = Some(DpopChoice::Generate);
        self
    }

    /// DPoP with this key (Ed25519 with [`DpopKey::generate_ed25519`], or one loaded from
    /// PKCS#8 to keep it across restarts).
    pub fn dpop_key(mut self, key: DpopKey) -> Self {
        self.dpop = Some(DpopChoice::Key(key));
        self
    }

    pub fn build(self) -> Result<TokenProvider, Error> {
        let missing = |what: &str| Error::Config(format!("{what} is required"));
        // An assertion's default audience: the issuer, else the token endpoint.
        let assertion_audience = self
            .assertion_audience
            .or_else(|| self.issuer.clone())
            .or_else(|| self.token_endpoint.clone());
        let endpoint = match (self.token_endpoint, self.issuer) {
            (Some(url), _) => Endpoint::Fixed(url),
            (None, Some(issuer)) => Endpoint::Discover {
                issuer,
                resolved: OnceCell::new(),
            },
            (None, None) => return Err(missing("an issuer or a token endpoint")),
        };
        let client_id = self.client_id.ok_or_else(|| missing("client_id"))?;
        let authentication = match (self.client_secret, self.private_key, self.assertion_file) {
            (Some(secret), None, None) => Authentication::Secret(secret),
            (None, Some(key), None) => Authentication::Key {
                key,
                audience: assertion_audience.unwrap_or_default(),
            },
            (None, None, Some((path, kind))) => Authentication::File { path, kind },
            (None, None, None) => {
                return Err(missing(
                    "a client credential (client_secret, private_key or assertion_file)",
                ));
            }
            _ => {
                return Err(Error::Config(
                    "give one client credential: client_secret, private_key or assertion_file"
                        .into(),
                ));
            }
        };
        let audience = self.audience.ok_or_else(|| missing("audience"))?;
        let ratio = self.refresh_ratio.unwrap_or(0.8);
        if !(0.5..=0.95).contains(&ratio) {
            return Err(Error::Config(
                "refresh_ratio must be between 0.5 and 0.95".into(),
            ));
        }
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                endpoint,
                client_id,
                authentication,
                auth_method: self.auth_method,
                http,
                default_slot: Arc::new(Slot::new(audience, normalize_scopes(&self.scopes))),
                slots: Mutex::new(HashMap::new()),
                refresh_ratio: ratio,
                jitter: random_unit() * 0.05,
                retry_deadline: self.retry_deadline.unwrap_or(Duration::from_secs(10)),
                request_timeout: self.request_timeout.unwrap_or(Duration::from_secs(10)),
                counters: Counters::default(),
                dpop: match self.dpop {
                    None => None,
                    Some(DpopChoice::Generate) => Some(DpopKey::generate_es256()?),
                    Some(DpopChoice::Key(key)) => Some(key),
                },
            }),
        })
    }
}

#[cfg(test)]
pub(super) fn test_provider(ratio: f64) -> TokenProvider {
    TokenProvider::builder()
        .token_endpoint("http://127.0.0.1:9/oauth/token")
        .client_id("c")
        .client_secret("s")
        .audience("https://api")
        .refresh_ratio(ratio)
        .build()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_clear() {
        let err = TokenProvider::builder().client_id("c").build().unwrap_err();
        assert!(err.to_string().contains("issuer or a token endpoint"));
        let err = TokenProvider::builder()
            .issuer("http://x/")
            .client_id("c")
            .client_secret("s")
            .audience("a")
            .refresh_ratio(0.99)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("refresh_ratio"));
        assert!(!format!("{:?}", test_provider(0.8)).contains("\"s\""));
        let err = TokenProvider::builder()
            .token_endpoint("http://x/oauth/token")
            .client_id("c")
            .client_secret("s")
            .private_key(ClientKey::generate_rsa().unwrap())
            .audience("a")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("one client credential"), "{err}");
        let err = TokenProvider::builder()
            .token_endpoint("http://x/oauth/token")
            .client_id("c")
            .audience("a")
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("client_secret, private_key or assertion_file")
        );
    }
}
