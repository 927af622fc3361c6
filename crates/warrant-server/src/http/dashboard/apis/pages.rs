//! The HTML of the API pages: the list, the create form, and an API's page with its tabs.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::super::forms::{FieldErrors, Form};
use super::super::layout::{self, Nav, copyable, csrf, field};
use super::snippets::Snippets;
use super::tabs::{Tab, TabState};
use crate::admin::AdminError;
use crate::admin::operators::OperatorSession;
use crate::domain::SigningAlg;
use crate::domain::{Application, ClientGrant, DEFAULT_TOKEN_LIFETIME, ResourceServer};

/// The list of APIs.
pub(super) fn list(
    operator: &OperatorSession,
    apis: &[ResourceServer],
    notice: Option<&str>,
) -> Response {
    let content = html! {
        div.page-head {
            h1 { "APIs" }
            a.button.primary href="/dashboard/apis/new" { "+ Create API" }
        }
        p.muted { "An API is an audience tokens are issued for: its identifier is the " code { "audience" } " clients ask for and the " code { "aud" } " their tokens carry." }
        @if apis.is_empty() {
            div.card.empty { p { "No APIs yet. " a href="/dashboard/apis/new" { "Create the first one" } "." } }
        } @else {
            table.list {
                thead { tr { th { "Name" } th { "Identifier (audience)" } th { "Permissions" } th { "Token lifetime" } } }
                tbody {
                    @for api in apis {
                        tr {
                            td { a href={ "/dashboard/apis/" (api.id) } { (api.name) } }
                            td { code { (api.identifier) } }
                            td { (api.scopes.len()) }
                            td { (layout::duration(u64::from(api.token_lifetime))) }
                        }
                    }
                }
            }
        }
    };
    layout::page("APIs", operator, Nav::Apis, notice, content).into_response()
}

/// The create form, with `form` as sent and its `errors` (422 when there are some).
pub(super) fn new_form(operator: &OperatorSession, form: &Form, errors: &FieldErrors) -> Response {
    let lifetime = match form.text("token_lifetime") {
        "" => DEFAULT_TOKEN_LIFETIME.to_string(),
        text => text.to_owned(),
    };
    let content = html! {
        h1 { "Create API" }
        form.card method="post" action="/dashboard/apis" novalidate {
            (csrf(operator))
            @if let Some(error) = errors.get("") { p.error role="alert" { (error) } }
            (field("Name", "name", form.text("name"), errors.get("name"), Some("A friendly name, such as Documents API.")))
            (field("Identifier", "identifier", form.text("identifier"), errors.get("identifier"),
                Some("A URI such as https://documents.example.com. It becomes the audience and cannot change later.")))
            (field("Token lifetime (seconds)", "token_lifetime", &lifetime, errors.get("token_lifetime"),
                Some("How long the tokens for this API are valid. 86400 is 24 hours.")))
            (algorithm_select(match form.text("signing_alg") { "" => SigningAlg::RS256.as_str(), alg => alg }, errors.get("signing_alg")))
            div.actions {
                button.primary type="submit" { "Create" }
                a.button href="/dashboard/apis" { "Cancel" }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        layout::page("Create API", operator, Nav::Apis, None, content),
    )
        .into_response()
}

/// The signing algorithm: `selected` chosen (the submitted value when a form comes back).
fn algorithm_select(selected: &str, error: Option<&str>) -> Markup {
    let hint = |alg: SigningAlg| match alg {
        SigningAlg::RS256 => "widest compatibility: every JWT library verifies it",
        SigningAlg::PS256 => "RSA with PSS padding, for policies that require it",
        SigningAlg::ES256 => "ECDSA P-256: signing many times faster than RSA, smaller tokens",
        SigningAlg::EdDSA => {
            "Ed25519: as fast as ES256; check that your APIs' JWT library supports it"
        }
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for="signing_alg" { "Signing algorithm" }
            select #signing_alg name="signing_alg" aria-invalid=[error.map(|_| "true")] {
                @for alg in SigningAlg::ALL {
                    option value=(alg.as_str()) selected[alg.as_str() == selected] {
                        (alg.as_str()) " — " (hint(alg))
                    }
                }
            }
            @if let Some(error) = error {
                p.field-error id="signing_alg-error" { (error) }
            } @else {
                p.hint { "Tokens are verifiable with the public keys at /.well-known/jwks.json. A change applies to new tokens; tokens already issued stay valid until they expire." }
            }
        }
    }
}

