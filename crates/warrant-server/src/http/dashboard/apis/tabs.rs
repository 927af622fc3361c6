//! The tabs of an API's page, and what a tab shows besides the stored API (a refused form, a
//! test token).

use super::super::forms::{FieldErrors, Form};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    Settings,
    Permissions,
    Applications,
    Test,
}

impl Tab {
    pub(super) fn parse(tab: Option<&str>) -> Self {
        match tab {
            Some("permissions") => Self::Permissions,
            Some("applications") => Self::Applications,
            Some("test") => Self::Test,
            _ => Self::Settings,
        }
    }

    pub(super) const ALL: [(Self, &'static str, &'static str); 4] = [
        (Self::Settings, "settings", "Settings"),
        (Self::Permissions, "permissions", "Permissions"),
        (
            Self::Applications,
            "applications",
            "Machine to Machine Applications",
        ),
        (Self::Test, "test", "Test"),
    ];
}

/// What a tab shows besides the stored API: the form just refused, or a test token.
#[derive(Debug, Default)]
pub(super) struct TabState {
    pub(super) form: Form,
    pub(super) errors: FieldErrors,
    pub(super) token: Option<TestToken>,
}

impl TabState {
    /// A form refused, shown again with its errors.
    pub(super) fn refused(form: Form, errors: FieldErrors) -> Self {
        Self {
            form,
            errors,
            token: None,
        }
    }
}

#[derive(Debug)]
pub(super) struct TestToken {
    pub(super) client_id: String,
    pub(super) client_name: String,
    pub(super) access_token: String,
    pub(super) header: String,
    pub(super) claims: String,
    pub(super) expires_in: u32,
}
