//! Time as a parameter: domain code never reads the wall clock itself, so that expiry and
//! rotation can be tested with a clock the test controls. There is one clock per server
//! ([`crate::Server::bind_with_clock`]); everything that dates or times something reads it,
//! so a test that moves it sees token times, audit dates, throttles and quotas agree.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time since the Unix epoch.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Whole seconds: token times, key rotation, quota windows.
    fn now(&self) -> u64;

    /// Milliseconds: event dates, throttles. The same time as [`now`](Self::now): by default
    /// its seconds, with no milliseconds.
    fn now_ms(&self) -> u64 {
        self.now().saturating_mul(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that only moves when told to. For tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(now: u64) -> Self {
        Self(AtomicU64::new(now))
    }

    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::Relaxed);
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Formats Unix seconds as RFC 3339 (`2026-11-22T04:08:57Z`), the form Auth0's API uses.
pub fn rfc3339(unix_seconds: u64) -> String {
    let Ok(secs) = i64::try_from(unix_seconds) else {
        return unix_seconds.to_string();
    };
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_seconds.to_string())
}

/// Formats Unix milliseconds as RFC 3339 with milliseconds (`2026-11-22T04:08:57.123Z`), as
/// Auth0's log events carry their dates.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix_ms.to_string())
}

/// Parses RFC 3339 into Unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// An RFC 3339 expiry as Unix seconds; a time before 1970 is 0 (past, as any other past time).
pub fn parse_rfc3339_expiry(text: &str) -> Option<u64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(u64::try_from(t.unix_timestamp()).unwrap_or(0))
}

/// A duration in seconds, the way people say it.
pub fn duration(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s % 3600 == 0 => plural(s / 3600, "hour"),
        s if s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now(), 100);
        clock.advance(5);
        assert_eq!(clock.now(), 105);
        clock.set(7);
        assert_eq!(clock.now(), 7);
        assert_eq!(clock.now_ms(), 7_000, "milliseconds tell the same time");
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_320_537), "2026-11-22T04:08:57Z");
        assert_eq!(rfc3339_ms(1_795_320_537_123), "2026-11-22T04:08:57.123Z");
        assert_eq!(
            parse_rfc3339_ms("2026-11-22T04:08:57.123Z"),
            Some(1_795_320_537_123)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
