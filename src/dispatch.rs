//! The one task that turns queued emits into Socket.IO packets. Emitters on the JS thread only
//! validate and enqueue; this task drains the queue in call order, lets the [`Batcher`] decide
//! what goes out now, and broadcasts it through socketioxide. One queue and one task is what makes
//! per-target order hold.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::value::RawValue;
use socketioxide::{BroadcastError, SocketError};

use crate::cluster::{Cluster, Io as SocketIo};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::batch::{Batcher, Outgoing, Target};
use crate::clock::{now_ms, with_now_iso8601};
use crate::compact;
use crate::envelope;
use crate::error::{ErrorCode, HubError, HubResult};
use crate::history::Streams;
use crate::options::{BatchConfig, BatchFormat};
use crate::presence::Presence;
use crate::stats::Stats;
use crate::validate::{check_custom_event_name, check_room, EventKind};

/// One accepted emit, already validated and wrapped in its envelope, all but `seq` and `epoch`
/// ([`envelope::open`]): the dispatcher numbers it when it takes it off the queue.
pub struct Emit {
    pub target: Target,
    pub event: Cow<'static, str>,
    pub envelope: String,
}

impl Emit {
    /// Validates one of the six typed events (SPEC §4) for `room` (or everyone) and opens its
    /// envelope. Shared by the hub's emitters and [`crate::emitter`], so both refuse alike.
    pub fn typed(
        kind: EventKind,
        data_json: &str,
        room: Option<&str>,
        max_payload_bytes: usize,
    ) -> HubResult<Emit> {
        check_target(room, data_json, max_payload_bytes)?;
        kind.validate(&crate::json::parse(data_json).map_err(invalid_json)?)?;
        Ok(Emit::open(Cow::Borrowed(kind.name()), data_json, room))
    }

    /// Validates a custom event; one of the typed names gets that type's validation.
    pub fn custom(
        event: &str,
        data_json: &str,
        room: Option<&str>,
        max_payload_bytes: usize,
    ) -> HubResult<Emit> {
        if let Some(kind) = EventKind::from_name(event) {
            return Emit::typed(kind, data_json, room, max_payload_bytes);
        }
        check_custom_event_name(event)?;
        check_target(room, data_json, max_payload_bytes)?;
        check_json(data_json)?;
        Ok(Emit::open(Cow::Owned(event.to_string()), data_json, room))
    }

    fn open(event: Cow<'static, str>, data_json: &str, room: Option<&str>) -> Emit {
        Emit {
            target: room.map_or(Target::All, |r| Target::Room(r.into())),
            envelope: with_now_iso8601(|ts| envelope::open(&event, data_json, ts, room)),
            event,
        }
    }
}

/// The room name (SPEC §5) and the payload size (`maxPayloadBytes`).
pub fn check_target(
    room: Option<&str>,
    data_json: &str,
    max_payload_bytes: usize,
) -> HubResult<()> {
    if let Some(room) = room {
        check_room(room)?;
    }
    if data_json.len() > max_payload_bytes {
        return Err(HubError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "data: expected at most maxPayloadBytes ({max_payload_bytes}) bytes of JSON, got {}",
                data_json.len()
            ),
        ));
    }
    Ok(())
}

/// Checks that a custom event's payload is JSON, without building anything from it.
pub fn check_json(data_json: &str) -> HubResult<()> {
    serde_json::from_str::<serde::de::IgnoredAny>(data_json)
        .map(drop)
        .map_err(invalid_json)
}

fn invalid_json(e: serde_json::Error) -> HubError {
    HubError::event(format!("data: expected JSON, got invalid JSON ({e})"))
}

pub enum Command {
    Emit(Emit),
    /// Send every pending batch and everything queued before this, then answer.
    Flush(oneshot::Sender<()>),
}

/// The sending half, held by the hub. Unbounded on purpose: an emitter must never block the JS
/// thread, and the queue drains at socketioxide speed (millions of packets per second), so it
/// only grows when the process is already overloaded; `queued` makes that visible in stats.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Command>,
    queued: Arc<AtomicU64>,
}

impl Queue {
    /// Enqueues an emit; `false` if the dispatcher is gone (the hub is stopping).
    pub fn push(&self, emit: Emit) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let ok = self.tx.send(Command::Emit(emit)).is_ok();
        if !ok {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }

