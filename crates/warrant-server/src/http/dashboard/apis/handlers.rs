//! The requests about an API itself: the list, creation, its page (loading what each tab
//! shows), settings and deletion. Each reads its form or query, makes its change through the
//! service layer, and answers with a redirect or a page from [`super::pages`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::forms::{FieldErrors, Form};
use super::super::layout;
use super::super::session::{Operator, SignedForm};
use super::super::{AppState, PageError, see_other};
use super::pages;
use super::tabs::{Tab, TabState};
use crate::admin::operators::OperatorSession;
use crate::admin::{ApiPatch, NewApi};
use crate::domain::{Application, ClientGrant, ResourceServer, validate_identifier, validate_name};
use crate::domain::{MAX_TOKEN_LIFETIME, PopMechanism, ProofOfPossession, SigningAlg};
use crate::store::GrantFilter;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    tab: Option<String>,
    notice: Option<String>,
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    Ok(pages::list(
        &operator,
        &apis,
        layout::notice(query.notice.as_deref()),
    ))
}

pub(crate) async fn new_page(Operator(operator): Operator) -> Response {
    pages::new_form(&operator, &Form::default(), &FieldErrors::default())
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

/// The DPoP setting: `off`, `optional` or `required`; absent leaves it as it is.
fn dpop_field(form: &Form, errors: &mut FieldErrors) -> Option<Option<ProofOfPossession>> {
    let pop = |required| {
        Some(Some(ProofOfPossession {
            mechanism: PopMechanism::Dpop,
            required,
        }))
    };
    match form.text("dpop") {
        "" => None,
        "off" => Some(None),
        "optional" => pop(false),
        "required" => pop(true),
        _ => {
            errors.add("dpop", "Choose off, optional or required.");
            None
        }
    }
}

pub(crate) async fn create(
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let mut errors = FieldErrors::default();
    errors.check("name", validate_name("name", form.text("name"), 200));
    errors.check("identifier", validate_identifier(form.text("identifier")));
    let lifetime = lifetime_field(&form, &mut errors);
    let alg = algorithm_field(&form, &mut errors);
    if !errors.is_empty() {
        return Ok(pages::new_form(&operator, &form, &errors));
    }
    let created = admin
        .create_api(NewApi {
            identifier: form.text("identifier").to_owned(),
            name: form.text("name").to_owned(),
            scopes: Vec::new(),
            token_lifetime: lifetime,
            signing_alg: alg,
            proof_of_possession: None,
        })
        .await;
    match created {
        Ok(api) => Ok(see_other(
            &format!("/dashboard/apis/{}", api.id),
            "api-created",
        )),
        Err(crate::admin::AdminError::Conflict(_)) => {
            let errors =
                FieldErrors::one("identifier", "An API with this identifier already exists.");
            Ok(pages::new_form(&operator, &form, &errors))
        }
        Err(e) => {
            let errors = FieldErrors::from_admin("", e)?;
            Ok(pages::new_form(&operator, &form, &errors))
        }
    }
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

pub(super) async fn api_page(
    app: &AppState,
    operator: &OperatorSession,
    id: &str,
    tab: Tab,
    notice: Option<&str>,
    state: TabState,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(id).await?;
    let body = match tab {
        Tab::Settings => pages::settings_tab(operator, &api, &state),
        Tab::Permissions => pages::permissions_tab(operator, &api, &state),
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
            pages::applications_tab(operator, &api, &apps, &grants, authorized, hidden)
        }
        Tab::Test => {
            let grants = grants_for(app, &api).await?;
            let apps = authorized_apps(app, &grants).await?;
            pages::test_tab(
                operator,
                &api,
                &apps,
                &grants,
                &state,
                &app.issuer.settings().issuer,
                app.admin.check_test_token(&api.identifier).err(),
            )
        }
    };
    Ok(pages::api_page(operator, &api, tab, notice, &state, body))
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

pub(crate) async fn update_settings(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let mut errors = FieldErrors::default();
    errors.check("name", validate_name("name", form.text("name"), 200));
    let lifetime = lifetime_field(&form, &mut errors);
    let alg = algorithm_field(&form, &mut errors);
    let dpop = dpop_field(&form, &mut errors);
    if errors.is_empty() {
        let patch = ApiPatch {
            name: Some(form.text("name").to_owned()),
            scopes: None,
            token_lifetime: lifetime,
            signing_alg: alg,
            proof_of_possession: dpop,
        };
        match admin.update_api(&id, patch).await {
            Ok(_) => {
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

pub(crate) async fn delete(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let api = app.admin.get_api(&id).await?;
    if form.text("confirm") != api.identifier {
        let state = TabState {
            errors: FieldErrors::one(
                "confirm",
                "Type the API's identifier exactly to confirm the deletion.",
            ),
            ..TabState::default()
        };
        return api_page(&app, &operator, &id, Tab::Settings, None, state).await;
    }
    if let Err(e) = admin.delete_api(&api.id).await {
        let state = TabState {
            errors: FieldErrors::from_admin("confirm", e)?,
            ..TabState::default()
        };
        return api_page(&app, &operator, &id, Tab::Settings, None, state).await;
    }
    Ok(see_other("/dashboard/apis", "api-deleted"))
}
