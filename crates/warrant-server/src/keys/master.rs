use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::domain::random_bytes;

/// The file, in the data directory, that holds the master key when none is supplied.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The 256-bit key that encrypts signing keys at rest (AES-256-GCM), and from which the secrets
/// every instance must share are derived ([`derive`](MasterKey::derive)). `Debug` does not
/// print it.
pub struct MasterKey(LessSafeKey, hmac::Key);

/// Where the master key came from, so that an error can say which source to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `WARRANT_MASTER_KEY` or the configuration.
    Supplied,
    /// The key file in the data directory.
    KeyFile,
    /// The key file, created just now.
    CreatedKeyFile,
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "the master key must be 32 bytes, given as 64 hex digits or as base64 \
         (generate one with `openssl rand -base64 32`)"
    )]
    Malformed,
    #[error("cannot read or create the master key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        #[allow(clippy::expect_used)]
        let key =
            UnboundKey::new(&AES_256_GCM, &bytes).expect("AES-256-GCM accepts every 32-byte key");
        Self(
            LessSafeKey::new(key),
            hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        )
    }

    /// Parses 64 hex digits or base64 (standard or URL-safe, padded or not) of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| MasterKeyError::Malformed)?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| MasterKeyError::Malformed)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| MasterKeyError::Malformed)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The supplied key if there is one; otherwise the data directory's existing key file.
    pub fn load(supplied: Option<&str>, data_dir: &Path) -> Result<Self, MasterKeyError> {
        if let Some(text) = supplied {
            return Self::parse(text);
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        std::fs::read_to_string(&path)
            .map_err(|source| MasterKeyError::Io {
                path: path.display().to_string(),
                source,
            })
            .and_then(|text| Self::parse(&text))
    }

    /// The supplied key if there is one; otherwise the data directory's key file, created with
    /// mode 0600 when it does not exist yet.
    pub fn load_or_create(
        supplied: Option<&str>,
        data_dir: &Path,
    ) -> Result<(Self, MasterKeySource), MasterKeyError> {
        if let Some(text) = supplied {
            return Ok((Self::parse(text)?, MasterKeySource::Supplied));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        let io_err = |source| MasterKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((Self::parse(&text)?, MasterKeySource::KeyFile)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let bytes = random_bytes::<32>();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                writeln!(file, "{}", STANDARD.encode(bytes)).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                Ok((Self::from_bytes(bytes), MasterKeySource::CreatedKeyFile))
            }
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io_err)?;
                Ok((Self::parse(&text)?, MasterKeySource::KeyFile))
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// Encrypts `plaintext`, bound to `context` (the key ID) so that sealed blobs cannot be
    /// swapped between rows. Output: nonce ‖ ciphertext ‖ tag.
    /// A 256-bit secret for one `purpose`, the same on every instance given this master key and
    /// unrelated to it for whoever holds the secret (HMAC-SHA256 as a PRF, over the purpose).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let tag = hmac::sign(
            &self.1,
            format!("warrant derived key: {purpose}").as_bytes(),
        );
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce_bytes);
        let mut in_out = plaintext.to_vec();
        #[allow(clippy::expect_used)]
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut in_out,
            )
            .expect("AES-GCM sealing fails only for inputs over 64 GiB");
        out.extend_from_slice(&in_out);
        out
    }

    /// Decrypts what [`seal`](Self::seal) produced; `None` when the key or context is wrong or
    /// the data was altered.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .ok()?;
        Some(plain.to_vec())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_bind_the_context() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal("kid-1", b"private");
        assert_eq!(key.open("kid-1", &sealed).unwrap(), b"private");
        assert!(key.open("kid-2", &sealed).is_none());
        assert!(
            MasterKey::from_bytes([8; 32])
                .open("kid-1", &sealed)
                .is_none()
        );
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(key.open("kid-1", &tampered).is_none());
        assert!(key.open("kid-1", &sealed[..10]).is_none());
    }

    #[test]
    fn parses_hex_and_base64() {
        let hex = "00".repeat(32);
        assert!(MasterKey::parse(&hex).is_ok());
        assert!(MasterKey::parse(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(MasterKey::parse(&URL_SAFE_NO_PAD.encode([255u8; 32])).is_ok());
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([1u8; 31])).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, src1) = MasterKey::load_or_create(None, dir.path()).unwrap();
        assert_eq!(src1, MasterKeySource::CreatedKeyFile);
        let (k2, src2) = MasterKey::load_or_create(None, dir.path()).unwrap();
        assert_eq!(src2, MasterKeySource::KeyFile);
        let sealed = k1.seal("c", b"x");
        assert_eq!(k2.open("c", &sealed).unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
