//! Signing keys: current, next and previous with their dates; rotate; revoke.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Nav, action_button};
use super::session::{Operator, SignedForm};
use super::{AppState, PageError, see_other};
use crate::admin::AdminError;
use crate::domain::SigningAlg;
use crate::keys::KeyStatus;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let mut keys = app.admin.list_keys().await?;
    let rank = |s: KeyStatus| match s {
        KeyStatus::Current => 0,
        KeyStatus::Next => 1,
        KeyStatus::Previous => 2,
        KeyStatus::Revoked => 3,
    };
    keys.sort_by_key(|k| {
        (
            SigningAlg::ALL.iter().position(|a| *a == k.alg),
            rank(k.status),
            std::cmp::Reverse(k.created_at),
        )
    });
    let jwks = format!("{}.well-known/jwks.json", app.issuer.settings().issuer);
    let content = html! {
        h1 { "Signing keys" }
        p.muted { "Each signing algorithm an API uses has its own keys; an API's tokens are signed with the current key of its algorithm. The next key is already published at "
            a href=(jwks) { code { (jwks) } }
            ", so APIs have it cached before it signs; the previous key stays published until the tokens it signed have expired." }
        table.list #keys {
            thead { tr { th { "Key ID (kid)" } th { "Algorithm" } th { "State" } th { "Created" } th { "Signing" } th {} } }
            tbody {
                @for key in &keys {
                    tr {
                        td { code { (key.kid) } }
                        td { (key.alg.as_str()) }
                        td { span class={ "badge key-" (key.status.as_str()) } { (key.status.as_str()) } }
                        td { (layout::when(key.created_at)) }
                        td {
                            @match (key.current_since, key.current_until, key.revoked_at) {
                                (_, _, Some(revoked)) => { "revoked " (layout::when(revoked)) }
                                (Some(since), Some(until), None) => { (layout::when(since)) " – " (layout::when(until)) }
                                (Some(since), None, None) => { "since " (layout::when(since)) }
                                _ => { span.muted { "not yet" } }
                            }
                        }
                        td.right {
                            @if key.status == KeyStatus::Previous {
                                (action_button(&operator, &format!("/dashboard/keys/{}/revoke", key.kid), "Revoke", "danger",
                                    Some("Revoke this key? It leaves the JWKS at once, so every token it signed stops validating as soon as APIs refresh their keys. Do this only if the key may be compromised.")))
                            }
                        }
                    }
                }
            }
        }
        section.card.warning-card {
            h2 { "Rotate" }
            p { "For every algorithm: the next key becomes current and signs every new token; the current key becomes previous and stays published, so tokens it signed keep validating until they expire. A new next key is published. APIs that cache the JWKS pick the change up without a restart." }
            (action_button(&operator, "/dashboard/keys/rotate", "Rotate signing keys", "warning",
                Some("Rotate the signing keys now?")))
        }
        section.card.danger {
            h2 { "Revoke" }
            p { "Revoking a previous key withdraws it from the JWKS immediately: tokens it signed are rejected from then on, even before they expire. Use it when a key may be compromised, after a rotation. The current and next keys cannot be revoked; rotate first." }
        }
    };
    Ok(layout::page(
        "Signing keys",
        &operator,
        Nav::Keys,
        layout::notice(query.notice.as_deref()),
        content,
    )
    .into_response())
}

pub(crate) async fn rotate(SignedForm { admin, .. }: SignedForm) -> Result<Response, PageError> {
    admin.rotate_keys(None).await?;
    Ok(see_other("/dashboard/keys", "keys-rotated"))
}

pub(crate) async fn revoke(
    Path(kid): Path<String>,
    SignedForm { admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    match admin.revoke_key(&kid).await {
        Ok(_) => {}
        Err(AdminError::Conflict(message) | AdminError::Invalid(message)) => {
            return Ok(layout::bare_page("Cannot revoke this key", &message).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/dashboard/keys", "key-revoked"))
}
