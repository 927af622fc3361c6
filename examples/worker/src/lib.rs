//! The background worker of the classic M2M flow, as a library so that tests can run it
//! in-process. See `main.rs` for how to run it.

use std::path::PathBuf;
use std::time::Duration;

use warrant_client::{
    AssertionType, AuthorizedClient, ClientKey, ClientSecret, Error, TokenProvider,
};

/// How the worker proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `WARRANT_CLIENT_SECRET`.
    Secret(ClientSecret),
    /// `WARRANT_PRIVATE_KEY_FILE`: a PEM private key whose public key is registered
    /// (private_key_jwt; a fresh signed assertion per token request).
    PrivateKey(PathBuf),
    /// `WARRANT_ASSERTION_FILE`: a token another platform keeps fresh in a file (a Kubernetes
    /// projected service-account token), read again for each token request;
    /// `WARRANT_ASSERTION_TYPE=jwt-spiffe` for a SPIFFE JWT-SVID.
    AssertionFile(PathBuf, AssertionType),
}

/// The worker's settings, from the environment (see [`Settings::from_env`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub client_id: String,
    pub credential: Credential,
    pub audience: String,
    pub api_url: String,
    pub interval: Duration,
    /// Ask for DPoP-bound tokens and send each with a proof (`WARRANT_DPOP=1`).
    pub dpop: bool,
}

impl Settings {
    /// `WARRANT_ISSUER`, `WARRANT_CLIENT_ID`, `WARRANT_CLIENT_SECRET` (or, without a secret,
    /// `WARRANT_PRIVATE_KEY_FILE` or `WARRANT_ASSERTION_FILE`), `WARRANT_AUDIENCE`,
    /// `WARRANT_TOKEN_URL` (optional: used instead of the discovered token endpoint), `API_URL`
    /// (default `http://127.0.0.1:3000/internal/data`), `INTERVAL_MS` (default 5000),
    /// `WARRANT_DPOP=1` for DPoP-bound tokens.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let required = |name: &str| var(name).ok_or_else(|| format!("set {name}"));
        let issuer = var("WARRANT_ISSUER");
        let token_url = var("WARRANT_TOKEN_URL");
        if issuer.is_none() && token_url.is_none() {
            return Err("set WARRANT_ISSUER (or WARRANT_TOKEN_URL)".into());
        }
        let interval = match var("INTERVAL_MS") {
            Some(ms) => Duration::from_millis(ms.parse().map_err(|_| {
                format!("INTERVAL_MS must be a number of milliseconds, not {ms:?}")
            })?),
            None => Duration::from_millis(5000),
        };
        let credential = match (var("WARRANT_PRIVATE_KEY_FILE"), var("WARRANT_ASSERTION_FILE")) {
            (Some(_), Some(_)) => {
                return Err(
                    "set WARRANT_PRIVATE_KEY_FILE or WARRANT_ASSERTION_FILE, not both".into(),
                );
            }
            (Some(key), None) => Credential::PrivateKey(key.into()),
            (None, Some(file)) => {
                let kind = match var("WARRANT_ASSERTION_TYPE").as_deref() {
                    None | Some("jwt-bearer") => AssertionType::JwtBearer,
                    Some("jwt-spiffe") => AssertionType::JwtSpiffe,
                    Some(other) => {
                        return Err(format!(
                            "WARRANT_ASSERTION_TYPE must be jwt-bearer or jwt-spiffe, not {other:?}"
                        ));
                    }
                };
                Credential::AssertionFile(file.into(), kind)
            }
            (None, None) => Credential::Secret(ClientSecret::new(
                var("WARRANT_CLIENT_SECRET").ok_or(
                    "set WARRANT_CLIENT_SECRET, or WARRANT_PRIVATE_KEY_FILE or WARRANT_ASSERTION_FILE to work without a secret",
                )?,
            )),
        };
        Ok(Self {
            issuer,
            token_url,
            client_id: required("WARRANT_CLIENT_ID")?,
            credential,
            audience: required("WARRANT_AUDIENCE")?,
            api_url: var("API_URL").unwrap_or_else(|| "http://127.0.0.1:3000/internal/data".into()),
            interval,
            dpop: matches!(var("WARRANT_DPOP").as_deref(), Some("1" | "true")),
        })
    }

    pub fn provider(&self) -> Result<TokenProvider, Error> {
        let mut builder = TokenProvider::builder()
            .client_id(&self.client_id)
            .audience(&self.audience);
        builder = match &self.credential {
            Credential::Secret(secret) => builder.client_secret(secret.clone()),
            Credential::PrivateKey(path) => builder.private_key(ClientKey::from_pem_file(path)?),
            Credential::AssertionFile(path, kind) => builder.assertion_file(path, *kind),
        };
        if let Some(issuer) = &self.issuer {
            builder = builder.issuer(issuer);
        }
        if let Some(url) = &self.token_url {
            builder = builder.token_endpoint(url);
        }
        if self.dpop {
            builder = builder.dpop();
        }
        builder.build()
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Summary {
    pub provider: TokenProvider,
    /// Calls the API answered with 2xx.
    pub succeeded: u64,
    pub failed: u64,
}

/// Calls the API every interval, `calls` times (forever with `None`), logging each answer.
/// Token fetches are logged by `warrant-client` itself: one per refresh period, not per call.
pub async fn run(settings: &Settings, calls: Option<u64>) -> Result<Summary, Error> {
    let provider = settings.provider()?;
    let api = AuthorizedClient::new(reqwest::Client::new(), provider.clone());
    let mut ticker = tokio::time::interval(settings.interval);
    let (mut made, mut succeeded, mut failed) = (0u64, 0u64, 0u64);
    while calls.is_none_or(|n| made < n) {
        ticker.tick().await;
        made += 1;
        match api.send(api.get(&settings.api_url)).await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    succeeded += 1;
                } else {
                    failed += 1;
                }
                let body = response.text().await.unwrap_or_default();
                tracing::info!(%status, body = %body.trim(), "called the API");
            }
            Err(e) => {
                failed += 1;
                tracing::error!(error = %e, "the API call failed");
            }
        }
    }
    Ok(Summary {
        provider,
        succeeded,
        failed,
    })
}
