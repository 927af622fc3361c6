//! Domain records in their wire shapes (`warrant_proto`), shared by the CLI's `--json` output
//! and the management API.

use warrant_proto::{
    ClientAuthenticationMethods, ClientAuthenticationView, ClientCredentialView,
    ClientCredentialsQuota, ClientGrantView, ClientView, ConfigChangeView, ConfigCreatedView,
    ConfigResultView, CredentialRef, FederatedCredentialView, GRANT_CLIENT_CREDENTIALS,
    LogDetailsView, LogEventView, PrivateKeyJwtMethod, ProofOfPossessionView, ResourceServerView,
    ScopeView, SigningKeyView, TokenQuotaView, TrustedIssuerView,
};

use crate::admin::{ConfigChange, CreatedSecret};
use crate::clock::{rfc3339, rfc3339_ms};
use crate::domain::events::StoredEvent;
use crate::domain::{
    Application, ClientGrant, CustomClaims, FederatedCredential, Invalid, PopMechanism,
    ProofOfPossession, PublicKeyCredential, ResourceServer, TokenQuota, TrustedIssuer,
};
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
            proof_of_possession: api.proof_of_possession.map(|p| ProofOfPossessionView {
                mechanism: p.mechanism.as_str().to_owned(),
                required: p.required,
            }),
            created_at: rfc3339(api.created_at),
            updated_at: rfc3339(api.updated_at),
        }
    }
}

/// A proof-of-possession setting as the management API and the CLI send it: `mechanism`
/// checked (only `"dpop"`; `"mtls"` refused with the reason).
pub fn proof_of_possession_from_view(
    view: &ProofOfPossessionView,
) -> Result<ProofOfPossession, Invalid> {
    Ok(ProofOfPossession {
        mechanism: PopMechanism::parse(&view.mechanism)?,
        required: view.required,
    })
}

/// A quota as the management API receives it; `enforce: false` is observe mode (counted and
/// reported, refusing nothing).
pub fn token_quota_from_view(view: &TokenQuotaView) -> TokenQuota {
    let q = view.client_credentials;
    TokenQuota {
        per_hour: q.per_hour,
        per_day: q.per_day,
        observe_only: !q.enforce,
    }
}

/// Custom claims as the management API shows them: a JSON object.
pub fn claims_view(claims: &CustomClaims) -> serde_json::Map<String, serde_json::Value> {
    claims
        .as_map()
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Custom claims as the management API takes them, checked: a 400's message names the claim.
pub fn claims_from_view(
    view: serde_json::Map<String, serde_json::Value>,
) -> Result<CustomClaims, Invalid> {
    CustomClaims::new(view.into_iter().collect())
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
        custom_claims: claims_view(&app.custom_claims),
        client_secret: client_secret.map(str::to_owned),
        client_secret_expires_at: None,
        token_quota: app.token_quota.map(|q| TokenQuotaView {
            client_credentials: ClientCredentialsQuota {
                enforce: !q.observe_only,
                per_hour: q.per_hour,
                per_day: q.per_day,
            },
        }),
        client_authentication_methods: app.private_key_jwt.as_ref().map(|ids| {
            ClientAuthenticationMethods {
                private_key_jwt: Some(PrivateKeyJwtMethod {
                    credentials: ids
                        .iter()
                        .map(|id| CredentialRef { id: id.clone() })
                        .collect(),
                }),
            }
        }),
        created_at: rfc3339(app.created_at),
        updated_at: rfc3339(app.updated_at),
    }
}

impl From<&PublicKeyCredential> for ClientCredentialView {
    fn from(cred: &PublicKeyCredential) -> Self {
        Self {
            id: cred.id.clone(),
            name: cred.name.clone(),
            kid: cred.kid.clone(),
            alg: cred.alg.name().to_owned(),
            credential_type: "public_key".to_owned(),
            created_at: rfc3339(cred.created_at),
            updated_at: rfc3339(cred.updated_at),
            expires_at: cred.expires_at.map(rfc3339),
        }
    }
}

impl From<&TrustedIssuer> for TrustedIssuerView {
    fn from(issuer: &TrustedIssuer) -> Self {
        let (jwks_uri, jwks) = issuer.keys.parts();
        let jwks_uri = jwks_uri.map(str::to_owned);
        let jwks = jwks.and_then(|text| serde_json::from_str(text).ok());
        Self {
            id: issuer.id.clone(),
            issuer: issuer.issuer.clone(),
            name: issuer.name.clone(),
            key_source: issuer.keys.kind().to_owned(),
            jwks_uri,
            jwks,
            bearer_token_file: issuer.bearer_token_file.clone(),
            ca_file: issuer.ca_file.clone(),
            algorithms: issuer
                .algorithms
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
            max_assertion_lifetime: issuer.max_assertion_lifetime,
            created_at: rfc3339(issuer.created_at),
            updated_at: rfc3339(issuer.updated_at),
        }
    }
}

