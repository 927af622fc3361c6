//! DPoP proofs (RFC 9449): the one verifier of the codebase, used by the axum layer for proofs
//! sent with an access token and by Warrant's token endpoint for proofs sent with a token
//! request.
//!
//! A proof is a JWS parsed by the same parser as access tokens (`jws.rs`), with the header rules
//! of a proof as data: `typ` `dpop+jwt`, an asymmetric `alg` from the allowlist, the public key in
//! `jwk` (private members refused). Then, in this order: the signature with that key, `htm`,
//! `htu` (scheme, host, port and path, compared after RFC 3986 normalization; query and fragment
//! ignored), `iat` within the window, `ath` (the access token's SHA-256), the key's RFC 7638
//! thumbprint against the token's `cnf.jkt`, and last the `jti` against the replay cache, so that
//! only a proof that passed everything else takes a place there.
//!
//! **The replay cache** remembers each accepted proof for as long as its `iat` keeps it
//! acceptable (at most twice the window), in time slices of one window each: a slice is dropped
//! whole once every proof in it has aged out, so nothing is scanned. It holds at most
//! [`replay_capacity`](DpopVerifierBuilder::replay_capacity) proofs (default 1,000,000) as
//! 16-byte hashes, in 16 shards; a hash table costs at most about 40 bytes an entry, so the cache
//! never holds more than about 40 MB with the default, whatever the load. When it is full, new
//! proofs are refused (fail closed, [`DpopError::ReplayCacheFull`], which the axum layer answers
//! 503: the service is overloaded, the proof was not at fault) until slices age out: raise the
//! capacity for APIs that take more than capacity / (2 × window) DPoP requests a second.
//! [`DpopVerifier::replay_stats`] tells how full it is and how many proofs it refused for want
//! of room; while it is full, a `tracing` warning says so once a window.
//!
//! **The key cache**: parsing a proof's `jwk` costs more than verifying with it for RSA (the
//! modulus is checked and set up), and a client signs every proof with the same key, so parsed
//! keys are kept by algorithm and RFC 7638 thumbprint (which covers every public member, so a
//! thumbprint names one key): at most 4,096 keys (16 shards of 256; a shard that is
//! full is emptied), a key only once a proof's signature verified with it. The private-member
//! check runs on every proof, cached key or not.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{self, SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::jws::{self, HeaderPolicy, JwsKind};
use crate::verifier::unix_now;
use crate::{Algorithm, BuildError, Error};

/// Why a DPoP proof was not accepted. The messages are safe to send back to the caller (as an
/// RFC 9449 `error_description`): they never contain the proof, its key or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// No `DPoP` header where one is needed.
    #[error("this request requires a DPoP proof")]
    Missing,
    /// More than one `DPoP` header, or one that is not ASCII.
    #[error("send exactly one DPoP header")]
    BadHeader,
    /// The proof is longer than the configured maximum; it was not parsed.
    #[error("the DPoP proof is too long")]
    TooLong,
    /// Not a compact JWS, or its JSON is not an object (or repeats a member).
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ must be dpop+jwt")]
    WrongType,
    /// `alg` is not on the allowlist (symmetric algorithms and `none` never are).
    #[error("the DPoP proof's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// The header carries `crit`, `b64`, a key URL or a certificate.
    #[error("the DPoP proof header has members that are not accepted")]
    UnsupportedHeader,
    /// The `jwk` holds private key members (`d`, `p`, `q`, `k`, ...).
    #[error("the DPoP proof's jwk contains private key material")]
    PrivateKey,
    /// The `jwk` is not a public key of the type `alg` needs.
    #[error("the DPoP proof's jwk is not a usable public key for its alg")]
    BadKey,
    /// The signature does not verify with the `jwk`.
    #[error("the DPoP proof signature is invalid")]
    BadSignature,
    /// A claim is missing or of the wrong type.
    #[error("the DPoP proof's {0} claim is missing or invalid")]
    InvalidClaim(&'static str),
    /// `htm` is not the request's method.
    #[error("the DPoP proof's htm does not match the request method")]
    WrongMethod,
    /// `htu` is not the request's URL.
    #[error("the DPoP proof's htu does not match the request URL")]
    WrongUrl,
    /// `iat` is older than the window allows.
    #[error("the DPoP proof is too old")]
    TooOld,
    /// `iat` is further in the future than the window allows.
    #[error("the DPoP proof was issued in the future")]
    IssuedInFuture,
    /// `ath` is not the hash of the access token sent with it.
    #[error("the DPoP proof's ath does not match the access token")]
    WrongTokenHash,
    /// The proof's key is not the one the access token is bound to (`cnf.jkt`).
    #[error("the DPoP proof is signed with a key the access token is not bound to")]
    WrongKey,
    /// This proof (its `jti`) was accepted before.
    #[error("the DPoP proof has been used before")]
    Replayed,
    /// The replay cache is full: the proof could not be recorded, so it is refused. Not the
    /// proof's fault: the service is overloaded (the axum layer answers 503).
    #[error(
        "the service is overloaded: it cannot remember more DPoP proofs against replay right \
         now; retry shortly with a fresh proof"
    )]
    ReplayCacheFull,
}

