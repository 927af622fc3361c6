//! Per-client token quotas: counted in memory on the hot path, added to storage by a
//! background task that reads back the cluster-wide totals.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::TokenQuota;
use crate::store::Store;

/// A quota window: the hour or the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
}

impl Period {
    pub const fn seconds(self) -> u64 {
        match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    start: u64,
    /// The cluster-wide total as of the last flush (this instance's flushed counts included).
    known: u64,
    /// Counted here since the last flush.
    pending: u64,
    /// Whether the approaching-quota event went out for this window.
    warned: bool,
    /// Whether the quota-reached event went out for this window.
    reached: bool,
}

impl Window {
    fn roll(&mut self, start: u64) {
        if self.start != start {
            *self = Self {
                start,
                ..Self::default()
            };
        }
    }
}

#[derive(Debug, Default)]
struct Usage {
    hour: Window,
    day: Window,
}

/// Why a quota refused a token, for the 429 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub period: Period,
    pub limit: u32,
    /// Unix seconds when the window ends.
    pub reset: u64,
}

/// The tightest quota window after a token was counted, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    pub period: Period,
    pub limit: u32,
    pub remaining: u64,
    pub reset: u64,
    /// This token crossed 80 % of the quota (report it once per window).
    pub warn: bool,
    /// This token went over a quota only observed, not enforced (report it once per window).
    pub over: bool,
}

/// Token counts per client, per window.
#[derive(Debug, Default)]
pub struct QuotaTracker {
    usage: Mutex<HashMap<String, Usage>>,
    /// One flush at a time: two at once would both send the same pending counts.
    flushing: tokio::sync::Mutex<()>,
}

/// Share of a quota at which an `api_limit_warning` event goes out.
const WARN_AT: f64 = 0.8;

impl QuotaTracker {
    /// Counts a token for `client_id` under `quota` at `now` (Unix seconds), or refuses it
    /// (with whether this is the first refusal of the window). `None`: the quota limits nothing.
    /// A quota in observe mode counts every token and refuses none.
    pub fn acquire(
        &self,
        client_id: &str,
        quota: &TokenQuota,
        now: u64,
    ) -> Result<Option<QuotaState>, (QuotaExceeded, bool)> {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let entry = match usage.get_mut(client_id) {
            Some(entry) => entry,
            None => usage.entry(client_id.to_owned()).or_default(),
        };
        let windows = [
            (Period::Hour, quota.per_hour, &mut entry.hour),
            (Period::Day, quota.per_day, &mut entry.day),
        ];
        let mut limited = Vec::with_capacity(2);
        for (period, limit, window) in windows {
            let start = now - now % period.seconds();
            window.roll(start);
            let Some(limit) = limit else { continue };
            limited.push((period, limit, window));
        }
        for (period, limit, window) in &mut limited {
            let used = window.known + window.pending;
            if used >= u64::from(*limit) && !quota.observe_only {
                let first = !window.reached;
                window.reached = true;
                return Err((
                    QuotaExceeded {
                        period: *period,
                        limit: *limit,
                        reset: window.start + period.seconds(),
                    },
                    first,
                ));
            }
        }
        let mut states = Vec::with_capacity(2);
        for (period, limit, window) in limited {
            window.pending += 1;
            let used = window.known + window.pending;
            let crossing = !window.warned && used as f64 >= f64::from(limit) * WARN_AT;
            window.warned |= crossing;
            // Only an observed quota lets `used` pass its limit.
            let over = !window.reached && used > u64::from(limit);
            window.reached |= over;
            states.push(QuotaState {
                period,
                limit,
                remaining: u64::from(limit).saturating_sub(used),
                reset: window.start + period.seconds(),
                warn: crossing,
                over,
            });
        }
        let warn = states.iter().any(|s| s.warn);
        // The window just gone over, else the tightest.
        Ok(states
            .into_iter()
            .min_by_key(|s| (!s.over, s.remaining))
            .map(|s| QuotaState { warn, ..s }))
    }

    /// Gives back a token counted by `acquire` that was not issued after all.
    pub fn release(&self, client_id: &str) {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = usage.get_mut(client_id) {
            for window in [&mut entry.hour, &mut entry.day] {
                window.pending = window.pending.saturating_sub(1);
            }
        }
    }

