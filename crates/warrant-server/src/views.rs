//! Domain records in their wire shapes (`warrant_proto`), shared by the CLI's `--json` output
//! and the management API.

use warrant_proto::{
    ClientCredentialsQuota, ClientGrantView, ClientView, GRANT_CLIENT_CREDENTIALS,
    ResourceServerView, ScopeView, SigningKeyView, TokenQuotaView,
};

use crate::clock::rfc3339;
use crate::domain::{Application, ClientGrant, ResourceServer, TokenQuota};
use crate::keys::{
    KeyStatus, StoredSigningKey, certificate_fingerprint, certificate_pem, certificate_pkcs7_pem,
    certificate_thumbprint,
};

impl From<&ResourceServer> for ResourceServerView {
    fn from(api: &ResourceServer) -> Self {
        Self {
            id: api.id.clone(),
            identifier: api.identifier.clone(),
            name: api.name.clone(),
            scopes: api
                .scopes
                .iter()
                .map(|s| ScopeView {
                    value: s.value.clone(),
                    description: s.description.clone(),
                })
                .collect(),
            token_lifetime: api.token_lifetime,
            signing_alg: api.signing_alg.as_str().to_owned(),
            created_at: rfc3339(api.created_at),
            updated_at: rfc3339(api.updated_at),
        }
    }
}

/// A quota as the management API receives it; one that is not enforced is no quota.
pub fn token_quota_from_view(view: &TokenQuotaView) -> Option<TokenQuota> {
    let q = view.client_credentials;
    q.enforce.then_some(TokenQuota {
        per_hour: q.per_hour,
        per_day: q.per_day,
    })
}

/// An application's wire shape; `client_secret` only when it was just created or rotated.
pub fn client_view(app: &Application, client_secret: Option<&str>) -> ClientView {
    ClientView {
        client_id: app.client_id.clone(),
        name: app.name.clone(),
        description: app.description.clone(),
        app_type: "non_interactive".to_owned(),
        grant_types: vec![GRANT_CLIENT_CREDENTIALS.to_owned()],
        token_endpoint_auth_method: app.token_endpoint_auth_method.as_str().to_owned(),
        client_metadata: app.client_metadata.clone(),
        client_secret: client_secret.map(str::to_owned),
        token_quota: app.token_quota.map(|q| TokenQuotaView {
            client_credentials: ClientCredentialsQuota {
                enforce: true,
                per_hour: q.per_hour,
                per_day: q.per_day,
            },
        }),
        created_at: rfc3339(app.created_at),
        updated_at: rfc3339(app.updated_at),
    }
}

impl From<&ClientGrant> for ClientGrantView {
    fn from(grant: &ClientGrant) -> Self {
        Self {
            id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            audience: grant.audience.clone(),
            scope: grant.scopes.clone(),
            created_at: rfc3339(grant.created_at),
        }
    }
}

impl From<&StoredSigningKey> for SigningKeyView {
    fn from(key: &StoredSigningKey) -> Self {
        // Every key has a certificate once the server has started; an empty string otherwise.
        let cert = |f: fn(&[u8]) -> String| key.certificate.as_deref().map(f).unwrap_or_default();
        Self {
            kid: key.kid.clone(),
            cert: cert(certificate_pem),
            pkcs7: cert(certificate_pkcs7_pem),
            current: key.status == KeyStatus::Current,
            next: key.status == KeyStatus::Next,
            previous: key.status == KeyStatus::Previous,
            current_since: key.current_since.map(rfc3339),
            current_until: key.current_until.map(rfc3339),
            fingerprint: cert(certificate_fingerprint),
            thumbprint: cert(certificate_thumbprint),
            revoked: key.status == KeyStatus::Revoked,
            revoked_at: key.revoked_at.map(rfc3339),
            public_jwk: key.published_jwk(),
        }
    }
}