impl From<Error> for DpopError {
    fn from(e: Error) -> Self {
        match e {
            Error::TooLong => Self::TooLong,
            Error::Malformed(what) => Self::Malformed(what),
            Error::AlgorithmNotAllowed => Self::AlgorithmNotAllowed,
            Error::WrongType => Self::WrongType,
            Error::EmbeddedKey | Error::UnsupportedHeader => Self::UnsupportedHeader,
            Error::KeyMismatch | Error::UnknownKey => Self::BadKey,
            Error::BadSignature => Self::BadSignature,
            Error::InvalidClaim(claim) => Self::InvalidClaim(claim),
            _ => Self::Malformed("the proof could not be read"),
        }
    }
}

/// What the proof must match: the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct ProofCheck<'a> {
    /// The request's method (`htm`), compared exactly.
    pub method: &'a str,
    /// The request's public URL (`htu`); its query and fragment are ignored.
    pub url: &'a str,
    /// The access token sent with the proof, whose hash `ath` must be (none at a token endpoint).
    pub access_token: Option<&'a str>,
    /// The thumbprint the access token is bound to (its `cnf.jkt`), which the proof's key must
    /// have.
    pub bound_key: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone)]
pub struct DpopProof {
    jkt: String,
    nonce: Option<String>,
    jti: String,
    iat: u64,
}

impl DpopProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what a token bound to the
    /// key carries as `cnf.jkt`.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's `nonce` claim, if any (checking it is the caller's: only it knows its nonces).
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
}

/// How full a [`DpopVerifier`]'s replay cache is: for an operator's metrics and alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayCacheStats {
    /// Proofs held that could still be replayed (their `iat` window has not passed).
    pub held: usize,
    /// How many proofs it holds at most ([`DpopVerifierBuilder::replay_capacity`], rounded up
    /// to its 16 shards). Proofs are spread over the shards by hash, so a shard can fill a
    /// little before `held` reaches it.
    pub capacity: usize,
    /// Proofs refused because the cache was full ([`DpopError::ReplayCacheFull`]), since the
    /// verifier was built. Anything above zero means the API took more DPoP requests than the
    /// cache holds: raise `replay_capacity` or shorten `iat_window`.
    pub refused_full: u64,
}

/// Verifies DPoP proofs. Cheap to clone; clones share the replay cache, so one verifier (and its
/// clones) serves every route of an API.
#[derive(Debug, Clone)]
pub struct DpopVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: HeaderPolicy,
    algs: String,
    window: u64,
    max_len: usize,
    replay: ReplayCache,
    keys: KeyCache,
}

/// Configures a [`DpopVerifier`]. Every setting has a safe default.
#[derive(Debug, Clone)]
pub struct DpopVerifierBuilder {
    algorithms: Vec<Algorithm>,
    window: Duration,
    replay_capacity: usize,
    max_len: usize,
}

