//! Scale-out through Redis (SPEC §9): the socketioxide-redis adapter carries broadcasts between
//! hubs, and this module gives it a driver ([`Bus`]) that never fails a broadcast because Redis
//! is away (local clients keep getting their events), plus what the adapter does not do:
//! cluster-wide numbering and history of each target ([`Cluster::stamp`], [`Cluster::replay`]),
//! the presence replica of the other hubs, and Redis health for `getStats()`.
//!
//! Redis being unreachable is a state, not an error: [`Health`] says whether it answered last
//! time; while it does not, nothing here waits for it (emits are numbered locally under the
//! hub's own epoch and delivered to local clients only), and a watchdog task pings it with
//! backoff, subscribes the adapter's channels again and flips the state back.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::batch::Target;
use crate::clock::now_ms;
use crate::error::{ErrorCode, HubError, HubResult};
use crate::keys::{self, Entry, Keys};
use crate::options::{HistoryConfig, RedisConfig};
use crate::presence::{Presence, PresenceInfo};
use crate::replica::{self, Replica};

/// The adapter every hub runs with; without `redis` its [`Bus`] is off and broadcasts stay local.
pub type Adapter = socketioxide_redis::CustomRedisAdapter<socketioxide::adapter::Emitter, Bus>;
pub type Io = socketioxide::SocketIo<Adapter>;
pub type Socket = socketioxide::extract::SocketRef<Adapter>;

/// A Redis command that takes longer than this counts as Redis being unreachable.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(1000);
/// Presence snapshots: written this often, dropped by readers (and by Redis) after `STALE`.
pub const PRESENCE_EVERY: Duration = Duration::from_millis(1000);
pub const PRESENCE_STALE_MS: u64 = 5000;

/// Whether Redis answered, for `getStats().redis`, logged once per outage.
#[derive(Default)]
pub struct Health {
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Times Redis went away since start.
    pub outages: AtomicU64,
    /// Broadcasts that reached local clients only, because Redis was away.
    pub unpublished: AtomicU64,
}

/// What `getStats().redis` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisHealth {
    pub connected: bool,
    pub last_error: Option<String>,
    pub outages: u64,
    pub unpublished: u64,
}

impl Health {
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn fail(&self, what: &str, e: &dyn std::fmt::Display) {
        let msg = format!("{what}: {e}");
        *self.last_error.lock() = Some(msg.clone());
        if self.connected.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "nself-realtime: Redis unreachable ({msg}); serving local clients only, \
                 reconnecting in the background"
            );
        }
    }

    fn ok(&self) -> bool {
        !self.connected.swap(true, Ordering::AcqRel)
    }

    pub fn snapshot(&self) -> RedisHealth {
        RedisHealth {
            connected: self.connected(),
            last_error: self.last_error.lock().clone(),
            outages: self.outages.load(Ordering::Relaxed),
            unpublished: self.unpublished.load(Ordering::Relaxed),
        }
    }
}

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// The socketioxide-redis driver. Unlike the crate's own it never fails: a publish while Redis
/// is away is skipped (and counted), a subscribe is remembered and sent when Redis is back.
/// `Clone` shares everything (the adapter clones it per namespace).
#[derive(Clone, Default)]
pub struct Bus {
    inner: Option<Arc<BusInner>>,
}

struct BusInner {
    conn: ConnectionManager,
    handlers: Handlers,
    health: Arc<Health>,
    /// The adapter's channels must be subscribed again (a connection was lost, or a subscribe
    /// failed): the watchdog does it once Redis answers.
    dirty: Arc<AtomicBool>,
}

impl Bus {
    /// The off switch: a single hub, no Redis.
    pub fn off() -> Bus {
        Bus { inner: None }
    }
}

