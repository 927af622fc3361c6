//! Workload identity federation: the external issuers Warrant trusts (a Kubernetes cluster,
//! GitHub Actions, a SPIFFE trust domain) and the federated credentials that bind an
//! application to the workloads of one of them, by subject (exact, or a pattern), audience and
//! claim conditions. A workload then presents its platform's token as its client assertion;
//! no Warrant credential is stored anywhere.
//!
//! Subject patterns: `*` matches one or more characters within one segment, segments being
//! separated by `/` and `:` (`repo:acme/*:ref:refs/heads/main`,
//! `system:serviceaccount:payments:*`, `spiffe://prod.acme/ns/payments/sa/*`). Everything
//! else matches itself.
//!
//! Claim conditions name a claim by its path: `repository_owner_id` at the top level, or
//! `kubernetes.io.namespace` for `{"kubernetes.io": {"namespace": …}}`. Since claim names may
//! contain dots themselves, the path is read from the left, the longest name first: at each
//! object, the longest part of what is left of the path (whole, or up to one of its dots) that
//! is a member's name is taken, and the rest of the path is read inside that member. So
//! `kubernetes.io.serviceaccount.name` is `"kubernetes.io"` → `"serviceaccount"` → `"name"`,
//! and a claim literally named `a.b` is found by `a.b` before a member `a` is looked into.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use warrant_guard::Algorithm;
use warrant_proto::Jwks;

use super::{Invalid, random_alphanumeric, validate_name, validate_text};

/// The algorithms a trusted issuer may be allowed.
pub const FEDERATION_ALGORITHMS: [Algorithm; 9] = Algorithm::ALL;

/// The longest assertion lifetime a trusted issuer accepts by default: one hour (a
/// Kubernetes projected token's default; GitHub's and SPIRE's are shorter).
pub const DEFAULT_FEDERATED_LIFETIME: u64 = 3600;

/// The longest lifetime an administrator may allow: one day.
pub const MAX_FEDERATED_LIFETIME: u64 = 86_400;

/// The most trusted issuers one server has.
pub const MAX_TRUSTED_ISSUERS: usize = 100;

/// The most federated credentials one application has.
pub const MAX_FEDERATED_CREDENTIALS: usize = 100;

/// The most claim conditions of one federated credential.
pub const MAX_CONDITIONS: usize = 16;

const MAX_URL_LEN: usize = 512;
const MAX_SUBJECT_LEN: usize = 512;
const MAX_PATH_LEN: usize = 1024;
const MAX_INLINE_JWKS: usize = 48 * 1024;

/// The characters that separate the segments of a subject: `*` never matches across them.
pub const SUBJECT_SEPARATORS: [char; 2] = ['/', ':'];

/// Where a trusted issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKeySource {
    /// `<issuer>/.well-known/openid-configuration` names the JWKS.
    Discovery,
    /// This JWKS URL.
    JwksUri(String),
    /// This JWKS (JSON text), uploaded: for a cluster whose JWKS is not reachable.
    Inline(String),
}

impl IssuerKeySource {
    /// The `jwks_uri` and the inline `jwks` (JSON text), as an administrator gives them: both
    /// `None` for discovery.
    pub fn parts(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Discovery => (None, None),
            Self::JwksUri(uri) => (Some(uri), None),
            Self::Inline(jwks) => (None, Some(jwks)),
        }
    }

    /// The stored kind: `discovery`, `jwks_uri` or `inline`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::JwksUri(_) => "jwks_uri",
            Self::Inline(_) => "inline",
        }
    }
}

/// An external issuer whose tokens are accepted as client assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// `tis_` and random characters.
    pub id: String,
    /// Exactly the tokens' `iss` (an https URL), or `spiffe://<trust domain>` for SPIFFE
    /// JWT-SVIDs, which are told apart by their subject's trust domain.
    pub issuer: String,
    pub name: String,
    pub keys: IssuerKeySource,
    /// A file whose content is sent as a bearer token when fetching the keys (a Kubernetes
    /// API server's JWKS may need one), re-read at each fetch.
    pub bearer_token_file: Option<String>,
    /// A PEM file of CA certificates trusted for fetching the keys (a cluster's own CA).
    pub ca_file: Option<String>,
    /// The algorithms its tokens may be signed with.
    pub algorithms: Vec<Algorithm>,
    /// The longest lifetime (`exp` − `iat`) of an assertion accepted, in seconds.
    pub max_assertion_lifetime: u64,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A trusted issuer as an administrator describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTrustedIssuer {
    pub issuer: String,
    pub name: Option<String>,
    /// `None`: discovery.
    pub jwks_uri: Option<String>,
    /// JWKS JSON text.
    pub jwks: Option<String>,
    pub bearer_token_file: Option<String>,
    pub ca_file: Option<String>,
    /// JOSE names; empty: RS256 and ES256.
    pub algorithms: Vec<String>,
    /// Seconds; `None`: [`DEFAULT_FEDERATED_LIFETIME`].
    pub max_assertion_lifetime: Option<u64>,
}

