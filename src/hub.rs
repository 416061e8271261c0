//! Hub lifecycle and the emit entry point. At most one hub runs per process; emitters find it
//! through [`running`]. Start binds before it returns; stop follows the mini-redis pattern: a
//! shutdown token reaches the accept loop, every connection, the dispatcher and the sweeper, and a
//! task tracker says when all of them finished.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use serde_json::Value;
use socketioxide::handler::ConnectHandler;
use socketioxide::{ParserConfig, TransportType};

use crate::cluster::{Bus, Cluster, Io as SocketIo, Socket as SocketRef};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Hooks;
use crate::clock::{iso8601, now_ms};
use crate::dispatch::{Dispatcher, Emit, Queue, Shared};
use crate::envelope;
use crate::error::{ErrorCode, HubError, HubResult};
use crate::history::Streams;
use crate::metrics;
use crate::options::{HubConfig, Transports};
use crate::origin::OriginPolicy;
use crate::presence::{Presence, PresenceInfo};
use crate::ratelimit::IpLimiter;
use crate::rooms::{self, Ctx};
use crate::server::{self, Gate, GateService};
use crate::stats::Stats;
use crate::validate::{check_room, EventKind};

/// What `startHub` resolves to (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubInfo {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub url: String,
    pub started_at: String,
    /// A random id of this start: clients tell a restarted hub from a reconnect.
    pub epoch: String,
}

/// `getStats()` (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubStats {
    pub connections: u64,
    pub connections_total: u64,
    pub websocket_connections: u64,
    pub polling_connections: u64,
    pub rooms: u64,
    pub events_emitted: u64,
    pub batches_sent: u64,
    pub packets_sent: u64,
    pub events_dropped: u64,
    pub events_queued: u64,
    pub events_in_batches: u64,
    pub client_packets: u64,
    pub client_errors: u64,
    pub sockets_swept: u64,
    /// Streams a `recover` request got back in full, and the events it replayed.
    pub recoveries: u64,
    pub events_replayed: u64,
    /// Streams a `recover` request could not get back (history evicted, another epoch).
    pub recovery_misses: u64,
    /// Events held in history for recovery, over all targets.
    pub history_events: u64,
    /// Acknowledged targeted emits (`emitToSocket`): resolved, and rejected after the retries.
    pub acks_received: u64,
    pub ack_timeouts: u64,
    /// Per connected socket that missed events while connected (its queue overflowed), as its
    /// client reported when it recovered them: `(socketId, events)`.
    pub dropped_by_socket: Vec<(String, u64)>,
    pub packets_rate_limited: u64,
    pub sockets_rate_limited: u64,
    pub auth_failures: u64,
    pub origin_refusals: u64,
    pub connections_rate_limited: u64,
    pub joins_forbidden: u64,
    pub started_at: String,
    pub uptime_ms: u64,
    /// With `redis`: the whole cluster as this hub sees it.
    pub cluster: Option<ClusterStats>,
}

/// The cluster part of `getStats()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStats {
    /// Hubs alive (this one included).
    pub hubs: u64,
    /// Sockets on every hub.
    pub connections: u64,
    /// Rooms with members on any hub.
    pub rooms: u64,
    pub redis: crate::cluster::RedisHealth,
}

/// One running hub.
pub struct Hub {
    cfg: Arc<HubConfig>,
    /// The link to the other hubs (`redis` option).
    cluster: Option<Arc<Cluster>>,
    info: HubInfo,
    io: SocketIo,
    queue: Queue,
    presence: Arc<Presence>,
    stats: Arc<Stats>,
    /// Events waiting in batches, published by the dispatcher.
    held: Arc<AtomicU64>,
    streams: Arc<parking_lot::Mutex<Streams>>,
    gate: Arc<Gate>,
    /// Tells the accept loop, connections and the sweeper to stop.
    shutdown: CancellationToken,
    /// Drops every connection still open once stop has waited long enough.
    kill: CancellationToken,
    /// Accept loop, connections, dispatcher and sweeper: stop waits for all of them.
    tasks: TaskTracker,
    started: Instant,
    started_at_ms: u64,
}

