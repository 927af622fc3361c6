//! The domain: APIs (resource servers) with their scopes, applications (M2M clients) with their
//! secrets, and the grants that join them; the audit log's events and the dashboard's
//! administrators as records. Plain data and validation; no HTTP, no SQL.

mod application;
mod claims;
pub mod config;
mod credential;
pub mod events;
mod federation;
mod grant;
pub mod operators;
mod random;
mod resource_server;
mod scope;

pub use application::{
    Application, AuthMethod, ClientSecret, MAX_CONFIG_KEY_LEN, PlainSecret, SecretHash, TokenQuota,
    hash_secret, validate_config_key,
};
pub use claims::{
    CustomClaims, MAX_CLAIM_NAME, MAX_CLAIMS_BYTES, RESERVED_CLAIMS, render_token_claims,
    token_claims,
};
pub use credential::{
    CREDENTIAL_ALGORITHMS, MAX_CREDENTIALS, PublicKeyCredential, decode_public_key_pem, parse_alg,
    public_key_pem,
};
pub use federation::{
    ClaimCondition, DEFAULT_FEDERATED_LIFETIME, FEDERATION_ALGORITHMS, FederatedCredential,
    IssuerKeySource, MAX_CONDITIONS, MAX_FEDERATED_CREDENTIALS, MAX_FEDERATED_LIFETIME,
    MAX_TRUSTED_ISSUERS, NewFederatedCredential, NewTrustedIssuer, SUBJECT_SEPARATORS,
    TrustedIssuer, TrustedIssuerPatch, broad_subject, parse_algorithm_names, spiffe_trust_domain,
    subject_matches,
};
pub use grant::ClientGrant;
pub use random::{random_alphanumeric, random_bytes, random_token};
pub use resource_server::{
    DEFAULT_TOKEN_LIFETIME, MAX_SCOPES, MAX_TOKEN_LIFETIME, PopMechanism, ProofOfPossession,
    ResourceServer, SigningAlg, validate_identifier,
};
pub use scope::{Scope, parse_scope_param, validate_scope_value};

/// A domain rule broken by input: the message says which field and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Checks a human-readable name: not blank, at most `max` characters, every character visible
/// (see [`validate_text`]).
pub fn validate_name(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid(format!("{field} must not be empty")));
    }
    validate_text(field, value, max)
}

/// Checks free text shown in listings (a description, which may be empty): at most `max`
/// characters, and no control characters (Unicode category Cc: a line break would forge a row
/// of the CLI's tables) or format characters (Cf: invisible, and some reorder the text around
/// them, so that one name passes for another in the dashboard or the CLI).
pub fn validate_text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.chars().count() > max {
        return Err(Invalid(format!("{field} must be at most {max} characters")));
    }
    let refused = value
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || is_format_character(*c));
    if let Some((at, c)) = refused {
        return Err(Invalid(format!(
            "{field} must not contain invisible control or formatting characters: U+{:04X} at \
             character {}",
            u32::from(c),
            at + 1
        )));
    }
    Ok(())
}

/// Unicode's format characters (general category Cf), as of Unicode 16: soft hyphen,
/// bidirectional controls and isolates, zero-width characters, the byte order mark, tags.
pub const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

fn is_format_character(c: char) -> bool {
    // Every Cf character is at or above U+00AD: plain ASCII answers at once.
    c >= '\u{00AD}'
        && FORMAT_CHARACTERS
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_invisible_characters_and_say_which_and_where() {
        assert!(validate_name("name", "Billing worker", 200).is_ok());
        assert!(validate_name("name", "Über-Dienst ☃ 日本", 200).is_ok());
        assert!(validate_name("name", "   ", 200).is_err());
        let e = validate_name("name", "invoice\u{202E}fdp.exe", 200).unwrap_err();
        assert!(e.0.starts_with("name "), "{e}");
        assert!(e.0.contains("U+202E at character 8"), "{e}");
        let e = validate_text("description", "a\nb", 200).unwrap_err();
        assert!(e.0.contains("U+000A at character 2"), "{e}");
        assert!(validate_text("description", "", 200).is_ok());
        assert!(validate_text("description", "abc", 2).is_err());
        for (first, last) in FORMAT_CHARACTERS {
            for c in [*first, *last] {
                assert!(validate_text("x", &format!("a{c}"), 9).is_err(), "{c:?}");
            }
        }
        // Neighbours of format characters are ordinary letters and marks.
        for c in [
            '\u{00AC}', '\u{00AE}', '\u{0606}', '\u{200A}', '\u{2010}', '\u{2065}',
        ] {
            assert!(validate_text("x", &format!("a{c}"), 9).is_ok(), "{c:?}");
        }
    }
}