/// Changes to a trusted issuer; `None` leaves a field as it is, `Some(None)` clears it. The
/// issuer URL is not among them: federated credentials and the assertions' `iss` name it, so a
/// different URL is a different issuer (trust it, move the credentials, remove this one).
#[derive(Debug, Clone, Default)]
pub struct TrustedIssuerPatch {
    /// Accepted only as the issuer's current URL (a client may send the whole record back).
    pub issuer: Option<String>,
    pub name: Option<String>,
    /// A URL switches to these keys (inline keys dropped unless `jwks` is given too, which is
    /// refused); `Some(None)` with no inline keys: back to discovery.
    pub jwks_uri: Option<Option<String>>,
    /// JWKS JSON text: switches to these keys (a `jwks_uri` dropped unless given too);
    /// `Some(None)` with no `jwks_uri`: back to discovery.
    pub jwks: Option<Option<String>>,
    pub bearer_token_file: Option<Option<String>>,
    pub ca_file: Option<Option<String>>,
    /// JOSE names; empty: RS256 and ES256.
    pub algorithms: Option<Vec<String>>,
    pub max_assertion_lifetime: Option<u64>,
}

/// Whether `url` is an http(s) URL Warrant may fetch from: https, or http to a loopback
/// address (the server still refuses to fetch it unless started with
/// `--allow-http-issuers`).
fn check_fetch_url(field: &str, text: &str) -> Result<(), Invalid> {
    if text.len() > MAX_URL_LEN {
        return Err(Invalid(format!(
            "{field} must be at most {MAX_URL_LEN} characters"
        )));
    }
    let url = url::Url::parse(text)
        .map_err(|_| Invalid(format!("{field} must be an absolute https URL")))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(Invalid(format!(
            "{field} must not carry credentials or a fragment"
        )));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Invalid(format!(
            "{field} must be an https URL (http only for a loopback address, for tests)"
        ))),
    }
}

/// The pod's service-account token is a credential of Warrant's own: it is sent only to the
/// cluster's API server, named by its in-cluster name in an explicit `jwks_uri` (never found by
/// discovery, which could name any host), so that no administrator can have it sent elsewhere.
fn check_token_destination(keys: &IssuerKeySource) -> Result<(), Invalid> {
    let in_cluster = match keys {
        IssuerKeySource::JwksUri(uri) => url::Url::parse(uri).is_ok_and(|url| {
            url.scheme() == "https"
                && url.host_str().is_some_and(|host| {
                    // Exactly these: `kubernetes.default.svc.<anything>` could be a public DNS
                    // name of whoever owns `<anything>`.
                    host.eq_ignore_ascii_case("kubernetes.default.svc")
                        || host.eq_ignore_ascii_case("kubernetes.default.svc.cluster.local")
                })
        }),
        _ => false,
    };
    if in_cluster {
        Ok(())
    } else {
        Err(Invalid::new(
            "bearer_token_file sends the pod's service-account token, so it needs a jwks_uri on the cluster's API server (https://kubernetes.default.svc/openid/v1/jwks)",
        ))
    }
}

/// The one file each of `bearer_token_file` and `ca_file` may name: Kubernetes' mount of the
/// pod's own service-account token and cluster CA, which exist for this use. No other path:
/// the server reads the file and sends it (as a bearer token) to a URL the same caller chooses,
/// so a free path would let whoever holds `create:` or `update:trusted_issuers` have the server
/// send them any file it can read, its master key included.
const ISSUER_FILES: [(&str, &str, &str); 2] = [
    (
        "bearer_token_file",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "service-account token",
    ),
    (
        "ca_file",
        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        "cluster CA",
    ),
];