impl Default for DpopVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopVerifier {
    /// The default algorithms: asymmetric only, as RFC 9449 requires.
    pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::PS256,
        Algorithm::RS256,
    ];

    /// A verifier with the defaults: ES256, EdDSA, PS256 and RS256; `iat` within ±60 s; a
    /// replay cache of 1,000,000 proofs; proofs up to 8 KiB.
    pub fn new() -> Self {
        let built = Self::builder().build();
        // The defaults are valid: build only fails on an empty allowlist or a zero window.
        match built {
            Ok(verifier) => verifier,
            Err(_) => unreachable!("the default DPoP settings are valid"),
        }
    }

    pub fn builder() -> DpopVerifierBuilder {
        DpopVerifierBuilder {
            algorithms: Self::DEFAULT_ALGORITHMS.to_vec(),
            window: Duration::from_secs(60),
            replay_capacity: 1_000_000,
            max_len: 8 * 1024,
        }
    }

    /// The accepted algorithms, space-separated: the `algs` of a `DPoP` challenge.
    pub fn algs(&self) -> &str {
        &self.inner.algs
    }

    /// The accepted algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.policy.algorithms
    }

    /// Verifies `proof` now against the request it came with.
    pub fn verify(&self, proof: &str, check: &ProofCheck<'_>) -> Result<DpopProof, DpopError> {
        self.verify_at(proof, check, unix_now())
    }

    /// Verifies `proof` as of `now` (seconds since the Unix epoch).
    pub fn verify_at(
        &self,
        proof: &str,
        check: &ProofCheck<'_>,
        now: u64,
    ) -> Result<DpopProof, DpopError> {
        let proof = self.check_at(proof, check, now)?;
        self.record(&proof, now)?;
        Ok(proof)
    }

    /// Every check but the replay check: for a caller that records the proof with
    /// [`record`](Self::record) only once the request is otherwise accepted, so that whoever
    /// can make proofs (anyone, at a token endpoint) cannot fill the replay cache without also
    /// authenticating.
    pub fn check_at(
        &self,
        proof: &str,
        check: &ProofCheck<'_>,
        now: u64,
    ) -> Result<DpopProof, DpopError> {
        let inner = &*self.inner;
        if proof.len() > inner.max_len {
            return Err(DpopError::TooLong);
        }
        let jws = jws::parse(proof, &inner.policy)?;
        let Some(jwk) = jws.jwk.as_ref() else {
            return Err(DpopError::BadKey);
        };
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(DpopError::PrivateKey);
        }
        let digest = thumbprint_digest(jwk).ok_or(DpopError::BadKey)?;
        let (key, cached) = match inner.keys.get(jws.alg, &digest) {
            Some(key) => (key, true),
            None => (Arc::new(public_key(jwk, jws.alg)?), false),
        };
        key.verify_sig(jws.signing_input.as_bytes(), &jws.signature)
            .map_err(|_| DpopError::BadSignature)?;
        if !cached {
            inner.keys.insert(jws.alg, digest, key);
        }
        let claims = jws::decode_object(jws.payload_b64, "payload")?;

        match claims.get("htm") {
            Some(Value::String(htm)) if htm == check.method => {}
            Some(Value::String(_)) => return Err(DpopError::WrongMethod),
            _ => return Err(DpopError::InvalidClaim("htm")),
        }
        let htu = match claims.get("htu") {
            Some(Value::String(htu)) => htu,
            _ => return Err(DpopError::InvalidClaim("htu")),
        };
        // Byte for byte the URL expected is the usual case, and needs no parsing.
        let exact = htu == check.url
            && (check.url.starts_with("https://") || check.url.starts_with("http://"));
        if !exact && !same_url(htu, check.url) {
            return Err(DpopError::WrongUrl);
        }
        let iat = match claims.get("iat") {
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(v), _) => v,
                (None, Some(f)) if (0.0..1e15).contains(&f) => f as u64,
                _ => return Err(DpopError::InvalidClaim("iat")),
            },
            _ => return Err(DpopError::InvalidClaim("iat")),
        };
        if iat.saturating_add(inner.window) < now {
            return Err(DpopError::TooOld);
        }
        if iat > now.saturating_add(inner.window) {
            return Err(DpopError::IssuedInFuture);
        }
        if let Some(token) = check.access_token {
            let Some(Value::String(ath)) = claims.get("ath") else {
                return Err(DpopError::InvalidClaim("ath"));
            };
            // 32 bytes are 43 in base64url: encoded on the stack.
            let mut expected = [0u8; 43];
            let Ok(written) = URL_SAFE_NO_PAD
                .encode_slice(digest::digest(&SHA256, token.as_bytes()), &mut expected)
            else {
                return Err(DpopError::WrongTokenHash);
            };
            if verify_slices_are_equal(&expected[..written], ath.as_bytes()).is_err() {
                return Err(DpopError::WrongTokenHash);
            }
        }
        let jkt = URL_SAFE_NO_PAD.encode(digest);
        if let Some(bound) = check.bound_key {
            if verify_slices_are_equal(jkt.as_bytes(), bound.as_bytes()).is_err() {
                return Err(DpopError::WrongKey);
            }
        }
        let jti = match claims.get("jti") {
            Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
            _ => return Err(DpopError::InvalidClaim("jti")),
        };
        let nonce = match claims.get("nonce") {
            None => None,
            Some(Value::String(nonce)) => Some(nonce.clone()),
            Some(_) => return Err(DpopError::InvalidClaim("nonce")),
        };
        Ok(DpopProof {
            jkt,
            nonce,
            jti: jti.clone(),
            iat,
        })
    }

    /// Records a checked proof against replay: [`DpopError::Replayed`] if it was recorded
    /// before (within its `iat` window), [`DpopError::ReplayCacheFull`] if there is no room.
    pub fn record(&self, proof: &DpopProof, now: u64) -> Result<(), DpopError> {
        self.inner
            .replay
            .record(&proof.jkt, &proof.jti, proof.iat, now)
    }

    /// How full the replay cache is now, and how many proofs it refused for want of room.
    /// Takes each of its 16 shards' locks in turn: for a metrics scrape, not for every request.
    pub fn replay_stats(&self) -> ReplayCacheStats {
        self.replay_stats_at(unix_now())
    }

    /// [`replay_stats`](Self::replay_stats) as of `now` (seconds since the Unix epoch).
    pub fn replay_stats_at(&self, now: u64) -> ReplayCacheStats {
        self.inner.replay.stats(now)
    }
}

