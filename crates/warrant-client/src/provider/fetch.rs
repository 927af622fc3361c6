//! The token request: one attempt at the token endpoint (discovering it first if need be),
//! and the retries around it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::time::Instant;
use warrant_proto::{
    CLIENT_ASSERTION_TYPE_JWT_BEARER, GRANT_CLIENT_CREDENTIALS, OAUTH_METADATA_PATH,
    OAuthErrorBody, OPENID_CONFIGURATION_PATH, ServerMetadata, TokenResponse,
};

use super::slot::Slot;
use super::token_provider::{AuthMethod, Endpoint, TokenProvider};
use crate::assertion::{Authentication, read_assertion};
use crate::redirect::{host_of, redirect_target};
use crate::{AccessToken, Error};

/// A uniform random number in [0, 1).
pub(super) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// One attempt's failure: retry or give up.
enum Attempt {
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    Fatal(Error),
    /// The server asked for a DPoP nonce (`use_dpop_nonce` with `DPoP-Nonce`), now remembered:
    /// try once more at once.
    NonceAsked(Error),
}

impl TokenProvider {
    pub(super) async fn fetch_with_retry(
        &self,
        slot: &Slot,
        deadline: Instant,
    ) -> Result<AccessToken, Error> {
        let mut attempts = 0u32;
        let mut backoff = Duration::from_millis(100);
        loop {
            attempts += 1;
            let failure = match self.fetch_once(slot, deadline).await {
                Ok(token) => return Ok(token),
                Err(Attempt::Fatal(e) | Attempt::NonceAsked(e)) => return Err(e),
                Err(Attempt::Retry {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };
            // Full jitter on the exponential backoff; the server's Retry-After wins.
            let wait = failure
                .1
                .unwrap_or_else(|| backoff.mul_f64(0.5 + random_unit() * 0.5));
            backoff = (backoff * 2).min(Duration::from_secs(5));
            if Instant::now() + wait >= deadline {
                return Err(Error::Unavailable {
                    attempts,
                    last: failure.0,
                });
            }
            tracing::debug!(attempt = attempts, wait_ms = wait.as_millis() as u64, error = %failure.0, "retrying the token request");
            tokio::time::sleep(wait).await;
        }
    }

    async fn endpoint(&self) -> Result<String, Attempt> {
        match &self.inner.endpoint {
            Endpoint::Fixed(url) => Ok(url.clone()),
            Endpoint::Discover { issuer, resolved } => resolved
                .get_or_try_init(|| self.discover(issuer))
                .await
                .cloned(),
        }
    }

    /// The token endpoint from RFC 8414 metadata (or the OpenID discovery document).
    async fn discover(&self, issuer: &str) -> Result<String, Attempt> {
        let base = issuer.trim_end_matches('/');
        let mut last = String::new();
        for path in [OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH] {
            let url = format!("{base}{path}");
            let response = match self
                .inner
                .http
                .get(&url)
                .timeout(self.inner.request_timeout)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    return Err(Attempt::Retry {
                        message: format!("discovery at {url}: {}", e.without_url()),
                        retry_after: None,
                    });
                }
            };
            let status = response.status();
            if status.is_redirection() {
                return Err(Attempt::Fatal(Error::Redirected {
                    status: status.as_u16(),
                    location: redirect_target(&response),
                }));
            }
            if status.is_server_error() {
                return Err(Attempt::Retry {
                    message: format!("discovery at {url} answered {status}"),
                    retry_after: None,
                });
            }
            if !status.is_success() {
                last = format!("{url} answered {status}");
                continue;
            }
            let metadata: ServerMetadata = response.json().await.map_err(|e| {
                Attempt::Fatal(Error::Discovery(format!(
                    "{url} is not server metadata: {e}"
                )))
            })?;
            if metadata.issuer.trim_end_matches('/') != base {
                return Err(Attempt::Fatal(Error::Discovery(format!(
                    "{url} describes the issuer {:?}, not {issuer:?}",
                    metadata.issuer
                ))));
            }
            return Ok(metadata.token_endpoint);
        }
        Err(Attempt::Fatal(Error::Discovery(last)))
    }

    /// One attempt, and a second at once when the server asks for a DPoP nonce (RFC 9449 §8).
    async fn fetch_once(&self, slot: &Slot, deadline: Instant) -> Result<AccessToken, Attempt> {
        let endpoint = self.endpoint().await?;
        match self.fetch_at(&endpoint, slot, deadline).await {
            Err(Attempt::NonceAsked(first)) => match self.fetch_at(&endpoint, slot, deadline).await
            {
                Err(Attempt::NonceAsked(_)) => Err(Attempt::Fatal(first)),
                other => other,
            },
            other => other,
        }
    }