fn check_path(field: &str, path: &str) -> Result<(), Invalid> {
    validate_text(field, path, MAX_PATH_LEN)?;
    match ISSUER_FILES.iter().find(|(name, _, _)| *name == field) {
        Some((_, allowed, _)) if path == *allowed => Ok(()),
        Some((_, allowed, what)) => Err(Invalid(format!(
            "{field} may only be {allowed} (Kubernetes' mount of the pod's {what}): the server \
             reads the file and sends it to the issuer's URL, so no other file may be named"
        ))),
        None => Err(Invalid(format!(
            "{field} is not a file a trusted issuer may name"
        ))),
    }
}

/// The trust domain of a SPIFFE ID (`spiffe://<trust domain>/...`), if `text` is one.
pub fn spiffe_trust_domain(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("spiffe://")?;
    let domain = rest.split('/').next()?;
    (!domain.is_empty()).then_some(domain)
}

impl From<&TrustedIssuer> for NewTrustedIssuer {
    /// The description that makes `issuer` again, every default written out (what `warrant
    /// export` writes).
    fn from(issuer: &TrustedIssuer) -> Self {
        let (jwks_uri, jwks) = issuer.keys.parts();
        Self {
            issuer: issuer.issuer.clone(),
            name: Some(issuer.name.clone()),
            jwks_uri: jwks_uri.map(str::to_owned),
            jwks: jwks.map(str::to_owned),
            bearer_token_file: issuer.bearer_token_file.clone(),
            ca_file: issuer.ca_file.clone(),
            algorithms: issuer
                .algorithms
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
            max_assertion_lifetime: Some(issuer.max_assertion_lifetime),
        }
    }
}

