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

    /// Sends `request` with `Authorization: Bearer`. When the API answers 401, the token is
    /// invalidated, a fresh one fetched and the request retried once, if its body can be
    /// replayed (streaming bodies cannot: their 401 is returned as is).
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
        let value = header::HeaderValue::from_str(&token.bearer()).map_err(|_| {
            Error::InvalidResponse("the access token is not a valid header value".into())
        })?;
        request.headers_mut().insert(header::AUTHORIZATION, value);
        self.http
            .execute(request)
            .await
            .map_err(|e| Error::Http(e.without_url().to_string()))
    }
}