/// The WebSocket read buffer of each connection (engineioxide's default: 4 KiB). Every idle
/// connection holds one, filled with zeros up to its size by the first read; our clients send
/// small packets (joins, heartbeats), and a larger frame grows the buffer to its length, so a
/// small one only costs a few more reads for large packets.
const WS_READ_BUFFER: usize = 1024;

/// How long connections get to finish writing once everything was delivered and closed.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// The hub emitters use. A `parking_lot::RwLock` because the hot path (every emit) only reads
/// it, for a few nanoseconds, and writers are rare (start and stop).
static RUNNING: RwLock<Option<Arc<Hub>>> = RwLock::new(None);

/// Serialises start and stop, which await (bind, drain) and must not interleave.
static LIFECYCLE: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// The running hub, or `ERR_HUB_NOT_RUNNING`.
pub fn running() -> HubResult<Arc<Hub>> {
    RUNNING.read().clone().ok_or_else(HubError::not_running)
}

/// The running hub's info, if any.
pub fn info() -> Option<HubInfo> {
    RUNNING.read().as_ref().map(|h| h.info.clone())
}

/// Starts a hub, or returns the running one if it has the same options.
/// Must be called inside the hub's tokio runtime.
pub async fn start(cfg: HubConfig, hooks: Hooks) -> HubResult<HubInfo> {
    let _lifecycle = LIFECYCLE.lock().await;
    if let Some(hub) = RUNNING.read().as_ref() {
        return if *hub.cfg == cfg {
            Ok(hub.info.clone())
        } else {
            Err(HubError::new(
                ErrorCode::HubRunning,
                format!(
                    "a hub is already running at {} with other options ({}); call stopHub() \
                     first to restart it with new ones",
                    hub.info.url,
                    hub.cfg.differences(&cfg).join(", ")
                ),
            ))
        };
    }
    let hub = Hub::start(cfg, hooks).await?;
    let info = hub.info.clone();
    *RUNNING.write() = Some(hub);
    Ok(info)
}

/// Takes the running hub out of service at once: from here on emitters get
/// `ERR_HUB_NOT_RUNNING`, so that "everything emitted before stop" is well defined.
pub fn begin_stop() -> Option<Arc<Hub>> {
    RUNNING.write().take()
}

/// Finishes a stop started by [`begin_stop`] (or stops a hub whose start was still under way).
pub async fn finish_stop(hub: Option<Arc<Hub>>, timeout: Duration) {
    let _lifecycle = LIFECYCLE.lock().await;
    if let Some(hub) = hub.or_else(begin_stop) {
        hub.stop(timeout).await;
    }
}

impl Hub {
    async fn start(cfg: HubConfig, hooks: Hooks) -> HubResult<Arc<Hub>> {
        let bind_addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = bind(&cfg.host, cfg.port).await?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| HubError::bind(&e, &bind_addr))?;

