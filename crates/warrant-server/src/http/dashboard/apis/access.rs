//! Who may get what from an API: the permissions (scopes) it defines, and which applications
//! are authorized for it with which of them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::super::forms::FieldErrors;
use super::super::session::SignedForm;
use super::super::{AppState, PageError, audit_change, refresh, see_other};
use super::handlers::api_page;
use super::tabs::{Tab, TabState};
use crate::admin::operators::OperatorSession;
use crate::admin::{ApiPatch, GrantSpec};
use crate::domain::{Scope, validate_scope_value, validate_text};

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
