//! The HTML of the application pages: the list, the create form with its authorization
//! matrix, and an application's page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::super::forms::{FieldErrors, Form};
use super::super::layout::{self, Nav, action_button, csrf, field, text_area};
use crate::admin::ApplicationDetails;
use crate::admin::operators::OperatorSession;
use crate::domain::{
    Application, ClientGrant, CustomClaims, PlainSecret, PublicKeyCredential, ResourceServer,
};

/// `client_metadata` as the settings form shows it: one `KEY=VALUE` a line.
fn metadata_text(application: &Application) -> String {
    application
        .client_metadata
        .iter()
        .map(|(key, value)| format!("{key}={value}\n"))
        .collect()
}

/// Custom claims as the forms show them: pretty JSON, blank when none.
fn claims_text(claims: &CustomClaims) -> String {
    if claims.is_empty() {
        return String::new();
    }
    serde_json::to_string_pretty(claims).unwrap_or_default()
}

/// One page of the list: `apps` (from the `first`th, of `total`) with how many APIs each is
/// authorized for.
pub(super) fn list(
    operator: &OperatorSession,
    apps: &[Application],
    grant_counts: &[usize],
    page: u64,
    first: u64,
    total: u64,
    notice: Option<&str>,
) -> Response {
    let content = html! {
        div.page-head {
            h1 { "Applications" }
            a.button.primary href="/dashboard/applications/new" { "+ Create Application" }
        }
        p.muted { "Machine-to-machine applications: services, jobs and agents that exchange their client ID and secret for tokens." }
        @if total == 0 {
            div.card.empty { p { "No applications yet. " a href="/dashboard/applications/new" { "Create the first one" } "." } }
        } @else {
            table.list {
                thead { tr { th { "Name" } th { "Client ID" } th { "Authorized APIs" } th { "Created" } } }
                tbody {
                    @for (a, grants) in apps.iter().zip(grant_counts) {
                        tr {
                            td { a href={ "/dashboard/applications/" (a.client_id) } { (a.name) }
                                 @if !a.description.is_empty() { div.muted.small { (a.description) } } }
                            td { code { (a.client_id) } }
                            td { (grants) }
                            td { (layout::when(a.created_at)) }
                        }
                    }
                }
            }
            (layout::pager("/dashboard/applications", page, first, apps.len(), total))
        }
    };
    layout::page("Applications", operator, Nav::Applications, notice, content).into_response()
}

