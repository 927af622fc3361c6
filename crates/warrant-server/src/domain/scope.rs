use serde::{Deserialize, Serialize};

use super::Invalid;

/// A permission an API defines, such as `delete:documents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub value: String,
    #[serde(default)]
    pub description: String,
}

const MAX_SCOPE_LEN: usize = 280;

/// A scope value must be an RFC 6749 §3.3 `scope-token`: printable ASCII without space, `"` or `\`.
pub fn validate_scope_value(value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::new("a scope must not be empty"));
    }
    if value.len() > MAX_SCOPE_LEN {
        return Err(Invalid(format!(
            "scope is longer than {MAX_SCOPE_LEN} characters"
        )));
    }
    let allowed = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
    if !value.bytes().all(allowed) {
        return Err(Invalid(format!(
            "scope {value:?} may only contain printable ASCII other than space, '\"' and '\\'"
        )));
    }
    Ok(())
}

/// Splits a space-delimited `scope` parameter into its distinct values, in order of first
/// appearance. Empty or blank input yields no scopes.
pub fn parse_scope_param(param: &str) -> Vec<&str> {
    let mut scopes: Vec<&str> = Vec::new();
    for value in param.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.contains(&value) {
            scopes.push(value);
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_values_follow_rfc6749() {
        assert!(validate_scope_value("delete:documents").is_ok());
        assert!(validate_scope_value("read:data/*").is_ok());
        for bad in ["", "two words", "quo\"te", "back\\slash", "tab\t", "é"] {
            assert!(validate_scope_value(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_scope_value(&"a".repeat(281)).is_err());
    }

    #[test]
    fn scope_param_is_split_and_deduplicated() {
        assert_eq!(parse_scope_param("a b  a c"), vec!["a", "b", "c"]);
        assert!(parse_scope_param("").is_empty());
        assert!(parse_scope_param("   ").is_empty());
    }
}
