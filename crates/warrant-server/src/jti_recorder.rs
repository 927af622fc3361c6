//! The single use of private_key_jwt assertions' `jti`s, as a group commit.
//!
//! Recording a `jti` is a write the database must make durable before the token goes out (a
//! commit, an fsync on SQLite), and writes are serialized: one commit per token request capped
//! private_key_jwt issuance at a few thousand tokens a second. So requests hand their `jti` to
//! [`JtiRecorder::record`] and wait for the answer, and one task ([`JtiWriter::run`]) records
//! whatever is queued in one statement per [`JTI_CHUNK`], one commit for the batch
//! ([`Store::use_assertion_jtis`]), and tells each request whether its `jti` went in or was a
//! replay. The first `jti` goes out at once, and what queues while it is written forms the
//! next batch: an idle server adds no delay, a busy one commits many at a time.
//!
//! The answers are those of one statement per request: single use across every instance on
//! the database (the statement is the check), two requests with the same `jti` in one batch
//! (the first wins), an expired `jti` taken over. A batch that fails, or a request whose answer
//! does not come within [`REPLAY_CHECK_DEADLINE`], is [`JtiOutcome::Unavailable`] ("try again"),
//! as is a request that finds the queue ([`QUEUE_CAPACITY`]) full: no request waits unbounded,
//! and memory stays bounded. A request that gave up before its batch was written (timed out, or
//! its client went away) is left out of it, so its `jti` is not spent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::store::{JTI_CHUNK, JtiUse, Store, within};

/// How long a request waits for its `jti` to be recorded (queue included), and a batch for
/// storage.
pub const REPLAY_CHECK_DEADLINE: Duration = Duration::from_secs(2);

/// How many `jti`s may wait for the writer; past it, a request is refused at once. Above the
/// default cap on requests in flight (1,024), so that it fills only when storage falls behind.
pub const QUEUE_CAPACITY: usize = 4_096;

/// What became of a `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JtiOutcome {
    /// Its first use: recorded until it expires.
    FirstUse,
    /// Already used, and that use has not expired.
    Replay,
    /// It could not be recorded (storage unreachable or behind): the request may be tried again.
    Unavailable,
}

/// A request's `jti` waiting for the writer.
#[derive(Debug)]
struct Pending {
    client_id: String,
    jti: String,
    expires_at: u64,
    now: u64,
    reply: oneshot::Sender<JtiOutcome>,
}

/// The requests' side, held by the issuer.
#[derive(Debug)]
pub struct JtiRecorder {
    queue: mpsc::Sender<Pending>,
    /// When (Unix seconds) a full queue was last logged: once in [`FULL_WARNING_INTERVAL`],
    /// not once per refused request.
    warned_full_at: AtomicU64,
}

/// How often a full queue is logged while it stays full.
const FULL_WARNING_INTERVAL: u64 = 10;

impl JtiRecorder {
    /// The recorder and the writer task that must be spawned to serve it.
    pub fn new(store: Store) -> (Self, JtiWriter) {
        Self::with_capacity(store, QUEUE_CAPACITY)
    }

    fn with_capacity(store: Store, capacity: usize) -> (Self, JtiWriter) {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        (
            Self {
                queue,
                warned_full_at: AtomicU64::new(0),
            },
            JtiWriter { store, rx },
        )
    }

    /// Records that `client_id` used `jti` at `now` (Unix seconds), to count until
    /// `expires_at`; waits at most [`REPLAY_CHECK_DEADLINE`] for the answer.
    pub async fn record(
        &self,
        client_id: &str,
        jti: String,
        expires_at: u64,
        now: u64,
    ) -> JtiOutcome {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            client_id: client_id.to_owned(),
            jti,
            expires_at,
            now,
            reply,
        };
        if let Err(e) = self.queue.try_send(pending) {
            let last = self.warned_full_at.load(Ordering::Relaxed);
            let due = now >= last.saturating_add(FULL_WARNING_INTERVAL)
                && self
                    .warned_full_at
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok();
            match e {
                mpsc::error::TrySendError::Full(_) if due => tracing::warn!(
                    capacity = QUEUE_CAPACITY,
                    "client assertion jtis are queued faster than storage records them; refusing until it catches up"
                ),
                mpsc::error::TrySendError::Closed(_) if due => {
                    tracing::info!("a client assertion arrived while the server is shutting down")
                }
                _ => {}
            }
            return JtiOutcome::Unavailable;
        }
        match tokio::time::timeout(REPLAY_CHECK_DEADLINE, answer).await {
            Ok(Ok(outcome)) => outcome,
            // Timed out, or the writer stopped (shutting down).
            Ok(Err(_)) | Err(_) => JtiOutcome::Unavailable,
        }
    }
}

