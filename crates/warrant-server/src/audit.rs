//! The audit log: who got which token, who failed and why, who changed what.
//!
//! Handlers hand events to [`AuditLog::record`], which never waits: events go into a bounded
//! queue, and when it is full they are counted as dropped instead of slowing issuance down. One
//! background task drains the queue in batches into storage (one transaction per batch),
//! optionally copies them as JSON lines to stdout or a file for a log shipper, and prunes old
//! events by age and count. Events never carry a secret or a token: only the token's `jti`.
//!
//! Refusals ([`is_refusal`]: failed token exchanges, throttled requests among them, failed
//! management operations and sign-ins) are what unauthenticated traffic can produce at will, so
//! they are not written one by one: they are counted per type, client ID, address and reason,
//! and written as one event per such source with its `count` once an interval
//! ([`AuditSettings::refusal_interval`]). At most [`MAX_REFUSAL_SOURCES`] sources are told
//! apart per interval; refusals from further ones are counted in one catch-all event per type.
//! The count limit of the log applies to token traffic and, apart, to refusals of
//! unauthenticated management and sign-in requests; never to [`ALWAYS_KEPT`]: what
//! authenticated administrators did is never pushed out by traffic, only pruned by age.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::store::Store;

/// Auth0's event type codes, for the events Warrant produces.
pub mod types {
    /// Success Exchange: client credentials for an access token.
    pub const TOKEN_ISSUED: &str = "seccft";
    /// Failed Exchange: client credentials for an access token.
    pub const TOKEN_FAILED: &str = "feccft";
    /// Success API Operation (management API).
    pub const MANAGEMENT_OK: &str = "sapi";
    /// Failed API Operation (management API).
    pub const MANAGEMENT_FAILED: &str = "fapi";
    /// A client reached its token quota.
    pub const QUOTA_REACHED: &str = "api_limit";
    /// A client is close to its token quota.
    pub const QUOTA_WARNING: &str = "api_limit_warning";
    /// Success Login (a dashboard administrator signed in).
    pub const SIGN_IN_OK: &str = "s";
    /// Failed Login.
    pub const SIGN_IN_FAILED: &str = "f";
    /// Success Logout.
    pub const SIGN_OUT: &str = "slo";
}

/// An aggregated refusal's description: what the refusals were, and how many in how long.
fn with_count(description: &str, count: u64, interval: Duration) -> String {
    format!(
        "{description} ({count} times within {} s)",
        interval.as_secs().max(1)
    )
}

/// A description without the count [`with_count`] added, if any.
fn without_count(description: &str) -> &str {
    let Some(open) = description.rfind(" (") else {
        return description;
    };
    let tail = &description[open + 2..];
    let counted = tail
        .strip_suffix(" s)")
        .and_then(|t| t.split_once(" times within "))
        .is_some_and(|(n, secs)| {
            [n, secs]
                .iter()
                .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        });
    if counted {
        &description[..open]
    } else {
        description
    }
}

/// Whether events of this type are refusals, aggregated before they are written.
pub fn is_refusal(kind: &str) -> bool {
    matches!(
        kind,
        types::TOKEN_FAILED | types::MANAGEMENT_FAILED | types::SIGN_IN_FAILED
    )
}

/// Event types the count limit never prunes (only age does): management writes, sign-ins and
/// sign-outs, which need an administrator's credentials. So are failed management operations
/// of an authenticated caller (`fapi` with a client ID).
///
/// The rest is what anyone can send, so it is bounded by `max_events`, in two parts: token
/// traffic (token exchanges, quota events; an event goes once `max_events` newer events of any
/// type were written), and the refusals of unauthenticated requests of [`DASHBOARD_REFUSALS`]
/// (an event goes once `max_events` events of any type were written after the newest such
/// refusal: token traffic alone never evicts them, and a flood of them evicts only older ones).
pub const ALWAYS_KEPT: [&str; 3] = [types::MANAGEMENT_OK, types::SIGN_IN_OK, types::SIGN_OUT];

/// Failed sign-ins, and failed management operations without an authenticated caller: kept
/// apart from token traffic by the count limit ([`ALWAYS_KEPT`]).
pub const DASHBOARD_REFUSALS: [&str; 2] = [types::SIGN_IN_FAILED, types::MANAGEMENT_FAILED];

/// How many refusal sources (type, client ID, address, reason) are told apart per interval;
/// refusals from more are counted together. Bounds the aggregation's memory (a few MiB).
pub const MAX_REFUSAL_SOURCES: usize = 1024;

