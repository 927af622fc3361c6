//! The token path, top to bottom: [`Issuer::issue`] turns a client-credentials request
//! (RFC 6749 §4.4) into a signed access token, or says why not. It looks the client up in the
//! catalog, authenticates it (with the failure throttles), counts the token against the
//! client's quota, resolves the API, checks the grant and the requested scopes, and signs.
//!
//! No HTTP here and no storage on the way of a known client: it runs on the catalog's memory,
//! and on a time it is given. `http/token/` parses the wire form into a [`TokenRequest`] and
//! maps a [`Refusal`] to the RFC 6749 answer; the dashboard's test token calls the same
//! function for a client an operator vouches for.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use warrant_proto::GTY_CLIENT_CREDENTIALS;

use crate::catalog::{Catalog, ClientEntry, LookupError, Snapshot};
use crate::client_assertion::{self, AssertionRules};
use crate::domain::{SecretHash, TokenQuota, hash_secret, parse_scope_param, random_token};
use crate::federation::{self, Federation, Presented};
use crate::jti_recorder::{JtiOutcome, JtiRecorder};
use crate::limits::{AddressKey, AuthThrottle, QuotaExceeded, QuotaState, QuotaTracker};

/// Client IDs are cut to this length in metrics, the audit log and the per-client throttle, so
/// that a request cannot make an event or a throttle key grow.
pub(crate) const MAX_ECHOED_ID: usize = 256;

/// `text` cut to [`MAX_ECHOED_ID`] characters.
pub(crate) fn echoed(text: &str) -> String {
    cut(text, MAX_ECHOED_ID).to_owned()
}

/// `text` cut to `max` characters, without copying.
pub(crate) fn cut(text: &str, max: usize) -> &str {
    // No more bytes than `max`: no more characters either.
    if text.len() <= max {
        return text;
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// How the request names the API it wants a token for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Auth0's `audience` parameter.
    Audience(&'a str),
    /// RFC 8707's `resource` parameter.
    Resource(&'a str),
    /// Neither: the server's default audience, if it has one.
    Unspecified,
}

/// How the client proves who it is.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// Its secret (client_secret_post or client_secret_basic).
    Secret(&'a str),
    /// A JWT (`client_assertion_type` jwt-bearer): signed with its private key
    /// (private_key_jwt, RFC 7523 §2.2, when the assertion's `iss` is the client ID), or by a
    /// trusted issuer (workload identity federation).
    Assertion(&'a str),
    /// A SPIFFE JWT-SVID (`client_assertion_type` jwt-spiffe,
    /// draft-ietf-oauth-spiffe-client-auth): always federated.
    SpiffeAssertion(&'a str),
    /// Nothing: a signed-in operator vouches for it (the dashboard's test token). No secret is
    /// checked, and neither throttles nor quotas count the token.
    VouchedByOperator,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Secret(_) => "Secret(..)",
            Self::Assertion(_) => "Assertion(..)",
            Self::SpiffeAssertion(_) => "SpiffeAssertion(..)",
            Self::VouchedByOperator => "VouchedByOperator",
        })
    }
}

/// A parsed, syntactically valid token request. `Debug` leaves out the secret.
#[derive(Clone, Copy)]
pub struct TokenRequest<'a> {
    pub client_id: &'a str,
    pub credential: Credential<'a>,
    pub target: Target<'a>,
    /// The `scope` parameter as sent; `None` or blank means every granted scope.
    pub scope: Option<&'a str>,
    /// The address the request came from: failures are throttled per address too.
    pub from: Option<IpAddr>,
    /// The RFC 7638 thumbprint of the key of the request's verified DPoP proof: the token is
    /// bound to it (`cnf.jkt`, RFC 9449 §6).
    pub dpop_jkt: Option<&'a str>,
}

impl std::fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("scope", &self.scope)
            .field("from", &self.from)
            .field("dpop_jkt", &self.dpop_jkt)
            .finish_non_exhaustive()
    }
}

/// What the issuer needs beyond the snapshot.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// The issuer URL with its trailing slash: the `iss` claim.
    pub issuer: String,
    /// The audience for requests that name none.
    pub default_audience: Option<String>,
    /// The token endpoint's URL: a client assertion's `aud` may be it or the issuer.
    pub token_endpoint: String,
    /// The longest client assertion lifetime accepted, in seconds.
    pub max_assertion_lifetime: u64,
    /// Fetch trusted issuers' keys over http from loopback addresses too (tests only).
    pub allow_http_issuers: bool,
}

