//! Compact JWS parsing and the checks that need no key: sizes, base64url, strict JSON (no
//! duplicate members), and the header rules of RFC 8725 and RFC 9068.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserializer;
use serde::de::{MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::{Algorithm, Error};

/// Header rules, from the verifier's configuration.
#[derive(Debug, Clone)]
pub(crate) struct HeaderPolicy {
    pub(crate) algorithms: Vec<Algorithm>,
    /// Also accept `typ: "JWT"` (or no `typ`), for issuers that do not follow RFC 9068.
    pub(crate) accept_jwt_typ: bool,
    pub(crate) kind: JwsKind,
}

/// What a JWS is for: the one difference between access tokens and DPoP proofs in the header
/// rules, as data (one parser for every signed thing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwsKind {
    /// An access token (RFC 9068): `typ` `at+jwt`, its key named by `kid` in the issuer's JWKS;
    /// keys and key URLs in the header are refused.
    AccessToken,
    /// A DPoP proof (RFC 9449 §4.2): `typ` `dpop+jwt`, its own public key in `jwk`; key URLs
    /// and certificates are refused.
    DpopProof,
    /// A client assertion (RFC 7523): no `typ`, `JWT`, `client-authentication+jwt` or `JOSE`
    /// (a SPIFFE JWT-SVID's); its key
    /// registered in advance, named by `kid` or not at all; keys in the header are refused.
    ClientAssertion,
}

/// A token split into its parts, header checked, signature decoded, payload not yet trusted.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload_b64: &'a str,
    pub(crate) signature: Vec<u8>,
    pub(crate) alg: Algorithm,
    /// The key ID of an access token (empty for a DPoP proof, and for a client assertion
    /// that names none).
    pub(crate) kid: String,
    /// The public key of a DPoP proof (`None` for an access token).
    pub(crate) jwk: Option<Map<String, Value>>,
}

const MAX_KID_LEN: usize = 256;

pub(crate) fn parse<'a>(token: &'a str, policy: &HeaderPolicy) -> Result<Jws<'a>, Error> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("a compact JWS has exactly three parts"));
    };
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(Error::Malformed("empty header or payload"));
    }
    if signature_b64.is_empty() {
        return Err(Error::Malformed("the signature is empty"));
    }
    let mut header = decode_object(header_b64, "header")?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];

    let jwk = match policy.kind {
        JwsKind::AccessToken | JwsKind::ClientAssertion => {
            for embedded in ["jwk", "jku", "x5u", "x5c"] {
                if header.contains_key(embedded) {
                    return Err(Error::EmbeddedKey);
                }
            }
            None
        }
        JwsKind::DpopProof => {
            for embedded in ["jku", "x5u", "x5c"] {
                if header.contains_key(embedded) {
                    return Err(Error::EmbeddedKey);
                }
            }
            match header.remove("jwk") {
                Some(Value::Object(jwk)) => Some(jwk),
                _ => {
                    return Err(Error::Malformed(
                        "a DPoP proof carries its public key in jwk",
                    ));
                }
            }
        }
    };
    if header.contains_key("crit") || header.contains_key("b64") {
        return Err(Error::UnsupportedHeader);
    }
    let alg = match header.get("alg") {
        Some(Value::String(name)) => Algorithm::from_name(name),
        Some(_) => return Err(Error::Malformed("alg must be a string")),
        None => return Err(Error::Malformed("the header has no alg")),
    };
    let alg = alg
        .filter(|a| policy.algorithms.contains(a))
        .ok_or(Error::AlgorithmNotAllowed)?;
    match (policy.kind, header.get("typ")) {
        (JwsKind::DpopProof, Some(Value::String(typ))) if typ.eq_ignore_ascii_case("dpop+jwt") => {}
        (JwsKind::DpopProof, _) => return Err(Error::WrongType),
        (JwsKind::AccessToken, Some(Value::String(typ))) => {
            let typ = typ.to_ascii_lowercase();
            let at_jwt = typ == "at+jwt" || typ == "application/at+jwt";
            let jwt = typ == "jwt" || typ == "application/jwt";
            if !(at_jwt || (jwt && policy.accept_jwt_typ)) {
                return Err(Error::WrongType);
            }
        }
        (JwsKind::AccessToken, Some(_)) => return Err(Error::WrongType),
        (JwsKind::AccessToken, None) if policy.accept_jwt_typ => {}
        (JwsKind::AccessToken, None) => return Err(Error::WrongType),
        (JwsKind::ClientAssertion, None) => {}
        (JwsKind::ClientAssertion, Some(Value::String(typ))) => {
            let typ = typ.to_ascii_lowercase();
            if !matches!(
                typ.as_str(),
                "jwt" | "application/jwt" | "client-authentication+jwt" | "jose"
            ) {
                return Err(Error::WrongType);
            }
        }
        (JwsKind::ClientAssertion, Some(_)) => return Err(Error::WrongType),
    }
    let kid = match (policy.kind, header.get("kid")) {
        (JwsKind::DpopProof, _) | (JwsKind::ClientAssertion, None) => String::new(),
        (_, Some(Value::String(kid))) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid.clone(),
        _ => return Err(Error::UnknownKey),
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| Error::Malformed("the signature is not base64url"))?;
    Ok(Jws {
        signing_input,
        payload_b64,
        signature,
        alg,
        kid,
        jwk,
    })
}

