//! The audit log: who got which token, who failed and why, who changed what.
//!
//! Handlers hand events to [`AuditLog::record`], which never waits: events go into a bounded
//! queue, and when it is full they are counted as dropped instead of slowing issuance down. One
//! background task drains the queue in batches into storage (one transaction per batch, held
//! open for [`AuditSettings::batch_delay`] or until it is full, so that a busy server commits
//! a few dozen events at a time rather than each handful: a commit is an fsync), optionally copies them as JSON lines to stdout or a file for a log shipper, and prunes old
//! events by age and count. Events never carry a secret or a token: only the token's `jti`.
//!
//! Introspections ([`AuditLog::introspected`]) are counted the same way, per caller, API and
//! outcome (active or not), and written with the refusals: a gateway's tens of thousands of
//! calls a second cost a counter each, not an event each.
//!
//! Refusals ([`is_refusal`]: failed token exchanges, throttled requests among them, refused
//! introspections and revocations, failed management operations and sign-ins) are what unauthenticated traffic can produce at will, so
//! they are not written one by one: they are counted per type, client ID, address and reason,
//! and written as one event per such source with its `count` once an interval
//! ([`AuditSettings::refusal_interval`]). At most [`MAX_REFUSAL_SOURCES`] sources are told
//! apart per interval; refusals from further ones are counted in one catch-all event per type.
//! The count limit of the log applies to token traffic and, apart, to refusals of
//! unauthenticated management and sign-in requests; never to [`ALWAYS_KEPT`](crate::domain::events::ALWAYS_KEPT): what
//! authenticated administrators did is never pushed out by traffic, only pruned by age.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::Clock;
use crate::domain::events::{AuditEvent, failure_reason, is_refusal, types, with_count};
use crate::store::Store;

/// How many refusal sources (type, client ID, address, reason) are told apart per interval;
/// refusals from more are counted together. Bounds the aggregation's memory (a few MiB).
pub const MAX_REFUSAL_SOURCES: usize = 1024;

/// The longest description an aggregated refusal keeps (a management path is the caller's).
const MAX_REFUSAL_DESCRIPTION: usize = 1024;

/// Where and how long events are kept.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// How many events may wait for the writer before new ones are dropped.
    pub queue_capacity: usize,
    /// Events older than this are pruned.
    pub retention: Duration,
    /// At most this many events are kept; the oldest go first.
    pub max_events: u64,
    /// Also write each event as a JSON line here: `-` for stdout, else a file appended to.
    pub json_lines: Option<PathBuf>,
    /// Refusals are counted for this long, then written as one event per source.
    pub refusal_interval: Duration,
    /// How long a batch stays open for more events after its first, unless it fills up
    /// first ([`BATCH`] events): what a crash can lose on top of the queue. Zero commits
    /// whatever is queued at once.
    pub batch_delay: Duration,
}

/// The default [`AuditSettings::batch_delay`].
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(10);

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            retention: Duration::from_secs(30 * 24 * 3600),
            max_events: 10_000_000,
            json_lines: None,
            refusal_interval: Duration::from_secs(10),
            batch_delay: DEFAULT_BATCH_DELAY,
        }
    }
}

/// The producer side, shared by every handler.
#[derive(Debug)]
pub struct AuditLog {
    queue: mpsc::Sender<AuditEvent>,
    capacity: usize,
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
    refusals: Arc<Mutex<Refusals>>,
    introspections: Arc<Mutex<Introspections>>,
    /// Requests to write everything now ([`flush`](Self::flush)), answered once written.
    flushes: mpsc::Sender<oneshot::Sender<()>>,
}

/// Refusals counted since the writer last took them.
#[derive(Debug, Default)]
struct Refusals {
    by_source: HashMap<Source, Aggregate>,
    /// Refusals from sources beyond [`MAX_REFUSAL_SOURCES`], one aggregate per type.
    others: Vec<Aggregate>,
}

/// Where refusals came from and why: what an aggregated event stands for.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Source {
    kind: Cow<'static, str>,
    client_id: Option<String>,
    ip: Option<String>,
    reason: String,
}

#[derive(Debug)]
struct Aggregate {
    /// The first refusal; its count grows with each one after.
    event: AuditEvent,
    /// Some later refusal had another description (other echoed input): show the reason.
    reason: Option<String>,
}

