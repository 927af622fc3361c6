//! DPoP server nonces (RFC 9449 §8 at an authorization server, §9 at an API), which every
//! instance sharing a secret accepts without storage or coordination.
//!
//! A nonce is the HMAC-SHA256 of the current time slot (one `lifetime` long) under the secret,
//! cut to 128 bits and base64url-encoded (22 characters). A proof's nonce is accepted when it is
//! the current slot's or the previous one's, so a nonce works for between one and two
//! lifetimes, on every instance given the same secret and a clock within a slot of the others.
//! Nothing is remembered: checking costs at most two HMACs, and issuing one.
//!
//! What a nonce adds to the `iat` window: a proof cannot be made ahead of time, since its nonce
//! did not exist yet. It does not make a proof single-use (the `jti` replay check does).

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::BuildError;

/// The bytes of a nonce's MAC that are kept.
const MAC_LEN: usize = 16;
/// The length of a nonce: 16 bytes in base64url without padding.
const NONCE_LEN: usize = 22;

/// Issues and checks DPoP nonces. Cheap to clone.
#[derive(Clone)]
pub struct DpopNonces {
    key: hmac::Key,
    lifetime: u64,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// The default slot: a nonce works for one to two minutes.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

    /// Nonces under `secret` (at least 16 bytes: every instance that must accept the others'
    /// nonces gets the same), changing every `lifetime` (at least a second).
    pub fn new(secret: &[u8], lifetime: Duration) -> Result<Self, BuildError> {
        if secret.len() < 16 {
            return Err(BuildError::InvalidSetting(
                "the DPoP nonce secret must be at least 16 bytes".into(),
            ));
        }
        let lifetime = lifetime.as_secs();
        if lifetime == 0 {
            return Err(BuildError::InvalidSetting(
                "the DPoP nonce lifetime must be at least a second".into(),
            ));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            lifetime,
        })
    }

    /// The nonce to hand out at `now` (Unix seconds).
    pub fn issue_at(&self, now: u64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(now / self.lifetime))
    }

    /// Whether `nonce` is the current slot's or the previous one's at `now`.
    pub fn accepts_at(&self, nonce: &str, now: u64) -> bool {
        if nonce.len() != NONCE_LEN {
            return false;
        }
        let mut presented = [0u8; MAC_LEN];
        match URL_SAFE_NO_PAD.decode_slice(nonce.as_bytes(), &mut presented) {
            Ok(MAC_LEN) => {}
            _ => return false,
        }
        let slot = now / self.lifetime;
        let current = verify_slices_are_equal(&self.mac(slot), &presented).is_ok();
        current || (slot > 0 && verify_slices_are_equal(&self.mac(slot - 1), &presented).is_ok())
    }

    fn mac(&self, slot: u64) -> [u8; MAC_LEN] {
        let tag = hmac::sign(&self.key, &slot.to_be_bytes());
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_nonce_works_for_its_slot_and_the_next_on_every_instance() {
        let secret = [7u8; 32];
        let a = DpopNonces::new(&secret, Duration::from_secs(60)).unwrap();
        let b = DpopNonces::new(&secret, Duration::from_secs(60)).unwrap();
        let now = 1_800_000_000;
        let nonce = a.issue_at(now);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_eq!(nonce, a.issue_at(now - now % 60 + 59), "one nonce a slot");
        assert!(b.accepts_at(&nonce, now), "another instance accepts it");
        assert!(b.accepts_at(&nonce, now + 60), "and in the next slot");
        assert!(!b.accepts_at(&nonce, now + 120), "not later");
        assert!(!b.accepts_at(&nonce, now - 60), "nor before it was issued");
        let other = DpopNonces::new(&[8u8; 32], Duration::from_secs(60)).unwrap();
        assert!(!other.accepts_at(&nonce, now), "another secret refuses it");
        for bad in [
            "",
            "x",
            &nonce[..21],
            &format!("{nonce}A"),
            "!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(!a.accepts_at(bad, now), "{bad:?}");
        }
        assert!(DpopNonces::new(&[1u8; 15], Duration::from_secs(60)).is_err());
        assert!(DpopNonces::new(&secret, Duration::from_millis(500)).is_err());
    }
}
