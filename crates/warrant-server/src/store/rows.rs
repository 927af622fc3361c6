//! What both engines share: the SELECT lists and the mapping from rows to domain records. Each
//! engine only says how to read one column of its row type ([`Col`]).

use super::{StoreError, parse_key_status};
use crate::domain::events::{AuditEvent, StoredEvent};
use crate::domain::{
    Application, AuthMethod, ClientGrant, ClientSecret, ResourceServer, Scope, SecretHash,
    SigningAlg, TokenQuota,
};
use crate::keys::StoredSigningKey;

/// One column of a row, by name, as the types the schema uses.
pub(crate) trait Col {
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, name: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError>;
    fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn ts(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn unts(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) const RS_COLUMNS: &str =
    "id, identifier, name, scopes, token_lifetime, signing_alg, created_at, updated_at";
pub(crate) const RS_SELECT: &str =
    "SELECT id, identifier, name, scopes, token_lifetime, signing_alg, created_at, updated_at
     FROM resource_servers ORDER BY created_at, id";
pub(crate) const APP_COLUMNS: &str = "client_id, name, description, created_at, updated_at,
        token_endpoint_auth_method, client_metadata, token_quota";
pub(crate) const APP_SELECT: &str = "SELECT client_id, name, description, created_at, updated_at,
        token_endpoint_auth_method, client_metadata, token_quota
     FROM applications ORDER BY created_at, client_id";
pub(crate) const KEY_SELECT: &str =
    "SELECT kid, alg, status, public_jwk, sealed_private_key, certificate, created_at,
        current_since, current_until, revoked_at
     FROM signing_keys ORDER BY created_at, kid";

pub(crate) fn metadata_json(app: &Application) -> Result<String, StoreError> {
    serde_json::to_string(&app.client_metadata).map_err(|e| corrupt("client_metadata", e))
}

pub(crate) fn quota_json(quota: Option<&TokenQuota>) -> Result<Option<String>, StoreError> {
    quota
        .map(|q| serde_json::to_string(q).map_err(|e| corrupt("token_quota", e)))
        .transpose()
}

pub(crate) fn quota_from_row(row: &impl Col) -> Result<Option<TokenQuota>, StoreError> {
    row.opt_text("token_quota")?
        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("token_quota", e)))
        .transpose()
}

pub(crate) fn rs_from_row(row: &impl Col) -> Result<ResourceServer, StoreError> {
    let scopes: Vec<Scope> =
        serde_json::from_str(&row.text("scopes")?).map_err(|e| corrupt("API scopes", e))?;
    Ok(ResourceServer {
        id: row.text("id")?,
        identifier: row.text("identifier")?,
        name: row.text("name")?,
        scopes,
        token_lifetime: u32::try_from(row.int("token_lifetime")?)
            .map_err(|e| corrupt("token_lifetime", e))?,
        signing_alg: SigningAlg::parse(&row.text("signing_alg")?)
            .map_err(|e| corrupt("signing_alg", e))?,
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
    })
}

pub(crate) fn app_from_row(row: &impl Col) -> Result<Application, StoreError> {
    Ok(Application {
        client_id: row.text("client_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        token_endpoint_auth_method: AuthMethod::parse(&row.text("token_endpoint_auth_method")?)
            .map_err(|e| corrupt("token_endpoint_auth_method", e))?,
        client_metadata: serde_json::from_str(&row.text("client_metadata")?)
            .map_err(|e| corrupt("client_metadata", e))?,
        token_quota: quota_from_row(row)?,
        created_at: unts(row.int("created_at")?),
        updated_at: unts(row.int("updated_at")?),
    })
}

pub(crate) fn secret_from_row(row: &impl Col) -> Result<ClientSecret, StoreError> {
    let hash: [u8; 32] = row
        .bytes("secret_hash")?
        .try_into()
        .map_err(|_| StoreError::Corrupt("a secret hash is not 32 bytes".into()))?;
    Ok(ClientSecret {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        hash: SecretHash(hash),
        created_at: unts(row.int("created_at")?),
        expires_at: row.opt_int("expires_at")?.map(unts),
    })
}

pub(crate) fn grant_from_row(row: &impl Col) -> Result<ClientGrant, StoreError> {
    Ok(ClientGrant {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        audience: row.text("audience")?,
        scopes: serde_json::from_str(&row.text("scopes")?)
            .map_err(|e| corrupt("grant scopes", e))?,
        created_at: unts(row.int("created_at")?),
    })
}

pub(crate) fn key_from_row(row: &impl Col) -> Result<StoredSigningKey, StoreError> {
    Ok(StoredSigningKey {
        kid: row.text("kid")?,
        alg: SigningAlg::parse(&row.text("alg")?).map_err(|e| corrupt("key alg", e))?,
        status: parse_key_status(&row.text("status")?)?,
        public_jwk: serde_json::from_str(&row.text("public_jwk")?)
            .map_err(|e| corrupt("public JWK", e))?,
        sealed_private_key: row.bytes("sealed_private_key")?,
        certificate: row.opt_bytes("certificate")?,
        created_at: unts(row.int("created_at")?),
        current_since: row.opt_int("current_since")?.map(unts),
        current_until: row.opt_int("current_until")?.map(unts),
        revoked_at: row.opt_int("revoked_at")?.map(unts),
    })
}

pub(crate) const AUDIT_COLUMNS: &str =
    "seq, date_ms, type, description, client_id, audience, scope, ip, user_agent, jti, count";

/// The WHERE clause of an audit listing; binds: type, client ID, from, to, after.
pub(crate) const AUDIT_WHERE: &str = "(CAST($1 AS TEXT) IS NULL OR type = $1)
       AND (CAST($2 AS TEXT) IS NULL OR client_id = $2)
       AND (CAST($3 AS BIGINT) IS NULL OR date_ms >= $3)
       AND (CAST($4 AS BIGINT) IS NULL OR date_ms <= $4)
       AND (CAST($5 AS BIGINT) IS NULL OR seq > $5)";

pub(crate) fn event_from_row(row: &impl Col) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: row.int("seq")?,
        event: AuditEvent {
            date_ms: unts(row.int("date_ms")?),
            kind: row.text("type")?.into(),
            description: row.text("description")?.into(),
            client_id: row.opt_text("client_id")?,
            audience: row.opt_text("audience")?,
            scope: row.opt_text("scope")?,
            ip: row.opt_text("ip")?,
            user_agent: row.opt_text("user_agent")?,
            jti: row.opt_text("jti")?,
            count: unts(row.int("count")?),
        },
    })
}

/// Implements [`Col`] for an engine's row type.
macro_rules! impl_col {
    ($row:ty) => {
        impl $crate::store::rows::Col for $row {
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
pub(crate) use impl_col;
