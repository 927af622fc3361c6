//! The requests of the application pages: each reads its form or query, makes its change
//! through the service layer, and answers with a redirect or a page from [`super::pages`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::forms::{FieldErrors, Form, submit};
use super::super::layout;
use super::super::session::{Operator, SignedForm};
use super::super::{AppState, PageError, see_other};
use super::credentials::{self, GRACE_CHOICES};
use super::pages;
use super::tabs::Tab;
use crate::admin::operators::OperatorSession;
use crate::admin::{
    ApplicationDetails, ApplicationPatch, GrantPatch, GrantSpec, NewClient, NewCredential,
};
use crate::domain::{CustomClaims, PlainSecret, ResourceServer, validate_name, validate_text};
use crate::store::GrantFilter;
use crate::views::claims_from_view;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
    /// An application's tab: `settings` (the default), `credentials`, `apis`.
    tab: Option<String>,
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
fn grants_from(form: &Form, apis: &[ResourceServer], ticked: Ticked) -> Vec<GrantSpec> {
    let chosen: Vec<&str> = form.all("api").collect();
    apis.iter()
        .filter(|api| chosen.contains(&api.id.as_str()))
        .map(|api| GrantSpec {
            audience: api.identifier.clone(),
            scopes: form
                .all(&format!("scope:{}", api.id))
                .filter(|s| ticked == Ticked::AsSent || api.has_scope(s))
                .map(str::to_owned)
                .collect(),
            custom_claims: None,
        })
        .collect()
}

/// Which of the scopes a form ticked [`grants_from`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ticked {
    /// Those the API defines; others are dropped.
    OnlyDefined,
    /// All of them, for the service layer to refuse those the API does not define.
    AsSent,
}

/// An application's fields as the create and settings forms send them, read and checked:
/// name, description, `client_metadata` and custom claims. `errors` names each field refused.
struct ApplicationFields {
    errors: FieldErrors,
    client_metadata: Option<BTreeMap<String, String>>,
    custom_claims: Option<CustomClaims>,
}

impl ApplicationFields {
    fn read(form: &Form) -> Self {
        let mut errors = FieldErrors::default();
        errors.check("name", validate_name("name", form.text("name"), 200));
        errors.check(
            "description",
            validate_text("description", form.text("description"), 140),
        );
        let client_metadata = metadata_from(form.raw("client_metadata"))
            .inspect_err(|e| errors.add("client_metadata", e.clone()))
            .ok();
        let custom_claims = claims_from(form.raw("custom_claims"))
            .inspect_err(|e| errors.add("custom_claims", e.clone()))
            .ok();
        Self {
            errors,
            client_metadata,
            custom_claims,
        }
    }

    /// The field a refusal of the service layer belongs to (its message starts with the
    /// member's name); `otherwise` for the rest.
    fn field_of(message: &str, otherwise: &'static str) -> &'static str {
        if message.starts_with("client_metadata") {
            "client_metadata"
        } else if message.starts_with("custom_claims") {
            "custom_claims"
        } else {
            otherwise
        }
    }
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
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    let fields = ApplicationFields::read(&form);
    if !fields.errors.is_empty() {
        return Ok(pages::new_form(&operator, &apis, &form, &fields.errors));
    }
    let created = admin
        .create_client(NewClient {
            name: form.text("name").to_owned(),
            description: form.text("description").to_owned(),
            // Blank fields are none: the application is created as the API would without them.
            client_metadata: fields.client_metadata.filter(|m| !m.is_empty()),
            custom_claims: fields.custom_claims.filter(|c| !c.is_empty()),
            grants: grants_from(&form, &apis, Ticked::OnlyDefined),
            ..NewClient::default()
        })
        .await;
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let at = ApplicationFields::field_of(&e.to_string(), "api");
            let errors = FieldErrors::from_admin(at, e)?;
            return Ok(pages::new_form(&operator, &apis, &form, &errors));
        }
    };
    let client_id = created.application.client_id.clone();
    let details = app.admin.get_application(&client_id).await?;
    application_page(
        &app,
        &operator,
        details,
        Tab::Credentials,
        Some("Application created."),
        Some(&created.secret),
        &Form::default(),
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
        Tab::parse(query.tab.as_deref()),
        layout::notice(query.notice.as_deref()),
        None,
        &Form::default(),
        &FieldErrors::default(),
    )
    .await
}