impl Aggregate {
    fn new(mut event: AuditEvent) -> Self {
        if event.description.len() > MAX_REFUSAL_DESCRIPTION {
            let mut end = MAX_REFUSAL_DESCRIPTION;
            while !event.description.is_char_boundary(end) {
                end -= 1;
            }
            event.description = Cow::Owned(format!("{}…", &event.description[..end]));
        }
        Self {
            event,
            reason: None,
        }
    }

    fn add(&mut self, event: &AuditEvent, reason: &str) {
        let first = &mut self.event;
        first.count = first.count.saturating_add(event.count);
        if first.description != event.description && self.reason.is_none() {
            self.reason = Some(reason.to_owned());
        }
        // Details that differ between the refusals are left out.
        for (kept, seen) in [
            (&mut first.audience, &event.audience),
            (&mut first.scope, &event.scope),
            (&mut first.user_agent, &event.user_agent),
        ] {
            if kept != seen {
                *kept = None;
            }
        }
    }

    fn finish(self, interval: Duration) -> AuditEvent {
        let mut event = self.event;
        if event.count > 1 {
            let what = self.reason.as_deref().unwrap_or(&event.description);
            event.description = Cow::Owned(with_count(what, event.count, interval));
        }
        event
    }
}

impl Source {
    fn of(event: &AuditEvent) -> Self {
        Self {
            kind: event.kind.clone(),
            client_id: event.client_id.clone(),
            ip: event.ip.clone(),
            reason: failure_reason(&event.description),
        }
    }
}

impl Refusals {
    fn add(&mut self, source: Source, event: AuditEvent) {
        if let Some(aggregate) = self.by_source.get_mut(&source) {
            aggregate.add(&event, &source.reason);
        } else if self.by_source.len() < MAX_REFUSAL_SOURCES {
            self.by_source.insert(source, Aggregate::new(event));
        } else if let Some(others) = self.others.iter_mut().find(|a| a.event.kind == event.kind) {
            others.event.count = others.event.count.saturating_add(event.count);
        } else {
            self.others.push(Aggregate::new(AuditEvent {
                date_ms: event.date_ms,
                kind: event.kind,
                description: Cow::Owned(format!(
                    "refused requests from further sources (more than {MAX_REFUSAL_SOURCES} client ID, \
                     address and reason combinations in one interval), counted together"
                )),
                count: event.count,
                ..AuditEvent::default()
            }));
        }
    }
}

/// Introspections counted since the writer last took them: per caller, per API of the active
/// tokens (`None`: the inactive answers, which name no API). A hit costs a lock and two
/// lookups, no allocation: introspection is a hot path.
#[derive(Debug, Default)]
struct Introspections {
    by_caller: HashMap<Box<str>, Vec<Introspected>>,
    /// How many (caller, API) pairs are told apart; past [`MAX_REFUSAL_SOURCES`], further
    /// ones are counted in `others`.
    pairs: usize,
    others: Option<Introspected>,
}

#[derive(Debug)]
struct Introspected {
    audience: Option<Box<str>>,
    count: u64,
    first_ms: u64,
}

impl Introspections {
    fn add(&mut self, caller: &str, audience: Option<&str>, now_ms: u64) {
        if let Some(seen) = self.by_caller.get_mut(caller) {
            if let Some(pair) = seen.iter_mut().find(|p| p.audience.as_deref() == audience) {
                pair.count += 1;
                return;
            }
        }
        let fresh = |audience: Option<&str>| Introspected {
            audience: audience.map(Box::from),
            count: 1,
            first_ms: now_ms,
        };
        if self.pairs >= MAX_REFUSAL_SOURCES {
            match &mut self.others {
                Some(others) => others.count += 1,
                None => self.others = Some(fresh(None)),
            }
            return;
        }
        self.pairs += 1;
        self.by_caller
            .entry(Box::from(caller))
            .or_default()
            .push(fresh(audience));
    }
}