/// The longest client assertion lifetime accepted by default: 5 minutes.
pub const DEFAULT_MAX_ASSERTION_LIFETIME: u64 = 300;

/// How a client proved who it is, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatedBy {
    /// A client secret, with the ID of its stored row (not derived from the secret).
    Secret {
        secret_id: Arc<str>,
    },
    /// private_key_jwt, with the ID of the credential whose key signed the assertion.
    PrivateKeyJwt {
        credential_id: String,
    },
    /// A federated assertion: the credential it matched, the trusted issuer and the
    /// workload's subject.
    Federated {
        credential_id: String,
        issuer: String,
        subject: String,
    },
    VouchedByOperator,
}

#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    /// The token's ID, for the audit log.
    pub jti: String,
    pub expires_in: u32,
    pub scope: Option<String>,
}

/// A token, and where its client stands in its quota.
#[derive(Debug)]
pub struct Issued {
    pub token: IssuedToken,
    /// How the client authenticated.
    pub by: AuthenticatedBy,
    /// The tightest quota window after this token, when the client has a quota.
    pub quota: Option<QuotaState>,
}

/// Why no token was issued, and what the request turned out to be about.
#[derive(Debug)]
pub struct Refusal {
    pub reason: Refused,
    /// Whether the audience asked for (or the default one) is an API this server knows.
    pub audience_known: bool,
}

/// Why no token was issued. Each maps to one RFC 6749 §5.2 answer.
#[derive(Debug)]
pub enum Refused {
    /// The client is not in memory and could not be looked up.
    Lookup(LookupError),
    /// The same while storage is unreachable, from an address past its failure budget.
    LookupThrottled { wait: u64 },
    /// An unknown client or a wrong secret.
    BadCredentials,
    /// A known client's credential was refused for a reason it may be told (an assertion that
    /// does not pass, a secret offered by a private_key_jwt client).
    BadCredential(Cow<'static, str>),
    /// The assertion's `jti` could not be recorded: storage is unreachable.
    ReplayCheckUnavailable,
    /// The same, beyond a failure budget: the address's, or the client ID's.
    Throttled { by: Throttled, wait: u64 },
    /// The client a vouched-for request names does not exist.
    NoSuchClient,
    /// The client authenticated, and used up its token quota.
    Quota {
        exceeded: QuotaExceeded,
        /// The first refusal of the quota's window.
        first: bool,
    },
    /// The client authenticated, and asked for what it is not granted (or the server cannot
    /// sign).
    Issue(IssueError),
}

impl Refused {
    /// Whether the client proved who it is before the refusal.
    pub fn authenticated(&self) -> bool {
        matches!(self, Self::Quota { .. } | Self::Issue(_))
    }
}

/// Whose failure budget a throttled request was past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    Address,
    Client,
}

/// Why an authenticated client's request cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueError {
    /// Neither `audience` nor `resource`, and no default audience.
    MissingAudience,
    UnknownAudience(String),
    UnknownResource(String),
    /// The client has no grant for this API.
    NotGranted {
        audience: String,
    },
    /// A requested scope is not granted (or not defined by the API).
    ScopeNotGranted {
        scope: String,
        audience: String,
    },
    /// The API requires DPoP-bound tokens (`proof_of_possession.required`) and the request
    /// has no DPoP proof.
    DpopRequired {
        audience: String,
    },
    /// No signing key is loaded: the server is not ready.
    NoSigningKey,
}

/// Issues tokens from the catalog's memory.
#[derive(Debug)]
pub struct Issuer {
    settings: IssuerSettings,
    catalog: Arc<Catalog>,
    /// Where used assertion IDs are recorded, for every instance on the database.
    jtis: JtiRecorder,
    throttle: AuthThrottle,
    quotas: Arc<QuotaTracker>,
    /// The quota of applications without one of their own.
    default_token_quota: Option<TokenQuota>,
    /// Trusted issuers' keys, per issuer, and the federated assertions verified with them.
    federation: Federation,
}

