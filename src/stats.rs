//! The counters behind `getStats()` (SPEC §10). Plain relaxed atomics: each is an independent
//! tally, read together only for a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Stats {
    /// Emitter calls accepted (after validation).
    pub events_emitted: AtomicU64,
    /// `batch` packets sent (one per flushed target).
    pub batches_sent: AtomicU64,
    /// Packets put into client queues (one per recipient socket).
    pub packets_sent: AtomicU64,
    /// Events some client did not get because its queue was full (one per event per socket).
    pub events_dropped: AtomicU64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Packets received from clients (events of our protocol and custom ones).
    pub client_packets: AtomicU64,
    /// Client requests refused (bad room, too many rooms, bad payload).
    pub client_errors: AtomicU64,
    /// Sockets disconnected by the stale sweep.
    pub sockets_swept: AtomicU64,
    /// Streams recovered in full by `recover` requests, and the events replayed.
    pub recoveries: AtomicU64,
    pub events_replayed: AtomicU64,
    /// Streams a `recover` request asked for that history no longer covered.
    pub recovery_misses: AtomicU64,
    /// `emitToSocket` acks received, and emits rejected after their retries.
    pub acks_received: AtomicU64,
    pub ack_timeouts: AtomicU64,
    /// Client packets dropped by the per-socket rate limit.
    pub packets_rate_limited: AtomicU64,
    /// Sockets disconnected for flooding.
    pub sockets_rate_limited: AtomicU64,
    /// Connections refused as `unauthorized`.
    pub auth_failures: AtomicU64,
    /// Requests refused for their `Origin` (403).
    pub origin_refusals: AtomicU64,
    /// Handshakes refused by the per-address limits (429).
    pub connections_rate_limited: AtomicU64,
    /// Joins refused with `FORBIDDEN`.
    pub joins_forbidden: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