/// The longest description an aggregated refusal keeps (a management path is the caller's).
const MAX_REFUSAL_DESCRIPTION: usize = 1024;

/// How many token requests of one kind fell into one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    /// `seccft` (true) or `feccft`.
    pub issued: bool,
    /// Empty for refusals, and when the request named none.
    pub client_id: String,
    pub audience: String,
    /// Why a request was refused ([`failure_reason`]); empty for issued tokens.
    pub reason: String,
    pub bucket_start_ms: u64,
    pub count: u64,
}

/// Token activity is counted in buckets this long (five minutes); the Activity page's buckets
/// are multiples of it.
pub const ACTIVITY_BUCKET_MS: u64 = 300_000;

/// A refusal's description as a reason to group by: quoted input (an unknown audience, say) is
/// replaced by `"…"`, so that attackers sending random values add no new reasons, and an
/// aggregated event's count ([`with_count`]) is left out.
pub fn failure_reason(description: &str) -> String {
    let description = without_count(description);
    let mut out = String::with_capacity(description.len().min(200));
    let mut chars = description.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            out.push_str("\"…\"");
            while let Some(q) = chars.next() {
                match q {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            // A cut-short quote ends with an ellipsis of its own.
            if chars.as_str().starts_with('…') {
                chars.next();
            }
        } else {
            out.push(c);
        }
        if out.len() >= 200 {
            break;
        }
    }
    out
}

/// The token requests among `events`, counted per bucket: issued tokens per client and
/// audience, refusals per reason.
pub fn activity_counts(events: &[AuditEvent]) -> Vec<ActivityCount> {
    let mut counts: std::collections::HashMap<(u64, &str, &str, bool, String), u64> =
        std::collections::HashMap::new();
    for e in events {
        let issued = match e.kind.as_ref() {
            types::TOKEN_ISSUED => true,
            types::TOKEN_FAILED => false,
            _ => continue,
        };
        // Refusals count by reason alone: their client IDs and audiences are whatever was
        // sent, and random ones must not multiply the rows.
        let (client, audience, reason) = if issued {
            (
                e.client_id.as_deref().unwrap_or(""),
                e.audience.as_deref().unwrap_or(""),
                String::new(),
            )
        } else {
            ("", "", failure_reason(&e.description))
        };
        let key = (
            e.date_ms - e.date_ms % ACTIVITY_BUCKET_MS,
            client,
            audience,
            issued,
            reason,
        );
        *counts.entry(key).or_default() += e.count;
    }
    counts
        .into_iter()
        .map(
            |((bucket_start_ms, client_id, audience, issued, reason), count)| ActivityCount {
                issued,
                client_id: client_id.to_owned(),
                audience: audience.to_owned(),
                reason,
                bucket_start_ms,
                count,
            },
        )
        .collect()
}

/// One event. Every field but the type is optional, as in Auth0's logs. The type and the
/// description are usually constants: borrowed, they cost issuance no allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub date_ms: u64,
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    pub description: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// How many requests the event stands for: more than one for aggregated refusals.
    #[serde(skip_serializing_if = "is_one")]
    pub count: u64,
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

impl Default for AuditEvent {
    fn default() -> Self {
        Self {
            date_ms: 0,
            kind: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
            client_id: None,
            audience: None,
            scope: None,
            ip: None,
            user_agent: None,
            jti: None,
            count: 1,
        }
    }
}

/// A stored event, with the sequence number storage gave it (its `log_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: AuditEvent,
}

