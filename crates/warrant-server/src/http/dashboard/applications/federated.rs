//! An application's federated credentials on its page: which workloads of which trusted
//! issuers authenticate as it (workload identity federation); add one, remove one.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::super::layout::{self, action_button, csrf, field};
use super::super::session::SignedForm;
use super::super::{AppState, PageError, see_other};
use crate::admin::AdminError;
use crate::admin::operators::OperatorSession;
use crate::domain::NewFederatedCredential;

/// The section of the application `client_id`'s page.
pub(super) async fn section(
    app: &AppState,
    operator: &OperatorSession,
    client_id: &str,
) -> Result<Markup, PageError> {
    let credentials = app.admin.list_federated_credentials(client_id).await?;
    let issuers = app.admin.list_trusted_issuers().await?;
    let base = format!("/dashboard/applications/{client_id}/federated");
    let issuer_of = |id: &str| {
        issuers
            .iter()
            .find(|i| i.id == id)
            .map_or(id.to_owned(), |i| i.issuer.clone())
    };
    Ok(html! {
        section.card #federated {
            h2 { "Federated credentials" }
            p.muted { "Workloads whose platform token (Kubernetes, GitHub Actions, SPIFFE) authenticates as this application, without a secret. " a href="/dashboard/issuers" { "Trusted issuers" } }
            @if credentials.is_empty() {
                p.muted { "None." }
            } @else {
                table.list {
                    thead { tr { th { "Issuer" } th { "Subject" } th { "Audience" } th { "Conditions" } th { "Expires" } th {} } }
                    tbody {
                        @for cred in &credentials {
                            tr {
                                td { code { (issuer_of(&cred.issuer_id)) } }
                                td { code { (cred.subject) } }
                                td { @match &cred.audience { Some(aud) => { code { (aud) } } None => { span.muted { "the issuer URL" } } } }
                                td { @for c in &cred.conditions { code { (c.claim) " = " (c.value) } br; } }
                                td { @match cred.expires_at { Some(at) => { (layout::when(at)) } None => { span.muted { "never" } } } }
                                td.right {
                                    (action_button(operator, &format!("{base}/{}/remove", cred.id), "Remove", "danger",
                                        Some("Remove this federated credential? Its workloads can no longer authenticate.")))
                                }
                            }
                        }
                    }
                }
            }
            @if issuers.is_empty() {
                p.muted { "Trust an issuer first to bind workloads." }
            } @else {
                form method="post" action=(base) {
                    (csrf(operator))
                    div.field {
                        label for="federated-issuer" { "Issuer" }
                        select #federated-issuer name="issuer" {
                            @for issuer in &issuers { option value=(issuer.id) { (issuer.issuer) } }
                        }
                    }
                    (field("Subject", "subject", "", None, Some("exact, or * within one segment (segments are separated by / and :), e.g. system:serviceaccount:payments:worker")))
                    (field("Audience", "audience", "", None, Some("empty: Warrant's issuer URL")))
                    (field("Condition", "condition", "", None, Some("optional CLAIM=VALUE, e.g. repository_owner_id=123")))
                    div.field {
                        label { input type="checkbox" name="confirm_broad_subject"; " Confirm a broad subject (only *, or a Kubernetes default service account)" }
                    }
                    button.primary type="submit" { "Add federated credential" }
                }
            }
        }
    })
}

pub(crate) async fn add(
    Path(client_id): Path<String>,
    SignedForm { admin, form, .. }: SignedForm,
) -> Result<Response, PageError> {
    let mut conditions = BTreeMap::new();
    let condition = form.text("condition");
    if !condition.is_empty() {
        let Some((claim, value)) = condition.split_once('=') else {
            return Ok(layout::bare_page(
                "Cannot add this federated credential",
                "A condition is CLAIM=VALUE.",
            )
            .into_response());
        };
        conditions.insert(claim.trim().to_owned(), value.trim().to_owned());
    }
    let new = NewFederatedCredential {
        issuer: form.text("issuer").to_owned(),
        subject: form.text("subject").to_owned(),
        audience: Some(form.text("audience").to_owned()).filter(|a| !a.is_empty()),
        conditions,
        confirm_broad_subject: form.checked("confirm_broad_subject"),
        ..NewFederatedCredential::default()
    };
    match admin.create_federated_credential(&client_id, new).await {
        Ok(_) => Ok(see_other(
            &format!("/dashboard/applications/{client_id}"),
            "federated-added",
        )),
        Err(AdminError::Invalid(message) | AdminError::Conflict(message)) => {
            Ok(layout::bare_page("Cannot add this federated credential", &message).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn remove(
    Path((client_id, id)): Path<(String, String)>,
    SignedForm { admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    admin.delete_federated_credential(&client_id, &id).await?;
    Ok(see_other(
        &format!("/dashboard/applications/{client_id}"),
        "federated-removed",
    ))
}