impl Issuer {
    pub fn new(
        settings: IssuerSettings,
        catalog: Arc<Catalog>,
        jtis: JtiRecorder,
        quotas: Arc<QuotaTracker>,
        default_token_quota: Option<TokenQuota>,
    ) -> Self {
        let federation = Federation::new(settings.allow_http_issuers);
        Self {
            settings,
            catalog,
            jtis,
            throttle: AuthThrottle::default(),
            quotas,
            default_token_quota,
            federation,
        }
    }

    pub fn settings(&self) -> &IssuerSettings {
        &self.settings
    }

    /// The API `target` names, before any check: the default audience when it names none.
    pub fn audience<'a>(&'a self, target: Target<'a>) -> Option<&'a str> {
        match target {
            Target::Audience(a) | Target::Resource(a) => Some(a),
            Target::Unspecified => self.settings.default_audience.as_deref(),
        }
    }

    /// Issues an access token for `request` at `now_ms` (milliseconds since the Unix epoch),
    /// or says why not.
    pub async fn issue(&self, request: &TokenRequest<'_>, now_ms: u64) -> Result<Issued, Refusal> {
        let now = now_ms / 1000;
        // One consistent view of the APIs and keys for the whole request.
        let snapshot = self.catalog.snapshot();
        // Whether the audience is known matters to a refusal only: looked up then.
        let refuse = |reason| Refusal {
            reason,
            audience_known: self
                .audience(request.target)
                .is_some_and(|audience| snapshot.knows_api(audience)),
        };

        // 1 and 2. The client, and who it is.
        let (client, by) = self
            .authenticate(request.client_id, request.credential, request.from, now_ms)
            .await
            .map_err(refuse)?;
        let client = &*client;

        // 3. Its quota: counted now, given back if no token comes of it.
        let quota = match request.credential {
            Credential::Secret(_) | Credential::Assertion(_) | Credential::SpiffeAssertion(_) => {
                client.token_quota.or(self.default_token_quota)
            }
            Credential::VouchedByOperator => None,
        };
        let quota = match quota.filter(|q| !q.is_unlimited()) {
            None => None,
            Some(quota) => self
                .quotas
                .acquire(request.client_id, &quota, now)
                .map_err(|(exceeded, first)| refuse(Refused::Quota { exceeded, first }))?,
        };

        // 4. The API, the grant and the scopes; then the signature.
        match grant_and_sign(&snapshot, client, request, &self.settings, now) {
            Ok(token) => Ok(Issued { token, by, quota }),
            Err(e) => {
                if quota.is_some() {
                    self.quotas.release(request.client_id);
                }
                Err(refuse(Refused::Issue(e)))
            }
        }
    }

