//! Applications: the list, Auth0's create-and-authorize flow, and an application's page
//! (client ID, the secret shown once, rotation, public keys, authorizations, settings,
//! deletion).
//!
//! [`handlers`] take the requests and make the changes; [`pages`] builds the HTML.

mod credentials;
mod handlers;
mod pages;

pub(crate) use credentials::{add as add_credential, remove as remove_credential};
pub(crate) use handlers::{
    create, delete, list, new_page, revoke_grant, rotate_secret, save_grant_claims, save_grants,
    show, update_settings,
};
