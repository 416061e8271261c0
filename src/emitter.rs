//! `createEmitter({ redis })`: emitting from a process that runs no hub (a worker, a cron job, a
//! CLI). An emitter is a hub without an HTTP listener and without clients: a socketioxide
//! instance on the same Redis adapter and [`crate::cluster::Bus`] as the hubs, the same
//! [`Dispatcher`] (so events are validated, numbered with the cluster's Lua stamp, stored in the
//! shared history and batched exactly as a hub does), whose broadcasts reach the clients of
//! every hub through Redis.
//!
//! Redis unreachable: the emitter has nobody to deliver to locally, so while Redis is known to
//! be away its emitters throw `ERR_REDIS_UNAVAILABLE` (nothing is queued). An event accepted
//! just before Redis was found gone is dropped by the dispatcher and counted in
//! `stats().eventsDropped`. The watchdog reconnects with backoff, as a hub's does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::{Cluster, Io, RedisHealth, Socket};
use crate::dispatch::{Dispatcher, Emit, Queue, Shared};
use crate::error::{ErrorCode, HubError, HubResult};
use crate::history::Streams;
use crate::options::{HubConfig, RedisConfig};
use crate::presence::Presence;
use crate::stats::Stats;
use crate::validate::{describe, EventKind};

/// Options of `createEmitter`: `redis` (required) and the hub options that shape what is sent.
/// `history` and `batch` should be the hubs' (history's `maxEvents` caps the shared streams).
const KNOWN: &[&str] = &["redis", "history", "batch", "maxPayloadBytes"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitterConfig {
    pub redis: RedisConfig,
    /// The hub options that apply (`history`, `batch`, `maxPayloadBytes`); the rest unused.
    pub hub: HubConfig,
}

impl EmitterConfig {
    pub fn from_json(value: &Value) -> HubResult<EmitterConfig> {
        let Value::Object(obj) = value else {
            return Err(HubError::options(format!(
                "options: expected an object {{ redis: {{ url, prefix? }}, history?, batch?, \
                 maxPayloadBytes? }}, got {}",
                describe(value)
            )));
        };
        if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(HubError::options(format!(
                "unknown option '{k}'; known options: {}",
                KNOWN.join(", ")
            )));
        }
        let hub = HubConfig::from_json(Some(value))?;
        let redis = hub
            .redis
            .clone()
            .ok_or_else(|| HubError::options("redis: expected { url, prefix? }, got nothing"))?;
        Ok(EmitterConfig { redis, hub })
    }
}

/// What `emitter.stats()` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitterStats {
    pub events_emitted: u64,
    pub batches_sent: u64,
    /// Events accepted but never published: Redis could not number them.
    pub events_dropped: u64,
    /// Calls refused with `ERR_REDIS_UNAVAILABLE`.
    pub events_refused: u64,
    pub events_queued: u64,
    pub redis: RedisHealth,
}

pub struct Emitter {
    cfg: EmitterConfig,
    cluster: Arc<Cluster>,
    queue: Queue,
    stats: Arc<Stats>,
    refused: AtomicU64,
    /// Set until the first Redis probe answered or failed: emits wait in the queue meanwhile.
    starting: Arc<AtomicBool>,
    closed: AtomicBool,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    /// Keeps the socketioxide instance (and its adapter's subscriptions) until close.
    io: Mutex<Option<Io>>,
}