    /// Client authentication, for the token endpoint and every endpoint a client calls with its
    /// credentials (introspection, revocation): the client from memory, else one indexed
    /// lookup; then its credential, checked however often this client or address failed, with
    /// failures taken from the throttles.
    pub(crate) async fn authenticate(
        &self,
        client_id: &str,
        credential: Credential<'_>,
        from: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<(Arc<ClientEntry>, AuthenticatedBy), Refused> {
        let now = now_ms / 1000;
        let client = match self.catalog.client(client_id).await {
            Ok(client) => client,
            Err(e) => return Err(self.lookup_failed(e, from, now_ms)),
        };
        let fail = |told: Option<Cow<'static, str>>| match self
            .failed_authentication(client_id, from, now_ms)
        {
            Refused::BadCredentials => told.map_or(Refused::BadCredentials, Refused::BadCredential),
            throttled => throttled,
        };
        match credential {
            Credential::Secret(secret) => {
                if client.as_deref().is_some_and(|c| c.private_key_jwt) {
                    return Err(fail(Some(Cow::Borrowed(
                        "this application authenticates with private_key_jwt: send client_assertion_type and client_assertion, not a client secret",
                    ))));
                }
                let matched = secret_matches(client.as_deref(), secret, now).cloned();
                match (client, matched) {
                    (Some(client), Some(secret_id)) => {
                        Ok((client, AuthenticatedBy::Secret { secret_id }))
                    }
                    // The holder of a secret that was right until it expired is told so.
                    (Some(client), None) if expired_secret(&client, secret, now) => {
                        Err(fail(Some(Cow::Borrowed(
                            "credential expired: this client secret's expires_at has passed; rotate it",
                        ))))
                    }
                    _ => Err(fail(None)),
                }
            }
            Credential::SpiffeAssertion(assertion) => {
                let presented = self.federation.recall(assertion);
                self.authenticate_federated(client, &presented, now, fail)
                    .await
            }
            Credential::Assertion(assertion) => {
                // A jwt-bearer assertion is federated rather than private_key_jwt when the
                // client has federated credentials and the assertion's `iss` is not the
                // client ID.
                let federated = client
                    .as_deref()
                    .filter(|c| !c.federated.is_empty())
                    .map(|_| self.federation.recall(assertion))
                    .filter(|p| p.issuer().is_none_or(|iss| iss != client_id));
                if let Some(presented) = federated {
                    return self
                        .authenticate_federated(client, &presented, now, fail)
                        .await;
                }
                let Some(client) = client.filter(|c| c.private_key_jwt) else {
                    return Err(fail(Some(Cow::Borrowed(
                        "this client has no private_key_jwt credentials (nor federated credentials for a workload's token): register a public key and list it in client_authentication_methods",
                    ))));
                };
                let rules = AssertionRules {
                    client_id,
                    issuer: &self.settings.issuer,
                    token_endpoint: &self.settings.token_endpoint,
                    max_lifetime: self.settings.max_assertion_lifetime,
                    now,
                };
                let accepted = match client_assertion::check(&client, assertion, &rules) {
                    Ok(accepted) => accepted,
                    Err(rejected) => return Err(fail(Some(rejected.0))),
                };
                // Single use, across every instance on the database: the insert is the check,
                // batched with other requests' (one commit for many).
                let expires_at = accepted.exp + client_assertion::LEEWAY;
                match self
                    .jtis
                    .record(client_id, accepted.jti, expires_at, now)
                    .await
                {
                    JtiOutcome::FirstUse => Ok((
                        client,
                        AuthenticatedBy::PrivateKeyJwt {
                            credential_id: accepted.credential_id,
                        },
                    )),
                    JtiOutcome::Replay => Err(fail(Some(Cow::Borrowed(
                        "the assertion's jti was already used: sign a fresh assertion for each request",
                    )))),
                    JtiOutcome::Unavailable => Err(Refused::ReplayCheckUnavailable),
                }
            }
            Credential::VouchedByOperator => match client {
                Some(client) => Ok((client, AuthenticatedBy::VouchedByOperator)),
                None => Err(Refused::NoSuchClient),
            },
        }
    }

    /// A federated assertion (workload identity federation), checked with the trusted issuer's
    /// keys from memory (fetched on first use).
    async fn authenticate_federated(
        &self,
        client: Option<Arc<ClientEntry>>,
        presented: &Presented<'_>,
        now: u64,
        fail: impl Fn(Option<Cow<'static, str>>) -> Refused,
    ) -> Result<(Arc<ClientEntry>, AuthenticatedBy), Refused> {
        let Some(client) = client else {
            return Err(fail(None));
        };
        let snapshot = self.catalog.snapshot();
        match federation::check(
            &client,
            &snapshot,
            &self.federation,
            presented,
            &self.settings.issuer,
            now,
        )
        .await
        {
            Ok(accepted) => Ok((
                client,
                AuthenticatedBy::Federated {
                    credential_id: accepted.credential_id,
                    issuer: accepted.issuer,
                    subject: echoed(&accepted.subject),
                },
            )),
            Err(rejected) => Err(fail(Some(rejected.0))),
        }
    }

    /// A client not in memory could not be looked up. Unknown client IDs sprayed during an
    /// outage cost their address like failures: past its budget, they are throttled too.
    fn lookup_failed(&self, error: LookupError, from: Option<IpAddr>, now_ms: u64) -> Refused {
        tracing::debug!(error = %error, "cannot look up a client that is not in memory");
        if let LookupError::Unavailable(_) = error {
            let by_ip = from.map(|ip| self.throttle.by_ip.try_take(&AddressKey::of(ip), now_ms));
            if let Some(Err(wait)) = by_ip {
                return Refused::LookupThrottled { wait };
            }
        }
        Refused::Lookup(error)
    }

    /// A wrong secret or an unknown client, taken from the source address's budget and the
    /// client ID's; beyond either, throttled. The check itself always ran (one SHA-256): the
    /// right secret is never refused, whatever its address or client ID failed before, so an
    /// attacker can lock out neither a client nor the clients that share an address with them.
    fn failed_authentication(&self, client_id: &str, from: Option<IpAddr>, now_ms: u64) -> Refused {
        let by_ip = from.map(|ip| self.throttle.by_ip.try_take(&AddressKey::of(ip), now_ms));
        let by_client = self.throttle.by_client.try_take(&echoed(client_id), now_ms);
        match (by_ip, by_client) {
            (Some(Err(wait)), _) => Refused::Throttled {
                by: Throttled::Address,
                wait,
            },
            (_, Err(wait)) => Refused::Throttled {
                by: Throttled::Client,
                wait,
            },
            _ => Refused::BadCredentials,
        }
    }
}

// A fixed hash for unknown clients, so that they cost the same comparison as known ones.
const DUMMY_HASH: SecretHash = SecretHash([0x5a; 32]);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
    client_id: &'a str,
    azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    gty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

/// The key a token is bound to (RFC 7800 `cnf`, RFC 9449 §6.1).
#[derive(Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

/// Whether `client_secret` is the client's: the secret is hashed and compared in constant time
/// against each active secret, and an unknown client does the same work against a dummy.
/// The ID of `client`'s active secret that `client_secret` is, if any. Every stored hash is
/// compared (in constant time), whichever matches.
fn secret_matches<'c>(
    client: Option<&'c ClientEntry>,
    client_secret: &str,
    now: u64,
) -> Option<&'c Arc<str>> {
    let presented = hash_secret(client_secret);
    match client {
        Some(client) => {
            let mut matched = None;
            for (hash, expires_at, id) in &client.secrets {
                let active = expires_at.is_none_or(|at| now < at);
                if hash.matches(&presented) & active {
                    matched = Some(id);
                }
            }
            matched
        }
        None => {
            let _ = DUMMY_HASH.matches(&presented);
            None
        }
    }
}

