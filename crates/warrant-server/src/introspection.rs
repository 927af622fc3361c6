//! Token introspection (RFC 7662), from memory: whether an access token this server issued is
//! active, and its claims, for a caller allowed to see them.
//!
//! **Who may introspect what.** An application may introspect the tokens of the APIs it holds a
//! client grant on (a grant without scopes is enough: an API gateway gets one on the APIs it
//! fronts); its own tokens are always among them. Any other token is `{"active": false}`, as
//! is any token that is not active, so the answer never tells a token of another API from a
//! forged one. A caller learns nothing a holder of the token could not read in it already
//! (the claims are the JWT's payload) beyond whether it still stands.
//!
//! **Active** means: the signature verifies with a key the server still publishes
//! (`warrant-guard`'s verifier over the catalog's keys, without leeway), the token is
//! unexpired, its application and its grant on the token's API still exist, and no secret
//! rotation revoked it ([`Catalog::standing`]), and it was not revoked (RFC 7009: the catalog
//! holds the revoked `jti`s, loaded with it on every instance). No storage is read for a client
//! in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Map, Value};
use warrant_guard::{Algorithm, Claims, Error as TokenError, Verifier};

use crate::catalog::{Catalog, CatalogVerifier, ClientEntry, LookupError, Standing};
use crate::domain::{RESERVED_CLAIMS, SigningAlg};

/// Verified tokens each API's verifier remembers (about 1 KiB each): a gateway asking about
/// the same token again costs a hash lookup rather than a signature check.
const TOKEN_CACHE: usize = 4_096;

/// The RFC 7662 members an answer carries, when the token has them.
const MEMBERS: &[&str] = &[
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "cnf",
];

/// Answers introspection requests from the catalog's memory.
#[derive(Debug)]
pub struct Introspector {
    catalog: Arc<Catalog>,
    issuer: String,
    /// One verifier per API, made on first use; only APIs the catalog knows, so as many as
    /// there are APIs at most.
    verifiers: RwLock<HashMap<String, Arc<CatalogVerifier>>>,
}

impl Introspector {
    /// Tokens of `issuer` (with its trailing slash, as in `iss`).
    pub fn new(catalog: Arc<Catalog>, issuer: &str) -> Self {
        Self {
            catalog,
            issuer: issuer.to_owned(),
            verifiers: RwLock::new(HashMap::new()),
        }
    }

    /// The RFC 7662 answer about `token` for the authenticated `caller` at `now` (Unix
    /// seconds): the token's members with `"active": true` and the API it is for, or `None`
    /// for `{"active": false}`. Fails only when a client not in memory could not be looked up.
    pub(crate) async fn introspect(
        &self,
        caller: &ClientEntry,
        token: &str,
        now: u64,
    ) -> Result<Option<(Map<String, Value>, String)>, LookupError> {
        Ok(self.active(caller, token, now).await?.map(|claims| {
            let audience = claims
                .get("aud")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (answer(claims.raw()), audience.to_owned())
        }))
    }

    /// The claims of `token` if it is active and `caller` may see it (see the module's
    /// documentation), else `None`.
    pub(crate) async fn active(
        &self,
        caller: &ClientEntry,
        token: &str,
        now: u64,
    ) -> Result<Option<Claims>, LookupError> {
        let snapshot = self.catalog.snapshot();
        // The caller's APIs; a token verifies for at most one of them (its audience). Any
        // failure other than the audience is the same for all: the answer is then known.
        for (audience, grant) in &caller.grants {
            if snapshot
                .apis
                .get(audience)
                .is_none_or(|api| api.id != grant.api_id)
            {
                continue;
            }
            let Some(verifier) = self.verifier(audience) else {
                continue;
            };
            match verifier.get(&self.catalog).verify_at(token, now).await {
                Ok(claims) => {
                    let client_id = claims.client_id().unwrap_or(claims.sub()).to_owned();
                    let issued_at = claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
                    let standing = self
                        .catalog
                        .standing(&client_id, audience, issued_at, now)
                        .await?;
                    let revoked = claims
                        .get("jti")
                        .and_then(Value::as_str)
                        .is_none_or(|jti| self.catalog.snapshot().is_revoked(jti));
                    if revoked || !matches!(standing, Standing::Stands(_)) {
                        return Ok(None);
                    }
                    return Ok(Some(claims));
                }
                Err(TokenError::WrongAudience) => {}
                Err(_) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The verifier of tokens for `audience` (an API the catalog knows). `None` only if no
    /// verifier can be built for it (the issuer and audience are the server's own: never).
    fn verifier(&self, audience: &str) -> Option<Arc<CatalogVerifier>> {
        let known = self
            .verifiers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(audience)
            .cloned();
        if known.is_some() {
            return known;
        }
        let mut verifiers = self.verifiers.write().unwrap_or_else(|p| p.into_inner());
        // Forget the verifiers of APIs deleted since.
        let snapshot = self.catalog.snapshot();
        verifiers.retain(|aud, _| snapshot.knows_api(aud));
        if let Some(verifier) = verifiers.get(audience) {
            return Some(Arc::clone(verifier));
        }
        // Every algorithm Warrant signs with: an API's tokens outlive a change of its
        // algorithm, and the guard binds each algorithm to its key type (keys come only from
        // the published set).
        let algorithms: Vec<Algorithm> = SigningAlg::ALL.into_iter().map(guard_alg).collect();
        let builder = Verifier::builder(self.issuer.as_str(), audience)
            .algorithms(&algorithms)
            .leeway(Duration::ZERO)
            .token_cache(TOKEN_CACHE);
        let verifier = Arc::new(CatalogVerifier::new(builder).ok()?);
        verifiers.insert(audience.to_owned(), Arc::clone(&verifier));
        Some(verifier)
    }
}

/// The guard's name for a signing algorithm.
fn guard_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::PS256 => Algorithm::PS256,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::EdDSA => Algorithm::EdDSA,
    }
}

/// The RFC 7662 members of an active token: its claims of those names, its custom claims,
/// and `token_type`.
fn answer(claims: &Map<String, Value>) -> Map<String, Value> {
    let mut answer = Map::new();
    answer.insert("active".into(), Value::Bool(true));
    for &name in MEMBERS {
        if let Some(value) = claims.get(name) {
            answer.insert(name.into(), value.clone());
        }
    }
    // The token's custom claims (RFC 7662 §2.2 allows further members): every claim whose
    // name no custom claim may take is Warrant's own, and left out unless a member above.
    for (name, value) in claims {
        if !RESERVED_CLAIMS.contains(&name.as_str()) {
            answer.insert(name.clone(), value.clone());
        }
    }
    // RFC 9449 §6.2: a token bound to a DPoP key is of type DPoP.
    let bound = claims.get("cnf").and_then(|c| c.get("jkt")).is_some();
    answer.insert(
        "token_type".into(),
        Value::from(if bound { "DPoP" } else { "Bearer" }),
    );
    answer
}
