//! Custom claims: static claims that every token of an application (and of one of its client
//! grants) carries, a Warrant extension of Auth0's shapes (Auth0 users add such claims with an
//! Action).
//!
//! A value is a JSON string, number or boolean, or an array of them; no objects, no nested
//! arrays, no `null`. A string that is exactly `{{client_metadata.<key>}}` is a reference: the
//! token carries the application's `client_metadata` value of that key. A reference must be a
//! claim's whole value (not inside an array or a longer string; braces appear in no other
//! string, so that a mistyped reference is refused, not copied), and it must name a key the
//! application's metadata has when the claims are written; a metadata change that would leave
//! a reference dangling is refused too, so a token never silently lacks a claim. Names that JWT
//! registers or that Warrant's tokens and introspection answers use ([`RESERVED_CLAIMS`]) are
//! refused. The claims a token gets (the application's, overridden name by name by its grant's,
//! references resolved) take at most [`MAX_CLAIMS_BYTES`] of JSON.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Invalid, validate_text};

/// Claim names no custom claim may take: JWT's registered claims (RFC 7519), those of Warrant's
/// tokens and of RFC 9068 access tokens, the members of RFC 7662 introspection answers, and
/// those of token exchange and proof of possession (RFC 8693, RFC 7800).
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "azp",
    "scope",
    "scp",
    "gty",
    "cnf",
    "act",
    "may_act",
    "permissions",
    "token_type",
    "active",
    "username",
    "auth_time",
    "acr",
    "amr",
    "nonce",
    "sid",
    "typ",
];

/// The most JSON the custom claims of one token may take, references resolved.
pub const MAX_CLAIMS_BYTES: usize = 4096;

/// The longest claim name, in characters.
pub const MAX_CLAIM_NAME: usize = 128;

const REFERENCE_PREFIX: &str = "{{client_metadata.";
const REFERENCE_SUFFIX: &str = "}}";

/// An application's or a client grant's custom claims, checked: names, value types, references
/// well formed. Whether references resolve and the size of a token's claims depend on the
/// application's metadata and on both sets: [`token_claims`] checks those.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CustomClaims(BTreeMap<String, Value>);

impl CustomClaims {
    /// Checks `claims`; the error names the first claim that breaks a rule.
    pub fn new(claims: BTreeMap<String, Value>) -> Result<Self, Invalid> {
        for (name, value) in &claims {
            check_name(name)?;
            check_value(name, value)?;
        }
        let claims = Self(claims);
        // Alone, before references are resolved, a set already too big never fits.
        if claims.rendered_len_unresolved() > MAX_CLAIMS_BYTES {
            return Err(too_big());
        }
        Ok(claims)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.0
    }

    /// Each claim whose value is a reference, with the metadata key it names.
    pub fn references(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), reference(value.as_str()?)?)))
    }

    fn rendered_len_unresolved(&self) -> usize {
        self.0
            .iter()
            .map(|(name, value)| json_len(&Value::from(name.as_str())) + 2 + json_len(value))
            .sum()
    }
}

fn too_big() -> Invalid {
    Invalid(format!(
        "custom_claims: a token's custom claims may take at most {MAX_CLAIMS_BYTES} bytes of JSON (the application's and its grant's together, references resolved)"
    ))
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX / 64, |v| v.len())
}

fn check_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.chars().count() > MAX_CLAIM_NAME {
        return Err(Invalid(format!(
            "custom_claims: claim names must be 1 to {MAX_CLAIM_NAME} characters ({name:?})"
        )));
    }
    validate_text(
        &format!("custom_claims: the claim name {name:?}"),
        name,
        MAX_CLAIM_NAME,
    )?;
    if RESERVED_CLAIMS.contains(&name) {
        return Err(Invalid(format!(
            "custom_claims: {name:?} is a registered or Warrant-issued claim and cannot be set"
        )));
    }
    Ok(())
}

fn check_value(name: &str, value: &Value) -> Result<(), Invalid> {
    let kind = |what: &str| {
        Invalid(format!(
            "custom_claims.{name}: a value is a string, number or boolean, or an array of them, not {what}"
        ))
    };
    match value {
        Value::Null => Err(kind("null")),
        Value::Object(_) => Err(kind("an object")),
        Value::Bool(_) | Value::Number(_) => Ok(()),
        Value::String(text) => check_string(name, text, true),
        Value::Array(items) => items.iter().try_for_each(|item| match item {
            Value::Null => Err(kind("an array holding null")),
            Value::Object(_) => Err(kind("an array holding an object")),
            Value::Array(_) => Err(kind("an array holding an array")),
            Value::Bool(_) | Value::Number(_) => Ok(()),
            Value::String(text) => check_string(name, text, false),
        }),
    }
}

/// A string is plain text or, as a claim's whole value, a reference.
fn check_string(name: &str, text: &str, whole: bool) -> Result<(), Invalid> {
    if !text.contains(['{', '}']) {
        return Ok(());
    }
    match reference(text) {
        Some(_) if whole => Ok(()),
        Some(_) => Err(Invalid(format!(
            "custom_claims.{name}: a reference to client_metadata must be the claim's whole value, not an array item"
        ))),
        None => Err(Invalid(format!(
            "custom_claims.{name}: {text:?} is not a reference; braces are allowed only in a reference, {{{{client_metadata.<key>}}}}, as the whole value"
        ))),
    }
}

