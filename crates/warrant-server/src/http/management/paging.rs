use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;

const DEFAULT_PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 100;
/// The last page that may be asked for (as documented in the OpenAPI description).
pub const MAX_PAGE: usize = 1_000_000;

/// Auth0's paging: `page` (from 0), `per_page` (at most 100), `include_totals`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
    pub include_totals: Option<bool>,
}

impl Paging {
    /// The page asked for, as `(start, per_page)`; a `per_page` out of range is a 400.
    pub fn bounds(&self) -> Result<(usize, usize), ApiError> {
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if per_page == 0 || per_page > MAX_PER_PAGE {
            let mut e = ApiError::bad_request(format!(
                "Query validation error: 'per_page' must be between 1 and {MAX_PER_PAGE}"
            ));
            e.error_code = "invalid_query_string";
            return Err(e);
        }
        let page = self.page.unwrap_or(0);
        if page > MAX_PAGE {
            let mut e = ApiError::bad_request(format!(
                "Query validation error: 'page' must be at most {MAX_PAGE}"
            ));
            e.error_code = "invalid_query_string";
            return Err(e);
        }
        Ok((page.saturating_mul(per_page), per_page))
    }

    /// One page of `items` as Auth0 answers: a bare array, or with `include_totals`
    /// `{start, limit, length, total, <key>: [...]}`.
    pub fn page<T: serde::Serialize>(&self, items: Vec<T>, key: &str) -> Result<Value, ApiError> {
        let (start, per_page) = self.bounds()?;
        let total = items.len();
        let slice: Vec<T> = items.into_iter().skip(start).take(per_page).collect();
        self.answer(&slice, start, total, key)
    }

    /// A page the caller already cut (storage paged it), with the total it reported.
    pub fn answer<T: serde::Serialize>(
        &self,
        slice: &[T],
        start: usize,
        total: usize,
        key: &str,
    ) -> Result<Value, ApiError> {
        let (_, per_page) = self.bounds()?;
        let list = serde_json::to_value(slice).unwrap_or(Value::Array(Vec::new()));
        if self.include_totals.unwrap_or(false) {
            let mut body = json!({
                "start": start,
                "limit": per_page,
                "length": slice.len(),
                "total": total,
            });
            body[key] = list;
            Ok(body)
        } else {
            Ok(list)
        }
    }
}
