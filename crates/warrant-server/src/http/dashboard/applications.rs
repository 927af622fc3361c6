//! Applications: the list, Auth0's create-and-authorize flow, and an application's page
//! (client ID, the secret shown once, rotation, authorizations, settings, deletion).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::forms::{FieldErrors, Form};
use super::layout::{self, Nav, action_button, copyable, csrf, field};
use super::session::{Operator, SignedForm};
use super::{AppState, PageError, audit_change, refresh, see_other};
use crate::admin::{ApplicationDetails, ApplicationPatch, GrantSpec, NewClient};
use crate::domain::{ClientGrant, PlainSecret, ResourceServer, validate_name, validate_text};
use crate::operators::OperatorSession;
use crate::store::GrantFilter;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
    /// The list's page, from 0.
    page: Option<u64>,
}

/// Applications per page of the list.
const PER_PAGE: u32 = 50;

/// Grace periods offered when rotating a secret, in seconds.
const GRACE_CHOICES: [(u64, &str); 4] = [
    (0, "None: the old secret stops now"),
    (3600, "1 hour"),
    (86_400, "24 hours"),
    (7 * 86_400, "7 days"),
];

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let page = query.page.unwrap_or(0);
    // Any page number is a page: past the end (however far), an empty one.
    let first = page.saturating_mul(u64::from(PER_PAGE));
    let (apps, total) = app.admin.list_applications_page(first, PER_PAGE).await?;
    let mut grant_counts = Vec::with_capacity(apps.len());
    for a in &apps {
        let filter = GrantFilter {
            client_id: Some(a.client_id.clone()),
            audience: None,
        };
        grant_counts.push(app.admin.list_grants(&filter).await?.len());
    }
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
                    @for (a, grants) in apps.iter().zip(&grant_counts) {
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
    Ok(layout::page(
        "Applications",
        &operator,
        Nav::Applications,
        layout::notice(query.notice.as_deref()),
        content,
    )
    .into_response())
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

/// The grants a matrix form asks for.
fn grants_from(form: &Form, apis: &[ResourceServer]) -> Vec<GrantSpec> {
    let chosen: Vec<&str> = form.all("api").collect();
    apis.iter()
        .filter(|api| chosen.contains(&api.id.as_str()))
        .map(|api| GrantSpec {
            audience: api.identifier.clone(),
            scopes: form
                .all(&format!("scope:{}", api.id))
                .filter(|s| api.has_scope(s))
                .map(str::to_owned)
                .collect(),
        })
        .collect()
}

/// Checks an application's name and description as a form sent them.
fn application_fields(form: &Form) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.check("name", validate_name("name", form.text("name"), 200));
    errors.check(
        "description",
        validate_text("description", form.text("description"), 140),
    );
    errors
}

pub(crate) async fn new_page(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    Ok(new_form(
        &operator,
        &apis,
        &Form::default(),
        &FieldErrors::default(),
    ))
}

fn new_form(
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

pub(crate) async fn create(
    State(app): State<Arc<AppState>>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    let errors = application_fields(&form);
    if !errors.is_empty() {
        return Ok(new_form(&operator, &apis, &form, &errors));
    }
    let created = app
        .admin
        .create_client(NewClient {
            name: form.text("name").to_owned(),
            description: form.text("description").to_owned(),
            grants: grants_from(&form, &apis),
            ..NewClient::default()
        })
        .await;
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let errors = FieldErrors::from_admin("api", e)?;
            return Ok(new_form(&operator, &apis, &form, &errors));
        }
    };
    let client_id = created.application.client_id.clone();
    audit_change(
        &app,
        &operator.username,
        format!("created application {client_id}"),
        Some(&client_id),
    );
    refresh(&app).await;
    let details = app.admin.get_application(&client_id).await?;
    application_page(
        &app,
        &operator,
        details,
        Some("Application created."),
        Some(&created.secret),
        &FieldErrors::default(),
    )
    .await
}