/// Whether `client_secret` is one of `client`'s secrets that stopped working (expired, or
/// past its rotation grace period). Compared in constant time, only on the failure path.
fn expired_secret(client: &ClientEntry, client_secret: &str, now: u64) -> bool {
    let presented = hash_secret(client_secret);
    let mut expired = false;
    for (hash, expires_at, _) in &client.secrets {
        let ended = expires_at.is_some_and(|at| now >= at);
        expired |= hash.matches(&presented) & ended;
    }
    expired
}

/// Resolves the API `request` names, checks `client`'s grant on it and the requested scopes,
/// and signs the token at time `now` (Unix seconds).
fn grant_and_sign(
    snapshot: &Snapshot,
    client: &ClientEntry,
    request: &TokenRequest<'_>,
    settings: &IssuerSettings,
    now: u64,
) -> Result<IssuedToken, IssueError> {
    let (audience, api) = match request.target {
        Target::Audience(aud) => snapshot
            .apis
            .get(aud)
            .map(|api| (aud, api))
            .ok_or_else(|| IssueError::UnknownAudience(aud.to_owned()))?,
        Target::Resource(res) => snapshot
            .apis
            .get(res)
            .map(|api| (res, api))
            .ok_or_else(|| IssueError::UnknownResource(res.to_owned()))?,
        Target::Unspecified => match settings.default_audience.as_deref() {
            Some(aud) => snapshot
                .apis
                .get(aud)
                .map(|api| (aud, api))
                .ok_or_else(|| IssueError::UnknownAudience(aud.to_owned()))?,
            None => return Err(IssueError::MissingAudience),
        },
    };
    let not_granted = || IssueError::NotGranted {
        audience: audience.to_owned(),
    };
    let grant = client
        .grants
        .get(audience)
        .filter(|g| g.api_id == api.id)
        .ok_or_else(not_granted)?;
    // Told only to a client granted the API: nobody else learns how an API is set up.
    if api.dpop_required && request.dpop_jkt.is_none() {
        return Err(IssueError::DpopRequired {
            audience: audience.to_owned(),
        });
    }
    // A granted scope counts while the API still defines it.
    let usable =
        |scope: &str| api.scopes.contains(scope) && grant.scopes.iter().any(|g| g == scope);

    let requested = request.scope.map(parse_scope_param).unwrap_or_default();
    let scope_claim: Option<Cow<'_, str>> = if requested.is_empty() {
        if grant.scopes.iter().all(|s| api.scopes.contains(s)) {
            grant.scope_claim.as_deref().map(Cow::Borrowed)
        } else {
            let defined: Vec<&str> = grant
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| api.scopes.contains(*s))
                .collect();
            (!defined.is_empty()).then(|| Cow::Owned(defined.join(" ")))
        }
    } else {
        if let Some(missing) = requested.iter().find(|s| !usable(s)) {
            return Err(IssueError::ScopeNotGranted {
                scope: (*missing).to_owned(),
                audience: audience.to_owned(),
            });
        }
        Some(Cow::Owned(requested.join(" ")))
    };

    // Signed with the current key of the API's algorithm.
    let key = api.signing_key.as_ref().ok_or(IssueError::NoSigningKey)?;
    let mut sub = String::with_capacity(request.client_id.len() + 8);
    sub.push_str(request.client_id);
    sub.push_str("@clients");
    let jti = random_token::<16>();
    let claims = Claims {
        iss: &settings.issuer,
        sub: &sub,
        aud: audience,
        iat: now,
        exp: now + u64::from(api.token_lifetime),
        jti: &jti,
        client_id: request.client_id,
        azp: request.client_id,
        scope: scope_claim.as_deref(),
        gty: GTY_CLIENT_CREDENTIALS,
        cnf: request.dpop_jkt.map(|jkt| Confirmation { jkt }),
    };
    // Room for the claims as they are, so that the buffer grows at most once (by escapes).
    let mut claims_json = Vec::with_capacity(
        160 + settings.issuer.len()
            + sub.len()
            + audience.len()
            + jti.len()
            + 2 * request.client_id.len()
            + claims.scope.map_or(0, str::len)
            + grant.claims.len(),
    );
    // Serializing a struct of strings and integers cannot fail.
    #[allow(clippy::expect_used)]
    serde_json::to_writer(&mut claims_json, &claims).expect("claims serialize");
    // The custom claims, rendered when the client was loaded: spliced in before the payload's
    // closing brace, not serialized again.
    if !grant.claims.is_empty() && claims_json.last() == Some(&b'}') {
        claims_json.pop();
        claims_json.extend_from_slice(&grant.claims);
        claims_json.push(b'}');
    }
    Ok(IssuedToken {
        access_token: key.sign_jwt(&claims_json),
        jti,
        expires_in: api.token_lifetime,
        scope: scope_claim.map(Cow::into_owned),
    })
}