        let cfg = Arc::new(cfg);
        let presence = Arc::new(Presence::default());
        let stats = Arc::new(Stats::default());
        let epoch: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        let streams = Arc::new(parking_lot::Mutex::new(Streams::new(cfg.history.clone())));
        let ips = Arc::new(parking_lot::Mutex::new(IpLimiter::new(
            cfg.rate_limit.clone(),
        )));
        let cluster = match &cfg.redis {
            Some(r) => Some(Cluster::new(r, cfg.history.clone())?),
            None => None,
        };
        if let Some(c) = &cluster {
            // Redis down at start is not fatal: the watchdog keeps trying.
            if !c.probe().await {
                eprintln!(
                    "nself-realtime: Redis at {} does not answer; this hub serves its local \
                     clients and joins the cluster when Redis is reachable",
                    cfg.redis.as_ref().map_or("", |r| r.url.as_str())
                );
            }
        }
        let bus = cluster.as_ref().map_or_else(Bus::off, |c| c.bus());
        let ctx = Arc::new(Ctx {
            cluster: cluster.clone(),
            cfg: cfg.clone(),
            presence: presence.clone(),
            stats: stats.clone(),
            streams: streams.clone(),
            epoch: epoch.clone(),
            hooks,
            guards: parking_lot::Mutex::new(Default::default()),
            ips: ips.clone(),
        });
        // Our protocol sends no binary; attachments are capped in number and, together, at
        // maxPayloadBytes; a packet whose attachments do not follow within 5 s is dropped.
        let parser = ParserConfig::common()
            .max_incoming_binaries(cfg.max_binary_attachments)
            .max_incoming_binary_buf_size(cfg.max_payload_bytes)
            .packet_completion_timeout(Duration::from_secs(5));
        let builder = socketioxide::SocketIo::builder()
            .req_path(cfg.path.clone())
            .ping_interval(Duration::from_millis(cfg.ping_interval_ms))
            .ping_timeout(Duration::from_millis(cfg.ping_timeout_ms))
            .max_buffer_size(cfg.max_queued_packets)
            .max_payload(cfg.max_payload_bytes as u64)
            .ws_max_message_size(cfg.max_payload_bytes)
            .ws_read_buffer_size(WS_READ_BUFFER)
            .with_parser(parser)
            .with_state(ctx.clone())
            .with_adapter::<crate::cluster::Adapter>(
                socketioxide_redis::RedisAdapterCtr::new_with_driver(
                    bus,
                    socketioxide_redis::RedisAdapterConfig::default().with_prefix(
                        cfg.redis
                            .as_ref()
                            .map_or_else(|| "nself-realtime".to_string(), |r| r.prefix.clone()),
                    ),
                ),
            );
        let builder = match cfg.transports {
            Transports::Both => {
                builder.transports([TransportType::Websocket, TransportType::Polling])
            }
            Transports::WebsocketOnly => builder.transports([TransportType::Websocket]),
            Transports::PollingOnly => builder.transports([TransportType::Polling]),
        };
        let (svc, io) = builder.build_svc();
        // Middlewares run last-added first: `admit` (authentication) before `register`.
        // The adapter subscribes its channels here (our driver never fails; while Redis is
        // away it subscribes them later).
        io.ns(
            "/",
            rooms::on_connect.with(rooms::register).with(rooms::admit),
        )
        .await
        .map_err(|e| HubError::new(ErrorCode::Io, format!("namespace /: {e}")))?;
        if cfg.allowed_origins == OriginPolicy::Any {
            eprintln!(
                "nself-realtime: allowedOrigins is '*': pages of any site can connect to this \
                 hub with the user's cookies; list your origins instead"
            );
        }

        let held = Arc::new(AtomicU64::new(0));
        let (dispatcher, queue) = Dispatcher::new(
            io.clone(),
            &cfg.batch,
            Shared {
                presence: presence.clone(),
                stats: stats.clone(),
                held: held.clone(),
                streams: streams.clone(),
                epoch: epoch.clone(),
                cluster: cluster.clone(),
                local_fallback: true,
            },
        );
        let gate = Arc::new(
            Gate::new(
                cfg.allowed_origins.clone(),
                cfg.trust_proxy,
                ips,
                stats.clone(),
            )
            .with_metrics(cfg.metrics_path.clone()),
        );
        let shutdown = CancellationToken::new();
        let kill = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(dispatcher.run(shutdown.clone()));
        if let Some(c) = &cluster {
            tasks.spawn(c.clone().watch(Some(presence.clone()), shutdown.clone()));
        }
        tasks.spawn(server::serve(
            listener,
            {
                let gate = gate.clone();
                move |peer| GateService {
                    inner: svc.clone(),
                    gate: gate.clone(),
                    peer: Some(peer),
                }
            },
            shutdown.clone(),
            kill.clone(),
            tasks.clone(),
        ));
        tasks.spawn(sweep(io.clone(), ctx, shutdown.clone()));

