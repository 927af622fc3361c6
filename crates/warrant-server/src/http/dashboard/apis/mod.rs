//! APIs: the list, the create form, and an API's page with its tabs (Settings, Permissions,
//! Machine to Machine Applications, Test).
//!
//! The requests are taken by [`handlers`] (the list, creation, the page, settings, deletion),
//! [`access`] (permissions and authorized applications) and [`test_token`] (the Test tab's
//! token); [`pages`] builds the HTML, with the Test tab's code samples in [`snippets`]; [`tabs`]
//! holds what both sides share: which tab a page shows and what it shows besides the stored API.

mod access;
mod handlers;
mod pages;
mod snippets;
mod tabs;
mod test_token;

pub(crate) use access::{add_permission, authorize, remove_permission};
pub(crate) use handlers::{create, delete, list, new_page, show, update_settings};
pub(crate) use test_token::test_token;
