//! The Test tab's token: a real token issued to an authorized application from the dashboard.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::super::session::SignedForm;
use super::super::{AppState, PageError};
use super::handlers::api_page;
use super::tabs::{Tab, TabState, TestToken};
use crate::domain::events::{AuditEvent, types};
use crate::issuance::{Credential, Issued, Refused, Target, TokenRequest};

/// Issues a real token to an authorized application through the token endpoint's own issuer
/// (without its secret: the administrator vouches for it), and shows it decoded.
pub(crate) async fn test_token(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form, .. }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    let client_id = form.text("client_id").to_owned();
    app.admin.check_test_token(&api.identifier)?;
    let mut state = TabState::default();
    // Issue from what the store holds now (a grant just made on another instance too).
    if let Err(e) = app.catalog.refresh_if_changed().await {
        tracing::warn!(error = %e, "refreshing before a test token failed; the poll will retry");
    }
    let request = TokenRequest {
        client_id: &client_id,
        credential: Credential::VouchedByOperator,
        target: Target::Audience(&api.identifier),
        scope: None,
        from: None,
        dpop_jkt: None,
    };
    match app
        .issuer
        .issue(&request, app.clock.now_ms())
        .await
        .map_err(|r| r.reason)
    {
        Ok(Issued { token, .. }) => {
            app.audit.record(AuditEvent {
                date_ms: app.clock.now_ms(),
                kind: types::TOKEN_ISSUED.into(),
                description: format!("test token from the dashboard ({})", operator.username)
                    .into(),
                client_id: Some(client_id.clone()),
                audience: Some(api.identifier.clone()),
                scope: token.scope.clone(),
                jti: Some(token.jti.clone()),
                ..AuditEvent::default()
            });
            let client_name = app
                .admin
                .get_application(&client_id)
                .await
                .map(|d| d.application.name)
                .unwrap_or_else(|_| client_id.clone());
            let mut parts = token.access_token.split('.');
            let mut decode = || {
                parts
                    .next()
                    .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                    .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_default()
            };
            let (header, claims) = (decode(), decode());
            state.token = Some(TestToken {
                client_id,
                client_name,
                access_token: token.access_token,
                header,
                claims,
                expires_in: token.expires_in,
            });
        }
        Err(Refused::Issue(e)) => state.errors.add(
            "client_id",
            format!(
                "No token: {}",
                crate::http::OAuthError::from_issue(e).description
            ),
        ),
        Err(Refused::NoSuchClient) => state
            .errors
            .add("client_id", "This application no longer exists."),
        Err(Refused::Lookup(e)) => return Err(PageError::Unavailable(e.to_string())),
        // An operator vouches for the client: no secret is checked and nothing is counted.
        Err(
            refused @ (Refused::LookupThrottled { .. }
            | Refused::BadCredentials
            | Refused::BadCredential(_)
            | Refused::ReplayCheckUnavailable
            | Refused::Throttled { .. }
            | Refused::Quota { .. }),
        ) => {
            return Err(PageError::Unavailable(format!(
                "unexpected refusal of a test token: {refused:?}"
            )));
        }
    }
    api_page(&app, &operator, &id, Tab::Test, None, state).await
}
