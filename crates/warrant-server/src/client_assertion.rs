//! private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9): checks a client assertion against
//! the client's registered public keys. The signature goes through `warrant-guard` (the one JWS
//! verifier); the claims' rules for an assertion are here: `iss` = `sub` = the client ID, `aud`
//! the issuer or the token endpoint, `exp` required and not too far ahead, `jti` required (its
//! single use is the caller's: it needs storage). No I/O, and time is a parameter.

use std::borrow::Cow;

use serde_json::{Map, Value};
use warrant_guard::{Algorithm, Assertion, Error as JwsError};

use crate::catalog::ClientEntry;
use crate::domain::CREDENTIAL_ALGORITHMS;

/// Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds.
pub const LEEWAY: u64 = 30;

/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;

/// What an assertion must be, besides signed by one of the client's keys.
#[derive(Debug, Clone, Copy)]
pub struct AssertionRules<'a> {
    pub client_id: &'a str,
    /// The issuer URL (with its trailing slash).
    pub issuer: &'a str,
    pub token_endpoint: &'a str,
    /// The longest lifetime (`exp` − `iat`, or `exp` − now without `iat`), in seconds.
    pub max_lifetime: u64,
    /// Unix seconds.
    pub now: u64,
}

/// A valid assertion: which credential signed it, and its `jti` with its expiry (for the
/// single-use check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub credential_id: String,
    pub jti: String,
    pub exp: u64,
}

/// Why an assertion was refused: a description for `invalid_client`, which never quotes the
/// assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub Cow<'static, str>);

fn rejected(text: impl Into<Cow<'static, str>>) -> Rejected {
    Rejected(text.into())
}

/// Checks `token` as `client`'s assertion under `rules`.
pub(crate) fn check(
    client: &ClientEntry,
    token: &str,
    rules: &AssertionRules<'_>,
) -> Result<Accepted, Rejected> {
    let assertion = Assertion::parse(token, &CREDENTIAL_ALGORITHMS).map_err(describe)?;
    let alg = assertion.alg();
    let mut candidates = client
        .assertion_keys
        .iter()
        .filter(|k| match assertion.kid() {
            Some(kid) => k.kid == kid,
            None => k.key.alg() == alg,
        });
    let mut tried = 0;
    let mut mismatch: Option<Algorithm> = None;
    let (claims, key) = loop {
        let Some(key) = candidates.next() else {
            return Err(match (assertion.kid(), mismatch, tried) {
                (_, Some(registered), _) => rejected(format!(
                    "the assertion is signed with {alg}, but its credential is registered for {registered}"
                )),
                (Some(_), None, 0) => rejected(
                    "the assertion's kid names no credential of this client (kid is the credential's RFC 7638 thumbprint)",
                ),
                (None, None, 0) => rejected(format!(
                    "no credential of this client is registered for {alg}"
                )),
                _ => rejected(
                    "the assertion's signature does not verify with the client's credential",
                ),
            });
        };
        if key.key.alg() != alg {
            mismatch = Some(key.key.alg());
            continue;
        }
        tried += 1;
        match assertion.verify(&key.key) {
            Ok(claims) => break (claims, key),
            Err(JwsError::BadSignature) => {}
            Err(other) => return Err(describe(other)),
        }
    };
    if key.expires_at.is_some_and(|at| rules.now >= at) {
        return Err(rejected("credential expired"));
    }
    let (jti, exp) = check_claims(&claims, rules)?;
    Ok(Accepted {
        credential_id: key.id.clone(),
        jti,
        exp,
    })
}

/// The claims' rules; returns the `jti` and `exp`.
fn check_claims(
    claims: &Map<String, Value>,
    rules: &AssertionRules<'_>,
) -> Result<(String, u64), Rejected> {
    for name in ["iss", "sub"] {
        match claims.get(name) {
            Some(Value::String(v)) if v == rules.client_id => {}
            Some(_) => {
                return Err(rejected(format!(
                    "the assertion's {name} must be the client ID"
                )));
            }
            None => return Err(rejected(format!("the assertion has no {name} claim"))),
        }
    }
    let accepted = |aud: &str| {
        aud == rules.issuer
            || aud == rules.issuer.trim_end_matches('/')
            || aud == rules.token_endpoint
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str().is_some_and(accepted)),
        _ => return Err(rejected("the assertion has no aud claim")),
    };
    if !aud_ok {
        return Err(rejected(format!(
            "the assertion's aud must be the issuer ({}) or the token endpoint ({})",
            rules.issuer, rules.token_endpoint
        )));
    }
    let exp = check_times(claims, rules.now, rules.max_lifetime)?;
    let jti = match claims.get("jti") {
        Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti.clone(),
        Some(_) => {
            return Err(rejected(format!(
                "the assertion's jti must be a string of 1 to {MAX_JTI_LEN} characters"
            )));
        }
        None => return Err(rejected("the assertion has no jti claim")),
    };
    Ok((jti, exp))
}

/// The time rules of every client assertion (private_key_jwt and federated): `exp` required
/// and not past, `iat` and `nbf` not in the future (with [`LEEWAY`]), and a lifetime
/// (`exp` − `iat`, or `exp` − now without `iat`) of at most `max_lifetime` seconds. Returns
/// `exp`.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    now: u64,
    max_lifetime: u64,
) -> Result<u64, Rejected> {
    let time = |name: &'static str| -> Result<Option<u64>, Rejected> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| rejected(format!("the assertion's {name} must be a NumericDate"))),
            Some(_) => Err(rejected(format!(
                "the assertion's {name} must be a NumericDate"
            ))),
        }
    };
    let exp = time("exp")?.ok_or_else(|| rejected("the assertion has no exp claim"))?;
    if now >= exp.saturating_add(LEEWAY) {
        return Err(rejected("the assertion has expired"));
    }
    let iat = time("iat")?;
    if iat.is_some_and(|iat| iat > now + LEEWAY) {
        return Err(rejected("the assertion was issued in the future (iat)"));
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err(rejected("the assertion is not valid yet (nbf)"));
    }
    let lifetime = exp.saturating_sub(iat.unwrap_or(now));
    if lifetime > max_lifetime {
        return Err(rejected(format!(
            "the assertion's lifetime (exp - iat) is {lifetime} s; at most {} s is accepted",
            max_lifetime
        )));
    }
    Ok(exp)
}

/// The JWS layer's refusal, in the words of a client assertion.
fn describe(error: JwsError) -> Rejected {
    rejected(match error {
        JwsError::TooLong => Cow::Borrowed("the client assertion is longer than 8 KiB"),
        JwsError::Malformed(what) => {
            Cow::Owned(format!("the client assertion is not a valid JWS: {what}"))
        }
        JwsError::AlgorithmNotAllowed => Cow::Borrowed(
            "the client assertion's alg is not accepted (RS256, RS384, PS256, ES256, EdDSA)",
        ),
        JwsError::EmbeddedKey => Cow::Borrowed(
            "the client assertion's header carries a key or key URL; keys are registered in advance",
        ),
        JwsError::UnsupportedHeader => {
            Cow::Borrowed("the client assertion's header has unsupported critical parameters")
        }
        JwsError::WrongType => Cow::Borrowed(
            "the client assertion's typ must be JWT or client-authentication+jwt (or absent)",
        ),
        JwsError::BadSignature => {
            Cow::Borrowed("the assertion's signature does not verify with the client's credential")
        }
        other => Cow::Owned(format!("the client assertion was refused: {other}")),
    })
}
