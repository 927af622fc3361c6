//! JSON bodies and query strings whose errors name the offending field.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

const MAX_BODY: usize = 64 * 1024;

/// A JSON body; unknown fields and wrong types are 400 with the field's path in the message.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::bad_request(
                "Content-Type must be application/json",
            ));
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::payload_too_large("the body is larger than 64 KiB"))?;
        parse_json(&bytes).map(Self)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            format!("Payload validation error: {inner}")
        } else {
            format!("Payload validation error: '{path}': {inner}")
        };
        ApiError::bad_request(message)
    })?;
    de.end().map_err(|_| {
        ApiError::bad_request("Payload validation error: trailing data after the JSON body")
    })?;
    Ok(value)
}

/// A query string; unknown parameters and bad values are 400 naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Self).map_err(|e| {
            let mut error = ApiError::bad_request(format!(
                "Query validation error: {}{}",
                match e.path().to_string().as_str() {
                    "." | "" => String::new(),
                    path => format!("'{path}': "),
                },
                e.into_inner()
            ));
            error.error_code = "invalid_query_string";
            error
        })
    }
}
