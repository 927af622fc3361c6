//! `/api/v2/logs`: the audit log, in Auth0's log event shape. Filters: `type`, `client_id`,
//! `from_date`/`to_date` (RFC 3339); paging by `page`/`per_page`/`include_totals` (newest
//! first) or by checkpoint, `from=<log_id>&take=N` (oldest first, after that event).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warrant_proto::{LogEventView, LogPageView};

use super::ApiError;
use super::auth::{Authorized, ReadLogs};
use super::body::QueryParams;
use crate::domain::events::AuditFilter;
use crate::http::AppState;

const DEFAULT_PER_PAGE: u32 = 50;
const MAX_PER_PAGE: u32 = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_id: Option<String>,
    from_date: Option<String>,
    to_date: Option<String>,
    from: Option<String>,
    take: Option<u32>,
    page: Option<u32>,
    per_page: Option<u32>,
    include_totals: Option<bool>,
}

fn query_error(message: String) -> ApiError {
    let mut e = ApiError::bad_request(message);
    e.error_code = "invalid_query_string";
    e
}

fn date(name: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|t| {
        crate::clock::parse_rfc3339_ms(t).ok_or_else(|| {
            query_error(format!(
                "Query validation error: '{name}' must be an RFC 3339 date such as 2026-11-22T04:08:57Z"
            ))
        })
    })
    .transpose()
}

pub async fn list(
    _: Authorized<ReadLogs>,
    State(app): State<Arc<AppState>>,
    QueryParams(query): QueryParams<LogsQuery>,
) -> Result<Response, ApiError> {
    let after_seq = query
        .from
        .as_deref()
        .map(|f| {
            f.parse::<i64>()
                .ok()
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| {
                    query_error("Query validation error: 'from' must be a log_id".into())
                })
        })
        .transpose()?;
    let limit = if after_seq.is_some() {
        query.take
    } else {
        query.per_page
    }
    .unwrap_or(DEFAULT_PER_PAGE);
    if limit == 0 || limit > MAX_PER_PAGE {
        return Err(query_error(format!(
            "Query validation error: 'per_page' and 'take' must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    let page = if after_seq.is_some() {
        0
    } else {
        query.page.unwrap_or(0)
    };
    let filter = AuditFilter {
        kind: query.kind,
        client_id: query.client_id,
        from_ms: date("from_date", query.from_date.as_deref())?,
        to_ms: date("to_date", query.to_date.as_deref())?,
        after_seq,
        limit,
        offset: page.saturating_mul(limit),
    };
    let events = app.admin.list_events(&filter).await?;
    let logs: Vec<LogEventView> = events.iter().map(LogEventView::from).collect();
    if query.include_totals.unwrap_or(false) && after_seq.is_none() {
        let total = app.admin.count_events(&filter).await?;
        return Ok(Json(LogPageView {
            start: filter.offset.into(),
            limit: limit.into(),
            length: logs.len() as u64,
            total,
            logs,
        })
        .into_response());
    }
    Ok(Json(logs).into_response())
}

pub async fn get(
    _: Authorized<ReadLogs>,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<LogEventView>, ApiError> {
    let not_found = || ApiError::not_found(format!("log event {id:?} not found"));
    let seq: i64 = id.parse().map_err(|_| not_found())?;
    let events = app
        .admin
        .list_events(&AuditFilter {
            after_seq: Some(seq.checked_sub(1).ok_or_else(not_found)?),
            limit: 1,
            ..AuditFilter::default()
        })
        .await?;
    match events.first() {
        Some(event) if event.seq == seq => Ok(Json(LogEventView::from(event))),
        _ => Err(not_found()),
    }
}
