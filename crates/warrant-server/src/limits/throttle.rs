//! Throttles: token buckets per key (failed client authentication per address and per
//! client ID, dashboard sign-ins), taken atomically and bounded in the keys they track.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::admin::passwords::PasswordChecks;

/// A token bucket per key: `burst` failures at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub burst: f64,
    pub per_second: f64,
}

/// The most keys a throttle tracks; beyond that, buckets that have refilled are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// Milliseconds since the epoch of the last update.
    at_ms: u64,
}

/// One attempt taken from a key's budget by [`Throttle::try_take`]. It stays taken unless
/// handed back to [`Throttle::refund`] (once: refunding consumes it).
#[derive(Debug)]
pub struct Reservation(());

/// Failure budgets by key. An attempt is taken from the budget before the work it pays for,
/// in one step under the lock, so that concurrent attempts can never spend more than the
/// budget; an attempt that turns out not to be a failure is refunded.
#[derive(Debug)]
pub struct Throttle<K> {
    budget: Budget,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub fn new(budget: Budget) -> Self {
        Self {
            budget,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: &Bucket, now_ms: u64) -> f64 {
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64 / 1000.0;
        (bucket.tokens + elapsed * self.budget.per_second).min(self.budget.burst)
    }

    /// Takes one attempt from `key`'s budget, or says how many seconds to wait (at least 1)
    /// when none is left. Atomic: of any number of concurrent calls, at most the budget succeed.
    pub fn try_take(&self, key: &K, now_ms: u64) -> Result<Reservation, u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let tokens = match buckets.get(key) {
            Some(bucket) => self.refilled(bucket, now_ms),
            None => self.budget.burst,
        };
        if tokens < 1.0 {
            return Err(((1.0 - tokens) / self.budget.per_second).ceil().max(1.0) as u64);
        }
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            let (burst, per_second) = (self.budget.burst, self.budget.per_second);
            buckets.retain(|_, b| {
                let elapsed = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
                b.tokens + elapsed * per_second < burst
            });
            if buckets.len() >= MAX_TRACKED {
                buckets.clear();
            }
        }
        let at_ms = buckets.get(key).map_or(now_ms, |b| b.at_ms.max(now_ms));
        buckets.insert(
            key.clone(),
            Bucket {
                tokens: tokens - 1.0,
                at_ms,
            },
        );
        Ok(Reservation(()))
    }

    /// Gives back an attempt that turned out not to be a failure (the right password, or no
    /// work done after all).
    pub fn refund(&self, key: &K, reservation: Reservation, now_ms: u64) {
        let Reservation(()) = reservation;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.tokens = (self.refilled(bucket, now_ms) + 1.0).min(self.budget.burst);
            bucket.at_ms = bucket.at_ms.max(now_ms);
        }
    }
}

/// The key an address is throttled by. IPv4 addresses count one by one; IPv6 addresses by
/// their /64, since one host or customer usually holds a whole /64 and could otherwise pick a
/// fresh address for every attempt. IPv4-mapped IPv6 addresses count as the IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(prefix.into()))
            }
        }
    }
}

/// The throttles of the dashboard's sign-in form. Every attempt costs an argon2id
/// verification (19 MiB, tens of milliseconds), so an attempt is taken from the address's and
/// the username's budgets before the password is checked, and given back only when it was the
/// right one; a username is throttled too, so that guesses spread over many addresses stay slow
/// (at the price that an attacked username's administrator may wait too). The checks themselves
/// run at most [`MAX_PASSWORD_CHECKS`] at a time: memory stays bounded whatever the number of
/// addresses.
#[derive(Debug)]
pub struct SignInThrottle {
    pub by_ip: Throttle<AddressKey>,
    pub by_username: Throttle<String>,
    pub checks: PasswordChecks,
}

/// How many password checks run at once. Each holds 19 MiB while it runs.
pub const MAX_PASSWORD_CHECKS: usize = 2;

impl Default for SignInThrottle {
    /// 10 failures from one address, then one every 10 s; 20 for one username, then one every
    /// 15 s (under 6,000 guesses a day).
    fn default() -> Self {
        Self {
            by_ip: Throttle::new(Budget {
                burst: 10.0,
                per_second: 0.1,
            }),
            by_username: Throttle::new(Budget {
                burst: 20.0,
                per_second: 1.0 / 15.0,
            }),
            checks: PasswordChecks::new(MAX_PASSWORD_CHECKS),
        }
    }
}

impl SignInThrottle {
    /// Takes one attempt from the address's budget and the username's (both or neither), or
    /// says how many seconds to wait.
    pub fn try_take(
        &self,
        address: Option<AddressKey>,
        username: &str,
        now_ms: u64,
    ) -> Result<SignInAttempt, u64> {
        let by_ip = match address {
            Some(key) => Some((key, self.by_ip.try_take(&key, now_ms)?)),
            None => None,
        };
        let username = username.to_owned();
        match self.by_username.try_take(&username, now_ms) {
            Ok(reservation) => Ok(SignInAttempt {
                by_ip,
                by_username: (username, reservation),
            }),
            Err(wait) => {
                if let Some((key, reservation)) = by_ip {
                    self.by_ip.refund(&key, reservation, now_ms);
                }
                Err(wait)
            }
        }
    }

