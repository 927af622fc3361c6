//! Workload identity federation at the token endpoint: a client assertion that an external
//! issuer signed (a Kubernetes service-account token, a GitHub Actions OIDC token, a SPIFFE
//! JWT-SVID), checked against the client's federated credentials. The assertion's `iss` picks
//! the trusted issuer (for a SPIFFE JWT-SVID without one, its subject's trust domain); the
//! signature goes through `warrant-guard` (the one JWS verifier) with that issuer's keys,
//! fetched only from where an administrator said, cached per issuer in memory
//! ([`IssuerKeyRing`]); then `exp` (required), the issuer's lifetime cap, and for one of the
//! client's credentials of that issuer: the audience, the subject (pattern), the claim
//! conditions and the credential's expiry. `jti` is not required: platform tokens are reused
//! until they expire.
//!
//! Since a workload sends the same assertion with every token request until it expires, what
//! verification found is remembered ([`Federation`]): by the SHA-256 of the assertion's bytes,
//! its verified claims, until its `exp`, for as long as its trusted issuer's record is the same
//! (not removed, not changed) and the issuer's keys are those it was verified with (the key
//! cache's generation: a refresh that drops the key drops the assertion). Everything that
//! depends on the client or the time (`exp`, the lifetime cap, audience, subject, claim
//! conditions, the credential's expiry) is checked on every request against those claims.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value};
use warrant_guard::{Assertion, Error as JwsError, IssuerKeySource as GuardSource, IssuerKeys};
use warrant_proto::Jwks;

use crate::catalog::{ClientEntry, Snapshot};
use crate::client_assertion::{LEEWAY, Rejected, check_times};
use crate::domain::{IssuerKeySource, TrustedIssuer, spiffe_trust_domain, subject_matches};

/// A federated assertion that passed: which credential, and whose workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedAccepted {
    pub credential_id: String,
    /// The trusted issuer (its URL, or `spiffe://<trust domain>`).
    pub issuer: String,
    /// The assertion's `sub`.
    pub subject: String,
}

fn rejected(text: impl Into<Cow<'static, str>>) -> Rejected {
    Rejected(text.into())
}

/// How many verified assertions are remembered. A workload sends one assertion until it
/// expires (a projected service-account token is replaced after 80% of its hour, a GitHub
/// Actions token lives minutes), so this is about how many workloads get tokens at full speed;
/// an entry holds the claims, about 1 KiB.
const REMEMBERED: usize = 4096;

/// What the token endpoint keeps in memory for federation: each trusted issuer's keys, and
/// the assertions verified with them.
#[derive(Debug)]
pub(crate) struct Federation {
    keys: IssuerKeyRing,
    verified: VerifiedAssertions,
}

impl Federation {
    /// `allow_http`: fetch keys over http from loopback addresses too (`--allow-http-issuers`).
    pub(crate) fn new(allow_http: bool) -> Self {
        Self {
            keys: IssuerKeyRing::new(allow_http),
            verified: VerifiedAssertions::new(REMEMBERED),
        }
    }

