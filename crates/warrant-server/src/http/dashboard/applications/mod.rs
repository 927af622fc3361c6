//! Applications: the list, Auth0's create-and-authorize flow, and an application's page with
//! its tabs ([`tabs`]): Settings (name, description, metadata, claims, deletion), Credentials
//! (the secret shown once, rotation, secrets with IDs and expiry, public keys, federated
//! credentials) and APIs (authorizations and their claims).
//!
//! [`handlers`] take the requests and make the changes; [`pages`] builds the HTML, with the
//! Credentials tab in [`credentials`]; [`federated`] takes the requests about federated
//! credentials.

mod credentials;
mod federated;
mod handlers;
mod pages;
mod tabs;

pub(crate) use federated::{add as add_federated, remove as remove_federated};
pub(crate) use handlers::{
    add_credential, create, delete, list, new_page, remove_credential, revoke_grant, rotate_secret,
    save_grant_claims, save_grants, show, update_settings,
};
