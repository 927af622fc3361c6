//! Key material: the deployment's master key, which seals signing keys at rest, and the RSA keys
//! that sign access tokens.

mod master;
mod signing;

pub use master::{MASTER_KEY_FILE, MasterKey, MasterKeyError, MasterKeySource};
pub use signing::{
    KeyStatus, SigningKey, SigningKeyError, StoredSigningKey, certificate_fingerprint,
    certificate_pem, certificate_pkcs7_pem, certificate_thumbprint,
};