impl TrustedIssuer {
    pub fn new(new: NewTrustedIssuer, now: u64) -> Result<Self, Invalid> {
        let spiffe = new.issuer.starts_with("spiffe://");
        if spiffe {
            let domain = spiffe_trust_domain(&new.issuer).unwrap_or_default();
            let valid = !domain.is_empty()
                && new.issuer.len() == "spiffe://".len() + domain.len()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c));
            if !valid {
                return Err(Invalid::new(
                    "issuer: a SPIFFE trust domain is spiffe://<trust domain> (lowercase letters, digits, '-', '.', '_'), with no path",
                ));
            }
        } else {
            check_fetch_url("issuer", &new.issuer)?;
        }
        let name = new.name.unwrap_or_else(|| new.issuer.clone());
        validate_name("name", &name, 128)?;
        let keys = match (new.jwks_uri, new.jwks) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    "give either jwks_uri or jwks (inline keys), not both",
                ));
            }
            (Some(uri), None) => {
                check_fetch_url("jwks_uri", &uri)?;
                IssuerKeySource::JwksUri(uri)
            }
            (None, Some(jwks)) => {
                check_inline_jwks(&jwks)?;
                IssuerKeySource::Inline(jwks)
            }
            (None, None) if spiffe => {
                return Err(Invalid::new(
                    "a SPIFFE trust domain has no discovery document: give jwks_uri (the SPIRE OIDC discovery provider's keys) or jwks (the trust bundle's JWT keys)",
                ));
            }
            (None, None) => IssuerKeySource::Discovery,
        };
        for (field, path) in [
            ("bearer_token_file", &new.bearer_token_file),
            ("ca_file", &new.ca_file),
        ] {
            if let Some(path) = path {
                check_path(field, path)?;
                if matches!(keys, IssuerKeySource::Inline(_)) {
                    return Err(Invalid(format!(
                        "{field} is for fetching keys; inline keys are not fetched"
                    )));
                }
            }
        }
        if new.bearer_token_file.is_some() {
            check_token_destination(&keys)?;
        }
        let algorithms = parse_algorithms(&new.algorithms)?;
        let max_assertion_lifetime = new
            .max_assertion_lifetime
            .unwrap_or(DEFAULT_FEDERATED_LIFETIME);
        check_lifetime(max_assertion_lifetime)?;
        Ok(Self {
            id: format!("tis_{}", random_alphanumeric(22)),
            issuer: new.issuer,
            name,
            keys,
            bearer_token_file: new.bearer_token_file,
            ca_file: new.ca_file,
            algorithms,
            max_assertion_lifetime,
            created_at: now,
            updated_at: now,
        })
    }

    /// This issuer with `patch` applied at `now`, checked by every rule of [`new`](Self::new)
    /// (the issuer as it would be, not the patch alone: a patch cannot make a combination that
    /// creating it would refuse, e.g. a bearer token file sent to a URL found by discovery).
    /// Its `updated_at` always moves forward, since it is what tells each instance's key
    /// cache to rebuild the issuer's keys.
    pub fn patched(&self, patch: TrustedIssuerPatch, now: u64) -> Result<Self, Invalid> {
        if patch.issuer.as_ref().is_some_and(|url| *url != self.issuer) {
            return Err(Invalid(format!(
                "issuer cannot be changed ({} is named by the federated credentials and the \
                 assertions' iss): trust the new issuer, move the federated credentials to it, \
                 then remove this one",
                self.issuer
            )));
        }
        let (mut jwks_uri, mut jwks) = match &self.keys {
            IssuerKeySource::Discovery => (None, None),
            IssuerKeySource::JwksUri(uri) => (Some(uri.clone()), None),
            IssuerKeySource::Inline(text) => (None, Some(text.clone())),
        };
        match (patch.jwks_uri, patch.jwks) {
            (Some(uri), Some(keys)) => (jwks_uri, jwks) = (uri, keys),
            (Some(uri), None) => {
                if uri.is_some() {
                    jwks = None;
                }
                jwks_uri = uri;
            }
            (None, Some(keys)) => {
                if keys.is_some() {
                    jwks_uri = None;
                }
                jwks = keys;
            }
            (None, None) => {}
        }
        let patched = Self::new(
            NewTrustedIssuer {
                issuer: self.issuer.clone(),
                name: Some(patch.name.unwrap_or_else(|| self.name.clone())),
                jwks_uri,
                jwks,
                bearer_token_file: patch
                    .bearer_token_file
                    .unwrap_or_else(|| self.bearer_token_file.clone()),
                ca_file: patch.ca_file.unwrap_or_else(|| self.ca_file.clone()),
                algorithms: patch.algorithms.unwrap_or_else(|| {
                    self.algorithms
                        .iter()
                        .map(|a| a.name().to_owned())
                        .collect()
                }),
                max_assertion_lifetime: Some(
                    patch
                        .max_assertion_lifetime
                        .unwrap_or(self.max_assertion_lifetime),
                ),
            },
            now,
        )?;
        Ok(Self {
            id: self.id.clone(),
            created_at: self.created_at,
            // Time has one-second resolution: a change within the second it was made in must
            // still read as a change.
            updated_at: now.max(self.updated_at + 1),
            ..patched
        })
    }

    /// Whether this is a SPIFFE trust domain rather than an issuer URL.
    pub fn is_spiffe(&self) -> bool {
        self.issuer.starts_with("spiffe://")
    }

    /// The algorithms as their JOSE names, comma-separated (how they are stored).
    pub fn algorithm_names(&self) -> String {
        self.algorithms
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The algorithms an administrator names (JOSE names, each once); none: RS256 and ES256.
fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, Invalid> {
    if names.is_empty() {
        return Ok(vec![Algorithm::RS256, Algorithm::ES256]);
    }
    let mut algorithms = Vec::new();
    for name in names {
        let alg = Algorithm::from_name(name)
            .filter(|a| FEDERATION_ALGORITHMS.contains(a))
            .ok_or_else(|| {
                Invalid(format!(
                    "algorithms: {name:?} is not supported; use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA"
                ))
            })?;
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    Ok(algorithms)
}

fn check_lifetime(seconds: u64) -> Result<(), Invalid> {
    if (60..=MAX_FEDERATED_LIFETIME).contains(&seconds) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "max_assertion_lifetime must be from 60 to {MAX_FEDERATED_LIFETIME} seconds"
        )))
    }
}

impl TrustedIssuerPatch {
    /// The rules each field given keeps whatever the issuer it changes (the name, the files,
    /// the algorithms, the lifetime cap): a request's own mistakes are named before whether
    /// the issuer exists. [`TrustedIssuer::patched`] then checks the issuer as it would be.
    pub fn check(&self) -> Result<(), Invalid> {
        if let Some(name) = &self.name {
            validate_name("name", name, 128)?;
        }
        if let Some(Some(uri)) = &self.jwks_uri {
            if uri.len() > MAX_URL_LEN {
                return Err(Invalid(format!(
                    "jwks_uri must be at most {MAX_URL_LEN} characters"
                )));
            }
        }
        if let Some(Some(jwks)) = &self.jwks {
            let shaped = serde_json::from_str::<Value>(jwks)
                .is_ok_and(|v| v.get("keys").is_some_and(Value::is_array));
            if !shaped {
                return Err(Invalid::new("jwks is not a JWKS ({\"keys\": [...]})"));
            }
        }
        for (field, path) in [
            ("bearer_token_file", &self.bearer_token_file),
            ("ca_file", &self.ca_file),
        ] {
            if let Some(Some(path)) = path {
                check_path(field, path)?;
            }
        }
        if let Some(names) = &self.algorithms {
            parse_algorithms(names)?;
        }
        if let Some(seconds) = self.max_assertion_lifetime {
            check_lifetime(seconds)?;
        }
        Ok(())
    }
}

