use serde::{Deserialize, Serialize};

use super::{Invalid, Scope, validate_name, validate_scope_value, validate_text};

/// The default access-token lifetime, as Auth0's: 24 hours.
pub const DEFAULT_TOKEN_LIFETIME: u32 = 86_400;
/// The longest access-token lifetime an API may set: 30 days, as Auth0's.
pub const MAX_TOKEN_LIFETIME: u32 = 2_592_000;
const MAX_IDENTIFIER_LEN: usize = 600;
/// The most scopes an API may define.
pub const MAX_SCOPES: usize = 1_000;

/// The algorithm an API's tokens are signed with, by its JWS name (RFC 7518, RFC 8037). Each has
/// a key set of its own (next, current, previous keys), created when the first API needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the default, what every JWT library verifies.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA on P-256 with SHA-256: signing costs a fraction of RSA's, tokens are smaller.
    ES256,
    /// Ed25519 (RFC 8037): as fast as ES256 and deterministic.
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, the default first.
    pub const ALL: [Self; 4] = [Self::RS256, Self::PS256, Self::ES256, Self::EdDSA];
    /// The allowed values, as error messages name them.
    pub const ALLOWED: &'static str = "RS256, PS256, ES256 or EdDSA";

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JWS algorithm name (case-sensitive, as RFC 7515 says). HMAC algorithms are
    /// refused with the reason: a secret shared with the API would let the API mint tokens.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        match value {
            "RS256" => Ok(Self::RS256),
            "PS256" => Ok(Self::PS256),
            "ES256" => Ok(Self::ES256),
            "EdDSA" => Ok(Self::EdDSA),
            "HS256" | "HS384" | "HS512" => Err(Invalid(format!(
                "signing_alg {value:?} is not supported: an HMAC key would be a secret shared \
                 with every API that verifies the tokens, and any of them could mint tokens; \
                 use {}",
                Self::ALLOWED
            ))),
            other => Err(Invalid(format!(
                "signing_alg {other:?} is not supported; use {}",
                Self::ALLOWED
            ))),
        }
    }
}

/// How an API wants its tokens bound to a key the client holds (Auth0's `proof_of_possession`).
/// Warrant binds tokens with DPoP (RFC 9449); Auth0's other mechanism, mTLS (RFC 8705), is
/// refused with that reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofOfPossession {
    pub mechanism: PopMechanism,
    /// Whether a token for the API is refused without a DPoP proof: otherwise a client chooses,
    /// and a proof gets it a bound token.
    pub required: bool,
}

/// A proof-of-possession mechanism: only DPoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PopMechanism {
    Dpop,
}

impl PopMechanism {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dpop => "dpop",
        }
    }

    /// `"dpop"`; `"mtls"` is refused with the reason, and so is anything else.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        match value {
            "dpop" => Ok(Self::Dpop),
            "mtls" => Err(Invalid(
                "proof_of_possession.mechanism \"mtls\" is not supported: Warrant binds tokens \
                 to keys with DPoP (RFC 9449), which needs no client certificates; use \"dpop\""
                    .to_owned(),
            )),
            _ => Err(Invalid(
                "proof_of_possession.mechanism must be \"dpop\" (RFC 9449)".to_owned(),
            )),
        }
    }
}

/// An API that accepts Warrant's tokens (Auth0 calls it a resource server). Its `identifier` is
/// the `audience` clients ask for and the `aud` of their tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServer {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub token_lifetime: u32,
    pub signing_alg: SigningAlg,
    /// Whether its tokens are bound to a DPoP key; `None`: as the client chooses.
    pub proof_of_possession: Option<ProofOfPossession>,
    pub created_at: u64,
    pub updated_at: u64,
}

impl ResourceServer {
    /// Whether a token for this API is refused without a DPoP proof.
    pub fn dpop_required(&self) -> bool {
        self.proof_of_possession
            .is_some_and(|p| p.mechanism == PopMechanism::Dpop && p.required)
    }