/// Takes the introspections counted so far, as events: one per caller and API of the active
/// tokens, one per caller for the inactive answers, with their counts.
fn take_introspections(
    introspections: &Mutex<Introspections>,
    interval: Duration,
) -> Vec<AuditEvent> {
    let taken = std::mem::take(&mut *introspections.lock().unwrap_or_else(|p| p.into_inner()));
    let event = |caller: Option<&str>, pair: Introspected| {
        let what = match (&pair.audience, caller) {
            (Some(audience), _) => format!("introspected active tokens of {audience}"),
            (None, Some(_)) => "introspected tokens answered inactive (invalid, expired, revoked, \
                or of an API this application may not introspect)"
                .to_owned(),
            (None, None) => format!(
                "introspections by further applications and APIs (more than \
                 {MAX_REFUSAL_SOURCES} pairs in one interval), counted together"
            ),
        };
        AuditEvent {
            date_ms: pair.first_ms,
            kind: types::INTROSPECTION.into(),
            description: Cow::Owned(if pair.count > 1 {
                with_count(&what, pair.count, interval)
            } else {
                what
            }),
            client_id: caller.map(str::to_owned),
            audience: pair.audience.map(String::from),
            count: pair.count,
            ..AuditEvent::default()
        }
    };
    let mut events: Vec<AuditEvent> = Vec::new();
    for (caller, pairs) in taken.by_caller {
        for pair in pairs {
            events.push(event(Some(&caller), pair));
        }
    }
    events.extend(taken.others.map(|others| event(None, others)));
    events.sort_by_key(|e| e.date_ms);
    events
}

/// Takes the refusals counted so far, as events (oldest first).
fn take_refusals(refusals: &Mutex<Refusals>, interval: Duration) -> Vec<AuditEvent> {
    let taken = std::mem::take(&mut *refusals.lock().unwrap_or_else(|p| p.into_inner()));
    let mut events: Vec<AuditEvent> = taken
        .by_source
        .into_values()
        .chain(taken.others)
        .map(|a| a.finish(interval))
        .collect();
    events.sort_by_key(|e| e.date_ms);
    events
}

/// A new audit writer's ID, under which it keeps its activity counts: random, so that every
/// process has its own.
pub fn new_writer_id() -> String {
    crate::domain::random_alphanumeric(12)
}

/// Queue figures, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditStats {
    pub depth: usize,
    pub capacity: usize,
    pub dropped: u64,
    pub written: u64,
}

/// How many events the writer stores per transaction at most.
pub const BATCH: usize = 512;

impl AuditLog {
    /// The log and the writer task that must be spawned to drain it; `clock` says when
    /// events are old enough to prune.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: AuditSettings,
    ) -> (Self, AuditWriter) {
        let capacity = settings.queue_capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let (flushes, flush_requests) = mpsc::channel(16);
        let written = Arc::new(AtomicU64::new(0));
        let refusals = Arc::new(Mutex::new(Refusals::default()));
        let introspections = Arc::new(Mutex::new(Introspections::default()));
        let log = Self {
            queue: tx,
            capacity,
            dropped: AtomicU64::new(0),
            written: Arc::clone(&written),
            refusals: Arc::clone(&refusals),
            introspections: Arc::clone(&introspections),
            flushes,
        };
        let writer = AuditWriter {
            store,
            clock,
            rx,
            settings,
            written,
            refusals,
            introspections,
            flush_requests,
            id: new_writer_id(),
        };
        (log, writer)
    }

    /// Queues an event; never waits. A full queue counts the event as dropped. Refusals are
    /// counted instead ([`is_refusal`]), and written aggregated by the writer.
    pub fn record(&self, event: AuditEvent) {
        if is_refusal(&event.kind) {
            let source = Source::of(&event);
            self.refusals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add(source, event);
        } else if self.queue.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an introspection answered to `caller` (an authenticated application): about an
    /// active token of `audience`, or (`None`) inactive. Never waits on storage: written
    /// aggregated with the refusals, once an interval ([`types::INTROSPECTION`]).
    pub fn introspected(&self, caller: &str, audience: Option<&str>, now_ms: u64) {
        self.introspections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(caller, audience, now_ms);
    }

    /// Waits until the writer has stored every event recorded before the call, the refusals
    /// counted so far included (written now, aggregated over a shorter interval). For tests
    /// and tools that read the log right after acting; the request path never calls it.
    /// Returns at once when the writer has stopped.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = written.await;
        }
    }

    pub fn stats(&self) -> AuditStats {
        AuditStats {
            depth: self.capacity - self.queue.capacity(),
            capacity: self.capacity,
            dropped: self.dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
        }
    }
}

