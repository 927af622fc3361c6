//! Who may get what from an API: the permissions (scopes) it defines, and which applications
//! are authorized for it with which of them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::super::forms::FieldErrors;
use super::super::session::SignedForm;
use super::super::{AppState, PageError, see_other};
use super::handlers::api_page;
use super::tabs::{Tab, TabState};
use crate::admin::{GrantPatch, GrantSpec};
use crate::domain::{Scope, validate_scope_value, validate_text};

pub(crate) async fn add_permission(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
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
        let scope = Scope {
            value: value.to_owned(),
            description: description.to_owned(),
        };
        match admin.add_scope(&id, scope).await {
            Ok(_) => {
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
    Path(id): Path<String>,
    SignedForm { form, admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    // Of two removals of one permission (two tabs, a double submit) the second finds it gone.
    if !admin.remove_scope(&id, form.text("value")).await? {
        return Err(PageError::NotFound("permission"));
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
    SignedForm { form, admin, .. }: SignedForm,
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
    // One change to this one grant, each a single call that records itself.
    match (existing, form.checked("authorized")) {
        (None, true) => {
            let spec = GrantSpec {
                audience: api.identifier.clone(),
                scopes,
                custom_claims: None,
            };
            admin.create_grant(client_id, spec).await.map(drop)?;
        }
        (Some(grant), true) => {
            let patch = GrantPatch {
                scopes: Some(scopes),
                custom_claims: None,
            };
            admin.update_grant(&grant.id, patch).await.map(drop)?;
        }
        (Some(grant), false) => admin.delete_grant(&grant.id).await?,
        (None, false) => {}
    }
    Ok(see_other(
        &format!("/dashboard/apis/{id}?tab=applications"),
        "authorized",
    ))
}