pub(crate) async fn show(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Path(client_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let details = app.admin.get_application(&client_id).await?;
    application_page(
        &app,
        &operator,
        details,
        layout::notice(query.notice.as_deref()),
        None,
        &FieldErrors::default(),
    )
    .await
}

/// An application's page. `secret` is set only right after creation or rotation: the one
/// time it is shown.
async fn application_page(
    app: &AppState,
    operator: &OperatorSession,
    details: ApplicationDetails,
    notice: Option<&str>,
    secret: Option<&PlainSecret>,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    let application = &details.application;
    let base = format!("/dashboard/applications/{}", application.client_id);
    let now = app.clock.now();
    let active_secrets = details.secrets.iter().filter(|s| s.is_active(now)).count();
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
        section.card {
            h2 { "Credentials" }
            dl.fields {
                dt { "Client ID" }
                dd { (copyable("client-id", &application.client_id)) }
                dt { "Client secret" }
                dd {
                    @if let Some(secret) = secret {
                        div.secret-box #new-secret role="alert" {
                            p { strong { "Copy this secret now." } " It is shown only this once; Warrant keeps only a hash of it." }
                            (copyable("client-secret", secret.expose()))
                        }
                    } @else {
                        span.muted { "Hidden: Warrant stores only a hash. " (active_secrets) " active secret" @if active_secrets != 1 { "s" } "." }
                    }
                }
            }
            form.row-form method="post" action={ (base) "/rotate-secret" }
                data-confirm="Rotate the secret? Services using the old one must be updated before the grace period ends." {
                (csrf(operator))
                div.field {
                    label for="grace" { "Old secret keeps working for" }
                    select #grace name="grace_seconds" {
                        @for (seconds, label) in GRACE_CHOICES {
                            option value=(seconds) selected[seconds == 0] { (label) }
                        }
                    }
                    @if let Some(error) = errors.get("grace_seconds") { p.field-error { (error) } }
                }
                button.warning #rotate-secret type="submit" { "Rotate secret" }
            }
        }
        section.card {
            h2 { "Authorized APIs" }
            @if details.grants.is_empty() {
                p.muted { "Not authorized for any API: it cannot get tokens yet." }
            } @else {
                table.list #grants {
                    thead { tr { th { "API" } th { "Permissions" } th {} } }
                    tbody {
                        @for grant in &details.grants {
                            tr {
                                td {
                                    @if let Some((id, name)) = api_name(grant) { a href={ "/dashboard/apis/" (id) } { (name) } br; }
                                    code.muted { (grant.audience) }
                                }
                                td { @for scope in &grant.scopes { code.scope { (scope) } " " } @if grant.scopes.is_empty() { span.muted { "none" } } }
                                td.right {
                                    (action_button(operator, &format!("{base}/grants/{}/revoke", grant.id), "Revoke", "link danger-text",
                                        Some("Revoke this grant? The application gets no new tokens for this API; tokens already issued stay valid until they expire.")))
                                }
                            }
                        }
                    }
                }
            }
            details {
                summary { "Change authorizations" }
                form method="post" action={ (base) "/grants" } {
                    (csrf(operator))
                    @if let Some(error) = errors.get("api") { p.field-error { (error) } }
                    (authorization_matrix(&apis, &|api| {
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
    Ok((
        status,
        layout::page(
            &application.name,
            operator,
            Nav::Applications,
            notice,
            content,
        ),
    )
        .into_response())
}

pub(crate) async fn update_settings(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let mut errors = application_fields(&form);
    if errors.is_empty() {
        let patch = ApplicationPatch {
            name: Some(form.text("name").to_owned()),
            description: Some(form.text("description").to_owned()),
            ..ApplicationPatch::default()
        };
        match app.admin.update_application(&client_id, patch).await {
            Ok(_) => {
                audit_change(
                    &app,
                    &operator.username,
                    format!("updated application {client_id}"),
                    Some(&client_id),
                );
                refresh(&app).await;
                return Ok(see_other(
                    &format!("/dashboard/applications/{client_id}"),
                    "app-saved",
                ));
            }
            Err(e) => errors = FieldErrors::from_admin("name", e)?,
        }
    }
    let details = app.admin.get_application(&client_id).await?;
    application_page(&app, &operator, details, None, None, &errors).await
}

pub(crate) async fn rotate_secret(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let grace = form.text("grace_seconds").parse::<u64>().ok();
    let Some(grace) = grace.filter(|g| GRACE_CHOICES.iter().any(|(s, _)| s == g)) else {
        let mut errors = FieldErrors::default();
        errors.add("grace_seconds", "Choose one of the grace periods offered.");
        let details = app.admin.get_application(&client_id).await?;
        return application_page(&app, &operator, details, None, None, &errors).await;
    };
    let secret = app.admin.rotate_secret(&client_id, grace).await?;
    audit_change(
        &app,
        &operator.username,
        format!(
            "rotated the secret of {client_id} (old secret valid for {} more)",
            layout::duration(grace)
        ),
        Some(&client_id),
    );
    refresh(&app).await;
    let details = app.admin.get_application(&client_id).await?;
    application_page(
        &app,
        &operator,
        details,
        Some("Secret rotated."),
        Some(&secret),
        &FieldErrors::default(),
    )
    .await
}

/// Makes the application's grants what the matrix says: new ones created, changed ones
/// updated, unticked ones deleted.
pub(crate) async fn save_grants(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    let details = app.admin.get_application(&client_id).await?;
    let wanted = grants_from(&form, &apis);
    let mut changes = Vec::new();
    let mut failure = None;
    for spec in &wanted {
        let result = match details.grants.iter().find(|g| g.audience == spec.audience) {
            Some(grant) if grant.scopes == spec.scopes => continue,
            Some(grant) => app
                .admin
                .update_grant(&grant.id, spec.scopes.clone())
                .await
                .map(drop),
            None => app
                .admin
                .create_grant(&client_id, spec.clone())
                .await
                .map(drop),
        };
        match result {
            Ok(()) => changes.push(format!("{} ({})", spec.audience, spec.scopes.join(" "))),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if failure.is_none() {
        for grant in &details.grants {
            if !wanted.iter().any(|w| w.audience == grant.audience) {
                match app.admin.delete_grant(&grant.id).await {
                    Ok(()) => changes.push(format!("{} revoked", grant.audience)),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
    }
    if !changes.is_empty() {
        audit_change(
            &app,
            &operator.username,
            format!("changed the grants of {client_id}: {}", changes.join(", ")),
            Some(&client_id),
        );
        refresh(&app).await;
    }
    if let Some(e) = failure {
        let errors = FieldErrors::from_admin("api", e)?;
        let details = app.admin.get_application(&client_id).await?;
        return application_page(&app, &operator, details, None, None, &errors).await;
    }
    Ok(see_other(
        &format!("/dashboard/applications/{client_id}"),
        "grants-saved",
    ))
}

pub(crate) async fn revoke_grant(
    State(app): State<Arc<AppState>>,
    Path((client_id, grant_id)): Path<(String, String)>,
    SignedForm { operator, .. }: SignedForm,
) -> Result<Response, PageError> {
    let grant = app.admin.get_grant(&grant_id).await?;
    if grant.client_id != client_id {
        return Err(PageError::NotFound("grant"));
    }
    app.admin.delete_grant(&grant_id).await?;
    audit_change(
        &app,
        &operator.username,
        format!("revoked the grant of {client_id} for {}", grant.audience),
        Some(&client_id),
    );
    refresh(&app).await;
    Ok(see_other(
        &format!("/dashboard/applications/{client_id}"),
        "grant-revoked",
    ))
}

pub(crate) async fn delete(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let details = app.admin.get_application(&client_id).await?;
    if form.text("confirm") != details.application.name {
        let mut errors = FieldErrors::default();
        errors.add(
            "confirm",
            "Type the application's name exactly to confirm the deletion.",
        );
        return application_page(&app, &operator, details, None, None, &errors).await;
    }
    app.admin.delete_application(&client_id).await?;
    audit_change(
        &app,
        &operator.username,
        format!("deleted application {client_id}"),
        Some(&client_id),
    );
    refresh(&app).await;
    Ok(see_other("/dashboard/applications", "app-deleted"))
}