/// An application's page showing `tab`. `secret` is set only right after creation or rotation:
/// the one time it is shown; `form` is a refused form, shown again with its `errors`.
#[allow(clippy::too_many_arguments)]
async fn application_page(
    app: &AppState,
    operator: &OperatorSession,
    details: ApplicationDetails,
    tab: Tab,
    notice: Option<&str>,
    secret: Option<&PlainSecret>,
    form: &Form,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let client_id = &details.application.client_id;
    // Every tab shows the banner of a credential expiring soon, so every tab needs them all.
    let credentials = app.admin.list_credentials(client_id).await?;
    let federated = app.admin.list_federated_credentials(client_id).await?;
    let now = app.clock.now();
    let body = match tab {
        Tab::Settings => pages::settings_tab(operator, &details.application, form, errors),
        Tab::Credentials => {
            let issuers = app.admin.list_trusted_issuers().await?;
            credentials::section(
                operator,
                &details,
                &credentials,
                &federated,
                &issuers,
                now,
                secret,
                form,
                errors,
            )
        }
        Tab::Apis => {
            let apis = app.admin.list_apis().await?;
            pages::apis_tab(operator, &details, &apis, errors)
        }
    };
    let expiries = pages::Expiries {
        details: &details,
        credentials: &credentials,
        federated: &federated,
        now,
    };
    Ok(pages::application(
        operator, &expiries, tab, notice, errors, body,
    ))
}

/// The application `client_id`'s page showing `tab` with a refused `form` again, and its
/// `errors`.
pub(super) async fn refused(
    app: &AppState,
    operator: &OperatorSession,
    client_id: &str,
    tab: Tab,
    form: &Form,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let details = app.admin.get_application(client_id).await?;
    application_page(app, operator, details, tab, None, None, form, errors).await
}

/// The answer to a form `posted` from the application `client_id`'s `tab`: its change `made`,
/// back to the tab saying the change's notice; refused, the tab again with the form as sent and
/// its errors.
pub(super) async fn answer(
    app: &AppState,
    posted: &SignedForm,
    client_id: &str,
    tab: Tab,
    made: Result<&str, FieldErrors>,
) -> Result<Response, PageError> {
    let SignedForm { operator, form, .. } = posted;
    match made {
        Ok(notice) => Ok(tab.redirect(client_id, notice)),
        Err(errors) => refused(app, operator, client_id, tab, form, &errors).await,
    }
}

/// `client_metadata` as the settings form sends it: one `KEY=VALUE` a line, blank lines
/// skipped. The service layer checks the keys and values.
fn metadata_from(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once('=') {
            Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
            None => Err(format!(
                "Write one KEY=VALUE a line; {line:?} has no \"=\"."
            )),
        })
        .collect()
}

/// Custom claims as a form sends them: a JSON object (blank: none), checked.
fn claims_from(text: &str) -> Result<CustomClaims, String> {
    if text.trim().is_empty() {
        return Ok(CustomClaims::default());
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|_| "Write the claims as a JSON object, such as {\"tier\": 2}.".to_owned())?;
    claims_from_view(object).map_err(|e| e.0)
}

pub(crate) async fn update_settings(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let fields = ApplicationFields::read(&form);
    let mut errors = fields.errors;
    if errors.is_empty() {
        let patch = ApplicationPatch {
            name: Some(form.text("name").to_owned()),
            description: Some(form.text("description").to_owned()),
            client_metadata: fields.client_metadata,
            custom_claims: fields.custom_claims,
            ..ApplicationPatch::default()
        };
        match admin.update_application(&client_id, patch).await {
            Ok(_) => {
                return Ok(see_other(
                    &format!("/dashboard/applications/{client_id}"),
                    "app-saved",
                ));
            }
            Err(e) => {
                let at = ApplicationFields::field_of(&e.to_string(), "name");
                errors = FieldErrors::from_admin(at, e)?;
            }
        }
    }
    refused(&app, &operator, &client_id, Tab::Settings, &form, &errors).await
}