/// The APIs with their scopes as checkboxes: `api` (an API's id) authorizes it, `scope:<id>`
/// its permissions.
fn authorization_matrix(
    apis: &[ResourceServer],
    granted: &dyn Fn(&ResourceServer) -> Option<Vec<String>>,
) -> Markup {
    html! {
        @if apis.is_empty() {
            p.muted { "There are no APIs yet; " a href="/dashboard/apis/new" { "create one" } " to authorize applications for it." }
        }
        @for api in apis {
            @let grant = granted(api);
            div.grant {
                label.switch {
                    input type="checkbox" name="api" value=(api.id) checked[grant.is_some()];
                    span { strong { (api.name) } " " code.muted { (api.identifier) } }
                }
                @if !api.scopes.is_empty() {
                    fieldset.scopes {
                        legend { "Permissions" }
                        @for scope in &api.scopes {
                            label.check {
                                input type="checkbox" name={ "scope:" (api.id) } value=(scope.value)
                                    checked[grant.as_ref().is_some_and(|g| g.contains(&scope.value))];
                                code { (scope.value) }
                                @if !scope.description.is_empty() { span.muted { " " (scope.description) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The create form, with `form` as sent and its `errors` (422 when there are some).
pub(super) fn new_form(
    operator: &OperatorSession,
    apis: &[ResourceServer],
    form: &Form,
    errors: &FieldErrors,
) -> Response {
    let content = html! {
        h1 { "Create Application" }
        form.card method="post" action="/dashboard/applications" novalidate {
            (csrf(operator))
            p.muted { "Type: " strong { "Machine to Machine" } ". It authenticates with a client ID and secret (the client credentials grant)." }
            @if let Some(error) = errors.get("") { p.error role="alert" { (error) } }
            (field("Name", "name", form.text("name"), errors.get("name"), Some("Such as Billing worker.")))
            (field("Description", "description", form.text("description"), errors.get("description"), Some("Optional: who runs it and what for.")))
            h2 { "Authorize" }
            p.muted { "Choose the APIs this application may call and the permissions it gets on each." }
            @if let Some(error) = errors.get("api") { p.field-error { (error) } }
            (authorization_matrix(apis, &|api| {
                form.all("api").any(|id| id == api.id).then(|| form.all(&format!("scope:{}", api.id)).map(str::to_owned).collect())
            }))
            div.actions {
                button.primary type="submit" { "Create and authorize" }
                a.button href="/dashboard/applications" { "Cancel" }
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
        layout::page(
            "Create Application",
            operator,
            Nav::Applications,
            None,
            content,
        ),
    )
        .into_response()
}
/// An application's page. `secret` is set only right after creation or rotation: the one
/// time it is shown. `apis` name the APIs it is authorized for; `now` tells its active
/// secrets.
#[allow(clippy::too_many_arguments)]
pub(super) fn application(
    operator: &OperatorSession,
    details: &ApplicationDetails,
    credentials: &[PublicKeyCredential],
    apis: &[ResourceServer],
    now: u64,
    notice: Option<&str>,
    secret: Option<&PlainSecret>,
    form: &Form,
    errors: &FieldErrors,
    federated: Markup,
) -> Response {
    let application = &details.application;
    let base = format!("/dashboard/applications/{}", application.client_id);
    // The nearest expiry of a credential still working, of any kind.
    let nearest = details
        .secrets
        .iter()
        .filter(|s| s.is_active(now))
        .filter_map(|s| s.expires_at)
        .chain(credentials.iter().filter_map(|c| c.expires_at))
        .filter(|at| *at > now)
        .min();
    let api_name = |grant: &ClientGrant| {
        apis.iter()
            .find(|a| a.identifier == grant.audience)
            .map(|a| (a.id.clone(), a.name.clone()))
    };
    let content = html! {
        p.crumbs { a href="/dashboard/applications" { "Applications" } " / " }
        div.page-head {
            div {
                h1 { (application.name) }
                p.muted { "Machine to Machine · created " (layout::when(application.created_at)) }
            }
        }
        @if let Some(at) = nearest.filter(|at| at.saturating_sub(now) <= layout::EXPIRY_WARNING) {
            div.card.warning-card #expiry-warning role="status" {
                p { strong { "A credential of this application expires soon: " } (layout::expiry(Some(at), now)) ". Rotate it before then." }
            }
        }
        (super::credentials::section(operator, details, credentials, now, secret, form, errors))
        (federated)
        section.card {
            h2 { "Authorized APIs" }
            @if details.grants.is_empty() {
                p.muted { "Not authorized for any API: it cannot get tokens yet." }
            } @else {
                table.list #grants {
                    thead { tr { th { "API" } th { "Permissions" } th { "Custom claims" } th {} } }
                    tbody {
                        @for grant in &details.grants {
                            tr {
                                td {
                                    @if let Some((id, name)) = api_name(grant) { a href={ "/dashboard/apis/" (id) } { (name) } br; }
                                    code.muted { (grant.audience) }
                                }
                                td { @for scope in &grant.scopes { code.scope { (scope) } " " } @if grant.scopes.is_empty() { span.muted { "none" } } }
                                td {
                                    form.grant-claims method="post" action={ (base) "/grants/" (grant.id) "/claims" } {
                                        (csrf(operator))
                                        textarea name="custom_claims" rows="2" spellcheck="false"
                                            aria-label={ "Custom claims of the grant for " (grant.audience) } { (claims_text(&grant.custom_claims)) }
                                        button.link type="submit" { "Save claims" }
                                    }
                                }
                                td.right {
                                    (action_button(operator, &format!("{base}/grants/{}/revoke", grant.id), "Revoke", "link danger-text",
                                        Some("Revoke this grant? The application gets no new tokens for this API; tokens already issued stay valid until they expire.")))
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(error) = errors.get("grant_claims") { p.field-error #grant-claims-error role="alert" { (error) } }
            p.hint { "A grant's custom claims (a JSON object) override the application's of the same name in its tokens." }
            details {
                summary { "Change authorizations" }
                form method="post" action={ (base) "/grants" } {
                    (csrf(operator))
                    @if let Some(error) = errors.get("api") { p.field-error { (error) } }
                    (authorization_matrix(apis, &|api| {
                        details.grants.iter().find(|g| g.audience == api.identifier).map(|g| g.scopes.clone())
                    }))
                    div.actions { button.primary type="submit" { "Save authorizations" } }
                }
            }
        }
        section.card {
            h2 { "Settings" }
            form method="post" action={ (base) "/settings" } novalidate {
                (csrf(operator))
                (field("Name", "name", &application.name, errors.get("name"), None))
                (field("Description", "description", &application.description, errors.get("description"), None))
                (text_area("Metadata", "client_metadata", &metadata_text(application), errors.get("client_metadata"),
                    "client_metadata: one KEY=VALUE a line, at most 10."))
                (text_area("Custom claims", "custom_claims", &claims_text(&application.custom_claims), errors.get("custom_claims"),
                    "Claims in every token, as a JSON object: strings, numbers, booleans or arrays of them; \"{{client_metadata.KEY}}\" copies a metadata value."))
                div.actions { button.primary type="submit" { "Save" } }
            }
        }
        section.card.danger {
            h2 { "Delete this application" }
            p { "Its secrets stop working at once and it can get no more tokens. Tokens already issued stay valid until they expire." }
            form method="post" action={ (base) "/delete" } novalidate {
                (csrf(operator))
                (field("Type the application's name to confirm", "confirm", "", errors.get("confirm"), None))
                button.danger type="submit" { "Delete application" }
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
        layout::page(
            &application.name,
            operator,
            Nav::Applications,
            notice,
            content,
        ),
    )
        .into_response()
}