#[cfg(test)]
mod tests {
    //! Properties of the scope and grant rules, over random APIs, grants and requests.
    #![allow(clippy::unwrap_used)]

    use std::collections::{HashMap, HashSet};
    use std::sync::{Arc, OnceLock};

    use proptest::prelude::*;

    use super::*;
    use crate::catalog::{ApiEntry, GrantEntry};
    use crate::keys::SigningKey;

    const AUDIENCE: &str = "https://api.example.com";
    const SCOPES: [&str; 6] = ["a:1", "b:2", "c:3", "d:4", "e:5", "f:6"];

    fn key() -> Arc<SigningKey> {
        static KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
        Arc::clone(KEY.get_or_init(|| Arc::new(SigningKey::generate().unwrap())))
    }

    fn snapshot(defined: &[&str]) -> Snapshot {
        let api = ApiEntry {
            id: "api-1".into(),
            token_lifetime: 600,
            scopes: defined.iter().map(|s| (*s).to_owned()).collect(),
            signing_key: Some(key()),
            dpop_required: false,
        };
        Snapshot {
            version: 1,
            apis: HashMap::from([(AUDIENCE.to_owned(), api)]),
            current: Vec::new(),
            jwks_keys: warrant_proto::Jwks { keys: Vec::new() },
            jwks: bytes::Bytes::new(),
            revoked: std::collections::HashSet::new(),
            expiries: Vec::new(),
            issuers: HashMap::new(),
        }
    }

    fn client(granted: &[&str], api_id: &str) -> ClientEntry {
        let scopes: Vec<String> = granted.iter().map(|s| (*s).to_owned()).collect();
        let grant = GrantEntry {
            api_id: api_id.into(),
            scope_claim: (!scopes.is_empty()).then(|| scopes.join(" ")),
            scopes,
            claims: Box::default(),
        };
        ClientEntry {
            secrets: vec![(hash_secret("s3cret"), None, Arc::from("sec-1"))],
            secret_periods: vec![(0, None)],
            grants: HashMap::from([(AUDIENCE.to_owned(), grant)]),
            token_quota: None,
            private_key_jwt: false,
            assertion_keys: Vec::new(),
            federated: Vec::new(),
        }
    }

