//! Client-credentials issuance (RFC 6749 §4.4): authenticate the client, resolve the API, check
//! the grant and the requested scopes, sign the token. No HTTP here and no storage: it runs on
//! a [`Snapshot`], the client as the catalog found it, and a time it is given.

use serde::Serialize;
use warrant_proto::GTY_CLIENT_CREDENTIALS;

use std::borrow::Cow;

use crate::catalog::{ClientEntry, Snapshot};
use crate::domain::{SecretHash, hash_secret, parse_scope_param, random_token};

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

/// A parsed, syntactically valid token request. `Debug` leaves out the secret.
#[derive(Clone, Copy)]
pub struct TokenRequest<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub target: Target<'a>,
    /// The `scope` parameter as sent; `None` or blank means every granted scope.
    pub scope: Option<&'a str>,
}

impl std::fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("scope", &self.scope)
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
}

#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    /// The token's ID, for the audit log.
    pub jti: String,
    pub expires_in: u32,
    pub scope: Option<String>,
    pub audience: String,
}

/// Why a token was refused. Each maps to one RFC 6749 §5.2 answer.
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
    /// No signing key is loaded: the server is not ready.
    NoSigningKey,
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
}

/// Authenticates the client: the secret is hashed and compared in constant time against
/// each active secret, and an unknown client does the same work against a dummy. Returns
/// the client when the secret is right.
pub(crate) fn authenticate<'c>(
    client: Option<&'c ClientEntry>,
    client_secret: &str,
    now: u64,
) -> Option<&'c ClientEntry> {
    let presented = hash_secret(client_secret);
    match client {
        Some(client) => {
            let mut ok = false;
            for (hash, expires_at) in &client.secrets {
                let active = expires_at.is_none_or(|at| now < at);
                ok |= hash.matches(&presented) & active;
            }
            ok.then_some(client)
        }
        None => {
            let _ = DUMMY_HASH.matches(&presented);
            None
        }
    }
}

impl Snapshot {
    /// Whether `identifier` names an API this snapshot knows.
    pub fn knows_api(&self, identifier: &str) -> bool {
        self.apis.contains_key(identifier)
    }

    /// Issues an access token for `request` at time `now` to `client`, which
    /// [`authenticate`] accepted.
    pub(crate) fn issue(
        &self,
        client: &ClientEntry,
        request: &TokenRequest<'_>,
        settings: &IssuerSettings,
        now: u64,
    ) -> Result<IssuedToken, IssueError> {
        let audience = match request.target {
            Target::Audience(aud) => {
                if !self.apis.contains_key(aud) {
                    return Err(IssueError::UnknownAudience(aud.to_owned()));
                }
                aud
            }
            Target::Resource(res) => {
                if !self.apis.contains_key(res) {
                    return Err(IssueError::UnknownResource(res.to_owned()));
                }
                res
            }
            Target::Unspecified => match settings.default_audience.as_deref() {
                Some(aud) if self.apis.contains_key(aud) => aud,
                Some(aud) => return Err(IssueError::UnknownAudience(aud.to_owned())),
                None => return Err(IssueError::MissingAudience),
            },
        };
        let api = &self.apis[audience];
        let not_granted = || IssueError::NotGranted {
            audience: audience.to_owned(),
        };
        let grant = client
            .grants
            .get(audience)
            .filter(|g| g.api_id == api.id)
            .ok_or_else(not_granted)?;
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

        let key = self.signing_key.as_ref().ok_or(IssueError::NoSigningKey)?;
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
        };
        // Serializing a struct of strings and integers cannot fail.
        #[allow(clippy::expect_used)]
        let claims_json = serde_json::to_vec(&claims).expect("claims serialize");
        Ok(IssuedToken {
            access_token: key.sign_jwt(&claims_json),
            jti,
            expires_in: api.token_lifetime,
            scope: scope_claim.map(Cow::into_owned),
            audience: audience.to_owned(),
        })
    }
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
        };
        Snapshot {
            version: 1,
            apis: HashMap::from([(AUDIENCE.to_owned(), api)]),
            signing_key: Some(key()),
            current_since: Some(0),
            jwks_keys: warrant_proto::Jwks { keys: Vec::new() },
            jwks: bytes::Bytes::new(),
        }
    }

    fn client(granted: &[&str], api_id: &str) -> ClientEntry {
        let scopes: Vec<String> = granted.iter().map(|s| (*s).to_owned()).collect();
        let grant = GrantEntry {
            api_id: api_id.into(),
            scope_claim: (!scopes.is_empty()).then(|| scopes.join(" ")),
            scopes,
        };
        ClientEntry {
            secrets: vec![(hash_secret("s3cret"), None)],
            secret_periods: vec![(0, None)],
            grants: HashMap::from([(AUDIENCE.to_owned(), grant)]),
            token_quota: None,
        }
    }

    fn subset() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::sample::subsequence(SCOPES.to_vec(), 0..=SCOPES.len())
    }

    fn settings() -> IssuerSettings {
        IssuerSettings {
            issuer: "https://auth.example.com/".into(),
            default_audience: None,
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
                client_secret: "s3cret",
                target: Target::Audience(AUDIENCE),
                scope: Some(&param),
            };
            let usable: Vec<&str> = granted.iter().copied().filter(|s| defined.contains(s)).collect();
            let result = snapshot.issue(&client, &request, &settings(), 1_000);
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
                client_secret: "s3cret",
                target: Target::Audience(AUDIENCE),
                scope: Some(&param),
            };
            let refused = snapshot.issue(&client, &request, &settings(), 1_000).unwrap_err();
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
            client.secrets = vec![(hash_secret("s3cret"), expires_at)];
            let active = expires_at.is_none_or(|at| now < at);
            prop_assert_eq!(
                authenticate(Some(&client), "s3cret", now).is_some(),
                active
            );
            prop_assert_eq!(
                authenticate(Some(&client), &presented, now).is_some(),
                active && presented == "s3cret"
            );
            prop_assert!(authenticate(None, &presented, now).is_none());
        }
    }

    #[test]
    fn scope_parsing_dedups_in_order() {
        let set: HashSet<&str> = parse_scope_param(" b:2  a:1 b:2 ").into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(parse_scope_param(" b:2  a:1 b:2 "), vec!["b:2", "a:1"]);
    }
}
