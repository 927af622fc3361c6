//! Limits on token requests: brute-force throttling of failed client authentication, and
//! per-client token quotas counted across every instance.
//!
//! Throttling is per instance and in memory: a source IP that fails authentication too often is
//! refused before any work, and a client ID that attackers hammer from many addresses answers
//! their wrong guesses with 429. A request with the right secret is never refused by the
//! client-ID throttle, so an attacker cannot lock a legitimate client out; only the attacker's
//! own addresses get blocked.
//!
//! Quotas (Auth0's per-client `token_quota`, per hour and per day) are counted in memory on the
//! hot path and added to storage about once a second by a background task, which reads back
//! the cluster-wide totals: every instance enforces the sum, within about one second of traffic.

mod quota;
mod throttle;

pub use quota::{Period, QuotaExceeded, QuotaState, QuotaTracker};
pub use throttle::{
    AddressKey, AuthThrottle, Budget, MAX_PASSWORD_CHECKS, Reservation, SignInAttempt,
    SignInThrottle, Throttle,
};