    /// The assertion `token` as presented, with what was verified of these very bytes before
    /// (not trusted until [`check`] finds that it still stands).
    pub(crate) fn recall<'a>(&self, token: &'a str) -> Presented<'a> {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        Presented {
            token,
            seen: self.verified.get(&key),
            key,
        }
    }

    /// What was verified of `presented` before, with its trusted issuer, if that still stands:
    /// the issuer is trusted with the same record, and its keys are the generation the
    /// assertion was verified with.
    fn recalled<'s>(
        &self,
        presented: &Presented<'_>,
        snapshot: &'s Snapshot,
    ) -> Option<(&'s Arc<TrustedIssuer>, Arc<Verified>)> {
        let seen = presented.seen.as_ref()?;
        let trusted = snapshot.issuers.get(&seen.issuer)?;
        let same = trusted.id == seen.issuer_id
            && trusted.updated_at == seen.issuer_updated_at
            && self.keys.generation(trusted) == Some(seen.generation);
        same.then(|| (trusted, Arc::clone(seen)))
    }

    /// Verifies `presented` with `trusted`'s keys and checks what depends on neither the client
    /// nor the credential. The claims are remembered by [`Federation::remember`] only once a
    /// credential accepted them: validly signed assertions nobody is bound to (anyone can mint
    /// tokens at a public CI issuer) must not push out the workloads' entries.
    async fn verify(
        &self,
        presented: &Presented<'_>,
        trusted: &TrustedIssuer,
        snapshot: &Snapshot,
        now: u64,
    ) -> Result<Arc<Verified>, Rejected> {
        let assertion = Assertion::parse(presented.token, &trusted.algorithms)
            .map_err(|e| describe(e, trusted))?;
        let keys = self
            .keys
            .keys_for(trusted, snapshot)
            .map_err(|e| {
                // The reason (a file that cannot be read, a bad CA bundle) is the operator's.
                tracing::warn!(issuer = %trusted.issuer, error = %e, "a trusted issuer's keys are not usable");
                rejected("the trusted issuer's keys are not usable")
            })?;
        // Read before the key is: should the keys be refetched meanwhile, the assertion is
        // remembered under the older generation, and verified again at its next use.
        let generation = keys.generation();
        let claims = match assertion.verify_with(&keys).await {
            Ok(claims) => claims,
            Err(JwsError::KeysUnavailable) => {
                // What failed (the URL, the network or TLS error) is for the operator, in the
                // log the key cache writes when a fetch fails, not for whoever sent the
                // assertion.
                return Err(rejected("the trusted issuer's keys cannot be fetched"));
            }
            Err(e) => return Err(describe(e, trusted)),
        };
        let sub = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.as_str(),
            _ => return Err(rejected("the assertion has no sub claim")),
        };
        if trusted.is_spiffe() {
            if spiffe_trust_domain(sub) != spiffe_trust_domain(&trusted.issuer) {
                return Err(rejected(
                    "the assertion's sub is not a SPIFFE ID of the trusted trust domain",
                ));
            }
        } else if !matches!(claims.get("iss"), Some(Value::String(iss)) if *iss == trusted.issuer) {
            return Err(rejected("the assertion's iss is not the trusted issuer's"));
        }
        let exp = check_times(&claims, now, trusted.max_assertion_lifetime)?;
        let verified = Arc::new(Verified {
            issuer: trusted.issuer.clone(),
            issuer_id: trusted.id.clone(),
            issuer_updated_at: trusted.updated_at,
            generation: generation.unwrap_or(u64::MAX),
            exp,
            claims,
        });
        Ok(verified)
    }

    /// Remembers an assertion a credential accepted (unless its keys were stale: it is verified
    /// again at its next use).
    fn remember(&self, presented: &Presented<'_>, verified: &Arc<Verified>, now: u64) {
        if verified.generation != u64::MAX {
            self.verified
                .insert(presented.key, Arc::clone(verified), now);
        }
    }
}

/// A client assertion as presented at the token endpoint.
#[derive(Debug)]
pub(crate) struct Presented<'a> {
    token: &'a str,
    /// The SHA-256 of the assertion's bytes.
    key: [u8; 32],
    seen: Option<Arc<Verified>>,
}

impl Presented<'_> {
    /// The assertion's `iss`: as verified, when these bytes were verified before; else as it
    /// claims (trust nothing of it).
    pub(crate) fn issuer(&self) -> Option<Cow<'_, str>> {
        match &self.seen {
            Some(seen) => match seen.claims.get("iss") {
                Some(Value::String(iss)) => Some(Cow::Borrowed(iss)),
                _ => None,
            },
            None => Assertion::unverified_issuer(self.token).map(Cow::Owned),
        }
    }
}

/// An assertion whose signature verified with a trusted issuer's keys, whose `sub` and `iss`
/// are that issuer's, and whose times were within its rules when verified.
#[derive(Debug)]
struct Verified {
    /// The trusted issuer's URL (or `spiffe://<trust domain>`): its key among the snapshot's.
    issuer: String,
    issuer_id: String,
    issuer_updated_at: u64,
    /// The issuer's key set it was verified with.
    generation: u64,
    exp: u64,
    claims: Map<String, Value>,
}