const MAX_JTI_LEN: usize = 256;

impl DpopVerifierBuilder {
    /// The accepted algorithms (default: ES256, EdDSA, PS256, RS256). Every algorithm this crate
    /// knows is asymmetric.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// How far a proof's `iat` may be from now, either way (default 60 s). It is also how long a
    /// proof is remembered against replay (twice this, at most).
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How many proofs the replay cache holds at most (default 1,000,000, about 40 MB at
    /// most); past it, proofs are refused until older ones age out. A proof is held one to
    /// two `iat` windows, so the cache takes about capacity / (2 × window) DPoP requests a
    /// second (8,300 with the defaults); [`DpopVerifier::replay_stats`] shows how close it is.
    pub fn replay_capacity(mut self, proofs: usize) -> Self {
        self.replay_capacity = proofs;
        self
    }

    /// Proofs longer than this are refused before parsing (default 8 KiB).
    pub fn max_proof_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    pub fn build(self) -> Result<DpopVerifier, BuildError> {
        if self.algorithms.is_empty() {
            return Err(BuildError::InvalidSetting(
                "at least one DPoP algorithm must be allowed".into(),
            ));
        }
        let window = self.window.as_secs();
        if window == 0 {
            return Err(BuildError::InvalidSetting(
                "the DPoP iat window must be at least a second".into(),
            ));
        }
        let algs = self
            .algorithms
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(DpopVerifier {
            inner: Arc::new(Inner {
                policy: HeaderPolicy {
                    algorithms: self.algorithms,
                    accept_jwt_typ: false,
                    kind: JwsKind::DpopProof,
                },
                algs,
                window,
                max_len: self.max_len,
                replay: ReplayCache::new(self.replay_capacity, window),
                keys: KeyCache::new(),
            }),
        })
    }
}

/// Members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The public key of a `jwk` already checked for private members.
fn public_key(
    jwk: &Map<String, Value>,
    alg: Algorithm,
) -> Result<aws_lc_rs::signature::ParsedPublicKey, DpopError> {
    let member = |name: &str| match jwk.get(name) {
        Some(Value::String(v)) => Ok(Some(v.clone())),
        None => Ok(None),
        Some(_) => Err(DpopError::BadKey),
    };
    let parsed = warrant_proto::Jwk {
        kty: member("kty")?.ok_or(DpopError::BadKey)?,
        kid: None,
        use_: None,
        alg: None,
        n: member("n")?,
        e: member("e")?,
        crv: member("crv")?,
        x: member("x")?,
        y: member("y")?,
        x5c: None,
        x5t: None,
    };
    crate::keys::parse_key(&parsed, alg).ok_or(DpopError::BadKey)
}

/// The RFC 7638 thumbprint: SHA-256 of the required members, in lexicographic order, without
/// whitespace, base64url.
#[cfg(test)]
pub(crate) fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    thumbprint_digest(jwk).map(|d| URL_SAFE_NO_PAD.encode(d))
}