    async fn fetch_at(
        &self,
        endpoint: &str,
        slot: &Slot,
        deadline: Instant,
    ) -> Result<AccessToken, Attempt> {
        let endpoint = endpoint.to_owned();
        let inner = &*self.inner;
        // A fresh assertion for every request (its jti is single-use), or the file as it is now.
        let assertion = match &inner.authentication {
            Authentication::Secret(_) => None,
            Authentication::Key { key, audience } => Some((
                key.assertion(&inner.client_id, audience)
                    .map_err(Attempt::Fatal)?,
                CLIENT_ASSERTION_TYPE_JWT_BEARER,
            )),
            Authentication::File { path, kind } => {
                Some((read_assertion(path).map_err(Attempt::Fatal)?, kind.urn()))
            }
        };
        // Built in a block: the serializer is not `Send` and must not live across an await.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", GRANT_CLIENT_CREDENTIALS)
                .append_pair("audience", &slot.audience);
            if let Some(scope) = &slot.scope {
                form.append_pair("scope", scope);
            }
            match (&inner.authentication, &assertion) {
                (Authentication::Secret(secret), _)
                    if inner.auth_method == AuthMethod::ClientSecretPost =>
                {
                    form.append_pair("client_id", &inner.client_id)
                        .append_pair("client_secret", secret.expose());
                }
                (_, Some((assertion, kind))) => {
                    form.append_pair("client_id", &inner.client_id)
                        .append_pair("client_assertion_type", kind)
                        .append_pair("client_assertion", assertion);
                }
                _ => {}
            }
            form.finish()
        };
        let mut request = inner
            .http
            .post(&endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(key) = &inner.dpop {
            let proof = key.proof("POST", &endpoint, None).map_err(Attempt::Fatal)?;
            request = request.header("dpop", proof);
        }
        if let (Authentication::Secret(secret), AuthMethod::ClientSecretBasic) =
            (&inner.authentication, inner.auth_method)
        {
            let credentials = format!(
                "{}:{}",
                form_encode(&inner.client_id),
                form_encode(secret.expose())
            );
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        let timeout = inner
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        let sent = Instant::now();
        inner
            .counters
            .token_requests
            .fetch_add(1, Ordering::Relaxed);
        let response = request
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Attempt::Retry {
                message: e.without_url().to_string(),
                retry_after: None,
            })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Attempt::Fatal(Error::Redirected {
                status: status.as_u16(),
                location: redirect_target(&response),
            }));
        }
        // A client given to the builder may have followed a redirect itself.
        if reqwest::Url::parse(&endpoint).is_ok_and(|asked| *response.url() != asked) {
            return Err(Attempt::Fatal(Error::Config(format!(
                "the HTTP client followed a redirect to {}: build it with \
                 redirect(reqwest::redirect::Policy::none())",
                host_of(response.url())
            ))));
        }
        if status.as_u16() == 429 || status.is_server_error() {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Attempt::Retry {
                message: format!("the token endpoint answered {status}"),
                retry_after,
            });
        }
        let nonce = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(|e| Attempt::Retry {
            message: e.without_url().to_string(),
            retry_after: None,
        })?;
        // A server that uses nonces hands a fresh one out with its answers (RFC 9449 §8.2):
        // the next proof carries it, and needs no retry.
        if let (Some(key), Some(nonce)) = (&inner.dpop, &nonce) {
            key.set_nonce(&endpoint, nonce);
        }
        if !status.is_success() {
            let (error, description) = match serde_json::from_slice::<OAuthErrorBody>(&body) {
                Ok(b) => (b.error, b.error_description),
                Err(_) => (format!("http_{}", status.as_u16()), None),
            };
            let rejected = Error::Rejected {
                status: status.as_u16(),
                error,
                description,
            };
            let asked =
                matches!(&rejected, Error::Rejected { error, .. } if error == "use_dpop_nonce");
            if inner.dpop.is_some() && nonce.is_some() && asked {
                return Err(Attempt::NonceAsked(rejected));
            }
            return Err(Attempt::Fatal(rejected));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Attempt::Fatal(Error::InvalidResponse(e.to_string())))?;
        // A server that does not do DPoP answers Bearer: the token is then used as one.
        let dpop = inner.dpop.is_some() && parsed.token_type.eq_ignore_ascii_case("dpop");
        if !dpop && !parsed.token_type.eq_ignore_ascii_case("bearer") {
            return Err(Attempt::Fatal(Error::InvalidResponse(format!(
                "token_type {:?} is not Bearer",
                parsed.token_type
            ))));
        }
        if parsed.expires_in == 0 {
            return Err(Attempt::Fatal(Error::InvalidResponse(
                "expires_in is 0".into(),
            )));
        }
        let lifetime = Duration::from_secs(parsed.expires_in);
        // `exp` is in whole seconds from the server's clock: a token issued at x.9 s may lapse
        // up to a second before `sent + expires_in`. Stop serving it a second early.
        let usable = lifetime - Duration::from_secs(1).min(lifetime / 2);
        Ok(AccessToken::new(
            parsed.access_token,
            sent + usable,
            sent + self.refresh_after(lifetime),
            parsed.expires_in,
            parsed.scope,
            dpop,
        ))
    }
}

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