/// The consumer side: run it with [`run`](Self::run).
#[derive(Debug)]
pub struct AuditWriter {
    store: Store,
    clock: Arc<dyn Clock>,
    rx: mpsc::Receiver<AuditEvent>,
    settings: AuditSettings,
    written: Arc<AtomicU64>,
    refusals: Arc<Mutex<Refusals>>,
    introspections: Arc<Mutex<Introspections>>,
    flush_requests: mpsc::Receiver<oneshot::Sender<()>>,
    /// This writer's own activity counts are stored under it ([`new_writer_id`]).
    id: String,
}

impl AuditWriter {
    /// Writes batches until `stop` turns true, then drains what is queued and returns.
    /// Refusals are written once an interval.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let interval = self.settings.refusal_interval.max(Duration::from_millis(1));
        // The first write one whole interval after the start (a plain interval ticks at once,
        // which would cut the first interval's aggregates short).
        let mut refusals =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        refusals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                n = self.rx.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        break;
                    }
                    self.fill(&mut batch).await;
                    self.write(&mut batch, &stop).await;
                }
                _ = refusals.tick() => self.write_refusals(&stop).await,
                Some(done) = self.flush_requests.recv() => {
                    // Everything queued before the request, then the refusals counted so far.
                    while let Ok(event) = self.rx.try_recv() {
                        batch.push(event);
                        if batch.len() == BATCH {
                            self.write(&mut batch, &stop).await;
                        }
                    }
                    if !batch.is_empty() {
                        self.write(&mut batch, &stop).await;
                    }
                    self.write_refusals(&stop).await;
                    let _ = done.send(());
                }
                _ = prune.tick() => self.prune().await,
                _ = stop.changed() => {
                    // Shutting down: what is queued now still gets written, once.
                    self.rx.close();
                    while self.rx.recv_many(&mut batch, BATCH).await > 0 {
                        self.write(&mut batch, &stop).await;
                    }
                    break;
                }
            }
        }
        self.write_refusals(&stop).await;
    }

    /// Holds `batch` open for more events: until it is full, the batch delay has passed since
    /// its first event, or the queue is closed.
    async fn fill(&mut self, batch: &mut Vec<AuditEvent>) {
        let deadline = tokio::time::Instant::now() + self.settings.batch_delay;
        while batch.len() < BATCH {
            let more = self.rx.recv_many(batch, BATCH - batch.len());
            match tokio::time::timeout_at(deadline, more).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Writes the refusals and introspections counted so far (at most [`MAX_REFUSAL_SOURCES`]
    /// events of each and one catch-all per type), in one transaction.
    async fn write_refusals(&self, stop: &watch::Receiver<bool>) {
        let interval = self.settings.refusal_interval;
        let mut events = take_refusals(&self.refusals, interval);
        events.extend(take_introspections(&self.introspections, interval));
        if !events.is_empty() {
            self.write(&mut events, stop).await;
        }
    }

    /// Stores a batch, retrying while storage is down (events keep queueing, and past the
    /// queue's capacity are dropped and counted); gives up only when shutting down.
    async fn write(&self, batch: &mut Vec<AuditEvent>, stop: &watch::Receiver<bool>) {
        if let Some(path) = &self.settings.json_lines {
            write_json_lines(path.clone(), batch.clone()).await;
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            let insert = self.store.insert_audit_events(batch, &self.id);
            match crate::store::within(crate::store::BACKGROUND_DEADLINE, insert).await {
                Ok(()) => {
                    self.written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    break;
                }
                Err(e) if !*stop.borrow() => {
                    tracing::warn!(error = %e, events = batch.len(), "cannot store audit events; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(error = %e, events = batch.len(), "audit events lost at shutdown: storage unreachable");
                    break;
                }
            }
        }
        batch.clear();
    }

    async fn prune(&self) {
        let now_ms = self.clock.now_ms();
        let before = now_ms
            .saturating_sub(u64::try_from(self.settings.retention.as_millis()).unwrap_or(u64::MAX));
        // Deleting a backlog takes longer than a batch; the server stops statements at 30 s.
        let prune = self
            .store
            .prune_audit_events(before, self.settings.max_events);
        match crate::store::within(Duration::from_secs(30), prune).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "pruned old audit events"),
            Err(e) => tracing::debug!(error = %e, "cannot prune audit events now; will retry"),
        }
    }
}

async fn write_json_lines(path: PathBuf, events: Vec<AuditEvent>) {
    let result = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut out = Vec::with_capacity(events.len() * 256);
        for event in &events {
            serde_json::to_writer(&mut out, &JsonLine::from(event))?;
            out.push(b'\n');
        }
        if path.as_os_str() == "-" {
            std::io::stdout().lock().write_all(&out)
        } else {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?
                .write_all(&out)
        }
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot write audit events as JSON lines"),
        Err(e) => tracing::warn!(error = %e, "the JSON-lines audit writer failed"),
    }
}