impl Emitter {
    /// Builds the emitter and starts its tasks on the current tokio runtime. Returns at once:
    /// connecting to Redis happens in the background (emits made meanwhile are queued).
    pub fn start(cfg: EmitterConfig) -> HubResult<Arc<Emitter>> {
        let cluster = Cluster::new(&cfg.redis, cfg.hub.history.clone())?;
        let stats = Arc::new(Stats::default());
        let epoch: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        let (_svc, io) = socketioxide::SocketIo::builder()
            .with_adapter::<crate::cluster::Adapter>(
                socketioxide_redis::RedisAdapterCtr::new_with_driver(
                    cluster.bus(),
                    socketioxide_redis::RedisAdapterConfig::default()
                        .with_prefix(cfg.redis.prefix.clone()),
                ),
            )
            .build_svc();
        let (dispatcher, queue) = Dispatcher::new(
            io.clone(),
            &cfg.hub.batch,
            Shared {
                presence: Arc::new(Presence::default()),
                stats: stats.clone(),
                held: Arc::new(AtomicU64::new(0)),
                streams: Arc::new(parking_lot::Mutex::new(Streams::new(
                    cfg.hub.history.clone(),
                ))),
                epoch,
                cluster: Some(cluster.clone()),
                local_fallback: false,
            },
        );
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let starting = Arc::new(AtomicBool::new(true));
        {
            let (cluster, io, shutdown, starting, tracker) = (
                cluster.clone(),
                io.clone(),
                shutdown.clone(),
                starting.clone(),
                tasks.clone(),
            );
            let url = cfg.redis.url.clone();
            tasks.spawn(async move {
                if !cluster.probe().await {
                    eprintln!(
                        "nself-realtime: emitter: Redis at {url} does not answer; emits throw \
                         ERR_REDIS_UNAVAILABLE until it does"
                    );
                }
                starting.store(false, Ordering::Release);
                // The adapter subscribes its channels here (our driver never fails).
                if let Err(e) = io.ns("/", async |_: Socket| {}).await {
                    eprintln!("nself-realtime: emitter: namespace /: {e}");
                }
                tracker.spawn(cluster.watch(None, shutdown.clone()));
                dispatcher.run(shutdown).await;
            });
        }
        Ok(Arc::new(Emitter {
            cfg,
            cluster,
            queue,
            stats,
            refused: AtomicU64::new(0),
            starting,
            closed: AtomicBool::new(false),
            shutdown,
            tasks,
            io: Mutex::new(Some(io)),
        }))
    }

    pub fn emit_typed(
        &self,
        kind: EventKind,
        data_json: &str,
        room: Option<&str>,
    ) -> HubResult<()> {
        let max = self.cfg.hub.max_payload_bytes;
        self.enqueue(Emit::typed(kind, data_json, room, max)?)
    }

    pub fn emit_custom(&self, event: &str, data_json: &str, room: Option<&str>) -> HubResult<()> {
        let max = self.cfg.hub.max_payload_bytes;
        self.enqueue(Emit::custom(event, data_json, room, max)?)
    }

    fn enqueue(&self, emit: Emit) -> HubResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let up = self.starting.load(Ordering::Acquire) || self.cluster.health().connected();
        if !up {
            self.refused.fetch_add(1, Ordering::Relaxed);
            let last = self.cluster.health().snapshot().last_error;
            return Err(HubError::new(
                ErrorCode::RedisUnavailable,
                format!(
                    "Redis at {} does not answer ({}); the event was not sent",
                    self.cfg.redis.url,
                    last.as_deref().unwrap_or("no answer")
                ),
            ));
        }
        if !self.queue.push(emit) {
            return Err(closed());
        }
        Stats::add(&self.stats.events_emitted, 1);
        Ok(())
    }

    /// Publishes everything emitted so far (pending batches included), then stops. Emitters
    /// throw `ERR_EMITTER_CLOSED` from the moment it is called. Idempotent.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.queue.flush().await;
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.io.lock().take();
        self.cluster.unsubscribe_all().await;
    }

    pub fn stats(&self) -> EmitterStats {
        EmitterStats {
            events_emitted: Stats::get(&self.stats.events_emitted),
            batches_sent: Stats::get(&self.stats.batches_sent),
            events_dropped: Stats::get(&self.stats.events_dropped),
            events_refused: self.refused.load(Ordering::Relaxed),
            events_queued: self.queue.len(),
            redis: self.cluster.health().snapshot(),
        }
    }
}

fn closed() -> HubError {
    HubError::new(
        ErrorCode::EmitterClosed,
        "this emitter was closed: create another one (nothing was sent)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_need_redis_and_take_only_what_an_emitter_uses() {
        let ok = EmitterConfig::from_json(&serde_json::json!({
            "redis": { "url": "redis://127.0.0.1:1", "prefix": "p" },
            "history": { "maxEvents": 10 },
        }))
        .expect("valid");
        assert_eq!(ok.redis.prefix, "p");
        assert_eq!(ok.hub.history.max_events, 10);
        for (bad, names) in [
            (serde_json::json!({}), "redis"),
            (
                serde_json::json!({ "redis": { "url": "http://x" } }),
                "redis.url",
            ),
            (
                serde_json::json!({ "redis": { "url": "redis://x" }, "port": 1 }),
                "port",
            ),
            (serde_json::json!("redis://x"), "options"),
        ] {
            let e = EmitterConfig::from_json(&bad).expect_err("invalid");
            assert_eq!(e.code, ErrorCode::InvalidOptions);
            assert!(
                e.message.contains(names),
                "{} should name {names}",
                e.message
            );
        }
    }
}
