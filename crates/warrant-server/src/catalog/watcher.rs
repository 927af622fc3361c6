//! The catalog's background task: it looks for changes in storage (a poll, and PostgreSQL's
//! announcements where there are some), refreshes the catalog, and tells whether storage is
//! reachable.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Catalog, millis};

/// How long the watcher waits for storage on one look before it takes storage for
/// unreachable and reconnects.
pub const WATCH_DEADLINE: Duration = Duration::from_secs(2);

/// The same, while storage is already known to be unreachable: a new connection that answers
/// at all answers quickly, and the sooner a look succeeds after storage returns, the sooner
/// changes made meanwhile are in force.
const RETRY_DEADLINE: Duration = Duration::from_secs(1);

/// How soon the watcher looks again after a failed look, when it polls less often than that.
const RETRY_DELAY: Duration = Duration::from_millis(500);

impl Catalog {
    /// Polls for changes every `interval` until `shutdown` turns true. Errors are logged and
    /// retried; the last good snapshot keeps serving meanwhile. A look that storage does not
    /// answer within [`WATCH_DEADLINE`] is abandoned and the store reconnects.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        self.stale_after_ms.store(
            millis(interval + WATCH_DEADLINE + Duration::from_secs(1)),
            Ordering::Relaxed,
        );
        // Where the store can say that something changed (PostgreSQL's NOTIFY), the poll below
        // is only the safety net.
        let changed = Arc::new(tokio::sync::Notify::new());
        let listener = self.store.listen_for_changes(Arc::clone(&changed));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        // A full reload now and then, unasked: previous keys leave the JWKS when their tokens
        // have expired, which is a matter of time, not of a write. (Monotonic time: this is a
        // schedule in this process; whether a key expired is decided on the injected clock.)
        let mut last_full = Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = changed.notified() => {}
                // Storage failing: look again soon, whatever the poll interval.
                () = tokio::time::sleep(RETRY_DELAY), if failing => {}
                _ = shutdown.changed() => break,
            }
            let full = last_full.elapsed() >= Duration::from_secs(60);
            let deadline = if failing {
                RETRY_DEADLINE
            } else {
                WATCH_DEADLINE
            };
            let look = async {
                if full {
                    self.reload().await.map(|()| true)
                } else {
                    self.refresh_if_changed().await
                }
            };
            let result = tokio::select! {
                result = tokio::time::timeout(deadline, look) => result,
                _ = shutdown.changed() => break,
            };
            self.storage_ok
                .store(matches!(result, Ok(Ok(_))), Ordering::Relaxed);
            match result {
                Ok(Ok(changed)) => {
                    if full {
                        last_full = Instant::now();
                    }
                    if failing {
                        tracing::info!("storage reachable again; catalog refreshed");
                        failing = false;
                    }
                    if changed {
                        tracing::debug!(version = self.snapshot().version, "catalog reloaded");
                    }
                }
                Ok(Err(e)) => {
                    if !failing {
                        tracing::error!(error = %e, "cannot refresh the catalog; serving the last good copy");
                    }
                    failing = true;
                }
                Err(_) => {
                    if !failing {
                        tracing::error!(
                            deadline_ms = deadline.as_millis(),
                            "storage did not answer in time; reconnecting, and serving the last good copy"
                        );
                    }
                    failing = true;
                    self.store.reconnect();
                }
            }
        }
        if let Some(listener) = listener {
            listener.abort();
        }
    }
}
