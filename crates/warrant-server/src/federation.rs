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

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::{Map, Value};
use warrant_guard::{Assertion, Error as JwsError, IssuerKeySource as GuardSource, IssuerKeys};
use warrant_proto::Jwks;

use crate::catalog::{ClientEntry, Snapshot};
use crate::client_assertion::{Rejected, check_times};
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

/// The keys of each trusted issuer, built on first use and kept while the issuer's record is
/// unchanged (its key cache, with its background refresh, lives as long as the entry).
#[derive(Debug)]
pub(crate) struct IssuerKeyRing {
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
    pub(crate) fn new(allow_http: bool) -> Self {
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

/// Checks `token` as a federated assertion of `client` at `now`; `issuer_url` is Warrant's
/// (with its trailing slash): the default audience.
pub(crate) async fn check(
    client: &ClientEntry,
    snapshot: &Snapshot,
    ring: &IssuerKeyRing,
    token: &str,
    issuer_url: &str,
    now: u64,
) -> Result<FederatedAccepted, Rejected> {
    if client.federated.is_empty() {
        return Err(rejected(
            "this client has no federated credentials: bind a trusted issuer's workload to it first",
        ));
    }
    if token.len() > Assertion::MAX_LEN {
        return Err(rejected("the client assertion is longer than 8 KiB"));
    }
    let claimed = Assertion::unverified_issuer(token);
    let trusted = claimed
        .as_deref()
        .and_then(|iss| snapshot.issuers.get(iss))
        .or_else(|| {
            // A SPIFFE JWT-SVID is told apart by its subject's trust domain.
            let sub = Assertion::unverified_subject(token)?;
            let domain = spiffe_trust_domain(&sub)?;
            snapshot.issuers.get(&format!("spiffe://{domain}"))
        })
        .ok_or_else(|| {
            rejected("the assertion's issuer (iss) is not a trusted issuer of this server")
        })?;
    let candidates: Vec<_> = client
        .federated
        .iter()
        .filter(|c| c.issuer_id == trusted.id)
        .collect();
    if candidates.is_empty() {
        return Err(rejected(
            "no federated credential of this client trusts the assertion's issuer",
        ));
    }
    let assertion =
        Assertion::parse(token, &trusted.algorithms).map_err(|e| describe(e, trusted))?;
    let keys = ring
        .keys_for(trusted, snapshot)
        .map_err(|e| rejected(format!("the trusted issuer's keys are not usable: {e}")))?;
    let claims = match assertion.verify_with(&keys).await {
        Ok(claims) => claims,
        Err(JwsError::KeysUnavailable) => {
            // What failed (the URL, the network or TLS error) is for the operator, in the log
            // the key cache writes when a fetch fails, not for whoever sent the assertion.
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
    check_times(&claims, now, trusted.max_assertion_lifetime)?;
    let mut furthest: Option<(Stage, &str)> = None;
    for credential in candidates {
        let audience = credential.audience.as_deref().unwrap_or(issuer_url);
        let stopped = if !has_audience(&claims, audience, credential.audience.is_none()) {
            Some((Stage::Audience, ""))
        } else if !subject_matches(&credential.subject, sub) {
            Some((Stage::Subject, ""))
        } else if let Some(unmet) = credential.conditions.iter().find(|c| !c.holds(&claims)) {
            Some((Stage::Condition, unmet.claim.as_str()))
        } else if credential.expires_at.is_some_and(|at| now >= at) {
            Some((Stage::Expired, ""))
        } else {
            None
        };
        match stopped {
            None => {
                return Ok(FederatedAccepted {
                    credential_id: credential.id.clone(),
                    issuer: trusted.issuer.clone(),
                    subject: sub.to_owned(),
                });
            }
            Some(stage) => {
                if furthest.is_none_or(|f| stage.0 > f.0) {
                    furthest = Some(stage);
                }
            }
        }
    }
    Err(rejected(match furthest {
        Some((Stage::Audience, _)) | None => Cow::Owned(format!(
            "the assertion's aud is not the audience of a federated credential of this client (by default the issuer URL, {issuer_url})"
        )),
        Some((Stage::Subject, _)) => Cow::Borrowed(
            "the assertion's sub matches no federated credential of this client for this issuer",
        ),
        Some((Stage::Condition, claim)) => Cow::Owned(format!(
            "the assertion does not meet the federated credential's claim condition on {claim}"
        )),
        Some((Stage::Expired, _)) => {
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
