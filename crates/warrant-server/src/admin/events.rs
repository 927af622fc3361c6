//! Reading the audit log and the token activity it counts.

use super::{Admin, AdminError};

impl Admin {
    /// Audit events matching `filter`.
    pub async fn list_events(
        &self,
        filter: &crate::domain::events::AuditFilter,
    ) -> Result<Vec<crate::domain::events::StoredEvent>, AdminError> {
        Ok(self.store.list_audit_events(filter).await?)
    }

    /// How many audit events match `filter` (its paging aside).
    pub async fn count_events(
        &self,
        filter: &crate::domain::events::AuditFilter,
    ) -> Result<u64, AdminError> {
        Ok(self.store.count_audit_events(filter).await?)
    }

    /// Token requests since `from_ms` counted per outcome, client, audience, failure reason and
    /// time bucket (the dashboard's Activity page).
    pub async fn token_activity(
        &self,
        from_ms: u64,
        bucket_ms: u64,
    ) -> Result<Vec<crate::domain::events::ActivityCount>, AdminError> {
        Ok(self.store.token_activity(from_ms, bucket_ms).await?)
    }
}