impl StoredEvent {
    /// The event as Auth0's log API shows it.
    pub fn to_json(&self) -> serde_json::Value {
        let e = &self.event;
        let mut v = serde_json::json!({
            "log_id": self.seq.to_string(),
            "date": crate::clock::rfc3339_ms(e.date_ms),
            "type": e.kind,
            "description": e.description,
        });
        for (key, value) in [
            ("client_id", &e.client_id),
            ("audience", &e.audience),
            ("scope", &e.scope),
            ("ip", &e.ip),
            ("user_agent", &e.user_agent),
        ] {
            if let Some(value) = value {
                v[key] = serde_json::json!(value);
            }
        }
        if let Some(jti) = &e.jti {
            v["details"]["jti"] = serde_json::json!(jti);
        }
        if e.count != 1 {
            v["details"]["count"] = serde_json::json!(e.count);
        }
        v
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub client_id: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
    /// Only events after this `log_id` (Auth0's checkpoint paging), oldest first.
    pub after_seq: Option<i64>,
    pub limit: u32,
    pub offset: u32,
}

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
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            retention: Duration::from_secs(30 * 24 * 3600),
            max_events: 10_000_000,
            json_lines: None,
            refusal_interval: Duration::from_secs(10),
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
const BATCH: usize = 512;

impl AuditLog {
    /// The log and the writer task that must be spawned to drain it.
    pub fn new(store: Store, settings: AuditSettings) -> (Self, AuditWriter) {
        let capacity = settings.queue_capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let written = Arc::new(AtomicU64::new(0));
        let refusals = Arc::new(Mutex::new(Refusals::default()));
        let log = Self {
            queue: tx,
            capacity,
            dropped: AtomicU64::new(0),
            written: Arc::clone(&written),
            refusals: Arc::clone(&refusals),
        };
        let writer = AuditWriter {
            store,
            rx,
            settings,
            written,
            refusals,
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
    rx: mpsc::Receiver<AuditEvent>,
    settings: AuditSettings,
    written: Arc<AtomicU64>,
    refusals: Arc<Mutex<Refusals>>,
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
                    self.write(&mut batch, &stop).await;
                }
                _ = refusals.tick() => self.write_refusals(&stop).await,
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

    /// Writes the refusals counted so far: at most [`MAX_REFUSAL_SOURCES`] events and one per
    /// type, in one transaction.
    async fn write_refusals(&self, stop: &watch::Receiver<bool>) {
        let mut events = take_refusals(&self.refusals, self.settings.refusal_interval);
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
        let now_ms = crate::clock::now_ms();
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

    #[test]
    fn reasons_lose_the_echoed_input() {
        assert_eq!(
            failure_reason(r#"Service not found: "https://random-1""#),
            r#"Service not found: "…""#
        );
        assert_eq!(
            failure_reason(r#"scope "a\"b" is not granted for "x"…"#),
            r#"scope "…" is not granted for "…""#
        );
        assert_eq!(failure_reason("wrong secret"), "wrong secret");
        // An aggregated event's count is not part of its reason.
        assert_eq!(
            failure_reason(&with_count(r#"scope "x" (a)"#, 12, Duration::from_secs(10))),
            r#"scope "…" (a)"#
        );
        assert_eq!(failure_reason("POST /x (409)"), "POST /x (409)");
        assert!(failure_reason(&"x".repeat(1000)).len() <= 200);
    }

    #[test]
    fn token_events_are_counted_per_bucket_and_reason() {
        let event = |date_ms, kind: &'static str, client: &str, description: &str| AuditEvent {
            date_ms,
            kind: kind.into(),
            description: description.to_owned().into(),
            client_id: Some(client.into()),
            audience: Some("https://a".into()),
            ..AuditEvent::default()
        };
        let mut counts = activity_counts(&[
            event(1, "seccft", "c1", "x"),
            event(299_999, "seccft", "c1", "y"),
            event(300_000, "seccft", "c1", "x"),
            event(300_001, "feccft", "c1", r#"unknown audience "a""#),
            event(300_002, "feccft", "c1", r#"unknown audience "b""#),
            event(300_003, "sapi", "c1", "not a token request"),
        ]);
        counts.sort_by_key(|c| (c.bucket_start_ms, c.issued));
        let summary: Vec<(u64, bool, &str, u64)> = counts
            .iter()
            .map(|c| (c.bucket_start_ms, c.issued, c.reason.as_str(), c.count))
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, "", 2),
                (300_000, false, r#"unknown audience "…""#, 2),
                (300_000, true, "", 1),
            ]
        );
    }

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

    async fn log() -> (AuditLog, AuditWriter, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        let (log, writer) = AuditLog::new(store, AuditSettings::default());
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

    #[test]
    fn counts_show_in_the_logs_api() {
        let stored = StoredEvent {
            seq: 1,
            event: AuditEvent {
                count: 3,
                jti: Some("j".into()),
                ..refusal("c", "wrong secret")
            },
        };
        let json = stored.to_json();
        assert_eq!(json["details"], serde_json::json!({"jti": "j", "count": 3}));
        let single = StoredEvent {
            seq: 2,
            event: refusal("c", "wrong secret"),
        };
        assert!(single.to_json().get("details").is_none());
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
        let (log, _writer) = AuditLog::new(store, settings);
        for _ in 0..5 {
            log.record(AuditEvent::default());
        }
        let stats = log.stats();
        assert_eq!((stats.depth, stats.dropped), (2, 3));
    }
}