impl Verified {
    /// The assertion's `sub` (present and not empty: checked before it was remembered).
    fn subject(&self) -> &str {
        self.claims.get("sub").and_then(Value::as_str).unwrap_or("")
    }
}

/// Verified assertions by the SHA-256 of their bytes, at most `capacity`: when full, the
/// expired ones go, then the oldest tenth.
#[derive(Debug)]
struct VerifiedAssertions {
    capacity: usize,
    remembered: RwLock<Remembered>,
}

#[derive(Debug, Default)]
struct Remembered {
    /// Each with the number of its insertion, to find the oldest.
    entries: HashMap<[u8; 32], (u64, Arc<Verified>)>,
    inserted: u64,
}

impl VerifiedAssertions {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            remembered: RwLock::default(),
        }
    }

    fn get(&self, key: &[u8; 32]) -> Option<Arc<Verified>> {
        let remembered = self.remembered.read().unwrap_or_else(|p| p.into_inner());
        remembered.entries.get(key).map(|(_, v)| Arc::clone(v))
    }

    fn insert(&self, key: [u8; 32], verified: Arc<Verified>, now: u64) {
        let mut remembered = self.remembered.write().unwrap_or_else(|p| p.into_inner());
        if remembered.entries.len() >= self.capacity && !remembered.entries.contains_key(&key) {
            remembered
                .entries
                .retain(|_, (_, v)| now < v.exp.saturating_add(LEEWAY));
            if remembered.entries.len() >= self.capacity {
                let mut order: Vec<u64> = remembered.entries.values().map(|(n, _)| *n).collect();
                let drop = (self.capacity / 10).max(1).min(order.len());
                let (_, cutoff, _) = order.select_nth_unstable(drop - 1);
                let cutoff = *cutoff;
                remembered.entries.retain(|_, (n, _)| *n > cutoff);
            }
        }
        remembered.inserted += 1;
        let n = remembered.inserted;
        remembered.entries.insert(key, (n, verified));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.remembered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }
}

/// The keys of each trusted issuer, built on first use and kept while the issuer's record is
/// unchanged (its key cache, with its background refresh, lives as long as the entry).
#[derive(Debug)]
struct IssuerKeyRing {
    allow_http: bool,
    entries: RwLock<HashMap<String, RingEntry>>,
}

#[derive(Debug)]
struct RingEntry {
    updated_at: u64,
    keys: Result<IssuerKeys, String>,
}

