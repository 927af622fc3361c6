//! Posted forms: the fields as sent, the errors to show next to them, and a change a form asks
//! for, read and then made ([`submit`]).

use std::collections::BTreeMap;

use super::PageError;
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

    /// A form refused for one reason, shown against `field`.
    pub(crate) fn one(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// What a form asks for as read from it, or the reason it cannot be, shown against `field`.
    pub(crate) fn read<T, E: Into<String>>(
        field: &'static str,
        read: Result<T, E>,
    ) -> Result<T, Self> {
        read.map_err(|message| Self::one(field, message))
    }

    /// A service-layer refusal: invalid input, conflicts and refused changes are shown on the
    /// form (against `field`); anything else is the page's failure.
    pub(crate) fn from_admin(field: &'static str, e: AdminError) -> Result<Self, PageError> {
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

/// A form's change in its two steps: `asked` is what the form asks for (or its errors), and
/// `make` makes it through the service layer, whose refusal is shown against `refused_at`
/// ([`FieldErrors::from_admin`]). The inner error is the form to show again; the outer one the
/// page's failure.
pub(crate) async fn submit<T, R, F>(
    asked: Result<T, FieldErrors>,
    refused_at: &'static str,
    make: impl FnOnce(T) -> F,
) -> Result<Result<R, FieldErrors>, PageError>
where
    F: Future<Output = Result<R, AdminError>>,
{
    let asked = match asked {
        Ok(asked) => asked,
        Err(errors) => return Ok(Err(errors)),
    };
    match make(asked).await {
        Ok(made) => Ok(Ok(made)),
        Err(e) => FieldErrors::from_admin(refused_at, e).map(Err),
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

    #[test]
    fn a_value_not_read_is_refused_against_its_field() {
        let read: Result<u64, _> = FieldErrors::read("expires", Err("Give a date as YYYY-MM-DD."));
        let errors = read.err().unwrap_or_default();
        assert_eq!(errors.get("expires"), Some("Give a date as YYYY-MM-DD."));
        assert_eq!(
            FieldErrors::read("expires", Ok::<_, String>(7)).ok(),
            Some(7)
        );
    }
}
