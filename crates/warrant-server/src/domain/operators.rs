//! Dashboard administrators ("operators") as records: the rules a username and a password
//! follow, and a session as stored. Hashing and checking live in `crate::admin::passwords`,
//! session policy in `crate::admin::operators`.

use super::Invalid;

pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_BYTES: usize = 1024;

/// A stored session, as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub username: String,
    pub csrf_token: String,
    pub created_at: u64,
    pub last_seen: u64,
    pub expires_at: u64,
}

/// A username: 1-64 characters of letters, digits and `._@-`.
pub fn validate_username(username: &str) -> Result<(), Invalid> {
    if username.is_empty() || username.len() > 64 {
        return Err(Invalid::new("the username must be 1 to 64 characters"));
    }
    if !username
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    {
        return Err(Invalid::new(
            "the username may contain only letters, digits and . _ @ -",
        ));
    }
    Ok(())
}

/// A password: at least [`MIN_PASSWORD_CHARS`] characters, at most 1 KiB.
pub fn validate_password(password: &str) -> Result<(), Invalid> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Invalid(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Invalid(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(validate_username("alice@example.com").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("<script>").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
        // Letters are ASCII only: no invisible or reordering characters in usernames.
        assert!(validate_username("ali\u{202E}ce").is_err());
        assert!(validate_username("alice\u{200B}").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("twelve chars").is_ok());
        assert!(validate_password(&"x".repeat(2000)).is_err());
    }
}
