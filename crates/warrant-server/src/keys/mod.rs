//! Key material: the deployment's master key, which seals signing keys at rest, and the keys that
//! sign access tokens (RSA, P-256, Ed25519; one key set per algorithm).

mod master;
mod signing;

pub use master::{MASTER_KEY_FILE, MasterKey, MasterKeyError, MasterKeySource};
pub use signing::{
    KeyStatus, RsaKeySize, SigningKey, SigningKeyError, StoredSigningKey, certificate_fingerprint,
    certificate_pem, certificate_pkcs7_pem, certificate_thumbprint,
};
