//! Applications: the list, Auth0's create-and-authorize flow, and an application's page
//! (client ID, the secret shown once, rotation, public keys, authorizations, settings,
//! deletion).
//!
//! [`handlers`] take the requests and make the changes; [`pages`] builds the HTML.

mod credentials;
mod federated;
mod handlers;
mod pages;

pub(crate) use federated::{add as add_federated, remove as remove_federated};
pub(crate) use handlers::{
    add_credential, create, delete, list, new_page, remove_credential, revoke_grant, rotate_secret,
    save_grant_claims, save_grants, show, update_settings,
};