/// Replaces one grant's custom claims (a JSON object; blank: none).
pub(crate) async fn save_grant_claims(
    State(app): State<Arc<AppState>>,
    Path((client_id, grant_id)): Path<(String, String)>,
    posted: SignedForm,
) -> Result<Response, PageError> {
    let grant = app.admin.get_grant(&grant_id).await?;
    if grant.client_id != client_id {
        return Err(PageError::NotFound("grant"));
    }
    let asked = FieldErrors::read(
        "grant_claims",
        claims_from(posted.form.raw("custom_claims")),
    );
    let made = submit(asked, "grant_claims", |claims| {
        let patch = GrantPatch {
            scopes: None,
            custom_claims: Some(claims),
        };
        posted.admin.update_grant(&grant_id, patch)
    })
    .await?
    .map(|_| "grant-claims-saved");
    answer(&app, &posted, &client_id, Tab::Apis, made).await
}

pub(crate) async fn rotate_secret(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let grace = form.text("grace_seconds").parse::<u64>().ok();
    let Some(grace) = grace.filter(|g| GRACE_CHOICES.iter().any(|(s, _)| s == g)) else {
        let errors = FieldErrors::one("grace_seconds", "Choose one of the grace periods offered.");
        return refused(
            &app,
            &operator,
            &client_id,
            Tab::Credentials,
            &form,
            &errors,
        )
        .await;
    };
    let secret = admin.rotate_secret(&client_id, grace).await?;
    let details = app.admin.get_application(&client_id).await?;
    application_page(
        &app,
        &operator,
        details,
        Tab::Credentials,
        Some("Secret rotated."),
        Some(&secret),
        &Form::default(),
        &FieldErrors::default(),
    )
    .await
}

/// Makes the application's grants what the matrix says, in one transaction: new ones
/// created, changed ones updated, unticked ones deleted; on any error (a scope the API no
/// longer defines, an API deleted meanwhile) none of it, and the page says why.
pub(crate) async fn save_grants(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    posted: SignedForm,
) -> Result<Response, PageError> {
    let apis = app.admin.list_apis().await?;
    // Every scope ticked, as sent: one the API does not define (any more) is refused, not
    // dropped.
    let wanted = grants_from(&posted.form, &apis, Ticked::AsSent);
    let made = submit(Ok(wanted), "api", |wanted| {
        posted.admin.set_grants(&client_id, wanted)
    })
    .await?
    .map(|_| "grants-saved");
    answer(&app, &posted, &client_id, Tab::Apis, made).await
}

pub(crate) async fn revoke_grant(
    State(app): State<Arc<AppState>>,
    Path((client_id, grant_id)): Path<(String, String)>,
    SignedForm { admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    let grant = app.admin.get_grant(&grant_id).await?;
    if grant.client_id != client_id {
        return Err(PageError::NotFound("grant"));
    }
    admin.delete_grant(&grant_id).await?;
    Ok(Tab::Apis.redirect(&client_id, "grant-revoked"))
}

pub(crate) async fn delete(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    SignedForm {
        operator,
        form,
        admin,
    }: SignedForm,
) -> Result<Response, PageError> {
    let details = app.admin.get_application(&client_id).await?;
    if form.text("confirm") != details.application.name {
        let errors = FieldErrors::one(
            "confirm",
            "Type the application's name exactly to confirm the deletion.",
        );
        return application_page(
            &app,
            &operator,
            details,
            Tab::Settings,
            None,
            None,
            &form,
            &errors,
        )
        .await;
    }
    admin.delete_application(&client_id).await?;
    Ok(see_other("/dashboard/applications", "app-deleted"))
}

/// Registers a public key from the form and has the application authenticate with its keys.
pub(crate) async fn add_credential(
    State(app): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    posted: SignedForm,
) -> Result<Response, PageError> {
    let expires_at = FieldErrors::read(
        "expires",
        credentials::expiry_date(posted.form.text("expires")),
    );
    let made = submit(expires_at, "pem", |expires_at| {
        let new = NewCredential {
            name: posted.form.text("key_name").trim().to_owned(),
            alg: posted.form.text("alg").to_owned(),
            pem: posted.form.text("pem").to_owned(),
            expires_at,
        };
        posted.admin.add_credential_in_use(&client_id, new)
    })
    .await?
    .map(|_| "credential-added");
    answer(&app, &posted, &client_id, Tab::Credentials, made).await
}

pub(crate) async fn remove_credential(
    State(_app): State<Arc<AppState>>,
    Path((client_id, credential_id)): Path<(String, String)>,
    SignedForm { admin, .. }: SignedForm,
) -> Result<Response, PageError> {
    admin.delete_credential(&client_id, &credential_id).await?;
    Ok(Tab::Credentials.redirect(&client_id, "credential-removed"))
}