/// Decodes a base64url part into a JSON object, refusing duplicate members (which different
/// parsers would resolve differently).
pub(crate) fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, Error> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        Error::Malformed(if what == "header" {
            "the header is not base64url"
        } else {
            "the payload is not base64url"
        })
    })?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let parsed = (&mut de).deserialize_map(StrictObject);
    let object = match parsed {
        Ok(Ok(object)) => object,
        Ok(Err(Duplicate)) => return Err(Error::Malformed("a JSON member appears twice")),
        Err(_) => {
            return Err(Error::Malformed(if what == "header" {
                "the header is not a JSON object"
            } else {
                "the payload is not a JSON object"
            }));
        }
    };
    de.end()
        .map_err(|_| Error::Malformed("trailing data after JSON"))?;
    Ok(object)
}

struct Duplicate;

struct StrictObject;

impl<'de> Visitor<'de> for StrictObject {
    type Value = Result<Map<String, Value>, Duplicate>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        let mut duplicate = false;
        while let Some(key) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            if map.insert(key, value).is_some() {
                duplicate = true;
            }
        }
        Ok(if duplicate { Err(Duplicate) } else { Ok(map) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn policy() -> HeaderPolicy {
        HeaderPolicy {
            algorithms: vec![Algorithm::RS256],
            accept_jwt_typ: false,
            kind: JwsKind::AccessToken,
        }
    }

    fn token(header: &str) -> String {
        format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"))
    }

    #[test]
    fn accepts_a_well_formed_header() {
        let t = token(r#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#);
        let jws = parse(&t, &policy()).unwrap();
        assert_eq!(jws.alg, Algorithm::RS256);
        assert_eq!(jws.kid, "k1");
        assert_eq!(jws.signature, b"sig");
    }

    #[test]
    fn header_rules() {
        let cases = [
            (
                r#"{"alg":"none","typ":"at+jwt","kid":"k"}"#,
                Error::AlgorithmNotAllowed,
            ),
            (
                r#"{"alg":"HS256","typ":"at+jwt","kid":"k"}"#,
                Error::AlgorithmNotAllowed,
            ),
            (r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#, Error::WrongType),
            (r#"{"alg":"RS256","kid":"k"}"#, Error::WrongType),
            (r#"{"alg":"RS256","typ":"at+jwt"}"#, Error::UnknownKey),
            (
                r#"{"alg":"RS256","typ":"at+jwt","kid":7}"#,
                Error::UnknownKey,
            ),
            (
                r#"{"alg":"RS256","typ":"at+jwt","kid":"k","crit":["exp"]}"#,
                Error::UnsupportedHeader,
            ),
            (
                r#"{"alg":"RS256","typ":"at+jwt","kid":"k","b64":false}"#,
                Error::UnsupportedHeader,
            ),
            (
                r#"{"alg":"RS256","typ":"at+jwt","kid":"k","jku":"https://evil"}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RS256","typ":"at+jwt","kid":"k","alg":"RS256"}"#,
                Error::Malformed("a JSON member appears twice"),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                parse(&token(header), &policy()).unwrap_err(),
                expected,
                "{header}"
            );
        }
    }

    #[test]
    fn jwt_typ_when_allowed() {
        let relaxed = HeaderPolicy {
            accept_jwt_typ: true,
            ..policy()
        };
        assert!(parse(&token(r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#), &relaxed).is_ok());
        assert!(parse(&token(r#"{"alg":"RS256","kid":"k"}"#), &relaxed).is_ok());
        assert_eq!(
            parse(
                &token(r#"{"alg":"RS256","typ":"id+jwt","kid":"k"}"#),
                &relaxed
            )
            .unwrap_err(),
            Error::WrongType
        );
    }

    #[test]
    fn structure_rules() {
        let h = b64(r#"{"alg":"RS256","typ":"at+jwt","kid":"k"}"#);
        for bad in [
            format!("{h}.{}", b64("{}")),
            format!("{h}.{}.{}.x", b64("{}"), b64("s")),
            format!("{h}.{}.", b64("{}")),
            format!("{h}..{}", b64("s")),
            format!("{h}.{}.a+b/", b64("{}")),
            format!("{h}=.{}.{}", b64("{}"), b64("s")),
        ] {
            assert!(
                matches!(parse(&bad, &policy()), Err(Error::Malformed(_))),
                "{bad}"
            );
        }
    }
}