    fn subset() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::sample::subsequence(SCOPES.to_vec(), 0..=SCOPES.len())
    }

    fn settings() -> IssuerSettings {
        IssuerSettings {
            issuer: "https://auth.example.com/".into(),
            default_audience: None,
            token_endpoint: "https://auth.example.com/oauth/token".into(),
            max_assertion_lifetime: DEFAULT_MAX_ASSERTION_LIFETIME,
            allow_http_issuers: false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A request succeeds exactly when every requested scope is both granted and still
        /// defined by the API; the token then carries exactly the requested scopes, or, when
        /// none was asked for, every granted scope the API defines, in grant order.
        #[test]
        fn a_token_carries_exactly_the_usable_scopes(
            defined in subset(),
            granted in subset(),
            requested in subset(),
            repeat in any::<bool>(),
        ) {
            let snapshot = snapshot(&defined);
            let client = client(&granted, "api-1");
            let mut param = requested.join(" ");
            if repeat && !requested.is_empty() {
                // Repeated and extra spaces change nothing.
                param = format!("  {param}  {}", requested[0]);
            }
            let request = TokenRequest {
                client_id: "c",
                credential: Credential::Secret("s3cret"),
                target: Target::Audience(AUDIENCE),
                scope: Some(&param),
                from: None,
                dpop_jkt: None,
            };
            let usable: Vec<&str> = granted.iter().copied().filter(|s| defined.contains(s)).collect();
            let result = grant_and_sign(&snapshot, &client, &request, &settings(), 1_000);
            if requested.iter().all(|s| usable.contains(s)) {
                let issued = result.unwrap();
                let expected = if requested.is_empty() { usable.clone() } else { requested.clone() };
                let got: Vec<&str> = issued.scope.as_deref().map_or(Vec::new(), |s| s.split(' ').collect());
                prop_assert_eq!(got, expected);
                prop_assert_eq!(issued.expires_in, 600);
            } else {
                let refused = result.unwrap_err();
                let missing = requested.iter().find(|s| !usable.contains(s)).unwrap();
                prop_assert_eq!(refused, IssueError::ScopeNotGranted {
                    scope: (*missing).to_owned(),
                    audience: AUDIENCE.to_owned(),
                });
            }
        }

        /// A grant made on another API under the same identifier never counts.
        #[test]
        fn a_grant_on_a_replaced_api_grants_nothing(granted in subset(), requested in subset()) {
            let snapshot = snapshot(&SCOPES);
            let client = client(&granted, "api-0");
            let param = requested.join(" ");
            let request = TokenRequest {
                client_id: "c",
                credential: Credential::Secret("s3cret"),
                target: Target::Audience(AUDIENCE),
                scope: Some(&param),
                from: None,
                dpop_jkt: None,
            };
            let refused = grant_and_sign(&snapshot, &client, &request, &settings(), 1_000).unwrap_err();
            prop_assert_eq!(refused, IssueError::NotGranted { audience: AUDIENCE.to_owned() });
        }

        /// Only an active secret of the client authenticates it.
        #[test]
        fn only_an_active_secret_authenticates(
            presented in "[a-z0-9]{1,12}",
            expires_at in proptest::option::of(0u64..2_000),
            now in 0u64..2_000,
        ) {
            let mut client = client(&[], "api-1");
            client.secrets = vec![
                (hash_secret("old"), Some(1), Arc::from("sec-old")),
                (hash_secret("s3cret"), expires_at, Arc::from("sec-1")),
            ];
            let active = expires_at.is_none_or(|at| now < at);
            prop_assert_eq!(
                secret_matches(Some(&client), "s3cret", now).map(|id| &**id),
                active.then_some("sec-1")
            );
            prop_assert_eq!(
                secret_matches(Some(&client), &presented, now).map(|id| &**id),
                (active && presented == "s3cret").then_some("sec-1")
            );
            prop_assert_eq!(secret_matches(None, &presented, now), None);
        }
    }

    #[test]
    fn scope_parsing_dedups_in_order() {
        let set: HashSet<&str> = parse_scope_param(" b:2  a:1 b:2 ").into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(parse_scope_param(" b:2  a:1 b:2 "), vec!["b:2", "a:1"]);
    }
}