/// Parses stored algorithm names (comma-separated).
pub fn parse_algorithm_names(text: &str) -> Result<Vec<Algorithm>, Invalid> {
    text.split(',')
        .filter(|n| !n.is_empty())
        .map(|n| Algorithm::from_name(n).ok_or_else(|| Invalid(format!("unknown algorithm {n}"))))
        .collect()
}

fn check_inline_jwks(text: &str) -> Result<(), Invalid> {
    if text.len() > MAX_INLINE_JWKS {
        return Err(Invalid(format!(
            "jwks must be at most {MAX_INLINE_JWKS} bytes"
        )));
    }
    let jwks: Jwks = serde_json::from_str(text)
        .map_err(|e| Invalid(format!("jwks is not a JWKS ({{\"keys\": [...]}}): {e}")))?;
    if jwks.keys.is_empty() {
        return Err(Invalid::new("jwks has no keys"));
    }
    if jwks
        .keys
        .iter()
        .any(|k| k.kid.as_deref().is_none_or(str::is_empty))
    {
        return Err(Invalid::new(
            "every key of jwks needs a kid: assertions name their key by it",
        ));
    }
    // A private or symmetric key is never what an issuer publishes, and what is stored here
    // is shown and exported (a configuration file goes to git): refuse it, naming no value.
    let raw: Value = serde_json::from_str(text)
        .map_err(|e| Invalid(format!("jwks is not a JWKS ({{\"keys\": [...]}}): {e}")))?;
    if let Some(keys) = raw.get("keys").and_then(Value::as_array)
        && keys
            .iter()
            .any(|k| PRIVATE_JWK_MEMBERS.iter().any(|m| k.get(*m).is_some()))
    {
        // The list is written from the one the check reads, so that it names every member.
        let [others @ .., last] = PRIVATE_JWK_MEMBERS;
        return Err(Invalid(format!(
            "jwks holds private key material ({} or {last}): upload the issuer's public keys only",
            others.join(", ")
        )));
    }
    Ok(())
}

/// The JWK members that hold private or symmetric key material (RFC 7518 §6.3.2, §6.4.1).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A claim an assertion must carry with exactly this value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCondition {
    pub claim: String,
    pub value: String,
}

impl ClaimCondition {
    /// Whether `claims` has the claim (at its path: see the module's doc) with this value: a
    /// string equal to it, or a number or boolean whose JSON text is.
    pub fn holds(&self, claims: &Map<String, Value>) -> bool {
        match claim_at(claims, &self.claim) {
            Some(Value::String(s)) => *s == self.value,
            Some(Value::Number(n)) => displays_as(n, &self.value),
            Some(Value::Bool(b)) => (if *b { "true" } else { "false" }) == self.value,
            _ => false,
        }
    }
}

/// The claim at `path` in `claims`: at each object, the longest part of the path left (whole,
/// or up to one of its dots) that names a member, then the rest inside that member.
fn claim_at<'v>(claims: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let (mut object, mut path) = (claims, path);
    loop {
        if let Some(value) = object.get(path) {
            return Some(value);
        }
        let mut end = path.len();
        let (member, rest) = loop {
            end = path[..end].rfind('.')?;
            if let Some(member) = object.get(&path[..end]) {
                break (member, &path[end + 1..]);
            }
        };
        object = member.as_object()?;
        path = rest;
    }
}

/// Whether `value` displays as exactly `text` (a number's JSON text, without building it).
fn displays_as(value: &impl fmt::Display, text: &str) -> bool {
    struct Expect<'a>(&'a str);
    impl fmt::Write for Expect<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut expect = Expect(text);
    write!(expect, "{value}").is_ok() && expect.0.is_empty()
}

