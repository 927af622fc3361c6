//! Trusted issuers (workload identity federation): the external issuers whose tokens
//! applications may present instead of a secret; add one, remove one nobody uses.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Nav, action_button, csrf, field};
use super::session::{Operator, SignedForm};
use super::{AppState, PageError, see_other};
use crate::admin::AdminError;
use crate::domain::{IssuerKeySource, NewTrustedIssuer};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let issuers = app.admin.list_trusted_issuers().await?;
    let content = html! {
        h1 { "Trusted issuers" }
        p.muted { "Workloads that hold a token from one of these issuers (a Kubernetes service-account token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID) can present it instead of a client secret, as the application a federated credential binds them to. Keys come only from here, over https." }
        @if issuers.is_empty() {
            p #no-issuers { "No trusted issuers yet." }
        } @else {
            table.list #issuers {
                thead { tr { th { "Issuer" } th { "Keys" } th { "Algorithms" } th { "Longest assertion" } th {} } }
                tbody {
                    @for issuer in &issuers {
                        tr {
                            td { code { (issuer.issuer) } @if issuer.name != issuer.issuer { br; span.muted { (issuer.name) } } }
                            td {
                                @match &issuer.keys {
                                    IssuerKeySource::Discovery => { "discovery" }
                                    IssuerKeySource::JwksUri(uri) => { code { (uri) } }
                                    IssuerKeySource::Inline(_) => { "uploaded" }
                                }
                            }
                            td { (issuer.algorithm_names().replace(',', ", ")) }
                            td { (issuer.max_assertion_lifetime) " s" }
                            td.right {
                                (action_button(&operator, &format!("/dashboard/issuers/{}/remove", issuer.id), "Remove", "danger",
                                    Some("Stop trusting this issuer? Its workloads can no longer authenticate.")))
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Trust an issuer" }
            form method="post" action="/dashboard/issuers" {
                (csrf(&operator))
                (field("Issuer", "issuer", "", None, Some("exactly the tokens' iss: an https URL, or spiffe://<trust domain>")))
                (field("JWKS URL", "jwks_uri", "", None, Some("empty: from the issuer's discovery document")))
                (field("Algorithms", "algorithms", "RS256", None, Some("comma-separated: RS256, ES256, …")))
                (field("Longest assertion lifetime (seconds)", "max_assertion_lifetime", "3600", None, None))
                button.primary type="submit" { "Trust issuer" }
            }
        }
    };
    Ok(layout::page(
        "Trusted issuers",
        &operator,
        Nav::Issuers,
        layout::notice(query.notice.as_deref()),
        content,
    )
    .into_response())
}

pub(crate) async fn create(
    SignedForm { admin, form, .. }: SignedForm,
) -> Result<Response, PageError> {
    let lifetime = form.text("max_assertion_lifetime");
    let max_assertion_lifetime = if lifetime.is_empty() {
        None
    } else {
        match lifetime.parse() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return Ok(layout::bare_page(
                    "Cannot trust this issuer",
                    "The longest assertion lifetime is a number of seconds.",
                )
                .into_response());
            }
        }
    };
    let jwks_uri = Some(form.text("jwks_uri").to_owned()).filter(|u| !u.is_empty());
    let new = NewTrustedIssuer {
        issuer: form.text("issuer").to_owned(),
        jwks_uri,
        algorithms: form
            .text("algorithms")
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        max_assertion_lifetime,
        ..NewTrustedIssuer::default()
    };
    match admin.create_trusted_issuer(new).await {
        Ok(_) => Ok(see_other("/dashboard/issuers", "issuer-added")),
        Err(AdminError::Invalid(message) | AdminError::Conflict(message)) => {
            Ok(layout::bare_page("Cannot trust this issuer", &message).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn remove(
    Path(id): Path<String>,
    SignedForm { admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    match admin.delete_trusted_issuer(&id).await {
        Ok(()) => Ok(see_other("/dashboard/issuers", "issuer-removed")),
        Err(AdminError::Conflict(message)) => {
            Ok(layout::bare_page("Cannot remove this issuer", &message).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
