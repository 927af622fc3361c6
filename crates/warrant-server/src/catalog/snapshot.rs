//! One consistent, immutable view of the APIs and signing keys, and which keys the JWKS
//! publishes: for each algorithm, the next key before it signs, the current one, and previous
//! ones while tokens they signed may still be valid.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use warrant_proto::Jwks;

use crate::domain::{DEFAULT_TOKEN_LIFETIME, SigningAlg, TrustedIssuer};
use crate::keys::{KeyStatus, MasterKey, SigningKey, SigningKeyError};
use crate::store::CatalogState;

/// An API as issuance needs it.
#[derive(Debug)]
pub(crate) struct ApiEntry {
    pub(crate) id: String,
    pub(crate) token_lifetime: u32,
    /// The scopes the API defines.
    pub(crate) scopes: HashSet<String>,
    /// The current key of the API's algorithm: what its tokens are signed with. `None` only
    /// until that algorithm's key set exists.
    pub(crate) signing_key: Option<Arc<SigningKey>>,
    /// Whether a token for the API is refused without a DPoP proof.
    pub(crate) dpop_required: bool,
}

/// An algorithm's current key, and since when it signs.
#[derive(Debug)]
pub(crate) struct CurrentKey {
    pub(crate) key: Arc<SigningKey>,
    pub(crate) since: Option<u64>,
}

/// One consistent, immutable view of the APIs and keys.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) version: i64,
    pub(crate) apis: HashMap<String, ApiEntry>,
    /// The current key of each algorithm that has one.
    pub(crate) current: Vec<CurrentKey>,
    /// The published keys.
    pub(crate) jwks_keys: Jwks,
    /// The serialized JWKS, built once per change rather than per request.
    pub(crate) jwks: Bytes,
    /// The `jti` of each revoked token not yet expired when the snapshot was built.
    pub(crate) revoked: HashSet<String>,
    /// When credentials expire, `(client_id, expires_at)` sorted by client then time: each
    /// secret and key that had not expired when the snapshot was built.
    pub(crate) expiries: Vec<(String, u64)>,
    /// The trusted issuers (workload identity federation) by issuer URL or SPIFFE trust
    /// domain (`spiffe://<domain>`).
    pub(crate) issuers: HashMap<String, Arc<TrustedIssuer>>,
}

impl Snapshot {
    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn jwks(&self) -> &Bytes {
        &self.jwks
    }

    /// Whether `identifier` names an API this snapshot knows.
    pub fn knows_api(&self, identifier: &str) -> bool {
        self.apis.contains_key(identifier)
    }

    /// Each application's nearest credential expiry after `now` (Unix seconds), by client ID:
    /// for the expiry metric and the dashboard's warnings. No query: built with the snapshot.
    pub fn nearest_expiries(&self, now: u64) -> impl Iterator<Item = (&str, u64)> {
        let mut last: Option<&str> = None;
        self.expiries.iter().filter_map(move |(client_id, at)| {
            if *at <= now || last == Some(client_id.as_str()) {
                return None;
            }
            last = Some(client_id);
            Some((client_id.as_str(), *at))
        })
    }

    /// Whether the token `jti` was revoked (RFC 7009).
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.contains(jti)
    }

    /// Whether the default algorithm (RS256) and every API's algorithm have a current key.
    pub fn has_signing_key(&self) -> bool {
        self.current_key(SigningAlg::RS256).is_some()
            && self.apis.values().all(|api| api.signing_key.is_some())
    }

    /// The key ID of `alg`'s current signing key and when it started signing.
    pub fn current_key(&self, alg: SigningAlg) -> Option<(&str, Option<u64>)> {
        self.current
            .iter()
            .find(|c| c.key.alg() == alg)
            .map(|c| (c.key.kid(), c.since))
    }

    /// Each algorithm's current key: its algorithm, key ID and since when it signs.
    pub fn current_keys(&self) -> impl Iterator<Item = (SigningAlg, &str, Option<u64>)> {
        self.current
            .iter()
            .map(|c| (c.key.alg(), c.key.kid(), c.since))
    }

    /// The published keys (next, current, and previous keys whose tokens may still be valid).
    pub fn published_keys(&self) -> &Jwks {
        &self.jwks_keys
    }

    pub(super) fn build(
        state: &CatalogState,
        keys: &mut HashMap<String, Arc<SigningKey>>,
        master: &MasterKey,
        now: u64,
    ) -> Result<Self, SigningKeyError> {
        // A previous key stays published while tokens it signed may still be valid: for the
        // longest token lifetime of any API after it stopped signing.
        let longest_lifetime = state
            .resource_servers
            .iter()
            .map(|api| u64::from(api.token_lifetime))
            .max()
            .unwrap_or(u64::from(DEFAULT_TOKEN_LIFETIME));
        // Unseal each key once per process, not once per change.
        keys.retain(|kid, _| state.signing_keys.iter().any(|k| &k.kid == kid));
        let mut current = Vec::new();
        let mut published = Vec::new();
        for stored in &state.signing_keys {
            let still_valid = match stored.status {
                KeyStatus::Previous => stored
                    .current_until
                    .is_none_or(|until| now < until.saturating_add(longest_lifetime)),
                status => status.is_published(),
            };
            if !still_valid {
                continue;
            }
            published.push(stored.published_jwk());
            if stored.status == KeyStatus::Current {
                let key = match keys.get(&stored.kid) {
                    Some(key) => Arc::clone(key),
                    None => {
                        let key = Arc::new(SigningKey::from_stored(stored, master)?);
                        keys.insert(stored.kid.clone(), Arc::clone(&key));
                        key
                    }
                };
                current.push(CurrentKey {
                    key,
                    since: stored.current_since,
                });
            }
        }
        let apis = state
            .resource_servers
            .iter()
            .map(|api| {
                let entry = ApiEntry {
                    id: api.id.clone(),
                    token_lifetime: api.token_lifetime,
                    scopes: api.scopes.iter().map(|s| s.value.clone()).collect(),
                    signing_key: current
                        .iter()
                        .find(|c| c.key.alg() == api.signing_alg)
                        .map(|c| Arc::clone(&c.key)),
                    dpop_required: api.dpop_required(),
                };
                (api.identifier.clone(), entry)
            })
            .collect();

        // Next first, then current, then previous: the order verifiers see them in.
        let order = |jwk: &warrant_proto::Jwk| {
            state
                .signing_keys
                .iter()
                .find(|k| Some(&k.kid) == jwk.kid.as_ref())
                .map_or(3, |k| match k.status {
                    KeyStatus::Next => 0,
                    KeyStatus::Current => 1,
                    _ => 2,
                })
        };
        published.sort_by_key(order);
        let jwks_keys = Jwks { keys: published };
        let jwks = serde_json::to_vec(&jwks_keys)
            .map(Bytes::from)
            .unwrap_or_default();
        // Revocations of expired tokens are dropped here, and from storage at the next one.
        let revoked = state
            .revoked_tokens
            .iter()
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(jti, _)| jti.clone())
            .collect();
        let mut expiries: Vec<(String, u64)> = state
            .credential_expiries
            .iter()
            .filter(|(_, at)| *at > now)
            .cloned()
            .collect();
        expiries.sort_unstable();
        Ok(Self {
            version: state.version,
            apis,
            current,
            jwks_keys,
            jwks,
            revoked,
            expiries,
            issuers: state
                .trusted_issuers
                .iter()
                .map(|i| (i.issuer.clone(), Arc::new(i.clone())))
                .collect(),
        })
    }
}
