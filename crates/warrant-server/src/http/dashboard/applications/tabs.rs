//! The tabs of an application's page, as Auth0 has them: Settings, Credentials, APIs.

use axum::response::Response;

use super::super::see_other;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    /// Name, description, metadata, custom claims; deletion.
    Settings,
    /// The secrets, public keys and federated credentials, with their expiry.
    Credentials,
    /// The APIs it is authorized for, with each grant's permissions and claims.
    Apis,
}

impl Tab {
    pub(super) fn parse(tab: Option<&str>) -> Self {
        match tab {
            Some("credentials") => Self::Credentials,
            Some("apis") => Self::Apis,
            _ => Self::Settings,
        }
    }

    pub(super) const ALL: [(Self, &'static str, &'static str); 3] = [
        (Self::Settings, "settings", "Settings"),
        (Self::Credentials, "credentials", "Credentials"),
        (Self::Apis, "apis", "APIs"),
    ];

    /// The page of the application `client_id` showing this tab.
    pub(super) fn url(self, client_id: &str) -> String {
        let slug = Self::ALL
            .iter()
            .find(|(tab, _, _)| *tab == self)
            .map_or("settings", |(_, slug, _)| slug);
        format!("/dashboard/applications/{client_id}?tab={slug}")
    }

    /// The redirect back to this tab of the application `client_id`'s page after a change,
    /// saying `notice`.
    pub(super) fn redirect(self, client_id: &str, notice: &str) -> Response {
        see_other(&self.url(client_id), notice)
    }
}