impl IssuerKeyRing {
    /// `allow_http`: fetch keys over http from loopback addresses too (`--allow-http-issuers`).
    fn new(allow_http: bool) -> Self {
        Self {
            allow_http,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The keys of `issuer`; an error says why they cannot be had (a CA file that cannot be
    /// read, a bad inline JWKS).
    fn keys_for(&self, issuer: &TrustedIssuer, snapshot: &Snapshot) -> Result<IssuerKeys, String> {
        {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = entries
                .get(&issuer.id)
                .filter(|e| e.updated_at == issuer.updated_at)
            {
                return entry.keys.clone();
            }
        }
        let keys = self.build(issuer);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // Issuers no longer trusted leave with their keys.
        entries.retain(|id, _| snapshot.issuers.values().any(|i| &i.id == id));
        entries.insert(
            issuer.id.clone(),
            RingEntry {
                updated_at: issuer.updated_at,
                keys: keys.clone(),
            },
        );
        keys
    }

    /// The generation of `issuer`'s usable keys, if its key cache is built for this very
    /// record and has keys.
    fn generation(&self, issuer: &TrustedIssuer) -> Option<u64> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries
            .get(&issuer.id)
            .filter(|e| e.updated_at == issuer.updated_at)?;
        entry.keys.as_ref().ok()?.generation()
    }

    fn build(&self, issuer: &TrustedIssuer) -> Result<IssuerKeys, String> {
        let source = match &issuer.keys {
            IssuerKeySource::Discovery => GuardSource::Discovery,
            IssuerKeySource::JwksUri(uri) => GuardSource::JwksUri(uri.clone()),
            IssuerKeySource::Inline(text) => GuardSource::Inline(
                serde_json::from_str::<Jwks>(text)
                    .map_err(|e| format!("the inline JWKS does not parse: {e}"))?,
            ),
        };
        let mut builder = IssuerKeys::builder(issuer.issuer.clone(), source)
            .algorithms(&issuer.algorithms)
            .allow_loopback_http(self.allow_http);
        if let Some(path) = &issuer.bearer_token_file {
            builder = builder.bearer_token_file(path);
        }
        if let Some(path) = &issuer.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read ca_file {path}: {e}"))?;
            builder = builder.ca_bundle_pem(pem);
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// Where a credential's checks stopped, for the refusal's words: the furthest one reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Audience,
    Subject,
    Condition,
    Expired,
}

/// Checks `presented` as a federated assertion of `client` at `now`; `issuer_url` is
/// Warrant's (with its trailing slash): the default audience.
pub(crate) async fn check(
    client: &ClientEntry,
    snapshot: &Snapshot,
    federation: &Federation,
    presented: &Presented<'_>,
    issuer_url: &str,
    now: u64,
) -> Result<FederatedAccepted, Rejected> {
    if client.federated.is_empty() {
        return Err(rejected(
            "this client has no federated credentials: bind a trusted issuer's workload to it first",
        ));
    }
    let token = presented.token;
    if token.len() > Assertion::MAX_LEN {
        return Err(rejected("the client assertion is longer than 8 KiB"));
    }
    let recalled = federation.recalled(presented, snapshot);
    let trusted = match &recalled {
        Some((trusted, _)) => *trusted,
        None => Assertion::unverified_issuer(token)
            .and_then(|iss| snapshot.issuers.get(&iss))
            .or_else(|| {
                // A SPIFFE JWT-SVID is told apart by its subject's trust domain.
                let sub = Assertion::unverified_subject(token)?;
                let domain = spiffe_trust_domain(&sub)?;
                snapshot.issuers.get(&format!("spiffe://{domain}"))
            })
            .ok_or_else(|| {
                rejected("the assertion's issuer (iss) is not a trusted issuer of this server")
            })?,
    };
    if !client.federated.iter().any(|c| c.issuer_id == trusted.id) {
        return Err(rejected(
            "no federated credential of this client trusts the assertion's issuer",
        ));
    }
    let (verified, fresh) = match recalled {
        Some((_, verified)) => {
            // Remembered: still within its times?
            check_times(&verified.claims, now, trusted.max_assertion_lifetime)?;
            (verified, false)
        }
        None => (
            federation.verify(presented, trusted, snapshot, now).await?,
            true,
        ),
    };
    let claims = &verified.claims;
    let sub = verified.subject();
    let mut furthest: Option<Stage> = None;
    for credential in client
        .federated
        .iter()
        .filter(|c| c.issuer_id == trusted.id)
    {
        let audience = credential.audience.as_deref().unwrap_or(issuer_url);
        let stopped = if !has_audience(claims, audience, credential.audience.is_none()) {
            Some(Stage::Audience)
        } else if !subject_matches(&credential.subject, sub) {
            Some(Stage::Subject)
        } else if let Some(unmet) = credential.conditions.iter().find(|c| !c.holds(claims)) {
            // Which condition is the administrator's to know, not the caller's: it would
            // tell them about the client's binding.
            tracing::debug!(
                client_id = %credential.client_id,
                credential_id = %credential.id,
                claim = %unmet.claim,
                "a federated assertion does not meet a claim condition of the credential"
            );
            Some(Stage::Condition)
        } else if credential.expires_at.is_some_and(|at| now >= at) {
            Some(Stage::Expired)
        } else {
            None
        };
        match stopped {
            None => {
                if fresh {
                    federation.remember(presented, &verified, now);
                }
                return Ok(FederatedAccepted {
                    credential_id: credential.id.clone(),
                    issuer: trusted.issuer.clone(),
                    subject: sub.to_owned(),
                });
            }
            Some(stage) => {
                if furthest.is_none_or(|f| stage > f) {
                    furthest = Some(stage);
                }
            }
        }
    }
    Err(rejected(match furthest {
        Some(Stage::Audience) | None => Cow::Owned(format!(
            "the assertion's aud is not the audience of a federated credential of this client (by default the issuer URL, {issuer_url})"
        )),
        Some(Stage::Subject) => Cow::Borrowed(
            "the assertion's sub matches no federated credential of this client for this issuer",
        ),
        Some(Stage::Condition) => {
            Cow::Borrowed("the assertion does not match any federated credential of this client")
        }
        Some(Stage::Expired) => {
            Cow::Borrowed("credential expired: the federated credential's expires_at has passed")
        }
    }))
}

/// Whether `aud` (a string or an array) holds `audience`; Warrant's issuer URL is matched with
/// or without its trailing slash.
fn has_audience(claims: &Map<String, Value>, audience: &str, is_issuer: bool) -> bool {
    let accepted =
        |aud: &str| aud == audience || (is_issuer && aud == audience.trim_end_matches('/'));
    match claims.get("aud") {
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str().is_some_and(accepted)),
        _ => false,
    }
}

/// The JWS layer's refusal, in the words of a federated assertion.
fn describe(error: JwsError, issuer: &TrustedIssuer) -> Rejected {
    rejected(match error {
        JwsError::TooLong => Cow::Borrowed("the client assertion is longer than 8 KiB"),
        JwsError::Malformed(what) => {
            Cow::Owned(format!("the client assertion is not a valid JWS: {what}"))
        }
        JwsError::AlgorithmNotAllowed => Cow::Owned(format!(
            "the assertion's alg is not allowed for this trusted issuer (allowed: {})",
            issuer.algorithm_names().replace(',', ", ")
        )),
        JwsError::EmbeddedKey => Cow::Borrowed(
            "the client assertion's header carries a key or key URL; keys come only from the trusted issuer's configured source",
        ),
        JwsError::UnsupportedHeader => {
            Cow::Borrowed("the client assertion's header has unsupported critical parameters")
        }
        JwsError::WrongType => Cow::Borrowed(
            "the client assertion's typ must be JWT, JOSE or client-authentication+jwt (or absent)",
        ),
        JwsError::UnknownKey => Cow::Borrowed(
            "the assertion's kid names no key the trusted issuer publishes (or it has no kid)",
        ),
        JwsError::KeyMismatch | JwsError::BadSignature => {
            Cow::Borrowed("the assertion's signature does not verify with the trusted issuer's key")
        }
        other => Cow::Owned(format!("the client assertion was refused: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(exp: u64) -> Arc<Verified> {
        Arc::new(Verified {
            issuer: "https://issuer.example".into(),
            issuer_id: "tis_1".into(),
            issuer_updated_at: 0,
            generation: 1,
            exp,
            claims: Map::new(),
        })
    }

    fn key(n: u32) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&n.to_be_bytes());
        key
    }

    #[test]
    fn remembered_assertions_are_bounded_expired_first_then_oldest() {
        let cache = VerifiedAssertions::new(10);
        // Half expire at 100, half later.
        for n in 0..10 {
            cache.insert(key(n), verified(if n % 2 == 0 { 100 } else { 1000 }), 0);
        }
        assert_eq!(cache.len(), 10);
        // Full at 200: the expired ones (past exp and the leeway) go first.
        cache.insert(key(10), verified(1000), 200);
        assert_eq!(cache.len(), 6);
        assert!(cache.get(&key(0)).is_none() && cache.get(&key(1)).is_some());
        for n in 11..30 {
            cache.insert(key(n), verified(1000), 200);
            assert!(cache.len() <= 10);
        }
        // Full of live ones: the oldest go.
        assert!(cache.get(&key(1)).is_none(), "the oldest went");
        assert!(cache.get(&key(29)).is_some(), "the newest stays");
        // The same assertion again takes no second place.
        let len = cache.len();
        cache.insert(key(29), verified(1000), 200);
        assert_eq!(cache.len(), len);
    }
}