    /// Waits until everything enqueued so far, pending batches included, was sent.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Flush(tx)).is_ok() {
            rx.await.ok();
        }
    }

    /// Emits waiting in the queue.
    pub fn len(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct Dispatcher {
    io: SocketIo,
    batcher: Batcher,
    /// How `batch` packets are written (`batch.format`).
    format: BatchFormat,
    presence: Arc<Presence>,
    stats: Arc<Stats>,
    queued: Arc<AtomicU64>,
    /// Events waiting in batches, published for `getStats()`.
    held: Arc<AtomicU64>,
    /// Warn once per hub when a client queue overflows: the counter has the details.
    warned_drop: AtomicBool,
    burst: Burst,
    /// Sequence numbers and history per target, shared with the `recover` handler.
    streams: Arc<parking_lot::Mutex<Streams>>,
    epoch: Arc<str>,
    /// With `redis`: numbering and history are the cluster's (the hub's own while Redis is
    /// away), and broadcasts reach every hub.
    cluster: Option<Arc<Cluster>>,
    /// A hub numbers locally while Redis is away (its own clients still get the event); an
    /// emitter has no clients of its own, so an event Redis could not number is dropped and
    /// counted instead.
    local_fallback: bool,
    rx: mpsc::UnboundedReceiver<Command>,
}

/// What the dispatcher works with besides the socket.io handle and the batch rules.
pub struct Shared {
    pub presence: Arc<Presence>,
    pub stats: Arc<Stats>,
    pub held: Arc<AtomicU64>,
    pub streams: Arc<parking_lot::Mutex<Streams>>,
    pub epoch: Arc<str>,
    pub cluster: Option<Arc<Cluster>>,
    /// See [`Dispatcher`]: `true` for a hub, `false` for an emitter.
    pub local_fallback: bool,
}

impl Dispatcher {
    pub fn new(io: SocketIo, cfg: &BatchConfig, shared: Shared) -> (Dispatcher, Queue) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicU64::new(0));
        let dispatcher = Dispatcher {
            io,
            batcher: Batcher::new(cfg),
            format: cfg.format,
            presence: shared.presence,
            stats: shared.stats,
            queued: queued.clone(),
            held: shared.held,
            warned_drop: AtomicBool::new(false),
            burst: Burst::default(),
            streams: shared.streams,
            epoch: shared.epoch,
            cluster: shared.cluster,
            local_fallback: shared.local_fallback,
            rx,
        };
        (dispatcher, Queue { tx, queued })
    }

    /// Runs until `shutdown` (or until every [`Queue`] is dropped), then sends what is still
    /// queued or pending.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut out = Vec::new();
        loop {
            self.linger().await;
            let deadline = self.batcher.next_deadline();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                cmd = self.rx.recv() => match cmd {
                    Some(Command::Emit(e)) => {
                        let now = std::time::Instant::now();
                        self.accept(e, now, &mut out).await;
                        // Under a continuous stream the timer branch may not get a turn.
                        if deadline.is_some_and(|d| d <= now) {
                            self.batcher.flush_due(now, &mut out);
                        }
                    }
                    Some(Command::Flush(done)) => {
                        self.batcher.flush_all(&mut out);
                        self.send_all(&mut out).await;
                        done.send(()).ok();
                        continue;
                    }
                    None => break,
                },
                _ = sleep_until(deadline) => {
                    self.batcher.flush_due(Instant::now().into_std(), &mut out);
                }
            }
            self.send_all(&mut out).await;
        }
        self.rx.close();
        let mut waiting = Vec::new();
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                Command::Emit(e) => self.accept(e, std::time::Instant::now(), &mut out).await,
                Command::Flush(done) => waiting.push(done),
            }
        }
        self.batcher.flush_all(&mut out);
        self.send_all(&mut out).await;
        for done in waiting {
            done.send(()).ok();
        }
    }

    /// Stays awake for a moment when the queue is empty, yielding to the runtime's other tasks:
    /// an emit that comes within it finds the dispatcher running, so the emitting (JS) thread
    /// does not pay a wake-up (a futex syscall) for it. Emits come in bursts (a log stream, a
    /// stats tick), so most of a burst's emits then cost the JS thread no system call.
    ///
    /// Only inside a burst ([`Burst`]): a steady stream of emits further apart than the linger
    /// (1,000 log lines a second) would otherwise burn up to 100 µs of a core after each one, and
    /// pay the wake-up anyway. Only with a second CPU to run on: on one CPU (a 1-CPU container,
    /// or `taskset`), lingering would take that CPU from the JS thread that is about to emit.
    async fn linger(&self) {
        if !*SEVERAL_CPUS || !self.burst.on() || !self.rx.is_empty() {
            return;
        }
        let until = std::time::Instant::now() + LINGER;
        while self.rx.is_empty() && std::time::Instant::now() < until {
            tokio::task::yield_now().await;
        }
    }

    /// Takes one emit off the queue, gives it its target's next `seq` (in call order: this is
    /// the only place that numbers) and hands it to the batcher.
    ///
    /// With `redis`, the number comes from Redis (one round trip; this task awaits it, which
    /// keeps call order), shared by every hub emitting to that target; while Redis is away the
    /// hub numbers under its own epoch, as a single hub does.
    async fn accept(&mut self, e: Emit, now: std::time::Instant, out: &mut Vec<Outgoing>) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        self.burst.arrived(now);
        let open = e.envelope;
        let stamped = match &self.cluster {
            Some(c) => c.stamp(&e.target, &open).await,
            None => None,
        };
        let envelope = match stamped {
            Some((seq, epoch)) => envelope::close(open, seq, &epoch),
            None if !self.local_fallback => {
                Stats::add(&self.stats.events_dropped, 1);
                if !self.warned_drop.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "nself-realtime: emitter: Redis did not answer; events accepted before \
                         that was known are dropped and counted in stats().eventsDropped"
                    );
                }
                return;
            }
            None => {
                let epoch = &self.epoch;
                self.streams
                    .lock()
                    .stamp(&e.target, now_ms(), |seq| envelope::close(open, seq, epoch))
            }
        };
        self.batcher.push(e.target, e.event, envelope, now, out);
    }

    async fn send_all(&mut self, out: &mut Vec<Outgoing>) {
        for packet in out.drain(..) {
            self.send(packet).await;
        }
        self.held
            .store(self.batcher.held() as u64, Ordering::Relaxed);
    }

    async fn send(&self, packet: Outgoing) {
        let events = packet.events() as u64;
        let (target, event, json) = match packet {
            Outgoing::Event {
                target,
                event,
                envelope,
            } => (target, event, envelope),
            Outgoing::Batch { target, envelopes } => {
                Stats::add(&self.stats.batches_sent, 1);
                (
                    target,
                    Cow::Borrowed("batch"),
                    compact::batch(self.format, &envelopes),
                )
            }
        };
        let audience = self.presence.audience(target.room()) as u64;
        let Ok(raw) = RawValue::from_string(json) else {
            // Envelopes are built from validated JSON; this is a bug, but never a silent one.
            Stats::add(&self.stats.events_dropped, events * audience);
            eprintln!("nself-realtime: internal error: an envelope was not valid JSON");
            return;
        };
        // `SocketIo::emit` panics once `close()` took the namespaces away (the final drain of a
        // stopping hub); `of` says so instead.
        let Some(ns) = self.io.of("/") else {
            Stats::add(&self.stats.events_dropped, events * audience);
            return;
        };
        // A single hub skips the adapter's remote half (it would encode every packet for
        // nobody).
        let ns = if self.cluster.is_some() {
            ns
        } else {
            ns.local()
        };
        let result = match target {
            Target::All => ns.emit(&*event, &*raw).await,
            Target::Room(room) => ns.to(room.to_string()).emit(&*event, &*raw).await,
        };
        let failed = match result {
            Ok(()) => 0,
            Err(BroadcastError::Socket(errors)) => {
                let full = errors
                    .iter()
                    .filter(|e| matches!(e, SocketError::InternalChannelFull))
                    .count() as u64;
                if full > 0 {
                    Stats::add(&self.stats.events_dropped, full * events);
                    if !self.warned_drop.swap(true, Ordering::Relaxed) {
                        eprintln!(
                            "nself-realtime: a client's queue is full (maxQueuedPackets); events \
                             to it are dropped and counted in getStats().eventsDropped"
                        );
                    }
                }
                errors.len() as u64
            }
            Err(e) => {
                Stats::add(&self.stats.events_dropped, events * audience);
                eprintln!("nself-realtime: broadcast failed: {e}");
                audience
            }
        };
        Stats::add(&self.stats.packets_sent, audience.saturating_sub(failed));
    }
}

