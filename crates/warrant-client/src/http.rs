//! An HTTP client that authorizes every request with a token from a [`TokenProvider`], and on a
//! 401 from the API refetches the token and retries once.

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};

use crate::{AccessToken, Error, TokenProvider};

/// A `reqwest::Client` with a [`TokenProvider`] behind it.
#[derive(Debug, Clone)]
pub struct AuthorizedClient {
    http: reqwest::Client,
    provider: TokenProvider,
}

impl AuthorizedClient {
    pub fn new(http: reqwest::Client, provider: TokenProvider) -> Self {
        Self { http, provider }
    }

    pub fn provider(&self) -> &TokenProvider {
        &self.provider
    }

    /// Starts a request; finish it with [`send`](Self::send).
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http.request(method, url)
    }

    pub fn get(&self, url: &str) -> RequestBuilder {
        self.http.get(url)
    }

    pub fn post(&self, url: &str) -> RequestBuilder {
        self.http.post(url)
    }

    pub fn put(&self, url: &str) -> RequestBuilder {
        self.http.put(url)
    }

    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.http.delete(url)
    }

    /// Sends `request` with `Authorization: Bearer`, or `Authorization: DPoP` and a fresh DPoP
    /// proof for a DPoP-bound token. When the API answers 401, the token is invalidated, a
    /// fresh one fetched and the request retried once, if its body can be replayed (streaming
    /// bodies cannot: their 401 is returned as is); a 401 asking for a DPoP nonce is retried
    /// once with the nonce and the same token.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        let request = request
            .build()
            .map_err(|e| Error::Http(e.without_url().to_string()))?;
        let replay = request.try_clone();
        let token = self.provider.token().await?;
        let response = self.execute(request, &token).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(replay) = replay else {
            return Ok(response);
        };
        if let (Some(key), Some(nonce)) = (
            self.provider.dpop_key().filter(|_| token.is_dpop()),
            crate::dpop::nonce_asked(&response, None),
        ) {
            tracing::debug!("the API asked for a DPoP nonce; retrying once with it");
            key.set_nonce(replay.url().as_str(), &nonce);
            return self.execute(replay, &token).await;
        }
        tracing::info!("the API refused the token; fetching a fresh one and retrying once");
        self.provider.invalidate_token(&token);
        let fresh = self.provider.token().await?;
        self.execute(replay, &fresh).await
    }

    async fn execute(
        &self,
        mut request: reqwest::Request,
        token: &AccessToken,
    ) -> Result<Response, Error> {
        let invalid =
            || Error::InvalidResponse("the access token is not a valid header value".into());
        let key = self.provider.dpop_key().filter(|_| token.is_dpop());
        let authorization = match key {
            Some(key) => {
                let proof = key.proof(
                    request.method().as_str(),
                    request.url().as_str(),
                    Some(token.as_str()),
                )?;
                let proof = header::HeaderValue::from_str(&proof).map_err(|_| invalid())?;
                request.headers_mut().insert("dpop", proof);
                format!("DPoP {}", token.as_str())
            }
            None => token.bearer(),
        };
        let value = header::HeaderValue::from_str(&authorization).map_err(|_| invalid())?;
        request.headers_mut().insert(header::AUTHORIZATION, value);
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| Error::Http(e.without_url().to_string()))?;
        // An API that uses nonces hands a fresh one out with its answers (RFC 9449 §9): the
        // next proof carries it, and needs no retry.
        if let (Some(key), Some(nonce)) = (
            key,
            response
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok()),
        ) {
            key.set_nonce(response.url().as_str(), nonce);
        }
        Ok(response)
    }
}
