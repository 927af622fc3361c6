use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::admin::AdminError;
use crate::store::StoreError;

/// A management API error, in Auth0's shape: `{statusCode, error, message, errorCode}`. 5xx
/// messages say nothing internal; the cause is logged.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub error_code: &'static str,
    pub challenge: Option<HeaderValue>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            error_code,
            challenge: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_body", message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "inexistent_resource", message)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(message) => Self::bad_request(message),
            AdminError::NotFound(what) => Self::not_found(format!("{what} does not exist")),
            AdminError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            AdminError::Forbidden(message) => {
                Self::new(StatusCode::FORBIDDEN, "insufficient_scope", message)
            }
            AdminError::Protected(message) => {
                Self::new(StatusCode::FORBIDDEN, "operation_not_supported", message)
            }
            AdminError::Store(StoreError::Unavailable(cause)) => {
                tracing::error!(error = %cause, "storage unavailable for a management request");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "storage is unavailable; nothing was changed, retry later",
                )
            }
            AdminError::Store(other) => {
                tracing::error!(error = %other, "management request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error; nothing was changed",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "statusCode": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
            "errorCode": self.error_code,
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
