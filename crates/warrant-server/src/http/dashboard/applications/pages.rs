//! The HTML of the application pages: the list, the create form with its authorization
//! matrix, and an application's page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::super::forms::{FieldErrors, Form};
use super::super::layout::{self, Nav, action_button, copyable, csrf, field, text_area};
use super::tabs::Tab;
use crate::admin::ApplicationDetails;
use crate::admin::operators::OperatorSession;
use crate::domain::{
    Application, ClientGrant, CustomClaims, FederatedCredential, PublicKeyCredential,
    ResourceServer,
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
            (metadata_and_claims(form.raw("client_metadata"), form.raw("custom_claims"), errors))
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
/// What an application's page shows besides its tab: everything its credentials' expiry banner
/// needs.
pub(super) struct Expiries<'a> {
    pub(super) details: &'a ApplicationDetails,
    pub(super) credentials: &'a [PublicKeyCredential],
    pub(super) federated: &'a [FederatedCredential],
    pub(super) now: u64,
}

impl Expiries<'_> {
    /// The nearest expiry of a credential still working, of any kind: an active secret, a public
    /// key, a federated credential.
    fn nearest(&self) -> Option<u64> {
        let now = self.now;
        self.details
            .secrets
            .iter()
            .filter(|s| s.is_active(now))
            .filter_map(|s| s.expires_at)
            .chain(self.credentials.iter().filter_map(|c| c.expires_at))
            .chain(self.federated.iter().filter_map(|c| c.expires_at))
            .filter(|at| *at > now)
            .min()
    }
}

/// An application's page: its name and client ID, the banner of a credential expiring soon
/// (whichever tab is shown), the tab bar, and `body`, the tab `tab` (422 when `errors` holds a
/// refused form's).
pub(super) fn application(
    operator: &OperatorSession,
    expiries: &Expiries<'_>,
    tab: Tab,
    notice: Option<&str>,
    errors: &FieldErrors,
    body: Markup,
) -> Response {
    let application = &expiries.details.application;
    let now = expiries.now;
    let content = html! {
        p.crumbs { a href="/dashboard/applications" { "Applications" } " / " }
        div.page-head {
            div {
                h1 { (application.name) }
                p.muted { "Machine to Machine · created " (layout::when(application.created_at)) }
                p.muted { "Client ID " (copyable("client-id", &application.client_id)) }
            }
        }
        @if let Some(at) = expiries.nearest().filter(|at| at.saturating_sub(now) <= layout::EXPIRY_WARNING) {
            div.card.warning-card #expiry-warning role="status" {
                p { strong { "A credential of this application expires soon: " } (layout::expiry(Some(at), now)) ". "
                    a href=(Tab::Credentials.url(&application.client_id)) { "Replace it" } " before then." }
            }
        }
        (layout::tab_bar(&format!("/dashboard/applications/{}", application.client_id), &Tab::ALL, tab))
        (body)
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

/// The APIs tab: the grants, each with its permissions, custom claims and *Revoke*, and the
/// authorization matrix to change them.
pub(super) fn apis_tab(
    operator: &OperatorSession,
    details: &ApplicationDetails,
    apis: &[ResourceServer],
    errors: &FieldErrors,
) -> Markup {
    let base = format!("/dashboard/applications/{}", details.application.client_id);
    let api_name = |grant: &ClientGrant| {
        apis.iter()
            .find(|a| a.identifier == grant.audience)
            .map(|a| (a.id.clone(), a.name.clone()))
    };
    html! {
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
            details open[errors.get("api").is_some()] {
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
    }
}

/// The Settings tab: name, description, metadata and custom claims; deletion. `form` is a
/// refused settings form, shown again as sent.
pub(super) fn settings_tab(
    operator: &OperatorSession,
    application: &Application,
    form: &Form,
    errors: &FieldErrors,
) -> Markup {
    let base = format!("/dashboard/applications/{}", application.client_id);
    // A refused settings form is shown as sent; otherwise the stored values.
    let refused = ["name", "description", "client_metadata", "custom_claims"]
        .iter()
        .any(|f| errors.get(f).is_some());
    let (name, description, metadata, claims) = if refused {
        (
            form.text("name").to_owned(),
            form.text("description").to_owned(),
            form.raw("client_metadata").to_owned(),
            form.raw("custom_claims").to_owned(),
        )
    } else {
        (
            application.name.clone(),
            application.description.clone(),
            metadata_text(application),
            claims_text(&application.custom_claims),
        )
    };
    html! {
        section.card {
            h2 { "Settings" }
            form method="post" action={ (base) "/settings" } novalidate {
                (csrf(operator))
                (field("Name", "name", &name, errors.get("name"), None))
                (field("Description", "description", &description, errors.get("description"), None))
                (metadata_and_claims(&metadata, &claims, errors))
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
    }
}

/// The metadata and custom claims fields, on the settings form and the create form alike.
fn metadata_and_claims(metadata: &str, claims: &str, errors: &FieldErrors) -> Markup {
    html! {
        (text_area("Metadata", "client_metadata", metadata, errors.get("client_metadata"),
            "client_metadata: one KEY=VALUE a line, at most 10."))
        (text_area("Custom claims", "custom_claims", claims, errors.get("custom_claims"),
            "Claims in every token, as a JSON object: strings, numbers, booleans or arrays of them; \"{{client_metadata.KEY}}\" copies a metadata value."))
    }
}