/// Whether this process may run on more than one CPU (affinity included).
/// How long the dispatcher stays awake after an emit inside a burst ([`Dispatcher::linger`]).
const LINGER: std::time::Duration = std::time::Duration::from_micros(100);

/// Whether emits are coming in a burst: the last two arrived within [`LINGER`] of each other.
#[derive(Default)]
struct Burst {
    last: Option<std::time::Instant>,
    on: bool,
}

impl Burst {
    fn arrived(&mut self, now: std::time::Instant) {
        self.on = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < LINGER);
        self.last = Some(now);
    }

    fn on(&self) -> bool {
        self.on
    }
}

static SEVERAL_CPUS: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1));

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_burst_is_two_emits_within_the_linger() {
        let t0 = Instant::now();
        let mut b = Burst::default();
        assert!(!b.on());
        b.arrived(t0);
        assert!(!b.on(), "a first emit is no burst");
        b.arrived(t0 + Duration::from_micros(10));
        assert!(b.on());
        b.arrived(t0 + Duration::from_micros(20));
        assert!(b.on());
        // A steady stream 1 ms apart (1,000 log lines a second): no lingering after any of them.
        for i in 1..5 {
            b.arrived(t0 + Duration::from_millis(i));
            assert!(!b.on());
        }
    }
}
