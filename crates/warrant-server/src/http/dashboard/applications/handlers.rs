//! The requests of the application pages: each reads its form or query, makes its change
//! through the service layer, and answers with a redirect or a page from [`super::pages`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::forms::{FieldErrors, Form};
use super::super::layout;
use super::super::session::{Operator, SignedForm};
use super::super::{AppState, PageError, audit_change, refresh, see_other};
use super::pages::{self, GRACE_CHOICES};
use crate::admin::operators::OperatorSession;
use crate::admin::{ApplicationDetails, ApplicationPatch, GrantSpec, NewClient};
use crate::domain::{PlainSecret, ResourceServer, validate_name, validate_text};
use crate::store::GrantFilter;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
    /// The list's page, from 0.
    page: Option<u64>,
}

/// Applications per page of the list.
const PER_PAGE: u32 = 50;

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
    Ok(pages::list(
        &operator,
        &apps,
        &grant_counts,
        page,
        first,
        total,
        layout::notice(query.notice.as_deref()),
    ))
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
    Ok(pages::new_form(
        &operator,
        &apis,
        &Form::default(),
        &FieldErrors::default(),
    ))
}

pub(crate) async fn create(
    State(app): State<Arc<AppState>>,
    SignedForm { operator, form }: SignedForm,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    let errors = application_fields(&form);
    if !errors.is_empty() {
        return Ok(pages::new_form(&operator, &apis, &form, &errors));
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
            return Ok(pages::new_form(&operator, &apis, &form, &errors));
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
    let now = app.clock.now();
    Ok(pages::application(
        operator, &details, &apis, now, notice, secret, errors,
    ))
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