/// An event as a JSON line: Auth0's field names, with the date as RFC 3339.
#[derive(Serialize)]
struct JsonLine<'a> {
    date: String,
    #[serde(flatten)]
    event: &'a AuditEvent,
}

impl<'a> From<&'a AuditEvent> for JsonLine<'a> {
    fn from(event: &'a AuditEvent) -> Self {
        Self {
            date: crate::clock::rfc3339_ms(event.date_ms),
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::events::{activity_counts, types};

    fn refusal(client: &str, description: &'static str) -> AuditEvent {
        AuditEvent {
            date_ms: 5,
            kind: types::TOKEN_FAILED.into(),
            description: description.into(),
            client_id: Some(client.into()),
            ip: Some("192.0.2.1".into()),
            audience: Some("https://a".into()),
            ..AuditEvent::default()
        }
    }

    #[test]
    fn introspections_are_counted_per_caller_api_and_outcome_within_a_bound() {
        let mut counted = Introspections::default();
        for _ in 0..3 {
            counted.add("gateway", Some("https://a"), 7);
        }
        counted.add("gateway", None, 8);
        for i in 0..MAX_REFUSAL_SOURCES + 5 {
            counted.add(&format!("caller-{i}"), Some("https://b"), 9);
        }
        let shared = Mutex::new(counted);
        let events = take_introspections(&shared, Duration::from_secs(10));
        // 2 pairs of the gateway and 1022 more told apart; 7 callers counted together.
        assert_eq!(events.len(), MAX_REFUSAL_SOURCES + 1);
        let active = events
            .iter()
            .find(|e| e.client_id.as_deref() == Some("gateway") && e.audience.is_some())
            .unwrap();
        assert_eq!(active.count, 3);
        assert_eq!(active.kind, types::INTROSPECTION);
        assert!(
            active.description.contains("(3 times within 10 s)"),
            "{}",
            active.description
        );
        let others = events.iter().find(|e| e.client_id.is_none()).unwrap();
        assert_eq!(others.count, 7);
        assert!(take_introspections(&shared, Duration::from_secs(10)).is_empty());
    }

    async fn log() -> (AuditLog, AuditWriter, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        let (log, writer) = AuditLog::new(
            store,
            Arc::new(crate::clock::SystemClock),
            AuditSettings::default(),
        );
        (log, writer, dir)
    }

    #[tokio::test]
    async fn refusals_from_one_source_are_one_event_with_their_count() {
        let (log, writer, _dir) = log().await;
        for _ in 0..5 {
            log.record(refusal("c1", "wrong secret"));
        }
        log.record(refusal("c2", "wrong secret"));
        log.record(AuditEvent {
            kind: types::TOKEN_ISSUED.into(),
            ..refusal("c1", "issued")
        });
        // Successes are queued one by one, refusals are not.
        assert_eq!(log.stats().depth, 1);
        let mut events = take_refusals(&writer.refusals, Duration::from_secs(10));
        events.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let summary: Vec<(Option<&str>, u64, &str)> = events
            .iter()
            .map(|e| (e.client_id.as_deref(), e.count, e.description.as_ref()))
            .collect();
        assert_eq!(
            summary,
            [
                (Some("c1"), 5, "wrong secret (5 times within 10 s)"),
                (Some("c2"), 1, "wrong secret"),
            ]
        );
        assert_eq!(events[0].audience.as_deref(), Some("https://a"));
        assert!(take_refusals(&writer.refusals, Duration::from_secs(10)).is_empty());
        // The Activity page counts them all under their reason.
        let counts = activity_counts(&events);
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert_eq!(
            (counts[0].reason.as_str(), counts[0].count),
            ("wrong secret", 6)
        );
    }

    #[tokio::test]
    async fn differing_details_give_way_to_the_reason() {
        let (log, writer, _dir) = log().await;
        log.record(refusal("c", r#"Service not found: "https://x""#));
        log.record(AuditEvent {
            audience: Some("https://y".into()),
            ..refusal("c", r#"Service not found: "https://y""#)
        });
        let events = take_refusals(&writer.refusals, Duration::from_secs(10));
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].description,
            r#"Service not found: "…" (2 times within 10 s)"#
        );
        assert_eq!(events[0].audience, None);
    }

    #[tokio::test]
    async fn refusals_from_too_many_sources_are_counted_together() {
        let (log, writer, _dir) = log().await;
        for i in 0..MAX_REFUSAL_SOURCES + 500 {
            log.record(refusal(&format!("random-{i}"), "wrong secret"));
        }
        log.record(AuditEvent {
            kind: types::SIGN_IN_FAILED.into(),
            ..refusal("", "wrong password")
        });
        let events = take_refusals(&writer.refusals, Duration::from_secs(10));
        assert_eq!(events.len(), MAX_REFUSAL_SOURCES + 2);
        let total: u64 = events
            .iter()
            .filter(|e| e.kind == types::TOKEN_FAILED)
            .map(|e| e.count)
            .sum();
        assert_eq!(total, (MAX_REFUSAL_SOURCES + 500) as u64);
        let others: Vec<&AuditEvent> = events.iter().filter(|e| e.client_id.is_none()).collect();
        assert_eq!(others.len(), 2, "one catch-all per type");
        assert!(
            others
                .iter()
                .any(|e| e.kind == types::TOKEN_FAILED && e.count == 500)
        );
        assert!(
            others
                .iter()
                .any(|e| e.kind == types::SIGN_IN_FAILED && e.count == 1)
        );
    }

    /// The writer running with `batch_delay`, and what stops it.
    async fn running(batch_delay: Duration) -> (AuditLog, watch::Sender<bool>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        let settings = AuditSettings {
            batch_delay,
            ..AuditSettings::default()
        };
        let (log, writer) = AuditLog::new(store, Arc::new(crate::clock::SystemClock), settings);
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(writer.run(stopped));
        (log, stop, dir)
    }

    async fn first_written(log: &AuditLog) -> u64 {
        loop {
            let written = log.stats().written;
            if written > 0 {
                return written;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn issued() -> AuditEvent {
        AuditEvent {
            kind: types::TOKEN_ISSUED.into(),
            ..refusal("c", "Client Credentials for Access Token")
        }
    }

    #[tokio::test]
    async fn a_batch_stays_open_for_events_that_come_after_its_first() {
        let (log, _stop, _dir) = running(Duration::from_secs(2)).await;
        log.record(issued());
        // The writer has taken the first event from the queue: a second one arrives after it.
        while log.stats().depth > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        log.record(issued());
        assert_eq!(first_written(&log).await, 2, "both in the first commit");
    }

    #[tokio::test]
    async fn a_full_batch_is_written_without_waiting() {
        let (log, _stop, _dir) = running(Duration::from_secs(600)).await;
        for _ in 0..BATCH {
            log.record(issued());
        }
        // Long before the delay: a full batch waits for nothing.
        let written = tokio::time::timeout(Duration::from_secs(60), first_written(&log))
            .await
            .unwrap();
        assert_eq!(written, BATCH as u64);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        let settings = AuditSettings {
            queue_capacity: 2,
            ..AuditSettings::default()
        };
        // No writer runs: the queue fills.
        let (log, _writer) = AuditLog::new(store, Arc::new(crate::clock::SystemClock), settings);
        for _ in 0..5 {
            log.record(AuditEvent::default());
        }
        let stats = log.stats();
        assert_eq!((stats.depth, stats.dropped), (2, 3));
    }
}
