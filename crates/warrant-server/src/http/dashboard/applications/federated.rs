//! The requests that add and remove an application's federated credentials (which workloads of
//! which trusted issuers authenticate as it: workload identity federation); its Credentials tab
//! ([`super::credentials`]) shows them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::super::forms::{FieldErrors, Form, submit};
use super::super::session::SignedForm;
use super::super::{AppState, PageError};
use super::credentials::expiry_date;
use super::handlers::answer;
use super::tabs::Tab;
use crate::domain::NewFederatedCredential;

/// The credential a form asks for, or what is wrong with the form.
fn new_credential(form: &Form) -> Result<NewFederatedCredential, &'static str> {
    let mut conditions = BTreeMap::new();
    let condition = form.text("condition");
    if !condition.is_empty() {
        let (claim, value) = condition
            .split_once('=')
            .ok_or("A condition is CLAIM=VALUE, such as repository_owner_id=123.")?;
        conditions.insert(claim.trim().to_owned(), value.trim().to_owned());
    }
    Ok(NewFederatedCredential {
        issuer: form.text("issuer").to_owned(),
        subject: form.text("subject").to_owned(),
        audience: Some(form.text("audience").to_owned()).filter(|a| !a.is_empty()),
        conditions,
        expires_at: expiry_date(form.text("federated_expires"))?,
        confirm_broad_subject: form.checked("confirm_broad_subject"),
        ..NewFederatedCredential::default()
    })
}

pub(crate) async fn add(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    posted: SignedForm,
) -> Result<Response, PageError> {
    let asked = FieldErrors::read("federated", new_credential(&posted.form));
    let made = submit(asked, "federated", |new| {
        posted.admin.create_federated_credential(&client_id, new)
    })
    .await?
    .map(|_| "federated-added");
    answer(&app, &posted, &client_id, Tab::Credentials, made).await
}

pub(crate) async fn remove(
    Path((client_id, id)): Path<(String, String)>,
    SignedForm { admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    admin.delete_federated_credential(&client_id, &id).await?;
    Ok(Tab::Credentials.redirect(&client_id, "federated-removed"))
}