/// The SHA-256 digest of RFC 7638 thumbprint's canonical JSON.
fn thumbprint_digest(jwk: &Map<String, Value>) -> Option<[u8; 32]> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    // Hashed as it is written, without building the JSON text: base64url members (all of
    // them, in a valid key) need no escaping; anything else is escaped as serde_json writes it.
    let mut ctx = digest::Context::new(&SHA256);
    ctx.update(b"{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            ctx.update(b",");
        }
        ctx.update(b"\"");
        ctx.update(name.as_bytes());
        ctx.update(b"\":");
        if value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            ctx.update(b"\"");
            ctx.update(value.as_bytes());
            ctx.update(b"\"");
        } else {
            ctx.update(serde_json::to_string(value).ok()?.as_bytes());
        }
    }
    ctx.update(b"}");
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Some(out)
}

/// The most parsed proof keys a verifier keeps (about 1 KiB each for RSA, less for the others).
const KEY_CACHE_CAPACITY: usize = 4096;

type KeyMap = HashMap<(Algorithm, [u8; 32]), Arc<aws_lc_rs::signature::ParsedPublicKey>>;

/// Parsed proof keys by algorithm and thumbprint digest, bounded.
struct KeyCache {
    shards: Box<[Mutex<KeyMap>]>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").finish_non_exhaustive()
    }
}

impl KeyCache {
    const PER_SHARD: usize = KEY_CACHE_CAPACITY / SHARDS;

    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, digest: &[u8; 32]) -> std::sync::MutexGuard<'_, KeyMap> {
        self.shards[usize::from(digest[0]) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn get(
        &self,
        alg: Algorithm,
        digest: &[u8; 32],
    ) -> Option<Arc<aws_lc_rs::signature::ParsedPublicKey>> {
        self.shard(digest).get(&(alg, *digest)).cloned()
    }

    fn insert(
        &self,
        alg: Algorithm,
        digest: [u8; 32],
        key: Arc<aws_lc_rs::signature::ParsedPublicKey>,
    ) {
        let mut shard = self.shard(&digest);
        if shard.len() >= Self::PER_SHARD {
            shard.clear();
        }
        shard.insert((alg, digest), key);
    }
}

