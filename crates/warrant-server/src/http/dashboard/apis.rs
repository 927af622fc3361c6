//! APIs: the list, the create form, and an API's page with its tabs (Settings, Permissions,
//! Machine to Machine Applications, Test).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{Markup, html};
use serde::Deserialize;

use super::forms::{FieldErrors, Form};
use super::layout::{self, Nav, copyable, csrf, field};
use super::session::{Operator, SignedForm};
use super::{AppState, PageError, audit_change, refresh, see_other};
use crate::admin::{ApiPatch, GrantSpec, NewApi};
use crate::domain::events::{AuditEvent, types};
use crate::domain::{
    Application, ClientGrant, DEFAULT_TOKEN_LIFETIME, ResourceServer, Scope, validate_identifier,
    validate_name, validate_scope_value, validate_text,
};
use crate::domain::{MAX_TOKEN_LIFETIME, SigningAlg};
use crate::issuance::{Target, TokenRequest};
use crate::operators::OperatorSession;
use crate::store::GrantFilter;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    tab: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Settings,
    Permissions,
    Applications,
    Test,
}

impl Tab {
    fn parse(tab: Option<&str>) -> Self {
        match tab {
            Some("permissions") => Self::Permissions,
            Some("applications") => Self::Applications,
            Some("test") => Self::Test,
            _ => Self::Settings,
        }
    }

    const ALL: [(Self, &'static str, &'static str); 4] = [
        (Self::Settings, "settings", "Settings"),
        (Self::Permissions, "permissions", "Permissions"),
        (
            Self::Applications,
            "applications",
            "Machine to Machine Applications",
        ),
        (Self::Test, "test", "Test"),
    ];
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
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
                    @for api in &apis {
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
    Ok(layout::page(
        "APIs",
        &operator,
        Nav::Apis,
        layout::notice(query.notice.as_deref()),
        content,
    )
    .into_response())
}

pub(crate) async fn new_page(Operator(operator): Operator) -> Response {
    new_form(&operator, &Form::default(), &FieldErrors::default()).into_response()
}

fn new_form(operator: &OperatorSession, form: &Form, errors: &FieldErrors) -> Response {
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
            (algorithm_select())
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

fn algorithm_select() -> Markup {
    html! {
        div.field {
            label for="signing_alg" { "Signing algorithm" }
            select #signing_alg name="signing_alg" {
                option value=(SigningAlg::RS256.as_str()) selected { "RS256" }
            }
            p.hint { "RS256: verifiable by every JWT library with the public keys at /.well-known/jwks.json." }
        }
    }
}

/// Reads and checks a token lifetime field.
fn lifetime_field(form: &Form, errors: &mut FieldErrors) -> Option<u32> {
    match form.text("token_lifetime").parse::<u32>() {
        Ok(seconds) if (1..=MAX_TOKEN_LIFETIME).contains(&seconds) => Some(seconds),
        _ => {
            errors.add(
                "token_lifetime",
                format!(
                    "Enter a whole number of seconds from 1 to {MAX_TOKEN_LIFETIME} (30 days)."
                ),
            );
            None
        }
    }
}

fn algorithm_field(form: &Form, errors: &mut FieldErrors) -> Option<SigningAlg> {
    match SigningAlg::parse(form.text("signing_alg")) {
        Ok(alg) => Some(alg),
        Err(e) => {
            errors.add("signing_alg", e.0);
            None
        }
    }
}

pub(crate) async fn create(
    State(app): State<Arc<AppState>>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let mut errors = FieldErrors::default();
    errors.check("name", validate_name("name", form.text("name"), 200));
    errors.check("identifier", validate_identifier(form.text("identifier")));
    let lifetime = lifetime_field(&form, &mut errors);
    let alg = algorithm_field(&form, &mut errors);
    if !errors.is_empty() {
        return Ok(new_form(&operator, &form, &errors));
    }
    let created = app
        .admin
        .create_api(NewApi {
            identifier: form.text("identifier").to_owned(),
            name: form.text("name").to_owned(),
            scopes: Vec::new(),
            token_lifetime: lifetime,
            signing_alg: alg,
        })
        .await;
    match created {
        Ok(api) => {
            audit_change(
                &app,
                &operator.username,
                format!("created API {}", api.identifier),
                None,
            );
            refresh(&app).await;
            Ok(see_other(
                &format!("/dashboard/apis/{}", api.id),
                "api-created",
            ))
        }
        Err(crate::admin::AdminError::Conflict(_)) => {
            let mut errors = FieldErrors::default();
            errors.add("identifier", "An API with this identifier already exists.");
            Ok(new_form(&operator, &form, &errors))
        }
        Err(e) => {
            let errors = FieldErrors::from_admin("", e)?;
            Ok(new_form(&operator, &form, &errors))
        }
    }
}

/// What a tab shows besides the stored API: the form just refused, or a test token.
#[derive(Debug, Default)]
struct TabState {
    form: Form,
    errors: FieldErrors,
    token: Option<TestToken>,
}

impl TabState {
    /// A form refused, shown again with its errors.
    fn refused(form: Form, errors: FieldErrors) -> Self {
        Self {
            form,
            errors,
            token: None,
        }
    }
}

#[derive(Debug)]
struct TestToken {
    client_id: String,
    client_name: String,
    access_token: String,
    header: String,
    claims: String,
    expires_in: u32,
}

pub(crate) async fn show(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let tab = Tab::parse(query.tab.as_deref());
    api_page(
        &app,
        &operator,
        &id,
        tab,
        layout::notice(query.notice.as_deref()),
        TabState::default(),
    )
    .await
}

async fn api_page(
    app: &AppState,
    operator: &OperatorSession,
    id: &str,
    tab: Tab,
    notice: Option<&str>,
    state: TabState,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(id).await?;
    let body = match tab {
        Tab::Settings => settings_tab(operator, &api, &state),
        Tab::Permissions => permissions_tab(operator, &api, &state),
        Tab::Applications => {
            let grants = grants_for(app, &api).await?;
            let mut apps = authorized_apps(app, &grants).await?;
            let (first, total) = app
                .admin
                .list_applications_page(0, OTHER_APPS_SHOWN)
                .await?;
            let authorized = apps.len();
            apps.extend(
                first
                    .into_iter()
                    .filter(|a| !grants.iter().any(|g| g.client_id == a.client_id)),
            );
            let hidden = total.saturating_sub(apps.len() as u64);
            applications_tab(operator, &api, &apps, &grants, authorized, hidden)
        }
        Tab::Test => {
            let grants = grants_for(app, &api).await?;
            let apps = authorized_apps(app, &grants).await?;
            test_tab(app, operator, &api, &apps, &grants, &state)
        }
    };
    let content = html! {
        p.crumbs { a href="/dashboard/apis" { "APIs" } " / " }
        div.page-head {
            div {
                h1 { (api.name) }
                p.muted { "Identifier " (copyable("api-identifier", &api.identifier)) }
            }
        }
        nav.tabs {
            @for (t, slug, label) in Tab::ALL {
                a href={ "/dashboard/apis/" (api.id) "?tab=" (slug) } aria-current=[(t == tab).then_some("page")] { (label) }
            }
        }
        (body)
    };
    let status = if state.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        layout::page(&api.name, operator, Nav::Apis, notice, content),
    )
        .into_response())
}