    /// Gives an attempt back: the password was right, or no password was checked.
    pub fn refund(&self, attempt: SignInAttempt, now_ms: u64) {
        if let Some((key, reservation)) = attempt.by_ip {
            self.by_ip.refund(&key, reservation, now_ms);
        }
        let (username, reservation) = attempt.by_username;
        self.by_username.refund(&username, reservation, now_ms);
    }
}

/// A sign-in attempt paid for by [`SignInThrottle::try_take`].
#[derive(Debug)]
pub struct SignInAttempt {
    by_ip: Option<(AddressKey, Reservation)>,
    by_username: (String, Reservation),
}

/// The two throttles of the token endpoint. They bound failures, never the right secret:
/// secrets are 256 random bits checked with one SHA-256, so a check is cheap and guessing
/// hopeless, while refusing by address would let one attacker behind a shared address (a
/// proxy, a NAT, a load balancer) lock out every client behind it. Every request is checked;
/// failures beyond a budget are answered 429 instead of 401.
#[derive(Debug)]
pub struct AuthThrottle {
    pub by_ip: Throttle<AddressKey>,
    pub by_client: Throttle<String>,
}

impl Default for AuthThrottle {
    /// 20 failures from one address, then one every 3 s; 100 failures for one client ID,
    /// then 2 a second. A client that has its secret never comes near either.
    fn default() -> Self {
        Self {
            by_ip: Throttle::new(Budget {
                burst: 20.0,
                per_second: 1.0 / 3.0,
            }),
            by_client: Throttle::new(Budget {
                burst: 100.0,
                per_second: 2.0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(ip: &str) -> AddressKey {
        AddressKey::of(ip.parse().unwrap())
    }

    #[test]
    fn a_throttle_refuses_beyond_the_burst_refills_and_refunds() {
        let t = Throttle::new(Budget {
            burst: 3.0,
            per_second: 1.0,
        });
        let ip = key("10.0.0.1");
        let taken: Vec<_> = (0..3).map(|_| t.try_take(&ip, 0).unwrap()).collect();
        assert_eq!(t.try_take(&ip, 0).unwrap_err(), 1, "the budget is spent");
        assert!(
            t.try_take(&key("10.0.0.2"), 0).is_ok(),
            "others are not affected"
        );
        let again = t.try_take(&ip, 1_000).unwrap();
        assert!(
            t.try_take(&ip, 1_000).is_err(),
            "a second later, one more try"
        );
        t.refund(&ip, again, 1_000);
        let refunded = t.try_take(&ip, 1_000).unwrap();
        drop((taken, refunded));
        // Refunds never add beyond the burst.
        let fresh = key("10.0.0.3");
        let one = t.try_take(&fresh, 0).unwrap();
        t.refund(&fresh, one, 0);
        t.refund(&fresh, Reservation(()), 0);
        for _ in 0..3 {
            t.try_take(&fresh, 0).unwrap();
        }
        assert!(t.try_take(&fresh, 0).is_err());
    }

    #[test]
    fn concurrent_takes_never_exceed_the_budget() {
        let t = Throttle::new(Budget {
            burst: 20.0,
            per_second: 0.001,
        });
        let ip = key("10.0.0.1");
        let granted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        if t.try_take(&ip, 0).is_ok() {
                            granted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(granted.into_inner(), 20);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        // Two addresses of one /64 share a budget.
        let t = Throttle::new(Budget {
            burst: 2.0,
            per_second: 0.001,
        });
        t.try_take(&key("2001:db8::1"), 0).unwrap();
        t.try_take(&key("2001:db8::2"), 0).unwrap();
        assert!(t.try_take(&key("2001:db8::3"), 0).is_err());
        assert!(t.try_take(&key("2001:db8:0:1::1"), 0).is_ok());
    }

    #[test]
    fn a_sign_in_attempt_takes_from_both_budgets_or_neither() {
        let t = SignInThrottle::default();
        let ip = Some(key("10.0.0.1"));
        // The username's budget (20) is spent from other addresses.
        for n in 0..20 {
            let other = Some(key(&format!("10.0.1.{n}")));
            let _kept = t.try_take(other, "alice", 0).unwrap();
        }
        assert!(t.try_take(ip, "alice", 0).is_err());
        // That refusal cost the address nothing: its 10 attempts are all there.
        for _ in 0..10 {
            let _kept = t.try_take(ip, "bob", 0).unwrap();
        }
        assert!(t.try_take(ip, "carol", 0).is_err());
        // A refunded attempt (the right password) gives both back.
        let attempt = t.try_take(Some(key("10.0.2.1")), "dave", 0).unwrap();
        t.refund(attempt, 0);
        for _ in 0..10 {
            let _kept = t.try_take(Some(key("10.0.2.1")), "dave", 0).unwrap();
        }
    }
}
