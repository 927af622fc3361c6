//! Revoked access tokens (RFC 7009): the revocation endpoint's one write.

use std::net::IpAddr;

use super::followup::Change;
use super::{Admin, AdminError};

/// The most unexpired revoked tokens one application may have: what the revocation list can
/// hold is bounded by the number of applications, and an application that needs more should
/// rotate its secret instead (which revokes every token issued before).
pub const MAX_REVOKED_PER_CLIENT: i64 = 10_000;

impl Admin {
    /// Puts the token `jti` of `client_id` for `audience`, valid until `expires_at`, on the
    /// revocation list until then; this instance's catalog knows it when this returns, the
    /// others within their poll. The audit log records who revoked which API's token (its
    /// `jti`, never the token), from `ip`.
    pub async fn revoke_token(
        &self,
        client_id: &str,
        audience: &str,
        jti: &str,
        expires_at: u64,
        ip: Option<IpAddr>,
    ) -> Result<(), AdminError> {
        let now = self.clock.now();
        let stored = self
            .store
            .revoke_token(jti, client_id, expires_at, now, MAX_REVOKED_PER_CLIENT)
            .await?;
        if !stored {
            return Err(AdminError::Conflict(format!(
                "this application has {MAX_REVOKED_PER_CLIENT} revoked tokens that have not \
                 expired yet; rotate its secret to revoke all its tokens at once"
            )));
        }
        self.followup(Change::TokenRevoked {
            client_id: client_id.to_owned(),
            audience: audience.to_owned(),
            jti: jti.to_owned(),
            ip: ip.map(|ip| ip.to_string()),
        })
        .await;
        Ok(())
    }
}