/// A binding of an application to the workloads of a trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    /// `fed_` and random characters.
    pub id: String,
    pub client_id: String,
    pub name: String,
    /// The trusted issuer's ID.
    pub issuer_id: String,
    /// The assertion's `sub`: exact, or a pattern (see the module's doc).
    pub subject: String,
    /// The `aud` the assertion must carry; `None`: Warrant's issuer URL.
    pub audience: Option<String>,
    pub conditions: Vec<ClaimCondition>,
    pub created_at: u64,
    pub updated_at: u64,
    pub expires_at: Option<u64>,
}

/// A federated credential as an administrator describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewFederatedCredential {
    pub name: Option<String>,
    /// The trusted issuer, by ID or by its issuer URL.
    pub issuer: String,
    pub subject: String,
    pub audience: Option<String>,
    pub conditions: BTreeMap<String, String>,
    pub expires_at: Option<u64>,
    /// Accepts a binding to a Kubernetes `default` service account or a subject of only `*`.
    pub confirm_broad_subject: bool,
}

/// Why a subject binds more than one workload should: `None` when it does not.
pub fn broad_subject(subject: &str) -> Option<&'static str> {
    if subject.split(SUBJECT_SEPARATORS).all(|s| s == "*") {
        return Some("the subject matches any workload of the issuer");
    }
    if let Some(rest) = subject.strip_prefix("system:serviceaccount:") {
        let account = rest.rsplit(':').next().unwrap_or_default();
        if account == "default" || account == "*" {
            return Some(
                "the subject binds a Kubernetes default service account, which every pod of the namespace runs as unless told otherwise",
            );
        }
    }
    None
}

impl FederatedCredential {
    /// A new credential for `client_id` of the trusted issuer `issuer_id`, checked.
    pub fn new(
        client_id: &str,
        issuer_id: &str,
        new: NewFederatedCredential,
        now: u64,
    ) -> Result<Self, Invalid> {
        let subject = new.subject;
        if subject.trim().is_empty() {
            return Err(Invalid::new("subject must not be empty"));
        }
        validate_text("subject", &subject, MAX_SUBJECT_LEN)?;
        if subject.chars().any(char::is_whitespace) {
            return Err(Invalid::new("subject must not contain whitespace"));
        }
        if let Some(why) = broad_subject(&subject) {
            if !new.confirm_broad_subject {
                return Err(Invalid(format!(
                    "subject: {why}; bind a dedicated subject, or confirm with confirm_broad_subject: true"
                )));
            }
        }
        let name = new.name.unwrap_or_else(|| subject.clone());
        validate_name("name", &name, 128)?;
        if let Some(audience) = &new.audience {
            if audience.is_empty() {
                return Err(Invalid::new("audience must not be empty"));
            }
            validate_text("audience", audience, MAX_URL_LEN)?;
        }
        if new.conditions.len() > MAX_CONDITIONS {
            return Err(Invalid(format!(
                "conditions: at most {MAX_CONDITIONS} claims"
            )));
        }
        let mut conditions = Vec::with_capacity(new.conditions.len());
        for (claim, value) in new.conditions {
            if claim.is_empty() {
                return Err(Invalid::new("conditions: a claim name must not be empty"));
            }
            validate_text("conditions: the claim name", &claim, 128)?;
            validate_text("conditions: the value", &value, MAX_SUBJECT_LEN)?;
            if matches!(
                claim.as_str(),
                "sub" | "aud" | "iss" | "exp" | "iat" | "nbf"
            ) {
                return Err(Invalid(format!(
                    "conditions: {claim} is checked already (use subject and audience)"
                )));
            }
            conditions.push(ClaimCondition { claim, value });
        }
        Ok(Self {
            id: format!("fed_{}", random_alphanumeric(22)),
            client_id: client_id.to_owned(),
            name,
            issuer_id: issuer_id.to_owned(),
            subject,
            audience: new.audience,
            conditions,
            created_at: now,
            updated_at: now,
            expires_at: new.expires_at,
        })
    }

    /// The conditions as a JSON object (how they are stored and shown).
    pub fn conditions_map(&self) -> BTreeMap<String, String> {
        self.conditions
            .iter()
            .map(|c| (c.claim.clone(), c.value.clone()))
            .collect()
    }
}