impl Driver for Bus {
    type Error = Infallible;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Infallible> {
        let Some(b) = &self.inner else { return Ok(()) };
        if !b.health.connected() {
            b.health.unpublished.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let mut conn = b.conn.clone();
        let sent = tokio::time::timeout(
            COMMAND_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(chan)
                .arg(val)
                .query_async::<redis::Value>(&mut conn),
        )
        .await;
        match sent {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                b.health.unpublished.fetch_add(1, Ordering::Relaxed);
                b.health.fail("PUBLISH", &e);
            }
            Err(_) => {
                b.health.unpublished.fetch_add(1, Ordering::Relaxed);
                b.health.fail("PUBLISH", &"timed out");
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Infallible> {
        let Some(b) = &self.inner else {
            return Ok(MessageStream::new_empty());
        };
        let (tx, rx) = mpsc::channel(size);
        b.handlers.write().insert(chan.clone(), tx);
        let subscribed = b.health.connected()
            && tokio::time::timeout(COMMAND_TIMEOUT, b.conn.clone().subscribe(&chan))
                .await
                .is_ok_and(|r| r.is_ok());
        if !subscribed {
            b.dirty.store(true, Ordering::Release);
        }
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Infallible> {
        let Some(b) = &self.inner else { return Ok(()) };
        b.handlers.write().remove(&chan);
        if b.health.connected() {
            let _ = tokio::time::timeout(COMMAND_TIMEOUT, b.conn.clone().unsubscribe(&chan)).await;
        }
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Infallible> {
        let Some(b) = &self.inner else { return Ok(1) };
        if !b.health.connected() {
            return Ok(1);
        }
        let mut conn = b.conn.clone();
        let n = tokio::time::timeout(
            COMMAND_TIMEOUT,
            redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(chan)
                .query_async::<(String, u16)>(&mut conn),
        )
        .await;
        Ok(match n {
            Ok(Ok((_, n))) => n.max(1),
            _ => 1,
        })
    }
}

/// Routes a message pushed by Redis to the adapter's stream for its channel; a lost connection
/// marks the subscriptions for renewal.
fn on_push(msg: PushInfo, handlers: &Handlers, dirty: &AtomicBool) {
    match msg.kind {
        PushKind::Message => {
            let mut it = msg.data.into_iter();
            let (Some(chan), Some(body)) = (it.next(), it.next()) else {
                return;
            };
            let (Ok(chan), Ok(body)) = (
                redis::from_redis_value::<String>(chan),
                redis::from_redis_value::<Vec<u8>>(body),
            ) else {
                return;
            };
            if let Some(tx) = handlers.read().get(&chan) {
                // Full: the adapter is behind by `stream_buffer` requests; like the crate's own
                // driver we drop rather than block Redis's reader.
                let _ = tx.try_send((chan, body));
            }
        }
        PushKind::Disconnection => dirty.store(true, Ordering::Release),
        _ => {}
    }
}

/// A hub's (or an emitter's) link to the cluster.
pub struct Cluster {
    conn: ConnectionManager,
    bus: Bus,
    health: Arc<Health>,
    dirty: Arc<AtomicBool>,
    handlers: Handlers,
    keys: Keys,
    history: HistoryConfig,
    script: redis::Script,
    /// The cluster epoch, once Redis told it (it changes only if Redis lost its data).
    epoch: RwLock<Option<Arc<str>>>,
    /// This process in `P:hubs`.
    pub hub_id: String,
    replica: RwLock<Replica>,
}

impl Cluster {
    /// Connects lazily: Redis being down at start is fine (see the module doc). Fails only on
    /// a URL the Redis client cannot use.
    pub fn new(cfg: &RedisConfig, history: HistoryConfig) -> HubResult<Arc<Cluster>> {
        let bad = |e: &dyn std::fmt::Display| {
            HubError::new(
                ErrorCode::InvalidOptions,
                format!("redis.url: expected a redis:// URL the Redis client accepts ({e})"),
            )
        };
        let info = cfg
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| bad(&e))?;
        let redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(redis_settings);
        let client = redis::Client::open(info).map_err(|e| bad(&e))?;
        let handlers: Handlers = Arc::default();
        let dirty = Arc::new(AtomicBool::new(true));
        let (h, d) = (handlers.clone(), dirty.clone());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500))
            .set_push_sender(move |msg: PushInfo| {
                on_push(msg, &h, &d);
                Ok::<(), Infallible>(())
            });
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| bad(&e))?;
        let health = Arc::new(Health::default());
        let bus = Bus {
            inner: Some(Arc::new(BusInner {
                conn: conn.clone(),
                handlers: handlers.clone(),
                health: health.clone(),
                dirty: dirty.clone(),
            })),
        };
        Ok(Arc::new(Cluster {
            conn,
            bus,
            health,
            dirty,
            handlers,
            keys: Keys::new(&cfg.prefix),
            history,
            script: redis::Script::new(keys::STAMP_SCRIPT),
            epoch: RwLock::new(None),
            hub_id: format!("{:016x}", rand::random::<u64>()),
            replica: RwLock::new(Replica::default()),
        }))
    }

    pub fn bus(&self) -> Bus {
        self.bus.clone()
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// The cluster epoch while Redis answers; `None` while it does not (the hub's own applies).
    pub fn epoch(&self) -> Option<Arc<str>> {
        if !self.health.connected() {
            return None;
        }
        self.epoch.read().clone()
    }

    async fn run<T: redis::FromRedisValue>(&self, what: &str, cmd: &redis::Cmd) -> Option<T> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.health.fail(what, &e);
                None
            }
            Err(_) => {
                self.health.fail(what, &"timed out");
                None
            }
        }
    }

    /// Learns (or creates) the cluster epoch. `true` when Redis answered.
    async fn fetch_epoch(&self) -> bool {
        let candidate = format!("{:016x}", rand::random::<u64>());
        let mut set = redis::cmd("SET");
        set.arg(self.keys.epoch())
            .arg(&candidate)
            .arg("NX")
            .arg("GET");
        // `SET NX GET` answers the old value (nil when ours was set).
        let Some(old) = self.run::<Option<String>>("SET epoch", &set).await else {
            return false;
        };
        *self.epoch.write() = Some(old.unwrap_or(candidate).into());
        true
    }

    /// Numbers one emit to `target` across the cluster and stores it in Redis history. `None`
    /// while Redis is away: the caller numbers it locally.
    pub async fn stamp(&self, target: &Target, open: &str) -> Option<(u64, Arc<str>)> {
        if !self.health.connected() {
            return None;
        }
        let candidate = format!("{:016x}", rand::random::<u64>());
        let mut inv = self.script.prepare_invoke();
        inv.key(self.keys.epoch())
            .key(self.keys.seq())
            .key(self.keys.history(target))
            .arg(keys::target_key(target))
            .arg(candidate)
            .arg(open)
            .arg(if self.history.enabled() {
                self.history.max_events
            } else {
                0
            })
            .arg(self.history.max_age_ms.max(1))
            .arg(now_ms());
        let mut conn = self.conn.clone();
        let answer = tokio::time::timeout(
            COMMAND_TIMEOUT,
            inv.invoke_async::<(u64, String)>(&mut conn),
        )
        .await;
        match answer {
            Ok(Ok((seq, epoch))) => {
                let known = self.epoch.read().clone();
                let epoch: Arc<str> = match known {
                    Some(e) if *e == *epoch => e,
                    _ => {
                        let e: Arc<str> = epoch.into();
                        *self.epoch.write() = Some(e.clone());
                        e
                    }
                };
                Some((seq, epoch))
            }
            Ok(Err(e)) => {
                self.health.fail("numbering script", &e);
                None
            }
            Err(_) => {
                self.health.fail("numbering script", &"timed out");
                None
            }
        }
    }

    /// The last `seq` of each target in the cluster epoch (0: none yet).
    pub async fn last_seqs(&self, targets: &[Target]) -> Option<Vec<u64>> {
        if targets.is_empty() {
            return Some(Vec::new());
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.seq());
        for t in targets {
            cmd.arg(keys::target_key(t));
        }
        let v: Vec<Option<u64>> = self.run("HMGET seq", &cmd).await?;
        Some(v.into_iter().map(|n| n.unwrap_or(0)).collect())
    }

    /// Everything after `after` on `target` in the cluster epoch, if history still holds all
    /// of it; with the target's last `seq`.
    pub async fn replay(&self, target: &Target, after: u64) -> Option<(u64, Option<Vec<String>>)> {
        let last = *self
            .last_seqs(std::slice::from_ref(target))
            .await?
            .first()?;
        if after >= last || !self.history.enabled() {
            let r = (after == last).then(Vec::new);
            return Some((last, r));
        }
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.keys.history(target))
            .arg(keys::entry_id(after + 1))
            .arg("+")
            .arg("COUNT")
            .arg(self.history.max_events + 1);
        let raw: Vec<(String, Vec<String>)> = self.run("XRANGE", &cmd).await?;
        let entries = raw
            .into_iter()
            .filter_map(|(id, fields)| {
                let mut e = Entry {
                    seq: keys::seq_of_entry(&id)?,
                    at_ms: 0,
                    envelope: String::new(),
                };
                for pair in fields.chunks(2) {
                    match pair {
                        [k, v] if k == "e" => e.envelope = v.clone(),
                        [k, v] if k == "t" => e.at_ms = v.parse().ok()?,
                        _ => {}
                    }
                }
                Some(e)
            })
            .collect();
        let events = keys::replay_from(entries, after, last, now_ms(), self.history.max_age_ms);
        Some((last, events))
    }

    /// One round of the watchdog without presence: at start, so that a hub whose Redis answers
    /// numbers its first emit in the cluster epoch.
    pub async fn probe(&self) -> bool {
        self.tick(None, &mut None).await
    }

    /// The watchdog: pings Redis (with backoff while it is away), learns the epoch, subscribes
    /// the adapter's channels again after a lost connection, and publishes this hub's presence
    /// and reads the others' every [`PRESENCE_EVERY`]. Runs until `shutdown`.
    pub async fn watch(
        self: Arc<Self>,
        presence: Option<Arc<Presence>>,
        shutdown: CancellationToken,
    ) {
        let mut delay = Duration::from_millis(100);
        let mut last_presence = None::<String>;
        loop {
            let up = self.tick(presence.as_deref(), &mut last_presence).await;
            delay = if up {
                PRESENCE_EVERY
            } else {
                (delay * 2).clamp(Duration::from_millis(250), Duration::from_secs(2))
            };
            if !up {
                self.replica.write().expire(now_ms(), PRESENCE_STALE_MS);
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        if presence.is_some() && self.health.connected() {
            let mut p = redis::pipe();
            p.cmd("ZREM")
                .arg(self.keys.hubs())
                .arg(&self.hub_id)
                .ignore();
            p.cmd("DEL").arg(self.keys.presence(&self.hub_id)).ignore();
            let mut conn = self.conn.clone();
            let _ = tokio::time::timeout(COMMAND_TIMEOUT, p.query_async::<()>(&mut conn)).await;
        }
    }

    async fn tick(&self, presence: Option<&Presence>, last: &mut Option<String>) -> bool {
        let was_up = self.health.connected();
        if !was_up {
            // Probe without counting another outage.
            let mut conn = self.conn.clone();
            let pong = tokio::time::timeout(
                COMMAND_TIMEOUT,
                redis::cmd("PING").query_async::<String>(&mut conn),
            )
            .await;
            match pong {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    *self.health.last_error.lock() = Some(format!("PING: {e}"));
                    return false;
                }
                Err(_) => return false,
            }
        }
        if !self.fetch_epoch().await {
            return false;
        }
        if self.dirty.swap(false, Ordering::AcqRel) {
            let chans: Vec<String> = self.handlers.read().keys().cloned().collect();
            if !chans.is_empty() {
                let mut conn = self.conn.clone();
                let r = tokio::time::timeout(COMMAND_TIMEOUT, conn.subscribe(&chans)).await;
                if !matches!(r, Ok(Ok(()))) {
                    self.dirty.store(true, Ordering::Release);
                    self.health.fail("SUBSCRIBE", &"failed");
                    return false;
                }
            }
        }
        if self.health.ok() && self.health.outages.load(Ordering::Relaxed) > 0 {
            eprintln!("nself-realtime: Redis reachable again; cross-hub delivery resumed");
        }
        if let Some(presence) = presence {
            return self.sync_presence(presence, last).await;
        }
        true
    }

    /// Writes this hub's snapshot (with a TTL) and reads the other hubs' into the replica.
    async fn sync_presence(&self, presence: &Presence, last: &mut Option<String>) -> bool {
        let now = now_ms();
        let mine = replica::encode(now, &presence.all());
        let mut p = redis::pipe();
        p.cmd("ZADD")
            .arg(self.keys.hubs())
            .arg(now)
            .arg(&self.hub_id)
            .ignore();
        p.cmd("SET")
            .arg(self.keys.presence(&self.hub_id))
            .arg(&mine)
            .arg("PX")
            .arg(PRESENCE_STALE_MS)
            .ignore();
        p.cmd("ZREMRANGEBYSCORE")
            .arg(self.keys.hubs())
            .arg("-inf")
            .arg(now.saturating_sub(PRESENCE_STALE_MS))
            .ignore();
        p.cmd("ZRANGE").arg(self.keys.hubs()).arg(0).arg(-1);
        let mut conn = self.conn.clone();
        let hubs =
            match tokio::time::timeout(COMMAND_TIMEOUT, p.query_async::<(Vec<String>,)>(&mut conn))
                .await
            {
                Ok(Ok((hubs,))) => hubs,
                Ok(Err(e)) => {
                    self.health.fail("presence", &e);
                    return false;
                }
                Err(_) => {
                    self.health.fail("presence", &"timed out");
                    return false;
                }
            };
        *last = Some(mine);
        let others: Vec<String> = hubs.into_iter().filter(|h| *h != self.hub_id).collect();
        let mut read = Vec::new();
        if !others.is_empty() {
            let mut cmd = redis::cmd("MGET");
            for h in &others {
                cmd.arg(self.keys.presence(h));
            }
            let Some(texts) = self.run::<Vec<Option<String>>>("MGET presence", &cmd).await else {
                return false;
            };
            read = others
                .into_iter()
                .zip(texts)
                .filter_map(|(h, t)| Some((h, t?)))
                .collect();
        }
        self.replica
            .write()
            .update(read, now_ms(), PRESENCE_STALE_MS);
        true
    }

    /// Drops every channel subscription of the adapter (a closed emitter must not count as a
    /// server for the hubs' requests any more).
    pub async fn unsubscribe_all(&self) {
        let chans: Vec<String> = self.handlers.write().drain().map(|(c, _)| c).collect();
        if !chans.is_empty() && self.health.connected() {
            let mut conn = self.conn.clone();
            let _ = tokio::time::timeout(COMMAND_TIMEOUT, conn.unsubscribe(&chans)).await;
        }
    }

    /// Other hubs alive, and their sockets.
    pub fn others(&self) -> (usize, usize) {
        let r = self.replica.read();
        (r.hubs(), r.len())
    }

    pub fn remote_presence(&self) -> Vec<PresenceInfo> {
        self.replica.read().all().cloned().collect()
    }

    pub fn remote_room_members(&self, room: &str) -> Vec<PresenceInfo> {
        self.replica.read().room_members(room)
    }

    pub fn remote_user(&self, user_id: &str) -> Vec<PresenceInfo> {
        self.replica.read().user(user_id)
    }

    pub fn remote_rooms(&self) -> HashSet<String> {
        self.replica
            .read()
            .rooms()
            .into_iter()
            .map(str::to_string)
            .collect()
    }
}