/// The writer: run it with [`run`](Self::run).
#[derive(Debug)]
pub struct JtiWriter {
    store: Store,
    rx: mpsc::Receiver<Pending>,
}

impl JtiWriter {
    /// Records batches until `stop` turns true, then what is queued, and returns.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(JTI_CHUNK);
        loop {
            tokio::select! {
                n = self.rx.recv_many(&mut batch, JTI_CHUNK) => {
                    if n == 0 {
                        break;
                    }
                    self.write(&mut batch).await;
                }
                _ = stop.changed() => {
                    self.rx.close();
                    while self.rx.recv_many(&mut batch, JTI_CHUNK).await > 0 {
                        self.write(&mut batch).await;
                    }
                    break;
                }
            }
        }
    }

    /// Records one batch and answers each of its requests.
    async fn write(&self, batch: &mut Vec<Pending>) {
        batch.retain(|p| !p.reply.is_closed());
        // One time for the batch: the earliest of its requests' (they differ by the time the
        // batch waited). A row is taken over only once it expired for every request in the
        // batch: with the latest, a replay checked just before its row expired could take it
        // over for a request timed a second later.
        let Some(now) = batch.iter().map(|p| p.now).min() else {
            return;
        };
        let uses: Vec<JtiUse<'_>> = batch
            .iter()
            .map(|p| JtiUse {
                client_id: &p.client_id,
                jti: &p.jti,
                expires_at: p.expires_at,
            })
            .collect();
        let recorded = within(
            REPLAY_CHECK_DEADLINE,
            self.store.use_assertion_jtis(&uses, now),
        )
        .await;
        drop(uses);
        match recorded {
            Ok(fresh) => {
                for (pending, first) in batch.drain(..).zip(fresh) {
                    let outcome = if first {
                        JtiOutcome::FirstUse
                    } else {
                        JtiOutcome::Replay
                    };
                    let _ = pending.reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = batch.len(), "cannot record client assertions' jtis");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(JtiOutcome::Unavailable);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open_data_dir(dir.path()).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn concurrent_uses_of_one_jti_have_one_winner() {
        let (store, _dir) = store().await;
        let (recorder, writer) = JtiRecorder::new(store);
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(writer.run(stopped));
        let recorder = std::sync::Arc::new(recorder);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..300 {
            let recorder = std::sync::Arc::clone(&recorder);
            // Every third request replays one jti; the others are fresh.
            let jti = if i % 3 == 0 {
                "same".to_owned()
            } else {
                format!("jti-{i}")
            };
            tasks.spawn(async move { recorder.record("c", jti, 2_000, 1_000).await });
        }
        let outcomes = tasks.join_all().await;
        let first = outcomes
            .iter()
            .filter(|o| **o == JtiOutcome::FirstUse)
            .count();
        let replays = outcomes
            .iter()
            .filter(|o| **o == JtiOutcome::Replay)
            .count();
        assert_eq!((first, replays), (200 + 1, 99));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let (store, _dir) = store().await;
        // No writer runs: the queue fills.
        let (recorder, _writer) = JtiRecorder::with_capacity(store, 1);
        let waiting = recorder.record("c", "a".into(), 2_000, 1_000);
        tokio::pin!(waiting);
        // The first request is queued and waits for its answer.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err()
        );
        let refused = tokio::time::timeout(
            Duration::from_millis(500),
            recorder.record("c", "b".into(), 2_000, 1_000),
        )
        .await
        .unwrap();
        assert_eq!(refused, JtiOutcome::Unavailable);
    }

    #[tokio::test]
    async fn no_answer_within_the_deadline_is_unavailable() {
        let (store, _dir) = store().await;
        // No writer runs: the answer never comes.
        let (recorder, _writer) = JtiRecorder::new(store);
        let started = tokio::time::Instant::now();
        assert_eq!(
            recorder.record("c", "a".into(), 2_000, 1_000).await,
            JtiOutcome::Unavailable
        );
        let waited = started.elapsed();
        assert!(waited >= REPLAY_CHECK_DEADLINE, "{waited:?}");
        assert!(waited < REPLAY_CHECK_DEADLINE * 2, "{waited:?}");
    }

    #[tokio::test]
    async fn a_request_that_gave_up_does_not_spend_its_jti() {
        let (store, _dir) = store().await;
        let (recorder, writer) = JtiRecorder::new(store.clone());
        // Queued, then abandoned before any writer ran.
        let abandoned = recorder.record("c", "a".into(), 2_000, 1_000);
        let _ = tokio::time::timeout(Duration::from_millis(10), abandoned).await;
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(writer.run(stopped));
        assert_eq!(
            recorder.record("c", "a".into(), 2_000, 1_000).await,
            JtiOutcome::FirstUse
        );
    }
}