/// Whether `subject` matches `pattern`: `*` stands for one or more characters other than the
/// separators `/` and `:`; every other character matches itself. A run over the subject with
/// the set of pattern positions reached (no backtracking): O(pattern × subject), both at most
/// 512 bytes.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == subject;
    }
    let p = pattern.as_bytes();
    // at[i]: the subject so far matches p[..i]. in_star[i]: p[i] is a star that has taken at
    // least one character so far and may take more.
    let mut at = vec![false; p.len() + 1];
    let mut in_star = vec![false; p.len() + 1];
    let mut next_at = vec![false; p.len() + 1];
    let mut next_star = vec![false; p.len() + 1];
    at[0] = true;
    for &c in subject.as_bytes() {
        let separator = SUBJECT_SEPARATORS.iter().any(|s| *s as u32 == u32::from(c));
        next_at.fill(false);
        next_star.fill(false);
        let mut alive = false;
        for (i, &pc) in p.iter().enumerate() {
            if pc == b'*' {
                if (at[i] || in_star[i]) && !separator {
                    next_star[i] = true;
                    next_at[i + 1] = true;
                    alive = true;
                }
            } else if at[i] && pc == c {
                next_at[i + 1] = true;
                alive = true;
            }
        }
        if !alive {
            return false;
        }
        std::mem::swap(&mut at, &mut next_at);
        std::mem::swap(&mut in_star, &mut next_star);
    }
    at[p.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kubernetes_own_files_may_be_named() {
        for (field, allowed, _) in ISSUER_FILES {
            assert!(check_path(field, allowed).is_ok());
            for path in [
                "/var/lib/warrant/master.key",
                "ca.pem",
                "/var/run/secrets/kubernetes.io/serviceaccount/../../../../etc/shadow",
                "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
            ] {
                let refused = check_path(field, path).unwrap_err().0;
                assert!(refused.contains(allowed), "{refused}");
                assert!(!refused.contains(path), "{refused} echoes the path");
            }
        }
        // Each field its own file: the CA is not a token to send.
        assert!(check_path("bearer_token_file", ISSUER_FILES[1].1).is_err());
    }

    #[test]
    fn the_service_account_token_goes_only_to_the_clusters_api_server() {
        let uri = |u: &str| IssuerKeySource::JwksUri(u.to_owned());
        for ok in [
            "https://kubernetes.default.svc/openid/v1/jwks",
            "https://kubernetes.default.svc.cluster.local/openid/v1/jwks",
        ] {
            assert!(check_token_destination(&uri(ok)).is_ok(), "{ok}");
        }
        for refused in [
            uri("https://attacker.example/jwks"),
            uri("https://kubernetes.default.svc.attacker.example./jwks"),
            uri("https://kubernetes.default.svc.evil@attacker.example/jwks"),
            uri("http://kubernetes.default.svc/openid/v1/jwks"),
            IssuerKeySource::Discovery,
        ] {
            assert!(check_token_destination(&refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn subject_patterns_match_within_one_segment() {
        let cases = [
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/api:ref:refs/heads/main",
                true,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/a/b:ref:refs/heads/main",
                false,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/:ref:refs/heads/main",
                false,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/api:ref:refs/heads/dev",
                false,
            ),
            (
                "system:serviceaccount:payments:*",
                "system:serviceaccount:payments:worker",
                true,
            ),
            (
                "system:serviceaccount:payments:*",
                "system:serviceaccount:billing:worker",
                false,
            ),
            (
                "system:serviceaccount:*:worker",
                "system:serviceaccount:a:b:worker",
                false,
            ),
            (
                "spiffe://prod.acme/ns/payments/*",
                "spiffe://prod.acme/ns/payments/sa",
                true,
            ),
            (
                "spiffe://prod.acme/ns/payments/*",
                "spiffe://prod.acme/ns/payments/sa/x",
                false,
            ),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("a*c", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "ac", false),
            ("a*c", "ab/c", false),
            ("*-*", "a-b-c", true),
            ("*", "anything", true),
            ("*", "a:b", false),
            ("**", "ab", true),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(
                subject_matches(pattern, subject),
                expected,
                "{pattern} ~ {subject}"
            );
        }
    }

    #[test]
    fn broad_subjects_need_confirmation() {
        assert!(broad_subject("*").is_some());
        assert!(broad_subject("*:*").is_some());
        assert!(broad_subject("system:serviceaccount:payments:default").is_some());
        assert!(broad_subject("system:serviceaccount:payments:*").is_some());
        assert!(broad_subject("system:serviceaccount:payments:worker").is_none());
        assert!(broad_subject("repo:acme/*:ref:refs/heads/main").is_none());
        let new = NewFederatedCredential {
            issuer: "i".into(),
            subject: "*".into(),
            ..Default::default()
        };
        let e = FederatedCredential::new("c", "i", new.clone(), 0).unwrap_err();
        assert!(e.0.contains("confirm_broad_subject"), "{e}");
        let confirmed = NewFederatedCredential {
            confirm_broad_subject: true,
            ..new
        };
        assert!(FederatedCredential::new("c", "i", confirmed, 0).is_ok());
    }

    #[test]
    fn trusted_issuers_are_https_or_loopback_or_spiffe() {
        let issuer = |url: &str| NewTrustedIssuer {
            issuer: url.into(),
            ..Default::default()
        };
        assert!(
            TrustedIssuer::new(issuer("https://token.actions.githubusercontent.com"), 0).is_ok()
        );
        assert!(TrustedIssuer::new(issuer("http://127.0.0.1:8080"), 0).is_ok());
        assert!(TrustedIssuer::new(issuer("http://cluster.example"), 0).is_err());
        assert!(TrustedIssuer::new(issuer("https://user:pw@x.example"), 0).is_err());
        assert!(TrustedIssuer::new(issuer("spiffe://prod.acme"), 0).is_err());
        let spiffe = NewTrustedIssuer {
            jwks_uri: Some("https://spire.acme/keys".into()),
            ..issuer("spiffe://prod.acme")
        };
        assert!(TrustedIssuer::new(spiffe, 0).unwrap().is_spiffe());
        let bad_alg = NewTrustedIssuer {
            algorithms: vec!["HS256".into()],
            ..issuer("https://x.example")
        };
        assert!(TrustedIssuer::new(bad_alg, 0).is_err());
        let inline_no_kid = NewTrustedIssuer {
            jwks: Some(r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.into()),
            ..issuer("https://x.example")
        };
        assert!(TrustedIssuer::new(inline_no_kid, 0).is_err());
    }

    #[test]
    fn claim_conditions_compare_strings_numbers_and_booleans() {
        let claims: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({
            "repository_owner_id": "123", "run_number": 7, "protected": true, "list": ["a"]
        }))
        .unwrap();
        let holds = |claim: &str, value: &str| {
            ClaimCondition {
                claim: claim.into(),
                value: value.into(),
            }
            .holds(&claims)
        };
        assert!(holds("repository_owner_id", "123"));
        assert!(!holds("repository_owner_id", "124"));
        assert!(holds("run_number", "7"));
        assert!(holds("protected", "true"));
        assert!(!holds("list", "a"));
        assert!(!holds("missing", ""));
        assert!(!holds("run_number", "70"));
        assert!(!holds("run_number", ""));
    }

    #[test]
    fn inline_keys_must_be_public() {
        let public = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AAAA","y":"AAAA"}]}"#;
        assert!(check_inline_jwks(public).is_ok());
        for member in PRIVATE_JWK_MEMBERS {
            let private = format!(
                r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"a","x":"AAAA","y":"AAAA","{member}":"c2VjcmV0"}}]}}"#
            );
            let error = check_inline_jwks(&private).unwrap_err().0;
            assert!(
                error.contains("private key material (d, p, q, dp, dq, qi, oth or k)"),
                "{error}"
            );
            assert!(!error.contains("c2VjcmV0"), "{error}");
        }
    }

    #[test]
    fn claim_paths_take_the_longest_name_first() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "kubernetes.io": {"namespace": "payments",
                "serviceaccount": {"name": "worker", "uid": "9a2e"}},
            "a.b": "flat", "a": {"b": "nested", "c": 1},
            "x": "not an object"
        }))
        .unwrap();
        let at = |path: &str| claim_at(&claims, path).cloned();
        assert_eq!(at("kubernetes.io.namespace"), Some("payments".into()));
        assert_eq!(
            at("kubernetes.io.serviceaccount.name"),
            Some("worker".into())
        );
        assert_eq!(at("a.b"), Some("flat".into()), "the longer name wins");
        assert_eq!(at("a.c"), Some(1.into()));
        assert_eq!(at("kubernetes.io.pod"), None);
        assert_eq!(at("kubernetes"), None);
        assert_eq!(at("x.y"), None, "not an object");
        assert_eq!(at("kubernetes.io."), None);
        assert_eq!(at(".namespace"), None);
        let condition = ClaimCondition {
            claim: "kubernetes.io.serviceaccount.name".into(),
            value: "worker".into(),
        };
        assert!(condition.holds(&claims));
    }
}