/// A federated credential in its wire shape; `issuer` is its trusted issuer's URL.
pub fn federated_credential_view(
    cred: &FederatedCredential,
    issuer: &str,
) -> FederatedCredentialView {
    FederatedCredentialView {
        id: cred.id.clone(),
        client_id: cred.client_id.clone(),
        name: cred.name.clone(),
        issuer_id: cred.issuer_id.clone(),
        issuer: issuer.to_owned(),
        subject: cred.subject.clone(),
        audience: cred.audience.clone(),
        conditions: cred.conditions_map(),
        created_at: rfc3339(cred.created_at),
        updated_at: rfc3339(cred.updated_at),
        expires_at: cred.expires_at.map(rfc3339),
    }
}

impl From<&ClientGrant> for ClientGrantView {
    fn from(grant: &ClientGrant) -> Self {
        Self {
            id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            audience: grant.audience.clone(),
            scope: grant.scopes.clone(),
            custom_claims: claims_view(&grant.custom_claims),
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
            alg: key.alg.as_str().to_owned(),
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

impl From<&StoredEvent> for LogEventView {
    /// The event as Auth0's log API shows it: the token's ID and, for an aggregated refusal,
    /// how many requests it stands for are its details.
    fn from(stored: &StoredEvent) -> Self {
        let e = &stored.event;
        let count = (e.count != 1).then_some(e.count);
        Self {
            log_id: stored.seq.to_string(),
            date: rfc3339_ms(e.date_ms),
            kind: e.kind.to_string(),
            description: e.description.to_string(),
            client_id: e.client_id.clone(),
            audience: e.audience.clone(),
            scope: e.scope.clone(),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            details: (e.jti.is_some() || count.is_some() || e.auth.is_some()).then(|| {
                LogDetailsView {
                    jti: e.jti.clone(),
                    count,
                    client_authentication: e.auth.as_ref().map(|a| ClientAuthenticationView {
                        method: a.method.to_string(),
                        credential_id: a.credential_id.clone(),
                        issuer: a.issuer.clone(),
                        subject: a.subject.clone(),
                    }),
                }
            }),
        }
    }
}

impl From<&ConfigChange> for ConfigChangeView {
    fn from(change: &ConfigChange) -> Self {
        Self {
            action: change.action.as_str().to_owned(),
            kind: change.kind.to_owned(),
            key: change.key.clone(),
            details: change.details.clone(),
        }
    }
}

/// A configuration plan (`created` empty, its fingerprint) or apply, in its wire shape: the
/// new applications' secrets in the clear, shown once.
pub fn config_result_view(
    changes: &[ConfigChange],
    created: &[CreatedSecret],
    fingerprint: Option<String>,
) -> ConfigResultView {
    ConfigResultView {
        fingerprint,
        changes: changes.iter().map(ConfigChangeView::from).collect(),
        created: created
            .iter()
            .map(|c| ConfigCreatedView {
                name: c.name.clone(),
                client_id: c.client_id.clone(),
                client_secret: c.secret.expose().to_owned(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::domain::events::{AuditEvent, types};

    fn refusal(client: &str, description: &'static str) -> AuditEvent {
        AuditEvent {
            date_ms: 5,
            kind: types::TOKEN_FAILED.into(),
            description: description.into(),
            client_id: Some(client.into()),
            ip: Some("192.0.2.1".into()),
            audience: Some("https://a".into()),
            ..AuditEvent::default()
        }
    }

    fn wire(stored: &StoredEvent) -> serde_json::Value {
        serde_json::to_value(LogEventView::from(stored)).unwrap()
    }

    #[test]
    fn counts_show_in_the_logs_api() {
        let stored = StoredEvent {
            seq: 1,
            event: AuditEvent {
                count: 3,
                jti: Some("j".into()),
                ..refusal("c", "wrong secret")
            },
        };
        let json = wire(&stored);
        assert_eq!(json["details"], json!({"jti": "j", "count": 3}));
        let single = StoredEvent {
            seq: 2,
            event: refusal("c", "wrong secret"),
        };
        assert!(wire(&single).get("details").is_none());
    }

    #[test]
    fn log_events_have_auth0s_fields_and_only_those_they_have() {
        let full = StoredEvent {
            seq: 42,
            event: AuditEvent {
                date_ms: 1_795_320_537_123,
                kind: types::TOKEN_ISSUED.into(),
                description: "issued".into(),
                client_id: Some("c".into()),
                audience: Some("https://a".into()),
                scope: Some("read:x".into()),
                ip: Some("192.0.2.1".into()),
                user_agent: Some("curl".into()),
                jti: Some("j".into()),
                count: 1,
                auth: None,
            },
        };
        assert_eq!(
            wire(&full),
            json!({
                "log_id": "42",
                "date": "2026-11-22T04:08:57.123Z",
                "type": "seccft",
                "description": "issued",
                "client_id": "c",
                "audience": "https://a",
                "scope": "read:x",
                "ip": "192.0.2.1",
                "user_agent": "curl",
                "details": {"jti": "j"},
            })
        );
        let bare = StoredEvent {
            seq: 7,
            event: AuditEvent {
                date_ms: 1_795_320_537_123,
                kind: types::MANAGEMENT_OK.into(),
                description: "POST /api/v2/clients".into(),
                ..AuditEvent::default()
            },
        };
        assert_eq!(
            wire(&bare),
            json!({
                "log_id": "7",
                "date": "2026-11-22T04:08:57.123Z",
                "type": "sapi",
                "description": "POST /api/v2/clients",
            })
        );
    }
}