    /// Adds the counts made here to storage and learns the cluster-wide totals. Counts that
    /// cannot be stored now stay pending and go with the next flush.
    pub async fn flush(&self, store: &Store, now: u64) {
        let _one_at_a_time = self.flushing.lock().await;
        let mut batch: Vec<(String, &'static str, u64, u64)> = Vec::new();
        {
            let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
            // Clients idle for a whole day hold nothing worth keeping.
            usage.retain(|_, u| u.day.start + Period::Day.seconds() > now);
            for (client_id, u) in usage.iter() {
                // Windows without new counts too: they read the total others made.
                for (period, window) in [(Period::Hour, &u.hour), (Period::Day, &u.day)] {
                    if window.start + period.seconds() > now {
                        batch.push((
                            client_id.clone(),
                            period.as_str(),
                            window.start,
                            window.pending,
                        ));
                    }
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        let added = store.add_token_usage(&batch);
        let Ok(totals) = crate::store::within(crate::store::BACKGROUND_DEADLINE, added).await
        else {
            return;
        };
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        for ((client_id, period, start, flushed), total) in batch.into_iter().zip(totals) {
            let Some(u) = usage.get_mut(&client_id) else {
                continue;
            };
            let window = if period == Period::Hour.as_str() {
                &mut u.hour
            } else {
                &mut u.day
            };
            if window.start == start {
                window.pending = window.pending.saturating_sub(flushed);
                window.known = total;
            }
        }
    }

    /// Flushes every `interval` until `stop`, and prunes old windows from storage hourly.
    pub async fn run(
        self: std::sync::Arc<Self>,
        store: Store,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = 0;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => {
                    self.flush(&store, clock.now()).await;
                    return;
                }
            }
            let now = clock.now();
            self.flush(&store, now).await;
            if now >= last_prune + Period::Hour.seconds() {
                last_prune = now;
                let prune = store.prune_token_usage(now.saturating_sub(2 * Period::Day.seconds()));
                let _ = crate::store::within(crate::store::BACKGROUND_DEADLINE, prune).await;
                // The same hourly housekeeping forgets used client assertion IDs that expired
                // (a replay of one is refused by its exp anyway).
                let prune = store.prune_assertion_jtis(now);
                let _ = crate::store::within(crate::store::BACKGROUND_DEADLINE, prune).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn quotas_count_per_window_and_refuse_beyond() {
        let tracker = QuotaTracker::default();
        let quota = TokenQuota {
            per_hour: Some(5),
            per_day: Some(100),
            observe_only: false,
        };
        // 1_800_000_000 is on the hour.
        let hour = 1_800_000_000;
        let mut warned = 0;
        for i in 0..5 {
            let state = tracker.acquire("c", &quota, hour + 10).unwrap().unwrap();
            assert_eq!(state.period, Period::Hour);
            assert_eq!(state.remaining, 4 - i);
            warned += u32::from(state.warn);
        }
        assert_eq!(warned, 1, "one warning per window, at 80 %");
        let (exceeded, first) = tracker.acquire("c", &quota, hour + 20).unwrap_err();
        assert!(first);
        assert_eq!(exceeded.reset, hour + 3_600);
        let (_, again) = tracker.acquire("c", &quota, hour + 30).unwrap_err();
        assert!(!again, "the quota-reached event goes out once");
        assert!(tracker.acquire("other", &quota, hour + 30).is_ok());
        // The next hour starts afresh; the day still counts.
        let state = tracker.acquire("c", &quota, hour + 3_600).unwrap().unwrap();
        assert_eq!(state.remaining, 4);
        tracker.release("c");
        assert_eq!(
            tracker
                .acquire("c", &quota, hour + 3_601)
                .unwrap()
                .unwrap()
                .remaining,
            4
        );
    }

    #[test]
    fn an_observed_quota_counts_and_reports_but_refuses_nothing() {
        let tracker = QuotaTracker::default();
        let quota = TokenQuota {
            per_hour: Some(3),
            per_day: None,
            observe_only: true,
        };
        let hour = 1_800_000_000;
        let states: Vec<QuotaState> = (0..6)
            .map(|i| tracker.acquire("c", &quota, hour + i).unwrap().unwrap())
            .collect();
        let remaining: Vec<u64> = states.iter().map(|s| s.remaining).collect();
        assert_eq!(remaining, [2, 1, 0, 0, 0, 0]);
        let over: Vec<bool> = states.iter().map(|s| s.over).collect();
        assert_eq!(
            over,
            [false, false, false, true, false, false],
            "reported once, by the first token beyond the quota"
        );
        assert_eq!(states.iter().filter(|s| s.warn).count(), 1);
        // The same counts under an enforced quota: refused at once.
        let enforced = TokenQuota {
            observe_only: false,
            ..quota
        };
        assert!(tracker.acquire("c", &enforced, hour + 10).is_err());
        // A new window: nothing reported yet.
        let next = tracker.acquire("c", &quota, hour + 3_600).unwrap().unwrap();
        assert_eq!((next.remaining, next.over), (2, false));
    }

    proptest::proptest! {
        /// Whatever the request times, no hour and no day window issues more than its quota,
        /// and every refusal happens at the quota.
        #[test]
        fn quotas_hold_in_every_window(
            per_hour in 1u32..20,
            per_day in 1u32..60,
            steps in proptest::collection::vec(0u64..900, 1..300),
        ) {
            let tracker = QuotaTracker::default();
            let quota = TokenQuota { per_hour: Some(per_hour), per_day: Some(per_day), observe_only: false };
            let mut now = 1_800_000_000;
            let mut hours: HashMap<u64, u32> = HashMap::new();
            let mut days: HashMap<u64, u32> = HashMap::new();
            for step in steps {
                now += step;
                let hour = hours.entry(now / 3_600).or_default();
                let day = days.entry(now / 86_400).or_default();
                match tracker.acquire("c", &quota, now) {
                    Ok(_) => {
                        *hour += 1;
                        *day += 1;
                    }
                    Err(_) => proptest::prop_assert!(*hour == per_hour || *day == per_day),
                }
                proptest::prop_assert!(*hour <= per_hour && *day <= per_day);
            }
        }
    }
}
