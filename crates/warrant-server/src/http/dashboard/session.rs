//! Signing in and out, and the two extractors every other page uses: [`Operator`] (a
//! signed-in administrator, or a redirect to the sign-in page) and [`SignedForm`] (a POST from
//! one, with its CSRF token checked).
//!
//! Cookies: `warrant_session` holds the session's random value (the database keeps only its
//! hash); `warrant_sign_in` holds the sign-in form's CSRF value before there is a session. Both
//! are `HttpOnly; SameSite=Strict; Path=/dashboard`, and `Secure` when the server is reached over
//! TLS.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::forms::Form;
use super::layout::{self, CSRF_FIELD};
use super::{AppState, PageError};
use crate::admin::operators::{OperatorSession, SESSION_MAX};
use crate::admin::{Actor, Admin};
use crate::domain::events::{AuditEvent, types};
use crate::domain::random_token;
use crate::limits::AddressKey;

pub(crate) const SESSION_COOKIE: &str = "warrant_session";
const SIGN_IN_COOKIE: &str = "warrant_sign_in";
/// The largest form the dashboard accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The value of cookie `name` in the request, if sent.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(app: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/dashboard; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("warrant_invalid=1"))
}

fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// A signed-in administrator. Without a live session, GET pages redirect to sign-in.
#[derive(Debug)]
pub(crate) struct Operator(pub OperatorSession);

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/dashboard/sign-in").into_response());
        };
        match app.admin.operator_session(value).await {
            Ok(Some(session)) => Ok(Self(session)),
            Ok(None) => Err(Redirect::to("/dashboard/sign-in").into_response()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// A form posted by a signed-in administrator, whose CSRF token matched their session's.
#[derive(Debug)]
pub(crate) struct SignedForm {
    pub operator: OperatorSession,
    pub form: Form,
    /// The service layer acting as this administrator: every change the form asks for goes
    /// through it, which records it in their name and refreshes the catalog.
    pub admin: Admin,
}

impl FromRequest<Arc<AppState>> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: Request, app: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Operator(operator) = Operator::from_request_parts(&mut parts, app).await?;
        let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the form is larger than 64 KiB",
                )
                    .into_response()
            })?;
        let form = Form::parse(&body);
        if !same_token(form.raw(CSRF_FIELD), &operator.csrf_token) {
            return Err(PageError::Forbidden.into_response());
        }
        let admin = app.admin.acting_as(Actor::Operator {
            username: operator.username.clone(),
        });
        Ok(Self {
            operator,
            form,
            admin,
        })
    }
}

pub(crate) async fn sign_in_page(State(app): State<Arc<AppState>>) -> Response {
    sign_in_form(&app, None, "", StatusCode::OK)
}

/// The sign-in form, with a fresh CSRF value in its cookie and hidden field.
fn sign_in_form(
    app: &AppState,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let csrf = random_token::<32>();
    let body = html! {
        div.sign-in {
            div.brand-large { span.logo { "W" } "Warrant" }
            form.card method="post" action="/dashboard/sign-in" {
                h1 { "Sign in" }
                p.muted { "Dashboard administrators are created with " code { "warrant admin create" } "." }
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                label for="username" { "Username" }
                input #username name="username" autocomplete="username" required value=(username) autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    let mut response = layout::bare("Sign in", body).into_response();
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(app, SIGN_IN_COOKIE, &csrf, 3600),
    );
    response
}

pub(crate) async fn sign_in(
    State(app): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, PageError> {
    let (parts, body) = request.into_parts();
    let ip = super::super::peer_ip(&parts);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect::<String>());
    let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Ok(sign_in_form(
            &app,
            Some("The form is too large."),
            "",
            StatusCode::PAYLOAD_TOO_LARGE,
        ));
    };
    let form = Form::parse(&body);
    let expected = cookie(&parts.headers, SIGN_IN_COOKIE).unwrap_or("");
    if !same_token(form.raw(CSRF_FIELD), expected) {
        return Err(PageError::Forbidden);
    }
    let username = form.text("username");
    // Shown back and logged: at most 64 characters of it.
    let shown: String = username.chars().take(64).collect();
    let now_ms = app.clock.now_ms();
    let record = |kind: &'static str, description: String| {
        app.audit.record(AuditEvent {
            date_ms: now_ms,
            kind: kind.into(),
            description: description.into(),
            ip: ip.map(|ip| ip.to_string()),
            user_agent: user_agent.clone(),
            ..AuditEvent::default()
        });
    };
    let refused = |status: StatusCode, message: &str, wait: u64| {
        let mut response = sign_in_form(&app, Some(message), &shown, status);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        response
    };
    // The attempt is paid for before the password is checked, so that concurrent attempts can
    // never check more passwords than the budgets allow; the right password gets it back.
    let throttle = &app.sign_in_throttle;
    let attempt = match throttle.try_take(ip.map(AddressKey::of), &shown, now_ms) {
        Ok(attempt) => attempt,
        Err(wait) => {
            record(
                types::SIGN_IN_FAILED,
                format!("dashboard sign-in throttled for {shown:?}"),
            );
            return Ok(refused(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many failed sign-ins. Wait {wait} seconds and try again."),
                wait,
            ));
        }
    };
    let Some(slot) = throttle.checks.try_slot() else {
        // No password was checked: the attempt costs nothing.
        throttle.refund(attempt, app.clock.now_ms());
        return Ok(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins at once. Try again in a second.",
            1,
        ));
    };
    match app
        .admin
        .sign_in(slot, username, form.raw("password"))
        .await
    {
        Ok(Some(opened)) => {
            throttle.refund(attempt, app.clock.now_ms());
            record(types::SIGN_IN_OK, format!("dashboard sign-in by {shown:?}"));
            let mut response = Redirect::to("/dashboard/applications").into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION_COOKIE, &opened.cookie_value, SESSION_MAX),
            );
            headers.append(header::SET_COOKIE, set_cookie(&app, SIGN_IN_COOKIE, "", 0));
            Ok(response)
        }
        Ok(None) => {
            record(
                types::SIGN_IN_FAILED,
                format!("dashboard sign-in failed for {shown:?}: wrong username or password"),
            );
            Ok(sign_in_form(
                &app,
                Some("Wrong username or password."),
                &shown,
                StatusCode::UNAUTHORIZED,
            ))
        }
        Err(e) => {
            // Storage failed: not a wrong password.
            throttle.refund(attempt, app.clock.now_ms());
            Err(e.into())
        }
    }
}

pub(crate) async fn sign_out(
    State(app): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Response> {
    let cookie_value = cookie(request.headers(), SESSION_COOKIE).map(str::to_owned);
    let SignedForm { operator, .. } = SignedForm::from_request(request, &app).await?;
    if let Some(value) = cookie_value {
        app.admin
            .sign_out(&value)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
    }
    app.audit.record(AuditEvent {
        date_ms: app.clock.now_ms(),
        kind: types::SIGN_OUT.into(),
        description: format!("dashboard sign-out by {:?}", operator.username).into(),
        ..AuditEvent::default()
    });
    let mut response = Redirect::to("/dashboard/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; warrant_session_x=2; warrant_session=abc"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn tokens_compare_whole_and_never_empty() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("", ""));
    }
}
