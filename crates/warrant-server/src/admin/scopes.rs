//! The management API's scopes, as Auth0 names them: each written once, here. The management
//! API's routes require them, its OpenAPI document lists them, and `initialize` defines them
//! on the API and grants them all to the admin application.

/// Read applications.
pub const READ_CLIENTS: &str = "read:clients";
/// Create applications.
pub const CREATE_CLIENTS: &str = "create:clients";
/// Update applications.
pub const UPDATE_CLIENTS: &str = "update:clients";
/// Delete applications.
pub const DELETE_CLIENTS: &str = "delete:clients";
/// Rotate application secrets.
pub const UPDATE_CLIENT_KEYS: &str = "update:client_keys";
/// Read application credentials (public keys).
pub const READ_CLIENT_CREDENTIALS: &str = "read:client_credentials";
/// Add application credentials.
pub const CREATE_CLIENT_CREDENTIALS: &str = "create:client_credentials";
/// Change application credentials.
pub const UPDATE_CLIENT_CREDENTIALS: &str = "update:client_credentials";
/// Delete application credentials.
pub const DELETE_CLIENT_CREDENTIALS: &str = "delete:client_credentials";
/// Read APIs.
pub const READ_RESOURCE_SERVERS: &str = "read:resource_servers";
/// Create APIs.
pub const CREATE_RESOURCE_SERVERS: &str = "create:resource_servers";
/// Update APIs.
pub const UPDATE_RESOURCE_SERVERS: &str = "update:resource_servers";
/// Delete APIs.
pub const DELETE_RESOURCE_SERVERS: &str = "delete:resource_servers";
/// Read client grants.
pub const READ_CLIENT_GRANTS: &str = "read:client_grants";
/// Create client grants.
pub const CREATE_CLIENT_GRANTS: &str = "create:client_grants";
/// Update client grants.
pub const UPDATE_CLIENT_GRANTS: &str = "update:client_grants";
/// Delete client grants.
pub const DELETE_CLIENT_GRANTS: &str = "delete:client_grants";
/// Read signing keys.
pub const READ_SIGNING_KEYS: &str = "read:signing_keys";
/// Rotate signing keys.
pub const CREATE_SIGNING_KEYS: &str = "create:signing_keys";
/// Revoke signing keys.
pub const UPDATE_SIGNING_KEYS: &str = "update:signing_keys";
/// Read the audit log.
pub const READ_LOGS: &str = "read:logs";
/// Read trusted issuers (workload identity federation).
pub const READ_TRUSTED_ISSUERS: &str = "read:trusted_issuers";
/// Add trusted issuers.
pub const CREATE_TRUSTED_ISSUERS: &str = "create:trusted_issuers";
/// Change trusted issuers (their keys' source, algorithms, lifetime cap, name).
pub const UPDATE_TRUSTED_ISSUERS: &str = "update:trusted_issuers";
/// Remove trusted issuers.
pub const DELETE_TRUSTED_ISSUERS: &str = "delete:trusted_issuers";

/// Plan and export declarative configuration (a Warrant extension).
pub const READ_CONFIG: &str = "read:config";
/// Apply declarative configuration (a Warrant extension): every change a file can make, but
/// that creating, changing or deleting a trusted issuer also takes that one's scope above.
pub const UPDATE_CONFIG: &str = "update:config";

/// Every management scope with its description, in the order the management API lists them.
pub const MANAGEMENT_SCOPES: &[(&str, &str)] = &[
    (READ_CLIENTS, "Read applications"),
    (CREATE_CLIENTS, "Create applications"),
    (UPDATE_CLIENTS, "Update applications"),
    (DELETE_CLIENTS, "Delete applications"),
    (UPDATE_CLIENT_KEYS, "Rotate application secrets"),
    (READ_CLIENT_CREDENTIALS, "Read application credentials"),
    (CREATE_CLIENT_CREDENTIALS, "Add application credentials"),
    (UPDATE_CLIENT_CREDENTIALS, "Change application credentials"),
    (DELETE_CLIENT_CREDENTIALS, "Delete application credentials"),
    (READ_RESOURCE_SERVERS, "Read APIs"),
    (CREATE_RESOURCE_SERVERS, "Create APIs"),
    (UPDATE_RESOURCE_SERVERS, "Update APIs"),
    (DELETE_RESOURCE_SERVERS, "Delete APIs"),
    (READ_CLIENT_GRANTS, "Read client grants"),
    (CREATE_CLIENT_GRANTS, "Create client grants"),
    (UPDATE_CLIENT_GRANTS, "Update client grants"),
    (DELETE_CLIENT_GRANTS, "Delete client grants"),
    (READ_SIGNING_KEYS, "Read signing keys"),
    (CREATE_SIGNING_KEYS, "Rotate signing keys"),
    (UPDATE_SIGNING_KEYS, "Revoke signing keys"),
    (READ_LOGS, "Read the audit log"),
    (READ_CONFIG, "Plan and export configuration files"),
    (UPDATE_CONFIG, "Apply configuration files"),
    (READ_TRUSTED_ISSUERS, "Read trusted issuers"),
    (CREATE_TRUSTED_ISSUERS, "Add trusted issuers"),
    (UPDATE_TRUSTED_ISSUERS, "Change trusted issuers"),
    (DELETE_TRUSTED_ISSUERS, "Remove trusted issuers"),
];
