//! Posted forms: the fields as sent, and the errors to show next to them.

use std::collections::BTreeMap;

use crate::admin::AdminError;
use crate::domain::Invalid;

/// An `application/x-www-form-urlencoded` body, field by field, in order (checkboxes repeat a
/// name).
#[derive(Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The value of `name` as sent (passwords are not trimmed).
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }
}

/// Errors by field name; `""` holds the ones that belong to no single field.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// Records `result`'s error against `field`, keeping the first one.
    pub(crate) fn check(&mut self, field: &'static str, result: Result<(), Invalid>) {
        if let Err(e) = result {
            self.0.entry(field).or_insert(e.0);
        }
    }

    pub(crate) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    /// A service-layer refusal: invalid input, conflicts and refused changes are shown on the
    /// form (against `field`); anything else is the page's failure.
    pub(crate) fn from_admin(field: &'static str, e: AdminError) -> Result<Self, super::PageError> {
        let mut errors = Self::default();
        match e {
            AdminError::Invalid(message)
            | AdminError::Conflict(message)
            | AdminError::Forbidden(message)
            | AdminError::Protected(message) => {
                errors.add(field, message);
            }
            AdminError::NotFound(what) => errors.add(field, format!("{what} not found")),
            other => return Err(other.into()),
        }
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_repeat_and_trim() {
        let form = Form::parse(b"name=+Billing+&scope=a&scope=b%3Ac&password=+x+");
        assert_eq!(form.text("name"), "Billing");
        assert_eq!(form.raw("password"), " x ");
        assert_eq!(form.all("scope").collect::<Vec<_>>(), ["a", "b:c"]);
        assert!(form.checked("scope"));
        assert!(!form.checked("missing"));
        assert_eq!(form.text("missing"), "");
    }

    #[test]
    fn first_error_per_field_wins() {
        let mut errors = FieldErrors::default();
        errors.check("name", Err(Invalid::new("first")));
        errors.add("name", "second");
        errors.check("identifier", Ok(()));
        assert_eq!(errors.get("name"), Some("first"));
        assert_eq!(errors.get("identifier"), None);
        assert!(!errors.is_empty());
    }
}
