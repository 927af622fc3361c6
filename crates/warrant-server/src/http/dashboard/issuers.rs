//! Trusted issuers (workload identity federation): the external issuers whose tokens
//! applications may present instead of a secret; add one, change one (its own page), remove
//! one nobody uses.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::forms::{FieldErrors, Form, submit};
use super::layout::{self, Nav, action_button, csrf, field, text_area};
use super::session::{Operator, SignedForm};
use super::{AppState, PageError, see_other};
use crate::admin::AdminError;
use crate::admin::operators::OperatorSession;
use crate::domain::{IssuerKeySource, NewTrustedIssuer, TrustedIssuer, TrustedIssuerPatch};

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
                                a.button href=(format!("/dashboard/issuers/{}", issuer.id)) { "Edit" }
                                " "
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

/// The algorithms field, comma-separated, as names.
fn algorithm_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
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
        algorithms: algorithm_list(form.text("algorithms")),
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

/// The edit form's values: as stored, or as posted when the change was refused.
struct EditValues {
    name: String,
    keys: String,
    jwks_uri: String,
    jwks: String,
    algorithms: String,
    max_assertion_lifetime: String,
}

impl EditValues {
    fn of(issuer: &TrustedIssuer) -> Self {
        let (jwks_uri, jwks) = match &issuer.keys {
            IssuerKeySource::Discovery => (String::new(), String::new()),
            IssuerKeySource::JwksUri(uri) => (uri.clone(), String::new()),
            IssuerKeySource::Inline(text) => (String::new(), text.clone()),
        };
        Self {
            name: issuer.name.clone(),
            keys: issuer.keys.kind().to_owned(),
            jwks_uri,
            jwks,
            algorithms: issuer.algorithm_names().replace(',', ", "),
            max_assertion_lifetime: issuer.max_assertion_lifetime.to_string(),
        }
    }

    fn posted(form: &Form) -> Self {
        Self {
            name: form.text("name").to_owned(),
            keys: form.text("keys").to_owned(),
            jwks_uri: form.text("jwks_uri").to_owned(),
            jwks: form.text("jwks").to_owned(),
            algorithms: form.text("algorithms").to_owned(),
            max_assertion_lifetime: form.text("max_assertion_lifetime").to_owned(),
        }
    }
}

fn edit_page(
    operator: &OperatorSession,
    issuer: &TrustedIssuer,
    values: &EditValues,
    errors: &FieldErrors,
) -> Response {
    const SOURCES: [(&str, &str); 3] = [
        ("discovery", "From the issuer's discovery document"),
        ("jwks_uri", "From the JWKS URL below"),
        ("inline", "The JWKS below, uploaded (nothing is fetched)"),
    ];
    let content = html! {
        h1 { "Trusted issuer " code { (issuer.issuer) } }
        p.muted { "The issuer URL cannot change: for another one, trust it, move the federated credentials to it, then remove this one. A change applies to the next token request, on every instance." }
        @if let Some(error) = errors.get("") { p.error role="alert" { (error) } }
        section.card {
            form #edit-issuer method="post" action=(format!("/dashboard/issuers/{}", issuer.id)) {
                (csrf(operator))
                (field("Name", "name", &values.name, errors.get("name"), None))
                div.field {
                    label for="keys" { "Keys" }
                    select #keys name="keys" {
                        @for (value, label) in SOURCES {
                            option value=(value) selected[value == values.keys] { (label) }
                        }
                    }
                }
                (field("JWKS URL", "jwks_uri", &values.jwks_uri, errors.get("jwks_uri"), Some("an https URL")))
                (text_area("JWKS", "jwks", &values.jwks, errors.get("jwks"), "{\"keys\": [...]}, each key with its kid"))
                @if let Some(path) = &issuer.bearer_token_file { p.hint { "Bearer token file: " code { (path) } " (change it with the CLI or the management API)" } }
                @if let Some(path) = &issuer.ca_file { p.hint { "CA file: " code { (path) } " (change it with the CLI or the management API)" } }
                (field("Algorithms", "algorithms", &values.algorithms, errors.get("algorithms"), Some("comma-separated: RS256, ES256, …")))
                (field("Longest assertion lifetime (seconds)", "max_assertion_lifetime", &values.max_assertion_lifetime, errors.get("max_assertion_lifetime"), Some("60 to 86400")))
                button.primary type="submit" { "Save" }
                " "
                a href="/dashboard/issuers" { "Cancel" }
            }
        }
    };
    layout::page("Trusted issuer", operator, Nav::Issuers, None, content).into_response()
}

pub(crate) async fn edit(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let issuer = app.admin.get_trusted_issuer(&id).await?;
    Ok(edit_page(
        &operator,
        &issuer,
        &EditValues::of(&issuer),
        &FieldErrors::default(),
    ))
}

pub(crate) async fn update(
    Path(id): Path<String>,
    SignedForm {
        operator,
        admin,
        form,
    }: SignedForm,
) -> Result<Response, PageError> {
    let issuer = admin.get_trusted_issuer(&id).await?;
    let values = EditValues::posted(&form);
    let (jwks_uri, jwks) = match values.keys.as_str() {
        "jwks_uri" => (Some(Some(values.jwks_uri.clone())), Some(None)),
        "inline" => (Some(None), Some(Some(values.jwks.clone()))),
        _ => (Some(None), Some(None)),
    };
    let asked = FieldErrors::read(
        "max_assertion_lifetime",
        values
            .max_assertion_lifetime
            .parse()
            .map_err(|_| "the longest assertion lifetime is a number of seconds"),
    )
    .map(|seconds| TrustedIssuerPatch {
        name: Some(values.name.clone()),
        jwks_uri,
        jwks,
        algorithms: Some(algorithm_list(&values.algorithms)),
        max_assertion_lifetime: Some(seconds),
        ..TrustedIssuerPatch::default()
    });
    match submit(asked, "", |patch| {
        admin.update_trusted_issuer(&issuer.id, patch)
    })
    .await?
    {
        Ok(_) => Ok(see_other("/dashboard/issuers", "issuer-saved")),
        Err(errors) => Ok(edit_page(&operator, &issuer, &values, &errors)),
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
