//! The background worker of the classic M2M flow, as a library so that tests can run it
//! in-process. See `main.rs` for how to run it.

use std::time::Duration;

use warrant_client::{AuthorizedClient, ClientSecret, Error, TokenProvider};

/// The worker's settings, from the environment (see [`Settings::from_env`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: Option<String>,
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub audience: String,
    pub api_url: String,
    pub interval: Duration,
    /// Ask for DPoP-bound tokens and send each with a proof (`WARRANT_DPOP=1`).
    pub dpop: bool,
}

impl Settings {
    /// `WARRANT_ISSUER`, `WARRANT_CLIENT_ID`, `WARRANT_CLIENT_SECRET`, `WARRANT_AUDIENCE`,
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
        Ok(Self {
            issuer,
            token_url,
            client_id: required("WARRANT_CLIENT_ID")?,
            client_secret: ClientSecret::new(required("WARRANT_CLIENT_SECRET")?),
            audience: required("WARRANT_AUDIENCE")?,
            api_url: var("API_URL").unwrap_or_else(|| "http://127.0.0.1:3000/internal/data".into()),
            interval,
            dpop: matches!(var("WARRANT_DPOP").as_deref(), Some("1" | "true")),
        })
    }

    pub fn provider(&self) -> Result<TokenProvider, Error> {
        let mut builder = TokenProvider::builder()
            .client_id(&self.client_id)
            .client_secret(self.client_secret.clone())
            .audience(&self.audience);
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