        let started_at_ms = now_ms();
        let info = HubInfo {
            host: cfg.host.clone(),
            port,
            path: cfg.path.clone(),
            url: cfg.url(port),
            started_at: iso8601(started_at_ms),
            epoch: epoch.to_string(),
        };
        let hub = Arc::new(Hub {
            cluster,
            cfg,
            info,
            io,
            queue,
            presence,
            stats,
            held,
            streams,
            gate,
            shutdown,
            kill,
            tasks,
            started: Instant::now(),
            started_at_ms,
        });
        if hub.cfg.metrics_path.is_some() {
            let weak = Arc::downgrade(&hub);
            hub.gate.set_metrics(Box::new(move || {
                let hub = weak.upgrade()?;
                Some(metrics::render(&metrics::from_stats(&hub.stats())))
            }));
        }
        Ok(hub)
    }

    /// Delivers everything emitted so far, tells clients the server is going away (an Engine.IO
    /// close, after which socket.io clients reconnect), stops listening, and waits for every
    /// task, giving up waiting for clients after `timeout`.
    async fn stop(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        self.gate.close_handshakes();
        // 1. Everything queued before stop, pending batches included, into client queues.
        let _ = tokio::time::timeout_at(deadline, self.queue.flush()).await;
        // 2. Long-polling clients take their queue only when they poll: wait until each has a
        //    poll pending (its queue is empty). WebSocket writers drain on close by themselves.
        self.wait_for_polling_clients(deadline).await;
        // 3. Close every session (queued packets, then an Engine.IO close) and wait for the
        //    transports to finish writing.
        if tokio::time::timeout_at(deadline, self.io.close())
            .await
            .is_err()
        {
            self.kill.cancel();
        }
        let delivered = tokio::time::Instant::now() < deadline;
        // 4. Stop listening; connections finish the response they are writing (the last close
        //    packets) and close. Nothing is left to deliver, so this gets a short grace only.
        self.shutdown.cancel();
        self.tasks.close();
        let grace = deadline.min(tokio::time::Instant::now() + CLOSE_GRACE);
        if tokio::time::timeout_at(grace, self.tasks.wait())
            .await
            .is_err()
        {
            // 5. Whatever is still open (a client that stopped reading, a half-sent request)
            //    is dropped.
            self.kill.cancel();
            let _ = tokio::time::timeout(CLOSE_GRACE, self.tasks.wait()).await;
        }
        if !delivered {
            eprintln!(
                "nself-realtime: stopHub gave up waiting for clients after {} ms; the \
                 connections left were closed",
                timeout.as_millis()
            );
        }
    }

    async fn wait_for_polling_clients(&self, deadline: tokio::time::Instant) {
        // A poll pending this long after the flush had nothing to return: its client has
        // everything (engineioxide answers a poll as soon as a packet is queued).
        const SETTLED: Duration = Duration::from_millis(50);
        let flushed = Instant::now();
        loop {
            let polling = sockets(&self.io)
                .iter()
                .filter(|s| s.connected() && s.transport_type() == TransportType::Polling)
                .count();
            if polling == 0 || self.gate.idle_polls(SETTLED, flushed) >= polling {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Validates and enqueues one of the six typed events.
    pub fn emit_typed(
        &self,
        kind: EventKind,
        data_json: &str,
        room: Option<&str>,
    ) -> HubResult<()> {
        self.enqueue(Emit::typed(
            kind,
            data_json,
            room,
            self.cfg.max_payload_bytes,
        )?)
    }

    /// Validates and enqueues a custom event; a typed event name gets its type's validation.
    pub fn emit_custom(&self, event: &str, data_json: &str, room: Option<&str>) -> HubResult<()> {
        self.enqueue(Emit::custom(
            event,
            data_json,
            room,
            self.cfg.max_payload_bytes,
        )?)
    }

    /// Sends one event to one socket and waits for its client's acknowledgement, sending it
    /// again after each `ack_timeout` up to `retries` times (the envelope carries an `id`, so a
    /// client that got it twice acts once). Resolves to what the client acked with.
    ///
    /// Validation is the emitters' (typed names get their type's rules); a socket id that is
    /// not connected rejects with `ERR_UNKNOWN_SOCKET`, no ack with `ERR_ACK_TIMEOUT`.
    pub fn prepare_to_socket(
        &self,
        socket_id: &str,
        event: &str,
        data_json: &str,
    ) -> HubResult<ToSocket> {
        // The emitters' validation and envelope; only its closing differs (an id, no seq).
        let open = Emit::custom(event, data_json, None, self.cfg.max_payload_bytes)?.envelope;
        let id = TO_SOCKET_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let envelope = envelope::close_targeted(open, id, &self.info.epoch);
        let socket = self
            .socket(socket_id)
            .ok_or_else(|| unknown_socket(socket_id))?;
        Stats::add(&self.stats.events_emitted, 1);
        Ok(ToSocket {
            socket,
            event: event.to_string(),
            envelope,
            stats: self.stats.clone(),
        })
    }

    fn socket(&self, socket_id: &str) -> Option<SocketRef> {
        let sid = socket_id.parse().ok()?;
        self.io.of("/")?.get_socket(sid)
    }

    fn enqueue(&self, emit: Emit) -> HubResult<()> {
        if !self.queue.push(emit) {
            return Err(HubError::not_running());
        }
        Stats::add(&self.stats.events_emitted, 1);
        Ok(())
    }

    /// The key `createToken` signs with (the first `secret`), if the hub has one.
    pub fn signing_key(&self) -> Option<&[u8]> {
        self.cfg.secret.signing()
    }

    /// This hub's sockets, then the other hubs' (as last heard, at most a second old).
    pub fn presence(&self) -> Vec<PresenceInfo> {
        let mut all = self.presence.all();
        if let Some(c) = &self.cluster {
            all.extend(c.remote_presence());
        }
        all
    }

    pub fn room_members(&self, room: &str) -> HubResult<Vec<PresenceInfo>> {
        check_room(room)?;
        let mut all = self.presence.room_members(room);
        if let Some(c) = &self.cluster {
            all.extend(c.remote_room_members(room));
        }
        Ok(all)
    }

    pub fn user_presence(&self, user_id: &str) -> Vec<PresenceInfo> {
        let mut all = self.presence.user(user_id);
        if let Some(c) = &self.cluster {
            all.extend(c.remote_user(user_id));
        }
        all
    }

    /// `(hubs, cluster connections, cluster rooms, Redis health)` with `redis`.
    fn cluster_stats(&self) -> Option<ClusterStats> {
        let c = self.cluster.as_ref()?;
        let (others, remote) = c.others();
        let mut rooms = c.remote_rooms();
        rooms.extend(self.presence.room_names());
        Some(ClusterStats {
            hubs: others as u64 + 1,
            connections: (self.presence.len() + remote) as u64,
            rooms: rooms.len() as u64,
            redis: c.health().snapshot(),
        })
    }

    pub fn stats(&self) -> HubStats {
        let sockets = sockets(&self.io);
        let websocket = sockets
            .iter()
            .filter(|s| s.transport_type() == TransportType::Websocket)
            .count() as u64;
        let s = &self.stats;
        HubStats {
            connections: self.presence.len() as u64,
            connections_total: Stats::get(&s.connections_total),
            websocket_connections: websocket,
            polling_connections: sockets.len() as u64 - websocket,
            rooms: self.presence.room_count() as u64,
            events_emitted: Stats::get(&s.events_emitted),
            batches_sent: Stats::get(&s.batches_sent),
            packets_sent: Stats::get(&s.packets_sent),
            events_dropped: Stats::get(&s.events_dropped),
            events_queued: self.queue.len(),
            events_in_batches: Stats::get(&self.held),
            client_packets: Stats::get(&s.client_packets),
            client_errors: Stats::get(&s.client_errors),
            sockets_swept: Stats::get(&s.sockets_swept),
            recoveries: Stats::get(&s.recoveries),
            events_replayed: Stats::get(&s.events_replayed),
            recovery_misses: Stats::get(&s.recovery_misses),
            history_events: self.streams.lock().held() as u64,
            acks_received: Stats::get(&s.acks_received),
            ack_timeouts: Stats::get(&s.ack_timeouts),
            dropped_by_socket: self.presence.missed(),
            packets_rate_limited: Stats::get(&s.packets_rate_limited),
            sockets_rate_limited: Stats::get(&s.sockets_rate_limited),
            auth_failures: Stats::get(&s.auth_failures),
            origin_refusals: Stats::get(&s.origin_refusals),
            connections_rate_limited: Stats::get(&s.connections_rate_limited),
            joins_forbidden: Stats::get(&s.joins_forbidden),
            started_at: iso8601(self.started_at_ms),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            cluster: self.cluster_stats(),
        }
    }
}

/// Ids of targeted envelopes (`emitToSocket`), unique in the process.
static TO_SOCKET_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn unknown_socket(socket_id: &str) -> HubError {
    HubError::new(
        ErrorCode::UnknownSocket,
        format!("socketId: expected the id of a connected socket, got {socket_id:?}"),
    )
}

/// One validated `emitToSocket`, ready to send (see [`Hub::prepare_to_socket`]).
pub struct ToSocket {
    socket: SocketRef,
    event: String,
    envelope: String,
    stats: Arc<Stats>,
}

impl ToSocket {
    /// Sends, waits `ack_timeout` for the ack, and sends again up to `retries` times.
    pub async fn deliver(self, ack_timeout: Duration, retries: u32) -> HubResult<Value> {
        let raw = serde_json::value::RawValue::from_string(self.envelope)
            .map_err(|e| HubError::event(format!("data: expected JSON ({e})")))?;
        let sid = self.socket.id.to_string();
        for _ in 0..=retries {
            if !self.socket.connected() {
                return Err(unknown_socket(&sid));
            }
            let sent = self
                .socket
                .timeout(ack_timeout)
                .emit_with_ack::<_, Value>(&self.event, &*raw);
            match sent {
                Ok(stream) => {
                    if let Ok(answer) = stream.await {
                        Stats::add(&self.stats.acks_received, 1);
                        return Ok(answer);
                    }
                }
                // A full queue: wait as long as an ack would have taken, then try again.
                Err(_) => tokio::time::sleep(ack_timeout).await,
            }
        }
        Stats::add(&self.stats.ack_timeouts, 1);
        Err(HubError::new(
            ErrorCode::AckTimeout,
            format!(
                "socket {sid} did not acknowledge \"{}\" within {} ms, {} attempt(s)",
                self.event,
                ack_timeout.as_millis(),
                retries + 1
            ),
        ))
    }
}

/// The sockets of namespace `/`; none once the hub closed (`SocketIo::sockets` would panic).
fn sockets(io: &SocketIo) -> Vec<SocketRef> {
    io.of("/").map(|ns| ns.sockets()).unwrap_or_default()
}

async fn bind(host: &str, port: u16) -> HubResult<TcpListener> {
    let addr = format!("{host}:{port}");
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            HubError::new(
                ErrorCode::HostNotFound,
                format!("listen ENOTFOUND {addr}: cannot resolve host ({e})"),
            )
        })?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpListener::bind(a).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(HubError::bind(&e, &addr)),
        }
    }
    Err(last.unwrap_or_else(|| {
        HubError::new(
            ErrorCode::HostNotFound,
            format!("listen ENOTFOUND {addr}: no address"),
        )
    }))
}