/// How many unauthorized applications the Applications tab offers (the oldest first).
const OTHER_APPS_SHOWN: u32 = 100;
/// How many authorized applications the tabs list.
const AUTHORIZED_SHOWN: usize = 500;

/// The applications `grants` authorize, at most [`AUTHORIZED_SHOWN`].
async fn authorized_apps(
    app: &AppState,
    grants: &[ClientGrant],
) -> Result<Vec<Application>, PageError> {
    let mut apps = Vec::new();
    for grant in grants.iter().take(AUTHORIZED_SHOWN) {
        match app.admin.get_application(&grant.client_id).await {
            Ok(details) => apps.push(details.application),
            // Deleted since the grants were read.
            Err(crate::admin::AdminError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(apps)
}

async fn grants_for(app: &AppState, api: &ResourceServer) -> Result<Vec<ClientGrant>, PageError> {
    Ok(app
        .admin
        .list_grants(&GrantFilter {
            client_id: None,
            audience: Some(api.identifier.clone()),
        })
        .await?)
}

fn settings_tab(operator: &OperatorSession, api: &ResourceServer, state: &TabState) -> Markup {
    let errors = &state.errors;
    let (name, lifetime) = if errors.is_empty() {
        (api.name.clone(), api.token_lifetime.to_string())
    } else {
        (
            state.form.text("name").to_owned(),
            state.form.text("token_lifetime").to_owned(),
        )
    };
    html! {
        form.card method="post" action={ "/dashboard/apis/" (api.id) "/settings" } novalidate {
            (csrf(operator))
            (field("Name", "name", &name, errors.get("name"), None))
            (field("Token lifetime (seconds)", "token_lifetime", &lifetime, errors.get("token_lifetime"),
                Some("Tokens issued from now on get this lifetime.")))
            (algorithm_select())
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

fn permissions_tab(operator: &OperatorSession, api: &ResourceServer, state: &TabState) -> Markup {
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
fn applications_tab(
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

fn test_tab(
    app: &AppState,
    operator: &OperatorSession,
    api: &ResourceServer,
    apps: &[Application],
    grants: &[ClientGrant],
    state: &TabState,
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
    let token_url = format!("{}oauth/token", app.settings.issuer);
    let curl = format!(
        "curl --request POST \\\n  --url {token_url} \\\n  --header 'content-type: application/json' \\\n  --data '{{\"client_id\":\"{selected}\",\"client_secret\":\"YOUR_CLIENT_SECRET\",\"audience\":\"{aud}\",\"grant_type\":\"client_credentials\"}}'",
        aud = api.identifier
    );
    let python = format!(
        "import httpx\n\nresponse = httpx.post(\n    \"{token_url}\",\n    json={{\n        \"client_id\": \"{selected}\",\n        \"client_secret\": \"YOUR_CLIENT_SECRET\",\n        \"audience\": \"{aud}\",\n        \"grant_type\": \"client_credentials\",\n    }},\n)\nresponse.raise_for_status()\naccess_token = response.json()[\"access_token\"]",
        aud = api.identifier
    );
    let rust = format!(
        "use warrant_client::TokenProvider;\n\n// Build once and share: it caches the token until shortly before it expires.\nlet tokens = TokenProvider::builder()\n    .issuer(\"{issuer}\")\n    .client_id(\"{selected}\")\n    .client_secret(std::env::var(\"WARRANT_CLIENT_SECRET\")?)\n    .audience(\"{aud}\")\n    .build()?;\nlet token = tokens.token().await?;\n// Authorization: Bearer …\nlet header = token.bearer();",
        issuer = app.settings.issuer,
        aud = api.identifier
    );
    html! {
        @if let Some(error) = state.errors.get("client_id") { p.error role="alert" { (error) } }
        @if let Err(refused) = app.admin.check_test_token(&api.identifier) {
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

pub(crate) async fn update_settings(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let mut errors = FieldErrors::default();
    errors.check("name", validate_name("name", form.text("name"), 200));
    let lifetime = lifetime_field(&form, &mut errors);
    let alg = algorithm_field(&form, &mut errors);
    if errors.is_empty() {
        let patch = ApiPatch {
            name: Some(form.text("name").to_owned()),
            scopes: None,
            token_lifetime: lifetime,
            signing_alg: alg,
        };
        match app.admin.update_api(&id, patch).await {
            Ok(api) => {
                audit_change(
                    &app,
                    &operator.username,
                    format!("updated API {}", api.identifier),
                    None,
                );
                refresh(&app).await;
                return Ok(see_other(&format!("/dashboard/apis/{id}"), "api-saved"));
            }
            Err(e) => errors = FieldErrors::from_admin("name", e)?,
        }
    }
    api_page(
        &app,
        &operator,
        &id,
        Tab::Settings,
        None,
        TabState::refused(form, errors),
    )
    .await
}

async fn replace_scopes(
    app: &AppState,
    operator: &OperatorSession,
    id: &str,
    scopes: Vec<Scope>,
    what: String,
) -> Result<(), crate::admin::AdminError> {
    let api = app
        .admin
        .update_api(
            id,
            ApiPatch {
                scopes: Some(scopes),
                ..ApiPatch::default()
            },
        )
        .await?;
    audit_change(
        app,
        &operator.username,
        format!("{what} on API {}", api.identifier),
        None,
    );
    refresh(app).await;
    Ok(())
}

pub(crate) async fn add_permission(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    let value = form.text("value");
    let description = form.text("description");
    let mut errors = FieldErrors::default();
    errors.check("value", validate_scope_value(value));
    if api.has_scope(value) {
        errors.add(
            "value",
            format!("{value:?} is already a permission of this API."),
        );
    }
    errors.check(
        "description",
        validate_text("description", description, 500),
    );
    if errors.is_empty() {
        let mut scopes = api.scopes.clone();
        scopes.push(Scope {
            value: value.to_owned(),
            description: description.to_owned(),
        });
        match replace_scopes(&app, &operator, &id, scopes, format!("added scope {value}")).await {
            Ok(()) => {
                return Ok(see_other(
                    &format!("/dashboard/apis/{id}?tab=permissions"),
                    "permission-added",
                ));
            }
            Err(e) => errors = FieldErrors::from_admin("value", e)?,
        }
    }
    api_page(
        &app,
        &operator,
        &id,
        Tab::Permissions,
        None,
        TabState::refused(form, errors),
    )
    .await
}

pub(crate) async fn remove_permission(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    let value = form.text("value");
    let scopes: Vec<Scope> = api
        .scopes
        .iter()
        .filter(|s| s.value != value)
        .cloned()
        .collect();
    if scopes.len() != api.scopes.len() {
        replace_scopes(
            &app,
            &operator,
            &id,
            scopes,
            format!("removed scope {value}"),
        )
        .await?;
    }
    Ok(see_other(
        &format!("/dashboard/apis/{id}?tab=permissions"),
        "permission-removed",
    ))
}

/// Authorizes one application (creating or updating its grant with the scopes ticked) or
/// removes its authorization.
pub(crate) async fn authorize(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    let client_id = form.text("client_id");
    let application = app.admin.get_application(client_id).await?;
    let scopes: Vec<String> = form
        .all("scope")
        .filter(|s| api.has_scope(s))
        .map(str::to_owned)
        .collect();
    let existing = application
        .grants
        .iter()
        .find(|g| g.audience == api.identifier);
    let change = match (existing, form.checked("authorized")) {
        (None, true) => {
            app.admin
                .create_grant(
                    client_id,
                    GrantSpec {
                        audience: api.identifier.clone(),
                        scopes: scopes.clone(),
                    },
                )
                .await?;
            Some(format!(
                "authorized {client_id} for {} ({})",
                api.identifier,
                scopes.join(" ")
            ))
        }
        (Some(grant), true) => {
            app.admin.update_grant(&grant.id, scopes.clone()).await?;
            Some(format!(
                "granted {client_id} on {} the scopes ({})",
                api.identifier,
                scopes.join(" ")
            ))
        }
        (Some(grant), false) => {
            app.admin.delete_grant(&grant.id).await?;
            Some(format!(
                "revoked the grant of {client_id} for {}",
                api.identifier
            ))
        }
        (None, false) => None,
    };
    if let Some(what) = change {
        audit_change(&app, &operator.username, what, Some(client_id));
        refresh(&app).await;
    }
    Ok(see_other(
        &format!("/dashboard/apis/{id}?tab=applications"),
        "authorized",
    ))
}

/// Issues a real token to an authorized application, as the token endpoint would (without
/// its secret: the administrator vouches for it), and shows it decoded.
pub(crate) async fn test_token(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    let client_id = form.text("client_id").to_owned();
    app.admin.check_test_token(&api.identifier)?;
    let mut state = TabState::default();
    refresh(&app).await;
    let client = app
        .catalog
        .client(&client_id)
        .await
        .map_err(|e| PageError::Unavailable(e.to_string()))?;
    let issued = client.as_deref().map(|client| {
        app.catalog.snapshot().issue(
            client,
            &TokenRequest {
                client_id: &client_id,
                client_secret: "",
                target: Target::Audience(&api.identifier),
                scope: None,
            },
            &app.settings,
            app.clock.now(),
        )
    });
    match issued {
        Some(Ok(token)) => {
            app.audit.record(AuditEvent {
                date_ms: crate::clock::now_ms(),
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
        Some(Err(e)) => state.errors.add(
            "client_id",
            format!(
                "No token: {}",
                crate::http::OAuthError::from_issue(e).description
            ),
        ),
        None => state
            .errors
            .add("client_id", "This application no longer exists."),
    }
    api_page(&app, &operator, &id, Tab::Test, None, state).await
}

pub(crate) async fn delete(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    if form.text("confirm") != api.identifier {
        let mut state = TabState::default();
        state.errors.add(
            "confirm",
            "Type the API's identifier exactly to confirm the deletion.",
        );
        return api_page(&app, &operator, &id, Tab::Settings, None, state).await;
    }
    if let Err(e) = app.admin.delete_api(&api.id).await {
        let state = TabState {
            errors: FieldErrors::from_admin("confirm", e)?,
            ..TabState::default()
        };
        return api_page(&app, &operator, &id, Tab::Settings, None, state).await;
    }
    audit_change(
        &app,
        &operator.username,
        format!("deleted API {}", api.identifier),
        None,
    );
    refresh(&app).await;
    Ok(see_other("/dashboard/apis", "api-deleted"))
}