/// Whether the API's tokens are bound to a DPoP key: `selected` is `off`, `optional` or
/// `required`.
fn dpop_select(selected: &str, error: Option<&str>) -> Markup {
    const CHOICES: [(&str, &str); 3] = [
        (
            "off",
            "Off — bearer tokens; a client that sends a DPoP proof still gets a bound token",
        ),
        (
            "optional",
            "Optional — a client that sends a DPoP proof gets a bound token",
        ),
        (
            "required",
            "Required — a token request without a DPoP proof is refused",
        ),
    ];
    html! {
        div.field.invalid[error.is_some()] {
            label for="dpop" { "Sender-constrained tokens (DPoP)" }
            select #dpop name="dpop" aria-invalid=[error.map(|_| "true")] {
                @for (value, label) in CHOICES {
                    option value=(value) selected[value == selected] { (label) }
                }
            }
            @if let Some(error) = error {
                p.field-error id="dpop-error" { (error) }
            } @else {
                p.hint { "A DPoP-bound token (RFC 9449) is worthless without the private key of the client it was issued to. Applies to token requests from now on." }
            }
        }
    }
}

/// The dashboard's name for an API's proof-of-possession setting.
pub(super) fn dpop_choice(api: &ResourceServer) -> &'static str {
    match api.proof_of_possession {
        None => "off",
        Some(p) if p.required => "required",
        Some(_) => "optional",
    }
}

/// An API's page: its name, the tab bar, and `body`, the tab shown (422 when `state` holds
/// a refused form's errors).
pub(super) fn api_page(
    operator: &OperatorSession,
    api: &ResourceServer,
    tab: Tab,
    notice: Option<&str>,
    state: &TabState,
    body: Markup,
) -> Response {
    let content = html! {
        p.crumbs { a href="/dashboard/apis" { "APIs" } " / " }
        div.page-head {
            div {
                h1 { (api.name) }
                p.muted { "Identifier " (copyable("api-identifier", &api.identifier)) }
            }
        }
        (layout::tab_bar(&format!("/dashboard/apis/{}", api.id), &Tab::ALL, tab))
        (body)
    };
    let status = if state.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        layout::page(&api.name, operator, Nav::Apis, notice, content),
    )
        .into_response()
}

pub(super) fn settings_tab(
    operator: &OperatorSession,
    api: &ResourceServer,
    state: &TabState,
) -> Markup {
    let errors = &state.errors;
    let (name, lifetime, alg, dpop) = if errors.is_empty() {
        (
            api.name.clone(),
            api.token_lifetime.to_string(),
            api.signing_alg.as_str().to_owned(),
            dpop_choice(api).to_owned(),
        )
    } else {
        (
            state.form.text("name").to_owned(),
            state.form.text("token_lifetime").to_owned(),
            state.form.text("signing_alg").to_owned(),
            state.form.text("dpop").to_owned(),
        )
    };
    html! {
        form.card method="post" action={ "/dashboard/apis/" (api.id) "/settings" } novalidate {
            (csrf(operator))
            (field("Name", "name", &name, errors.get("name"), None))
            (field("Token lifetime (seconds)", "token_lifetime", &lifetime, errors.get("token_lifetime"),
                Some("Tokens issued from now on get this lifetime.")))
            (algorithm_select(&alg, errors.get("signing_alg")))
            (dpop_select(&dpop, errors.get("dpop")))
            div.actions { button.primary type="submit" { "Save" } }
        }
        section.card.danger {
            h2 { "Delete this API" }
            p { "Every application loses its access to it at once, and tokens for it can no longer be issued. Tokens already issued stay valid until they expire." }
            form method="post" action={ "/dashboard/apis/" (api.id) "/delete" } novalidate {
                (csrf(operator))
                (field("Type the identifier to confirm", "confirm", "", errors.get("confirm"), None))
                button.danger type="submit" { "Delete API" }
            }
        }
    }
}

