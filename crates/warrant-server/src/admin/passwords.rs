//! Operators' passwords: hashed with argon2id (OWASP's parameters: 19 MiB, 2 passes) and
//! stored as PHC strings. Verification takes tens of milliseconds on purpose, so it runs off
//! the async runtime, on the few threads of [`PasswordChecks`], which bounds how many run at
//! once (and so the memory they hold). An unknown username costs the same verification against
//! a fixed hash, so timing does not tell which usernames exist.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AdminError;
use crate::domain::{random_bytes, random_token};

/// The threads that check passwords, and the bound on how many checks run at once. Each
/// argon2id computation holds 19 MiB for tens of milliseconds: without a bound, a burst of
/// sign-ins takes memory by the gigabyte. The checks run on threads of their own rather than
/// on the blocking pool, so that the memory the allocator keeps after a check is kept by these
/// few threads only, whatever the number of blocking threads.
#[derive(Debug)]
pub struct PasswordChecks {
    permits: Arc<Semaphore>,
    jobs: SyncSender<Job>,
}

/// A check, given its thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The right to run one password check. The check keeps it until it is over, even when the
/// request that took it is gone (a client that hangs up does not free its slot early).
#[derive(Debug)]
pub struct CheckSlot {
    permit: OwnedSemaphorePermit,
    jobs: SyncSender<Job>,
}

impl PasswordChecks {
    /// `at_once` checking threads; they end when this is dropped.
    pub fn new(at_once: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(at_once);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..at_once {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("warrant-password-{n}"))
                .spawn(move || {
                    // Allocated once, at the first check, and kept: freeing and allocating
                    // 19 MiB for each check made glibc's heap grow by as much every time.
                    let mut memory = Vec::new();
                    loop {
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(job) = job else { return };
                        let run = std::panic::AssertUnwindSafe(|| job(&mut memory));
                        let _ = std::panic::catch_unwind(run);
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password-checking thread");
            }
        }
        Self {
            permits: Arc::new(Semaphore::new(at_once)),
            jobs,
        }
    }

    /// A slot, or `None` when every slot is taken: the caller refuses the attempt rather than
    /// queue it.
    pub fn try_slot(&self) -> Option<CheckSlot> {
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok()?;
        Some(CheckSlot {
            permit,
            jobs: self.jobs.clone(),
        })
    }
}

impl CheckSlot {
    /// Runs `check` on a checking thread; `None` if none could run it.
    pub(super) async fn run<T: Send + 'static>(
        self,
        check: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let Self { permit, jobs } = self;
        let job: Job = Box::new(move |memory| {
            let checked = check(memory);
            // Free before answering, so that the caller's next check finds the slot free.
            drop(permit);
            let _ = done.send(checked);
        });
        // Never full: the channel has a place for each permit.
        jobs.try_send(job).ok()?;
        result.await.ok()
    }
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AdminError> {
    hasher()
        .hash_password_with_salt(password.as_bytes(), &random_bytes::<16>())
        .map(|hash| hash.to_string())
        .map_err(|e| AdminError::Invalid(format!("cannot hash the password: {e}")))
}

/// The most memory a stored hash may ask a check for (KiB); Warrant's own ask for 19 MiB.
const MAX_CHECK_KIB: u32 = 64 * 1024;

/// Whether `password` matches the PHC string `hash`, computed in `memory` (grown to what the
/// hash's parameters need, then kept by the caller for the next check) and compared in
/// constant time. A malformed hash, or one asking for more than 64 MiB, never matches.
pub fn verify_password(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_CHECK_KIB {
        return false;
    }
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut computed = [0u8; 64];
    let Some(computed) = computed.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, computed, &mut memory[..blocks])
        .is_ok()
        && verify_slices_are_equal(computed, expected.as_ref()).is_ok()
}

/// The hash an unknown username is checked against: the same cost as a real one.
pub(super) fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token::<16>()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use argon2::PasswordVerifier;

    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let mut memory = Vec::new();
        assert!(verify_password("correct horse battery", &hash, &mut memory));
        assert!(!verify_password(
            "correct horse batterz",
            &hash,
            &mut memory
        ));
        assert!(!verify_password(
            "correct horse battery",
            "not a hash",
            &mut memory
        ));
        assert_eq!(memory.len(), 19_456, "19 MiB, kept for the next check");
        // Hashes made with other parameters check too, as argon2's own verifier would.
        let params = Params::new(8_192, 3, 1, Some(24)).unwrap();
        let other = Argon2::new(Algorithm::Argon2i, Version::V0x10, params)
            .hash_password_with_salt(b"password", b"somesalt")
            .unwrap()
            .to_string();
        assert!(
            other.starts_with("$argon2i$v=16$m=8192,t=3,p=1$"),
            "{other}"
        );
        assert!(verify_password("password", &other, &mut memory));
        assert!(!verify_password("passwore", &other, &mut memory));
        assert!(
            Argon2::default()
                .verify_password(b"password", &PasswordHash::new(&other).unwrap())
                .is_ok()
        );
        let huge = other.replace("m=8192", "m=1048576");
        assert!(
            !verify_password("password", &huge, &mut memory),
            "64 MiB at most"
        );
        // A new salt each time.
        assert_ne!(
            hash,
            hash_password("correct horse battery").unwrap_or_default()
        );
    }
}
