use std::fmt;

/// A client secret. `Debug` and `Display` do not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(redacted)")
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