/// The metadata key `text` refers to, if it is a reference (`{{client_metadata.<key>}}`).
fn reference(text: &str) -> Option<&str> {
    let key = text
        .strip_prefix(REFERENCE_PREFIX)?
        .strip_suffix(REFERENCE_SUFFIX)?;
    (!key.is_empty() && !key.contains('{') && !key.contains('}')).then_some(key)
}

/// The custom claims of a token of an application with `app` claims and `metadata`, through a
/// grant with `grant` claims: the grant's value of a name wins; references resolved. The
/// error names a reference whose key the metadata lacks, or says the claims are too big.
pub fn token_claims<'a>(
    app: &'a CustomClaims,
    grant: &'a CustomClaims,
    metadata: &'a BTreeMap<String, String>,
) -> Result<BTreeMap<&'a str, Value>, Invalid> {
    let (merged, dangling) = merge(app, grant, metadata);
    if let Some((name, key)) = dangling {
        return Err(Invalid(format!(
            "custom_claims.{name}: refers to client_metadata.{key}, which the application does not have"
        )));
    }
    if rendered(&merged).len() > MAX_CLAIMS_BYTES {
        return Err(too_big());
    }
    Ok(merged)
}

/// `app`'s claims overridden by `grant`'s, references resolved (those that do not resolve left
/// out), and the first reference that did not resolve (claim name, key).
fn merge<'a>(
    app: &'a CustomClaims,
    grant: &'a CustomClaims,
    metadata: &'a BTreeMap<String, String>,
) -> (BTreeMap<&'a str, Value>, Option<(&'a str, &'a str)>) {
    let mut merged: BTreeMap<&str, Value> = BTreeMap::new();
    let mut dangling = None;
    let own = app
        .0
        .iter()
        .filter(|(name, _)| !grant.0.contains_key(*name));
    for (name, value) in own.chain(grant.0.iter()) {
        match value.as_str().and_then(reference) {
            Some(key) => match metadata.get(key) {
                Some(text) => {
                    merged.insert(name, Value::from(text.as_str()));
                }
                None => {
                    dangling = dangling.or(Some((name.as_str(), key)));
                }
            },
            None => {
                merged.insert(name, value.clone());
            }
        }
    }
    (merged, dangling)
}

/// What a token's JSON payload gets spliced in before its closing brace: each claim as
/// `,"name":value`. Empty without claims.
pub fn rendered(claims: &BTreeMap<&str, Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in claims {
        out.push(b',');
        // A string and a JSON value serialize without fail into a Vec.
        let _ = serde_json::to_writer(&mut out, name);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, value);
    }
    out
}

/// The claims [`token_claims`] gives, [`rendered`]: what the token endpoint splices into each
/// token. A reference that no longer resolves is left out (a write that would leave one
/// dangling is refused, so only a concurrent change can).
pub fn render_token_claims(
    app: &CustomClaims,
    grant: &CustomClaims,
    metadata: &BTreeMap<String, String>,
) -> Box<[u8]> {
    rendered(&merge(app, grant, metadata).0).into_boxed_slice()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Result<CustomClaims, Invalid> {
        CustomClaims::new(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn values_are_scalars_or_arrays_of_them() {
        assert!(
            claims(json!({"tier": 3, "ok": true, "team": "data", "tags": ["a", 1, false]})).is_ok()
        );
        for (bad, says) in [
            (json!({"x": null}), "custom_claims.x"),
            (json!({"x": {"a": 1}}), "not an object"),
            (json!({"x": [[1]]}), "an array holding an array"),
            (json!({"x": [{"a": 1}]}), "an array holding an object"),
            (json!({"iss": "me"}), "\"iss\""),
            (json!({"permissions": ["a"]}), "\"permissions\""),
            (json!({"": 1}), "1 to 128"),
            (json!({"a\u{202E}": 1}), "U+202E"),
            (json!({"x": "{{tenant}}"}), "is not a reference"),
            (
                json!({"x": "a {{client_metadata.t}}"}),
                "is not a reference",
            ),
            (json!({"x": "{"}), "is not a reference"),
            (json!({"x": ["{{client_metadata.t}}"]}), "whole value"),
        ] {
            let e = claims(bad.clone()).unwrap_err();
            assert!(e.0.contains(says), "{bad}: {e}");
        }
        let big = "x".repeat(MAX_CLAIMS_BYTES);
        assert!(claims(json!({"big": big})).unwrap_err().0.contains("4096"));
    }

    #[test]
    fn grants_override_and_references_resolve() {
        let app =
            claims(json!({"tenant": "{{client_metadata.tenant}}", "tier": 1, "region": "eu"}))
                .unwrap();
        let grant = claims(json!({"tier": 2})).unwrap();
        let metadata = BTreeMap::from([("tenant".to_owned(), "acme \"q\"".to_owned())]);
        let merged = token_claims(&app, &grant, &metadata).unwrap();
        assert_eq!(merged["tier"], json!(2));
        assert_eq!(merged["tenant"], json!("acme \"q\""));
        let bytes = render_token_claims(&app, &grant, &metadata);
        let mut payload = b"{\"iss\":\"x\"".to_vec();
        payload.extend_from_slice(&bytes);
        payload.push(b'}');
        let parsed: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            parsed,
            json!({"iss": "x", "tenant": "acme \"q\"", "tier": 2, "region": "eu"})
        );
        let e = token_claims(&app, &grant, &BTreeMap::new()).unwrap_err();
        assert!(
            e.0.contains("custom_claims.tenant") && e.0.contains("client_metadata.tenant"),
            "{e}"
        );
        assert!(
            render_token_claims(
                &CustomClaims::default(),
                &CustomClaims::default(),
                &metadata
            )
            .is_empty()
        );
    }
}