/// Whether two URLs name the same resource for DPoP: same scheme, host, port and path after
/// RFC 3986 normalization (case of scheme and host, default port, dot segments, percent-encoding
/// of unreserved characters and the case of hex digits), query and fragment ignored.
pub(crate) fn same_url(a: &str, b: &str) -> bool {
    match (normalize(a), normalize(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Normalized {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

fn normalize(raw: &str) -> Option<Normalized> {
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(Normalized {
        scheme: url.scheme().to_owned(),
        host: url.host_str()?.to_owned(),
        port: url.port_or_known_default(),
        path: normalize_percent(url.path()),
    })
}

/// Decodes percent-encoded unreserved characters and upper-cases the hex digits of the others
/// (RFC 3986 §6.2.2.1-2).
fn normalize_percent(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let decoded = (h * 16 + l) as u8;
                if decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded) {
                    out.push(decoded as char);
                } else {
                    out.push('%');
                    out.push((bytes[i + 1] as char).to_ascii_uppercase());
                    out.push((bytes[i + 2] as char).to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

const SHARDS: usize = 16;

/// Accepted proofs, by a 16-byte hash of their key's thumbprint and `jti`, in time slices.
#[derive(Debug)]
struct ReplayCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    window: u64,
    /// Proofs refused for want of room.
    refused_full: AtomicU64,
    /// One past the last window (`now / window`) in which a full cache was logged: the warning
    /// goes out once a window, however many proofs are refused.
    warned: AtomicU64,
}

#[derive(Debug, Default)]
struct Shard {
    /// (slice number, the proofs whose `iat` falls in it); a slice spans one window.
    slices: Vec<(u64, HashSet<[u8; 16]>)>,
    len: usize,
}

impl ReplayCache {
    fn new(capacity: usize, window: u64) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            window: window.max(1),
            refused_full: AtomicU64::new(0),
            warned: AtomicU64::new(0),
        }
    }

    /// Counts a proof refused for want of room; the first in a window is logged, with what to
    /// do. Returns whether it was.
    fn refused_for_room(&self, now: u64) -> bool {
        let refused = self.refused_full.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = now / self.window + 1;
        let first = self.warned.fetch_max(slot, Ordering::Relaxed) < slot;
        if first {
            let capacity = self.per_shard * SHARDS;
            tracing::warn!(
                capacity,
                refused_full = refused,
                "the DPoP replay cache is full: DPoP requests are refused with 503 until proofs \
                 age out (each is held one to two iat windows of {} s). The API takes more DPoP \
                 requests than it holds (about {} a second): raise the DpopVerifier's \
                 replay_capacity or shorten its iat_window",
                self.window,
                capacity as u64 / (2 * self.window),
            );
        }
        first
    }

    /// The proofs held that could still be replayed at `now`, and the counts.
    fn stats(&self, now: u64) -> ReplayCacheStats {
        let current = now / self.window;
        let held = self
            .shards
            .iter()
            .map(|shard| {
                let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
                shard
                    .slices
                    .iter()
                    .filter(|(slice, _)| slice + 2 > current)
                    .map(|(_, set)| set.len())
                    .sum::<usize>()
            })
            .sum();
        ReplayCacheStats {
            held,
            capacity: self.per_shard * SHARDS,
            refused_full: self.refused_full.load(Ordering::Relaxed),
        }
    }

    /// Records a proof, or says it was seen. A proof issued at `iat` is acceptable until
    /// `iat + window`, so a slice `k` (`iat` in `[k·w, (k+1)·w)`) can be forgotten once
    /// `now ≥ (k+2)·w`: at most three slices are live (the past, the present, the future).
    fn record(&self, jkt: &str, jti: &str, iat: u64, now: u64) -> Result<(), DpopError> {
        let mut ctx = digest::Context::new(&SHA256);
        ctx.update(jkt.as_bytes());
        ctx.update(b"\0");
        ctx.update(jti.as_bytes());
        let hash = ctx.finish();
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash.as_ref()[..16]);

        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let current = now / self.window;
        let mut dropped = 0;
        shard.slices.retain(|(slice, set)| {
            let live = slice + 2 > current;
            if !live {
                dropped += set.len();
            }
            live
        });
        shard.len -= dropped;
        if shard.slices.iter().any(|(_, set)| set.contains(&key)) {
            return Err(DpopError::Replayed);
        }
        if shard.len >= self.per_shard {
            drop(shard);
            self.refused_for_room(now);
            return Err(DpopError::ReplayCacheFull);
        }
        let slice = iat / self.window;
        let index = match shard.slices.iter().position(|(s, _)| *s == slice) {
            Some(index) => index,
            None => {
                shard.slices.push((slice, HashSet::new()));
                shard.slices.len() - 1
            }
        };
        shard.slices[index].1.insert(key);
        shard.len += 1;
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.len).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let Value::Object(jwk) = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }) else {
            unreachable!()
        };
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn urls_compare_after_normalization() {
        let same = [
            (
                "https://api.example.com/data",
                "HTTPS://API.Example.COM:443/data",
            ),
            ("http://h/a/../b", "http://h/b"),
            ("http://h/%7euser", "http://h/~user"),
            ("http://h/a%2fb", "http://h/a%2Fb"),
            ("http://h/data?x=1#f", "http://h/data"),
            ("http://h", "http://h/"),
        ];
        for (a, b) in same {
            assert!(same_url(a, b), "{a} = {b}");
        }
        let different = [
            ("https://h/data", "http://h/data"),
            ("http://h:8080/data", "http://h/data"),
            ("http://h/data", "http://h/data/"),
            ("http://h/Data", "http://h/data"),
            ("http://other/data", "http://h/data"),
            ("/data", "/data"),
            ("ftp://h/data", "ftp://h/data"),
        ];
        for (a, b) in different {
            assert!(!same_url(a, b), "{a} != {b}");
        }
    }

    #[test]
    fn replay_cache_is_bounded_and_forgets_by_slice() {
        let cache = ReplayCache::new(160, 60);
        let now = 6000;
        cache.record("k", "a", now, now).unwrap();
        assert_eq!(cache.record("k", "a", now, now), Err(DpopError::Replayed));
        assert_eq!(
            cache.record("k", "a", now, now + 60),
            Err(DpopError::Replayed)
        );
        cache.record("other-key", "a", now, now).unwrap();
        cache.record("k", "b", now, now + 119).unwrap();
        assert_eq!(cache.len(), 3);
        // Full: refused, never grown.
        let mut full = 0;
        for i in 0..1000 {
            if cache.record("k", &format!("jti-{i}"), now, now) == Err(DpopError::ReplayCacheFull) {
                full += 1;
            }
        }
        assert!(cache.len() <= 160, "{}", cache.len());
        assert!(full >= 1000 - 160, "{full}");
        // Once those proofs cannot be accepted any more (iat + window < now), their slices are
        // dropped whole and the room is back.
        for i in 0..100 {
            cache
                .record("k", &format!("later-{i}"), now + 200, now + 200)
                .unwrap();
        }
        assert!(cache.len() <= 160, "{}", cache.len());
    }

    #[test]
    fn a_full_cache_counts_its_refusals_and_warns_once_a_window() {
        let cache = ReplayCache::new(16, 60);
        let now = 6000;
        let mut accepted = 0;
        for i in 0..100 {
            if cache.record("k", &format!("jti-{i}"), now, now).is_ok() {
                accepted += 1;
            }
        }
        let stats = cache.stats(now);
        assert_eq!(stats.capacity, 16);
        assert_eq!(stats.held, accepted);
        assert_eq!(stats.refused_full, 100 - accepted as u64);
        assert!(stats.refused_full > 0, "{stats:?}");
        // Warned at the first refusal of this window (6000 / 60), not at the others.
        assert!(!cache.refused_for_room(now + 59));
        assert!(
            cache.refused_for_room(now + 60),
            "the next window warns again"
        );
        assert!(!cache.refused_for_room(now + 61));
        assert_eq!(cache.stats(now).refused_full, stats.refused_full + 3);
        // Two windows on, none of those proofs can be replayed: none held (the slices go at
        // the next record), the refusals still counted.
        let later = cache.stats(now + 120);
        assert_eq!(
            (later.held, later.refused_full),
            (0, stats.refused_full + 3)
        );
    }
}
