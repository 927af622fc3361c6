//! Reading rows: each aggregate maps its rows to domain records through [`Col`], which both
//! engines' row types implement, so that a mapping is written once.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{StoreError, db_err};

/// One column of a row, by name, as the types the schema uses.
pub(crate) trait Col {
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, name: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError>;
    fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Implements [`Col`] for an engine's row type.
macro_rules! impl_col {
    ($row:ty) => {
        impl Col for $row {
            fn text(&self, name: &str) -> Result<String, StoreError> {
                sqlx::Row::try_get(self, name).map_err(db_err)
            }
            fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
                sqlx::Row::try_get(self, name).map_err(db_err)
            }
            fn int(&self, name: &str) -> Result<i64, StoreError> {
                sqlx::Row::try_get(self, name).map_err(db_err)
            }
            fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
                sqlx::Row::try_get(self, name).map_err(db_err)
            }
            fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError> {
                sqlx::Row::try_get(self, name).map_err(db_err)
            }
            fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
                sqlx::Row::try_get(self, name).map_err(db_err)
            }
        }
    };
}

impl_col!(SqliteRow);
impl_col!(PgRow);

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A timestamp or count as the schema stores it (a signed 64-bit integer).
pub(crate) fn ts(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored timestamp or count; a negative one (never written) reads as 0.
pub(crate) fn unts(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