/// Every `sweepIntervalMs`, disconnects sockets silent for more than `staleAfterMs` (SPEC §8).
async fn sweep(io: SocketIo, ctx: Arc<Ctx>, shutdown: CancellationToken) {
    let (cfg, presence, stats) = (&ctx.cfg, &ctx.presence, &ctx.stats);
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.presence.sweep_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // History of targets nobody emits to any more ages out here.
        ctx.streams.lock().prune(now_ms());
        let cutoff = now_ms().saturating_sub(cfg.presence.stale_after_ms);
        let mut stale: HashSet<String> = presence.stale(cutoff).into_iter().collect();
        let live_sockets = sockets(&io);
        let live: HashSet<String> = live_sockets.iter().map(|s| s.id.to_string()).collect();
        // Guards of sockets that never finished connecting (a minute is ample for a connect).
        ctx.forget_orphans(&live, 60_000);
        for socket in live_sockets {
            if stale.remove(socket.id.as_str()) {
                Stats::add(&stats.sockets_swept, 1);
                // The disconnect handler removes its presence and tells its rooms.
                socket.disconnect().ok();
            }
        }
        // Entries whose socket is gone without a disconnect (a connect that failed after the
        // middleware registered it): nobody else would ever remove them.
        for sid in stale {
            presence.remove(&sid);
        }
    }
}
