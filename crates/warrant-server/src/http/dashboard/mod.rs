//! The dashboard: server-rendered pages for administrators, under `/dashboard`.
//!
//! Pages are HTML built with maud (every interpolation is escaped), styled by one embedded
//! stylesheet and made a little nicer by one embedded script (copy buttons, confirmations);
//! every page works without the script. Every change goes through the same service layer as
//! the management API and the CLI ([`crate::admin::Admin`]), is recorded in the audit log, and
//! is a POST carrying the session's CSRF token. Responses are never cached and never framed.

mod activity;
mod apis;
mod applications;
mod forms;
mod issuers;
mod keys;
mod layout;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::AppState;
use crate::admin::AdminError;

/// The routes, relative to `/dashboard`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route("/apis", get(apis::list).post(apis::create))
        .route("/apis/new", get(apis::new_page))
        .route("/apis/{id}", get(apis::show))
        .route("/apis/{id}/settings", post(apis::update_settings))
        .route("/apis/{id}/permissions", post(apis::add_permission))
        .route(
            "/apis/{id}/permissions/remove",
            post(apis::remove_permission),
        )
        .route("/apis/{id}/applications", post(apis::authorize))
        .route("/apis/{id}/test", post(apis::test_token))
        .route("/apis/{id}/delete", post(apis::delete))
        .route(
            "/applications",
            get(applications::list).post(applications::create),
        )
        .route("/applications/new", get(applications::new_page))
        .route("/applications/{id}", get(applications::show))
        .route(
            "/applications/{id}/settings",
            post(applications::update_settings),
        )
        .route(
            "/applications/{id}/rotate-secret",
            post(applications::rotate_secret),
        )
        .route("/applications/{id}/grants", post(applications::save_grants))
        .route(
            "/applications/{id}/grants/{grant_id}/revoke",
            post(applications::revoke_grant),
        )
        .route(
            "/applications/{id}/grants/{grant_id}/claims",
            post(applications::save_grant_claims),
        )
        .route("/applications/{id}/delete", post(applications::delete))
        .route(
            "/applications/{id}/credentials",
            post(applications::add_credential),
        )
        .route(
            "/applications/{id}/credentials/{credential_id}/remove",
            post(applications::remove_credential),
        )
        .route(
            "/applications/{id}/federated",
            post(applications::add_federated),
        )
        .route(
            "/applications/{id}/federated/{credential_id}/remove",
            post(applications::remove_federated),
        )
        .route("/issuers", get(issuers::list).post(issuers::create))
        .route("/issuers/{id}", get(issuers::edit).post(issuers::update))
        .route("/issuers/{id}/remove", post(issuers::remove))
        .route("/keys", get(keys::list))
        .route("/keys/rotate", post(keys::rotate))
        .route("/keys/{kid}/revoke", post(keys::revoke))
        .route("/activity", get(activity::show))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .fallback(|| async { PageError::NotFound("page") })
        .layer(axum::middleware::from_fn(security_headers))
}

/// Where `/`, `/dashboard` and `/dashboard/` lead.
pub(crate) async fn home() -> Redirect {
    Redirect::to("/dashboard/applications")
}

/// Headers on every dashboard response: nothing cached, nothing framed, no inline script, no
/// referrer leaving the page.
async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().contains("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/app.css"))
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Why a page cannot be shown; rendered as a page of its own.
#[derive(Debug)]
pub(crate) enum PageError {
    NotFound(&'static str),
    /// The form's CSRF token is missing or wrong.
    Forbidden,
    /// The service layer refused the change; the message says why.
    Refused(String),
    /// Storage failed; the message is logged, not shown.
    Unavailable(String),
}

impl From<AdminError> for PageError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(_) => Self::NotFound("record"),
            AdminError::Forbidden(why) | AdminError::Protected(why) => Self::Refused(why),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Self::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("This {what} does not exist, or was deleted."),
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from this dashboard session (its security token is \
                 missing or out of date). Go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::Refused(why) => (StatusCode::FORBIDDEN, "Not allowed", why),
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "a dashboard page failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "The database cannot be reached right now. Try again in a moment.".to_owned(),
                )
            }
        };
        let mut response = layout::bare_page(title, &message).into_response();
        *response.status_mut() = status;
        response
    }
}

/// A redirect after a successful POST, with a notice code the next page turns into a message.
fn see_other(path: &str, notice: &str) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}notice={notice}")).into_response()
}
