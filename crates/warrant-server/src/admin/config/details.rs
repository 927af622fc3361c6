//! What a plan's change does to its object, in words, a line each: a field that differs
//! (`name "a" -> "b"`), or a part added, changed or removed (`add public key …`). APIs,
//! trusted issuers and applications write their lines through the one [`Details`], so that
//! `warrant plan` says a change the same way whatever the object.

use std::fmt::{Debug, Display};

use super::{ConfigAction, ConfigChange, Plan};
use crate::admin::followup::Change;

/// The lines of one change, in the order they were found.
#[derive(Debug, Default)]
pub(super) struct Details(Vec<String>);

impl Details {
    /// No details: an object created or deleted whole.
    pub(super) fn none() -> Self {
        Self::default()
    }

    /// Details of one line.
    pub(super) fn one(line: String) -> Self {
        Self(vec![line])
    }

    /// `field old -> new`, each written by `show`, when `old` and `new` differ; answers whether
    /// they do.
    pub(super) fn compare<T: PartialEq + ?Sized, S: Display>(
        &mut self,
        field: &str,
        old: &T,
        new: &T,
        show: impl Fn(&T) -> S,
    ) -> bool {
        let differ = old != new;
        if differ {
            self.0
                .push(format!("{field} {} -> {}", show(old), show(new)));
        }
        differ
    }

    /// [`compare`](Self::compare), each value as `Debug` writes it (a string quoted).
    pub(super) fn quoted<T: PartialEq + Debug + ?Sized>(
        &mut self,
        field: &str,
        old: &T,
        new: &T,
    ) -> bool {
        self.compare(field, old, new, |value| format!("{value:?}"))
    }

    /// [`compare`](Self::compare), each value as `Display` writes it.
    pub(super) fn plain<T: PartialEq + Display + ?Sized>(
        &mut self,
        field: &str,
        old: &T,
        new: &T,
    ) -> bool {
        self.compare(field, old, new, |value| value.to_string())
    }

    /// Only `field`, when `old` and `new` differ: values too long for a line.
    pub(super) fn named<T: PartialEq + ?Sized>(&mut self, field: &str, old: &T, new: &T) -> bool {
        let differ = old != new;
        if differ {
            self.0.push(field.to_owned());
        }
        differ
    }

    /// A line that is no field's comparison.
    pub(super) fn push(&mut self, line: String) {
        self.0.push(line);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Plan {
    /// One change to the object `kind` `key`, with its audit events.
    pub(super) fn record(
        &mut self,
        action: ConfigAction,
        kind: &'static str,
        key: &str,
        details: Details,
        followups: impl IntoIterator<Item = Change>,
    ) {
        self.changes.push(ConfigChange {
            action,
            kind,
            key: key.to_owned(),
            details: details.0,
        });
        self.followups.extend(followups);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_for_each_field_that_differs() {
        let mut details = Details::default();
        assert!(details.quoted("name", "a", "b"));
        assert!(!details.quoted("name", "a", "a"));
        assert!(details.plain("token_lifetime", &3600, &7200));
        assert!(details.compare("keys by", &Some(1), &None, |k| k.map_or("none", |_| "one")));
        assert!(details.named("description", "old", "new"));
        assert!(!details.named("client_metadata", "same", "same"));
        details.push("revoke grant api".to_owned());
        assert_eq!(
            details.0,
            [
                "name \"a\" -> \"b\"",
                "token_lifetime 3600 -> 7200",
                "keys by one -> none",
                "description",
                "revoke grant api",
            ]
        );
    }
}
