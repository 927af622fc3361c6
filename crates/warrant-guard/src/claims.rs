use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::Error;

/// The verified claims of an access token. Cheap to clone (reference-counted).
#[derive(Clone)]
pub struct Claims {
    inner: Arc<Inner>,
    /// The realm of the guard that verified the token, for the challenges of the scope checks
    /// that run after it (set by the axum layer; not a claim).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    realm: Option<Arc<str>>,
}

struct Inner {
    sub: String,
    exp: u64,
    scope: Option<String>,
    raw: Map<String, Value>,
}

/// The time checks, as the verifier is configured.
pub(crate) struct TimeRules {
    pub(crate) now: u64,
    pub(crate) leeway: u64,
}

impl Claims {
    /// Checks `iss`, `aud`, the time claims and the types of the claims this type exposes, in
    /// that order. Only called on a payload whose signature verified.
    pub(crate) fn validate(
        raw: Map<String, Value>,
        issuer: &str,
        audience: &str,
        time: &TimeRules,
    ) -> Result<Self, Error> {
        match raw.get("iss") {
            Some(Value::String(iss)) if iss == issuer => {}
            Some(Value::String(_)) => return Err(Error::WrongIssuer),
            _ => return Err(Error::InvalidClaim("iss")),
        }
        let audience_ok = match raw.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => {
                if !auds.iter().all(Value::is_string) {
                    return Err(Error::InvalidClaim("aud"));
                }
                auds.iter().any(|a| a.as_str() == Some(audience))
            }
            _ => return Err(Error::InvalidClaim("aud")),
        };
        if !audience_ok {
            return Err(Error::WrongAudience);
        }
        let exp = numeric_date(&raw, "exp")?.ok_or(Error::InvalidClaim("exp"))?;
        if time.now >= exp.saturating_add(time.leeway) {
            return Err(Error::Expired);
        }
        if let Some(nbf) = numeric_date(&raw, "nbf")? {
            if nbf > time.now.saturating_add(time.leeway) {
                return Err(Error::NotYetValid);
            }
        }
        if let Some(iat) = numeric_date(&raw, "iat")? {
            if iat > time.now.saturating_add(time.leeway) {
                return Err(Error::IssuedInFuture);
            }
        }
        let sub = match raw.get("sub") {
            Some(Value::String(sub)) => sub.clone(),
            _ => return Err(Error::InvalidClaim("sub")),
        };
        let scope = match raw.get("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(scope)) => Some(scope.clone()),
            Some(_) => return Err(Error::InvalidClaim("scope")),
        };
        for name in ["client_id", "azp"] {
            if raw.get(name).is_some_and(|v| !v.is_string()) {
                return Err(Error::InvalidClaim(if name == "azp" {
                    "azp"
                } else {
                    "client_id"
                }));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                sub,
                exp,
                scope,
                raw,
            }),
            realm: None,
        })
    }

    /// These claims, as verified by a guard of `realm`: a reference count, no allocation.
    #[cfg(feature = "axum")]
    pub(crate) fn in_realm(mut self, realm: &Arc<str>) -> Self {
        self.realm = Some(Arc::clone(realm));
        self
    }

    /// The realm of the guard that verified these claims, if a guard did.
    #[cfg(feature = "axum")]
    pub(crate) fn realm(&self) -> Option<&Arc<str>> {
        self.realm.as_ref()
    }

    /// The subject: for client-credentials tokens, the client (`<client_id>@clients` from
    /// Warrant and Auth0).
    pub fn sub(&self) -> &str {
        &self.inner.sub
    }

    /// The client the token was issued to: `client_id`, else `azp`.
    pub fn client_id(&self) -> Option<&str> {
        ["client_id", "azp"]
            .into_iter()
            .find_map(|name| self.inner.raw.get(name).and_then(Value::as_str))
    }

    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.inner
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// Expiry, in seconds since the Unix epoch.
    pub fn exp(&self) -> u64 {
        self.inner.exp
    }

    /// Any claim, by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.inner.raw.get(name)
    }

    /// The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6): a token that
    /// must come with a DPoP proof signed by that key.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.inner.raw.get("cnf")?.get("jkt")?.as_str()
    }

    /// Every claim.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.inner.raw
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.inner.sub)
            .field("client_id", &self.client_id())
            .field("scope", &self.inner.scope)
            .field("exp", &self.inner.exp)
            .finish_non_exhaustive()
    }
}

/// A NumericDate claim (RFC 7519 §2): a JSON number of seconds, fractions allowed and dropped.
/// Strings, negatives and other types are refused.
fn numeric_date(raw: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, Error> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(v) = n.as_u64() {
                Ok(Some(v))
            } else {
                match n.as_f64() {
                    Some(f) if (0.0..1e15).contains(&f) => Ok(Some(f as u64)),
                    _ => Err(Error::InvalidClaim(name)),
                }
            }
        }
        Some(_) => Err(Error::InvalidClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(claims: Value, now: u64) -> Result<Claims, Error> {
        let Value::Object(map) = claims else { panic!() };
        Claims::validate(
            map,
            "https://iss/",
            "https://api",
            &TimeRules { now, leeway: 60 },
        )
    }

    fn base() -> Value {
        json!({"iss": "https://iss/", "aud": "https://api", "sub": "c@clients", "exp": 1000,
               "iat": 900, "scope": "a b", "client_id": "c"})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = base();
        c[k] = v;
        c
    }

    #[test]
    fn accepts_and_exposes() {
        let c = check(base(), 950).unwrap();
        assert_eq!(c.sub(), "c@clients");
        assert_eq!(c.client_id(), Some("c"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["a", "b"]);
        assert!(c.has_scope("b") && !c.has_scope("c"));
        assert_eq!(c.exp(), 1000);
        assert_eq!(c.get("iat"), Some(&json!(900)));
    }

    #[test]
    fn claim_rules() {
        assert_eq!(
            check(with("iss", json!("https://iss")), 950).unwrap_err(),
            Error::WrongIssuer
        );
        assert_eq!(
            check(with("aud", json!("https://other")), 950).unwrap_err(),
            Error::WrongAudience
        );
        assert!(check(with("aud", json!(["x", "https://api"])), 950).is_ok());
        assert_eq!(
            check(with("aud", json!(["x"])), 950).unwrap_err(),
            Error::WrongAudience
        );
        assert_eq!(
            check(with("exp", json!("1000")), 950).unwrap_err(),
            Error::InvalidClaim("exp")
        );
        assert_eq!(
            check(with("nbf", json!("1")), 950).unwrap_err(),
            Error::InvalidClaim("nbf")
        );
        assert_eq!(check(base(), 1060).unwrap_err(), Error::Expired);
        assert!(check(base(), 1059).is_ok(), "leeway");
        assert_eq!(
            check(with("nbf", json!(1100)), 950).unwrap_err(),
            Error::NotYetValid
        );
        assert_eq!(
            check(with("iat", json!(1100)), 950).unwrap_err(),
            Error::IssuedInFuture
        );
        assert_eq!(check(with("exp", json!(1000.7)), 950).unwrap().exp(), 1000);
        assert_eq!(
            check(with("exp", json!(-5)), 950).unwrap_err(),
            Error::InvalidClaim("exp")
        );
        assert_eq!(
            check(with("scope", json!(["a"])), 950).unwrap_err(),
            Error::InvalidClaim("scope")
        );
        let mut no_exp = base();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(check(no_exp, 950).unwrap_err(), Error::InvalidClaim("exp"));
    }
}