    /// Checks every field, so that a stored API is always a valid one.
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_identifier(&self.identifier)?;
        validate_name("name", &self.name, 200)?;
        validate_token_lifetime(self.token_lifetime)?;
        if self.scopes.len() > MAX_SCOPES {
            return Err(Invalid(format!(
                "an API may define at most {MAX_SCOPES} scopes"
            )));
        }
        for (i, scope) in self.scopes.iter().enumerate() {
            validate_scope_value(&scope.value)?;
            validate_text(
                &format!("the description of scope {:?}", scope.value),
                &scope.description,
                500,
            )?;
            if self.scopes[..i].iter().any(|s| s.value == scope.value) {
                return Err(Invalid(format!("scope {:?} is listed twice", scope.value)));
            }
        }
        Ok(())
    }

    pub fn has_scope(&self, value: &str) -> bool {
        self.scopes.iter().any(|s| s.value == value)
    }
}

pub fn validate_token_lifetime(seconds: u32) -> Result<(), Invalid> {
    if seconds == 0 || seconds > MAX_TOKEN_LIFETIME {
        return Err(Invalid(format!(
            "token_lifetime must be between 1 and {MAX_TOKEN_LIFETIME} seconds"
        )));
    }
    Ok(())
}

/// An API identifier is an absolute URI (`https://api.example.com`, `urn:example:api`): a scheme,
/// a colon and more, with no white space or control characters.
pub fn validate_identifier(identifier: &str) -> Result<(), Invalid> {
    let err = || {
        Invalid(format!(
            "identifier {identifier:?} must be an absolute URI such as https://api.example.com"
        ))
    };
    if identifier.chars().count() > MAX_IDENTIFIER_LEN {
        return Err(Invalid(format!(
            "identifier must be at most {MAX_IDENTIFIER_LEN} characters"
        )));
    }
    let (scheme, rest) = identifier.split_once(':').ok_or_else(err)?;
    let mut scheme_chars = scheme.bytes();
    let scheme_ok = scheme_chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_chars.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok || rest.is_empty() || rest == "//" {
        return Err(err());
    }
    if identifier.chars().any(char::is_whitespace) {
        return Err(err());
    }
    validate_text("identifier", identifier, MAX_IDENTIFIER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> ResourceServer {
        ResourceServer {
            id: "x".into(),
            identifier: "https://api.example.com".into(),
            name: "Internal API".into(),
            scopes: vec![Scope {
                value: "read:data".into(),
                description: String::new(),
            }],
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            signing_alg: SigningAlg::RS256,
            proof_of_possession: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn identifiers_must_be_absolute_uris() {
        for good in [
            "https://api.example.com",
            "https://api.example.com/v1/",
            "urn:example:api",
        ] {
            assert!(validate_identifier(good).is_ok(), "{good} refused");
        }
        for bad in [
            "",
            "api.example.com",
            "https://",
            "https:",
            "1http://x",
            "https://a b",
            "://x",
        ] {
            assert!(validate_identifier(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn validate_checks_lifetime_and_duplicate_scopes() {
        assert!(api().validate().is_ok());
        let mut a = api();
        a.token_lifetime = MAX_TOKEN_LIFETIME + 1;
        assert!(a.validate().is_err());
        a.token_lifetime = 0;
        assert!(a.validate().is_err());
        let mut b = api();
        b.scopes.push(b.scopes[0].clone());
        assert!(b.validate().unwrap_err().0.contains("twice"));
    }

    #[test]
    fn four_algorithms_and_no_hmac() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()).unwrap(), alg);
        }
        let hs = SigningAlg::parse("HS256").unwrap_err().0;
        assert!(
            hs.contains("shared") && hs.contains(SigningAlg::ALLOWED),
            "{hs}"
        );
        let unknown = SigningAlg::parse("es256").unwrap_err().0;
        assert!(unknown.contains(SigningAlg::ALLOWED), "{unknown}");
        assert!(SigningAlg::parse("none").is_err());
    }

    #[test]
    fn dpop_is_the_one_mechanism() {
        assert_eq!(PopMechanism::parse("dpop").unwrap(), PopMechanism::Dpop);
        let mtls = PopMechanism::parse("mtls").unwrap_err().0;
        assert!(mtls.contains("DPoP") && mtls.contains("\"dpop\""), "{mtls}");
        assert!(PopMechanism::parse("DPoP").is_err());
        let mut a = api();
        assert!(!a.dpop_required());
        a.proof_of_possession = Some(ProofOfPossession {
            mechanism: PopMechanism::Dpop,
            required: false,
        });
        assert!(!a.dpop_required());
        a.proof_of_possession = Some(ProofOfPossession {
            mechanism: PopMechanism::Dpop,
            required: true,
        });
        assert!(a.dpop_required());
    }
}
