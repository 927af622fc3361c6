//! The schema's migrations and the one runner that applies them on either engine: in one
//! transaction, under the engine's lock (SQLite's write lock, a PostgreSQL advisory lock), so
//! that processes starting together do not race.

use super::{Store, StoreError, db_err, on_engine};

/// Defines `SQLITE` and `POSTGRES`: each migration's version and SQL, in order, embedded in the
/// binary from `migrations/<engine>/<file>` (each engine has its own SQL for each version).
macro_rules! migrations {
    ($($version:literal: $file:literal,)*) => {
        const SQLITE: &[(i64, &str)] =
            &[$(($version, include_str!(concat!("../../migrations/sqlite/", $file)))),*];
        const POSTGRES: &[(i64, &str)] =
            &[$(($version, include_str!(concat!("../../migrations/postgres/", $file)))),*];
    };
}

migrations! {
    1: "0001_init.sql",
    2: "0002_rotation_and_management.sql",
    3: "0003_client_changes.sql",
    4: "0004_operations.sql",
    5: "0005_dashboard.sql",
    6: "0006_audit_counts_and_writers.sql",
    7: "0007_signing_key_certificates.sql",
    8: "0008_signing_keys_per_alg.sql",
    9: "0009_revoked_tokens.sql",
    10: "0010_client_credentials.sql",
    11: "0011_proof_of_possession.sql",
    12: "0012_custom_claims.sql",
    13: "0013_federation.sql",
    14: "0014_application_keys.sql",
}

impl Store {
    /// Applies the migrations the database has not seen yet, in one transaction. A database
    /// migrated by a newer build is refused ([`StoreError::SchemaTooNew`]).
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let (migrations, record) = match self {
            Self::Sqlite(_) => (
                SQLITE,
                "INSERT INTO warrant_migrations (version, applied_at)
                 VALUES ($1, strftime('%s','now'))",
            ),
            Self::Postgres(_) => (
                POSTGRES,
                "INSERT INTO warrant_migrations (version, applied_at)
                 VALUES ($1, EXTRACT(EPOCH FROM now())::bigint)",
            ),
        };
        let known = migrations.last().map_or(0, |m| m.0);
        on_engine!(self, |s| {
            let mut tx = s.begin_migration().await?;
            let current: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM warrant_migrations")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if current > known {
                return Err(StoreError::SchemaTooNew {
                    found: current,
                    known,
                });
            }
            for (version, sql) in migrations.iter().filter(|m| m.0 > current) {
                sqlx::raw_sql(*sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query(record)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }
}
