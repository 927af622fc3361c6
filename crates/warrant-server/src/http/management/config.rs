//! `/api/v2/config`: declarative configuration, a Warrant extension. `GET` exports the current
//! state as a file; `POST /plan` says what a file would change and `POST /apply` makes those
//! changes in one transaction, refused with a 409 when `expect` names a fingerprint the
//! deployment no longer has (the service layer's [`crate::admin`] `plan_config`,
//! `apply_config`, `export_config`: the CLI on a data directory calls the same).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use warrant_proto::{ConfigExportView, ConfigRequest, ConfigResultView};

use super::ApiError;
use super::auth::{Authorized, ReadConfig, UpdateConfig};
use super::body::JsonBody;
use crate::domain::config::MAX_CONFIG_LEN;
use crate::http::AppState;
use crate::views::config_result_view;

/// The largest body: the largest file, JSON-escaped (PEM line ends double).
const MAX_CONFIG_BODY: usize = MAX_CONFIG_LEN + MAX_CONFIG_LEN / 4;

pub async fn export(
    _: Authorized<ReadConfig>,
    State(app): State<Arc<AppState>>,
) -> Result<Json<ConfigExportView>, ApiError> {
    let file = app.admin.export_config().await?;
    Ok(Json(ConfigExportView { file }))
}

pub async fn plan(
    auth: Authorized<ReadConfig>,
    JsonBody(body): JsonBody<ConfigRequest, MAX_CONFIG_BODY>,
) -> Result<Json<ConfigResultView>, ApiError> {
    let planned = auth
        .admin(StatusCode::OK)
        .plan_config(&body.file, body.prune)
        .await?;
    Ok(Json(config_result_view(
        &planned.changes,
        &[],
        Some(planned.fingerprint),
    )))
}

pub async fn apply(
    auth: Authorized<UpdateConfig>,
    JsonBody(body): JsonBody<ConfigRequest, MAX_CONFIG_BODY>,
) -> Result<Json<ConfigResultView>, ApiError> {
    let applied = auth
        .admin(StatusCode::OK)
        .apply_config(&body.file, body.prune, body.expect.as_deref())
        .await?;
    Ok(Json(config_result_view(
        &applied.changes,
        &applied.created,
        None,
    )))
}
