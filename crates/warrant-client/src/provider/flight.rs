//! Keeping a slot filled: the single flight that makes concurrent callers share one fetch,
//! and the refresh ahead that replaces a token in the background before it expires.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::slot::{FlightResult, Slot};
use super::token_provider::TokenProvider;
use crate::{AccessToken, Error};

impl TokenProvider {
    pub(super) async fn token_in(&self, slot: &Arc<Slot>) -> Result<AccessToken, Error> {
        if let Some(token) = slot.current() {
            let now = Instant::now();
            if !token.is_expired_at(now) {
                if now >= token.refresh_at() {
                    self.refresh_in_background(slot, &token, now);
                }
                self.inner
                    .counters
                    .cache_hits
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(token);
            }
        }
        self.fetch_shared(slot).await
    }

    /// Joins the fetch in flight, or starts one, and waits for its result.
    async fn fetch_shared(&self, slot: &Arc<Slot>) -> Result<AccessToken, Error> {
        let mut rx = {
            let mut flight = slot.flight.lock().unwrap_or_else(|p| p.into_inner());
            // A flight may have just finished: its token is stored before the flight clears.
            if let Some(token) = slot.current().filter(|t| !t.is_expired_at(Instant::now())) {
                return Ok(token);
            }
            match &*flight {
                Some(rx) => rx.clone(),
                None => {
                    let deadline = Instant::now() + self.inner.retry_deadline;
                    let rx = self.start_flight(slot, deadline, false);
                    *flight = Some(rx.clone());
                    rx
                }
            }
        };
        match rx.wait_for(Option::is_some).await {
            Ok(result) => match &*result {
                Some(result) => result.clone(),
                None => Err(Error::Unavailable {
                    attempts: 0,
                    last: "the fetch ended without a result".into(),
                }),
            },
            Err(_) => Err(Error::Unavailable {
                attempts: 0,
                last: "the fetch task stopped".into(),
            }),
        }
    }

    /// Past the refresh point: start one background refresh, unless one is running or a
    /// failed one asked to wait.
    fn refresh_in_background(&self, slot: &Arc<Slot>, token: &AccessToken, now: Instant) {
        let mut flight = slot.flight.lock().unwrap_or_else(|p| p.into_inner());
        if flight.is_some() {
            return;
        }
        {
            let next = slot.next_refresh.lock().unwrap_or_else(|p| p.into_inner());
            if next.is_some_and(|at| now < at) {
                return;
            }
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let deadline = token.expires_at().min(now + self.inner.retry_deadline);
        *flight = Some(self.start_flight(slot, deadline, true));
    }

    /// Spawns the fetch (so that it completes even if the caller goes away). Called with the
    /// slot's flight lock held.
    fn start_flight(
        &self,
        slot: &Arc<Slot>,
        deadline: Instant,
        background: bool,
    ) -> watch::Receiver<FlightResult> {
        let (tx, rx) = watch::channel(None);
        let provider = self.clone();
        let slot = Arc::clone(slot);
        let span = tracing::info_span!(
            "warrant_token_fetch",
            audience = %slot.audience,
            background
        );
        tokio::spawn(
            async move {
                let result = provider.fetch_with_retry(&slot, deadline).await;
                match &result {
                    Ok(token) => {
                        tracing::info!(
                            expires_in = token.expires_in(),
                            "fetched an access token"
                        );
                        slot.set_current(Some(token.clone()));
                        *slot.next_refresh.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    }
                    Err(e) if background => {
                        provider
                            .inner
                            .counters
                            .refresh_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "token refresh failed; the current token keeps serving");
                        *slot.next_refresh.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(Instant::now() + Duration::from_secs(1));
                    }
                    Err(e) => {
                        provider
                            .inner
                            .counters
                            .fetch_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "token fetch failed");
                    }
                }
                *slot.flight.lock().unwrap_or_else(|p| p.into_inner()) = None;
                let _ = tx.send(Some(result));
            }
            .instrument(span),
        );
        rx
    }

    /// When to refresh: at `refresh_ratio` of the lifetime, never later than 60 s before
    /// expiry, never earlier than half-life, minus this instance's jitter.
    pub(super) fn refresh_after(&self, lifetime: Duration) -> Duration {
        let l = lifetime.as_secs_f64();
        let at = (l * self.inner.refresh_ratio).min(l - 60.0).max(l * 0.5);
        let at = (at - l * self.inner.jitter).max(l * 0.5);
        Duration::from_secs_f64(at.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::builder::test_provider as provider;

    #[test]
    fn refresh_point_follows_the_rules() {
        let p = provider(0.8);
        let jitter = p.inner.jitter;
        assert!((0.0..0.05).contains(&jitter));
        let day = p.refresh_after(Duration::from_secs(86_400)).as_secs_f64();
        assert!(
            (86_400.0 * (0.8 - jitter) - 1.0..=69_120.0).contains(&day),
            "{day}"
        );
        // 200 s: 0.8 would be 160, but never later than 60 s before expiry: 140.
        let short = p.refresh_after(Duration::from_secs(200)).as_secs_f64();
        assert!((100.0..=140.0).contains(&short), "{short}");
        // 60 s: never earlier than half-life.
        let tiny = p.refresh_after(Duration::from_secs(60)).as_secs_f64();
        assert!((tiny - 30.0).abs() < 1e-9, "{tiny}");
    }
}