pub(super) fn permissions_tab(
    operator: &OperatorSession,
    api: &ResourceServer,
    state: &TabState,
) -> Markup {
    let errors = &state.errors;
    html! {
        form.card method="post" action={ "/dashboard/apis/" (api.id) "/permissions" } novalidate {
            h2 { "Add a permission" }
            p.muted { "Permissions are the scopes applications can be granted, such as " code { "read:documents" } "." }
            (csrf(operator))
            div.row {
                (field("Permission (scope)", "value", state.form.text("value"), errors.get("value"), None))
                (field("Description", "description", state.form.text("description"), errors.get("description"), None))
            }
            div.actions { button.primary type="submit" { "+ Add" } }
        }
        @if api.scopes.is_empty() {
            div.card.empty { p { "This API defines no permissions yet." } }
        } @else {
            table.list {
                thead { tr { th { "Permission" } th { "Description" } th {} } }
                tbody {
                    @for scope in &api.scopes {
                        tr {
                            td { code { (scope.value) } }
                            td { (scope.description) }
                            td.right {
                                form.inline method="post" action={ "/dashboard/apis/" (api.id) "/permissions/remove" }
                                    data-confirm={ "Remove " (scope.value) "? Applications granted it stop receiving it." } {
                                    (csrf(operator))
                                    input type="hidden" name="value" value=(scope.value);
                                    button.link.danger-text type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The authorized applications first (`authorized` of them), then others; `hidden` more exist.
pub(super) fn applications_tab(
    operator: &OperatorSession,
    api: &ResourceServer,
    apps: &[Application],
    grants: &[ClientGrant],
    authorized: usize,
    hidden: u64,
) -> Markup {
    let by_client: HashMap<&str, &ClientGrant> =
        grants.iter().map(|g| (g.client_id.as_str(), g)).collect();
    html! {
        p.muted { "Authorize applications to request tokens for this API, and choose the permissions each may receive. " (authorized) " authorized." }
        @if hidden > 0 {
            p.muted { (hidden) " more applications are not listed here; authorize them from their own page (Applications → the application → Change authorizations)." }
        }
        @if apps.is_empty() {
            div.card.empty { p { "No applications yet. " a href="/dashboard/applications/new" { "Create one" } "." } }
        }
        @for application in apps {
            @let grant = by_client.get(application.client_id.as_str());
            form.card.grant method="post" action={ "/dashboard/apis/" (api.id) "/applications" } {
                (csrf(operator))
                input type="hidden" name="client_id" value=(application.client_id);
                div.grant-head {
                    label.switch {
                        input type="checkbox" name="authorized" checked[grant.is_some()];
                        span { strong { (application.name) } " " span.muted { (application.client_id) } }
                    }
                    span.badge.on[grant.is_some()] { @if grant.is_some() { "Authorized" } @else { "Unauthorized" } }
                }
                @if !api.scopes.is_empty() {
                    fieldset.scopes {
                        legend { "Permissions" }
                        @for scope in &api.scopes {
                            label.check {
                                input type="checkbox" name="scope" value=(scope.value)
                                    checked[grant.is_some_and(|g| g.scopes.contains(&scope.value))];
                                code { (scope.value) }
                                @if !scope.description.is_empty() { span.muted { " " (scope.description) } }
                            }
                        }
                    }
                }
                div.actions { button type="submit" { "Update" } }
            }
        }
    }
}

/// The Test tab: a form that issues a test token to an authorized application (unless
/// `refused` says why the API gets none), the token issued, and code samples.
pub(super) fn test_tab(
    operator: &OperatorSession,
    api: &ResourceServer,
    apps: &[Application],
    grants: &[ClientGrant],
    state: &TabState,
    issuer: &str,
    refused: Option<AdminError>,
) -> Markup {
    let authorized: Vec<&Application> = apps
        .iter()
        .filter(|a| grants.iter().any(|g| g.client_id == a.client_id))
        .collect();
    let selected = state
        .token
        .as_ref()
        .map(|t| t.client_id.as_str())
        .or_else(|| authorized.first().map(|a| a.client_id.as_str()))
        .unwrap_or("");
    let Snippets { curl, python, rust } = Snippets::new(issuer, selected, &api.identifier);
    html! {
        @if let Some(error) = state.errors.get("client_id") { p.error role="alert" { (error) } }
        @if let Some(refused) = refused {
            div.card.empty #test-refused { p { (refused) } }
        } @else if authorized.is_empty() {
            div.card.empty {
                p { "No application is authorized for this API yet. Authorize one on the "
                    a href={ "/dashboard/apis/" (api.id) "?tab=applications" } { "Machine to Machine Applications" } " tab." }
            }
        } @else {
            form.card method="post" action={ "/dashboard/apis/" (api.id) "/test" } {
                (csrf(operator))
                h2 { "Get a test token" }
                p.muted { "Issues a real token for the application chosen, with every permission it is granted. It is recorded in the audit log." }
                div.field {
                    label for="test-client" { "Application" }
                    select #test-client name="client_id" {
                        @for a in &authorized {
                            option value=(a.client_id) selected[a.client_id == selected] { (a.name) " (" (a.client_id) ")" }
                        }
                    }
                }
                div.actions { button.primary #get-token type="submit" { "Get token" } }
            }
        }
        @if let Some(token) = &state.token {
            section.card #test-result {
                h2 { "Access token for " (token.client_name) }
                p.muted { "Valid for " (layout::duration(u64::from(token.expires_in))) ". Send it as " code { "Authorization: Bearer <token>" } "." }
                div.secret-box {
                    code #access-token { (token.access_token) }
                    button.copy type="button" data-copy="access-token" { "Copy" }
                }
                div.row {
                    div { h3 { "Header" } pre #token-header { (token.header) } }
                    div { h3 { "Claims" } pre #token-claims { (token.claims) } }
                }
            }
        }
        section.card {
            h2 { "Ask for a token from your code" }
            p.muted { "Replace YOUR_CLIENT_SECRET with the application's secret; keep it out of source control." }
            h3 { "curl" }
            div.snippet { pre #snippet-curl { (curl) } button.copy type="button" data-copy="snippet-curl" { "Copy" } }
            h3 { "Python (httpx)" }
            div.snippet { pre #snippet-python { (python) } button.copy type="button" data-copy="snippet-python" { "Copy" } }
            h3 { "Rust (warrant-client)" }
            div.snippet { pre #snippet-rust { (rust) } button.copy type="button" data-copy="snippet-rust" { "Copy" } }
        }
    }
}
