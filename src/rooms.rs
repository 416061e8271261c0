//! The client side of the wire protocol (SPEC §5) on top of socketioxide: `join:room` and
//! `leave:room` with acks, `heartbeat` -> `pong`, `presence:set`, `recover` (replay of what a
//! client missed, from [`crate::history`]), and the `presence:*` events to the other members of
//! a room. Presence bookkeeping itself lives in [`crate::presence`].
//! Also the security gates of a socket: the connect middleware that authenticates it
//! ([`admit`]), the per-socket packet rate limit, and room permissions.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use socketioxide::extract::{State, TryData};

use crate::cluster::{Adapter, Cluster, Socket as SocketRef};

type AckSender = socketioxide::extract::AckSender<Adapter>;
use socketioxide::socket::DisconnectReason;
use tokio::sync::oneshot;

use crate::auth::{self, Hooks};
use crate::batch::Target;
use crate::clock::now_ms;
use crate::glob::any_matches;
use crate::history::{Replay, Streams};
use crate::options::HubConfig;
use crate::presence::{JoinError, Membership, Presence};
use crate::ratelimit::{IpLimiter, PacketLimiter, Verdict};
use crate::server::ClientAddr;
use crate::stats::Stats;
use crate::token::{self, Identity};
use crate::validate::check_room;

/// What the socket handlers share: handed to socketioxide as its state.
pub struct Ctx {
    pub cfg: Arc<HubConfig>,
    /// With `redis`: where stream heads and history live while Redis answers.
    pub cluster: Option<Arc<Cluster>>,
    pub presence: Arc<Presence>,
    pub stats: Arc<Stats>,
    /// Sequence numbers and history per target (the dispatcher writes, `recover` reads).
    pub streams: Arc<parking_lot::Mutex<Streams>>,
    pub epoch: Arc<str>,
    pub hooks: Hooks,
    /// Per-socket security state, by socket id. A `parking_lot::Mutex` because every use is a
    /// short lookup that never awaits.
    pub guards: Mutex<HashMap<String, Guard>>,
    /// Per-address limits, shared with the HTTP gate (which refuses handshakes with 429).
    pub ips: Arc<Mutex<IpLimiter>>,
}

/// One socket's security state.
pub struct Guard {
    /// The client address (for the per-address open-connection count).
    ip: Option<IpAddr>,
    /// Room patterns of its identity; `None`: any room.
    rooms: Option<Vec<String>>,
    limiter: PacketLimiter,
    /// Completion of the socket's last sequenced request: with an async `authorizeRoom`, a
    /// join waits for JS, and the requests after it wait for the join (packet order holds).
    lane: Option<oneshot::Receiver<()>>,
    /// Sequenced requests not finished yet (bounded, so a client cannot queue without end).
    in_flight: u32,
    since_ms: u64,
    /// Set by the connect handler: the connect went through. A client that leaves while
    /// `authenticate` runs makes socketioxide drop the connect silently (no disconnect
    /// handler), so [`admit`] checks this a little later and removes what it registered.
    connected: bool,
}

/// How long after [`admit`] a socket must have finished connecting.
const CONNECT_GRACE: Duration = Duration::from_secs(5);

/// Most sequenced requests one socket may have in flight.
const MAX_IN_FLIGHT: u32 = 64;

impl Ctx {
    /// Drops a socket's security state and its place in the per-address count.
    pub fn forget(&self, sid: &str) {
        let guard = self.guards.lock().remove(sid);
        if let Some(ip) = guard.and_then(|g| g.ip) {
            self.ips.lock().closed(ip);
        }
    }

    /// Forgets guards of sockets that never finished connecting (no disconnect handler runs
    /// for them): those not in `live` and older than `min_age_ms`.
    pub fn forget_orphans(&self, live: &std::collections::HashSet<String>, min_age_ms: u64) {
        let cutoff = now_ms().saturating_sub(min_age_ms);
        let orphans: Vec<String> = self
            .guards
            .lock()
            .iter()
            .filter(|(sid, g)| !live.contains(*sid) && g.since_ms < cutoff)
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in orphans {
            self.forget(&sid);
        }
    }
}

pub type SharedCtx = Arc<Ctx>;

/// Largest `presence:set` state, serialised (SPEC §5).
pub const MAX_PRESENCE_STATE_BYTES: usize = 1024;

/// A refused client request: `code` is one of the wire codes documented in the README.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

/// Reads the room of a `join:room` / `leave:room` request: `{ roomId }` or the envelope form
/// `{ type, data: { roomId }, timestamp }`.
pub fn parse_room_request(v: &Value) -> Result<String, Refusal> {
    let room = v
        .get("roomId")
        .or_else(|| v.get("data").and_then(|d| d.get("roomId")));
    let Some(room) = room else {
        return Err(Refusal::new(
            "BAD_REQUEST",
            "expected { roomId } (or { type, data: { roomId }, timestamp })",
        ));
    };
    let Some(room) = room.as_str() else {
        return Err(Refusal::new(
            "INVALID_ROOM",
            format!(
                "roomId: expected a string, got {}",
                crate::validate::describe(room)
            ),
        ));
    };
    check_room(room).map_err(|e| Refusal::new("INVALID_ROOM", e.message))?;
    Ok(room.to_string())
}

/// Reads the state of a `presence:set` request: `{ state }` with a JSON object of at most 1 KB.
pub fn parse_presence_state(v: &Value) -> Result<String, Refusal> {
    match v.get("state") {
        Some(state @ Value::Object(_)) => {
            let json = state.to_string();
            if json.len() > MAX_PRESENCE_STATE_BYTES {
                Err(Refusal::new(
                    "PAYLOAD_TOO_LARGE",
                    format!(
                        "state: expected at most {MAX_PRESENCE_STATE_BYTES} bytes of JSON, got {}",
                        json.len()
                    ),
                ))
            } else {
                Ok(json)
            }
        }
        other => Err(Refusal::new(
            "BAD_REQUEST",
            format!(
                "state: expected a JSON object, got {}",
                other.map_or_else(|| "nothing".into(), crate::validate::describe)
            ),
        )),
    }
}

/// A `recover` request: "I saw up to `seq` n of these streams in `epoch`; send what followed".
#[derive(Debug, PartialEq, Eq)]
pub struct RecoverRequest {
    pub epoch: String,
    /// `None` is the broadcast stream (`"*"` on the wire), `Some(room)` a room's.
    pub streams: Vec<(Option<String>, u64)>,
    /// The client saw a gap on a live connection (its queue overflowed), not a reconnect.
    pub gap: bool,
}

/// Largest `seq` a client may name: JSON numbers are exact up to 2^53.
const MAX_SEQ: u64 = (1 << 53) - 1;

/// Reads `{ epoch, streams: { "*": n, "<room>": n, ... }, gap? }`; at most `max_streams` streams.
pub fn parse_recover_request(v: &Value, max_streams: usize) -> Result<RecoverRequest, Refusal> {
    const SHAPE: &str =
        "expected { epoch: string, streams: { \"*\" or room: last seq seen }, gap?: boolean }";
    let bad = |what: String| Refusal::new("BAD_REQUEST", format!("recover: {what}; {SHAPE}"));
    let Some(obj) = v.as_object() else {
        return Err(bad(format!("got {}", kind_of(v))));
    };
    let epoch = match obj.get("epoch") {
        Some(Value::String(e)) if e.len() <= 64 => e.clone(),
        Some(Value::String(_)) => return Err(bad("epoch: longer than 64 characters".into())),
        other => {
            return Err(bad(format!(
                "epoch: got {}",
                other.map_or("nothing", kind_of)
            )))
        }
    };
    let Some(Value::Object(map)) = obj.get("streams") else {
        return Err(bad("streams: missing or not an object".into()));
    };
    if map.len() > max_streams {
        return Err(bad(format!(
            "streams: {} streams, at most {max_streams}",
            map.len()
        )));
    }
    let mut streams = Vec::with_capacity(map.len());
    for (key, seq) in map {
        let stream = if key == "*" {
            None
        } else {
            check_room(key).map_err(|e| bad(format!("streams: {}", e.message)))?;
            Some(key.clone())
        };
        let Some(seq) = seq.as_u64().filter(|n| *n <= MAX_SEQ) else {
            return Err(bad(format!(
                "streams[{key:?}]: expected an integer seq from 0 to 2^53-1"
            )));
        };
        streams.push((stream, seq));
    }
    let gap = match obj.get("gap") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("gap: got {}", kind_of(other)))),
    };
    Ok(RecoverRequest {
        epoch,
        streams,
        gap,
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The ack of a `recover` request, as JSON text (replayed envelopes go in byte for byte):
/// `{ ok: true, epoch, streams: [{ stream, recovered, seq, events }] }`. A stream is recovered
/// when `epoch` is this hub's, the socket receives that stream (everyone's, or a room it is in)
/// and history still holds everything after the client's `seq`; `seq` is the stream's last.
/// Returns the text, streams recovered, streams not recovered, and events replayed.
pub fn recover_answer(
    req: &RecoverRequest,
    epoch: &str,
    streams: &mut Streams,
    is_member: impl Fn(&str) -> bool,
    now_ms: u64,
) -> (String, u64, u64, u64) {
    let items = req
        .streams
        .iter()
        .map(|(stream, after)| {
            let target = stream
                .as_deref()
                .map_or(Target::All, |r| Target::Room(r.into()));
            let allowed = stream.as_deref().is_none_or(&is_member);
            let replay = if req.epoch == epoch && allowed {
                streams.replay(&target, *after, now_ms)
            } else {
                Replay::Gone
            };
            (stream.clone(), streams.last_seq(&target), replay)
        })
        .collect();
    format_answer(epoch, items)
}

/// The same answer from the cluster's history in Redis (`epoch` is the cluster's). A stream
/// whose history Redis could not give (unreachable) is not recovered.
pub async fn recover_answer_cluster(
    req: &RecoverRequest,
    epoch: &str,
    cluster: &Cluster,
    is_member: impl Fn(&str) -> bool,
) -> (String, u64, u64, u64) {
    let mut items = Vec::with_capacity(req.streams.len());
    for (stream, after) in &req.streams {
        let target = stream
            .as_deref()
            .map_or(Target::All, |r| Target::Room(r.into()));
        let allowed = stream.as_deref().is_none_or(&is_member);
        let (last, replay) = if req.epoch == epoch && allowed {
            match cluster.replay(&target, *after).await {
                Some((last, Some(events))) => (
                    last,
                    Replay::Events(events.into_iter().map(Arc::from).collect()),
                ),
                Some((last, None)) => (last, Replay::Gone),
                None => (0, Replay::Gone),
            }
        } else {
            let last = cluster
                .last_seqs(std::slice::from_ref(&target))
                .await
                .and_then(|v| v.first().copied())
                .unwrap_or(0);
            (last, Replay::Gone)
        };
        items.push((stream.clone(), last, replay));
    }
    format_answer(epoch, items)
}

/// `{ ok: true, epoch, streams: [...] }` from `(stream, last seq, replay)` per stream.
fn format_answer(
    epoch: &str,
    items: Vec<(Option<String>, u64, Replay)>,
) -> (String, u64, u64, u64) {
    let (mut hits, mut misses, mut replayed) = (0, 0, 0);
    let mut out = String::with_capacity(256);
    out.push_str("{\"ok\":true,\"epoch\":");
    out.push_str(&json!(epoch).to_string());
    out.push_str(",\"streams\":[");
    for (i, (stream, last, replay)) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        out.push_str(&json!(stream.as_deref().unwrap_or("*")).to_string());
        out.push_str(",\"seq\":");
        out.push_str(&last.to_string());
        match replay {
            Replay::Events(events) => {
                hits += 1;
                replayed += events.len() as u64;
                out.push_str(",\"recovered\":true,\"events\":[");
                for (j, e) in events.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str(e);
                }
                out.push_str("]}");
            }
            Replay::Gone => {
                misses += 1;
                out.push_str(",\"recovered\":false,\"events\":[]}");
            }
        }
    }
    out.push_str("]}");
    (out, hits, misses, replayed)
}

/// The connect error every refused connection gets: `unauthorized`, and nothing else (the
/// reason is never told to the client).
#[derive(Debug)]
pub struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

impl std::error::Error for Unauthorized {}

/// Connect middleware, the first to run: decides who the socket is (token, `authenticate`, or
/// anonymous; rules in [`crate::auth`]) and refuses it with `unauthorized` otherwise. The
/// socket's guard (identity patterns, rate limiter, address) is created here.
pub async fn admit(
    s: SocketRef,
    TryData(auth): TryData<Value>,
    State(ctx): State<SharedCtx>,
) -> Result<(), Unauthorized> {
    let auth = auth.unwrap_or(Value::Null);
    let ip = s.req_parts().extensions.get::<ClientAddr>().map(|c| c.0);
    let Some(identity) = identify(&ctx, &s, &auth, ip).await else {
        Stats::add(&ctx.stats.auth_failures, 1);
        return Err(Unauthorized);
    };
    let now = now_ms();
    if let Some(ip) = ip {
        ctx.ips.lock().opened(ip, now);
    }
    ctx.presence.add(s.id.as_str(), &identity.user_id, now);
    ctx.guards.lock().insert(
        s.id.to_string(),
        Guard {
            ip,
            rooms: identity.rooms,
            limiter: PacketLimiter::new(&ctx.cfg.rate_limit, now),
            lane: None,
            in_flight: 0,
            since_ms: now,
            connected: false,
        },
    );
    let (ctx, sid) = (ctx.clone(), s.id.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(CONNECT_GRACE).await;
        let stillborn = ctx.guards.lock().get(&sid).is_some_and(|g| !g.connected);
        if stillborn {
            ctx.presence.remove(&sid);
            ctx.forget(&sid);
        }
    });
    Ok(())
}

async fn identify(ctx: &Ctx, s: &SocketRef, auth: &Value, ip: Option<IpAddr>) -> Option<Identity> {
    let secret = &ctx.cfg.secret;
    if !secret.is_empty() {
        if let Some(t) = auth.get("token").and_then(Value::as_str) {
            return token::verify(t, &secret.0, now_ms() / 1000).ok();
        }
    }
    if let Some(hook) = &ctx.hooks.authenticate {
        let parts = s.req_parts();
        let address = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let handshake = auth::handshake_json(&parts.headers, parts.uri.query(), auth, &address);
        let timeout = Duration::from_millis(ctx.cfg.auth_timeout_ms);
        let result = auth::call(hook, "authenticate", handshake.to_string(), timeout).await?;
        return match token::identity_from_json(&result) {
            Ok(identity) => identity,
            Err(e) => {
                eprintln!("nself-realtime: authenticate resolved to a bad value ({e}); refused");
                None
            }
        };
    }
    if !secret.is_empty() {
        return None;
    }
    Some(Identity {
        user_id: "anonymous".into(),
        rooms: None,
    })
}

/// Connect middleware: registers the protocol handlers and the presence entry of a new socket.
/// It runs before socketioxide sends the CONNECT packet; the connect handler proper runs after
/// it, on its own task, so a client's first request could otherwise arrive before its handler
/// exists and be dropped (seen under load as a `join:room` that was never acknowledged).
/// A middleware that refuses connections (authentication) must run before this one.
pub async fn register(
    s: SocketRef,
    State(ctx): State<SharedCtx>,
) -> Result<(), std::convert::Infallible> {
    Stats::add(&ctx.stats.connections_total, 1);
    s.on("join:room", on_join);
    s.on("leave:room", on_leave);
    s.on("heartbeat", on_heartbeat);
    s.on("presence:set", on_presence_set);
    s.on("recover", on_recover);
    s.on_fallback(on_other);
    s.on_disconnect(on_disconnect);
    Ok(())
}

/// The connect handler (runs once CONNECT went out): everything a new socket needs was set up
/// by [`admit`] and [`register`]; this marks the connect as done.
pub async fn on_connect(s: SocketRef, State(ctx): State<SharedCtx>) {
    if let Some(g) = ctx.guards.lock().get_mut(s.id.as_str()) {
        g.connected = true;
    }
}

/// Counts a client packet, moves the socket's `lastSeen` and applies its rate limit: `false`
/// when the packet is to be dropped (no ack; one `error` per run of drops; a socket that keeps
/// flooding is disconnected).
fn seen(ctx: &Ctx, s: &SocketRef) -> bool {
    Stats::add(&ctx.stats.client_packets, 1);
    let now = now_ms();
    ctx.presence.touch(s.id.as_str(), now);
    let verdict = ctx
        .guards
        .lock()
        .get_mut(s.id.as_str())
        .map_or(Verdict::Allow, |g| g.limiter.check(now));
    match verdict {
        Verdict::Allow => true,
        Verdict::Drop { notify } => {
            Stats::add(&ctx.stats.packets_rate_limited, 1);
            if notify {
                let rl = &ctx.cfg.rate_limit;
                s.emit(
                    "error",
                    &json!({
                        "code": "RATE_LIMITED",
                        "message": format!(
                            "more than {} packets a second (burst {}): packets are dropped",
                            rl.packets_per_second, rl.burst
                        ),
                    }),
                )
                .ok();
            }
            false
        }
        Verdict::Disconnect => {
            Stats::add(&ctx.stats.packets_rate_limited, 1);
            Stats::add(&ctx.stats.sockets_rate_limited, 1);
            s.clone().disconnect().ok();
            false
        }
    }
}

fn refuse(ctx: &Ctx, s: &SocketRef, ack: AckSender, refusal: Refusal) {
    Stats::add(&ctx.stats.client_errors, 1);
    let body = refusal.to_json();
    ack.send(&json!({ "ok": false, "error": body })).ok();
    s.emit("error", &body).ok();
}

fn payload(data: TryData<Value>) -> Value {
    data.0.unwrap_or(Value::Null)
}

// The handlers below are plain functions that return a future. socketioxide calls a handler
// synchronously, in the order the socket's packets arrive, and spawns the future it returns:
// doing every state change (rooms, presence, acks) before returning keeps one socket's
// requests in order (join then leave stays left; the last presence:set wins). Only the
// notifications of other members happen in the spawned future.

/// A socket as `presence:*` notifications describe it.
struct Who {
    socket_id: String,
    user_id: String,
    state: Option<Value>,
}

impl Who {
    fn of(ctx: &Ctx, s: &SocketRef) -> Who {
        let socket_id = s.id.to_string();
        Who {
            user_id: ctx
                .presence
                .user_of(&socket_id)
                .map_or_else(|| "anonymous".to_string(), |u| u.to_string()),
            state: ctx
                .presence
                .state_of(&socket_id)
                .and_then(|raw| state_value(&raw)),
            socket_id,
        }
    }
}

/// A stored `presence:set` state (raw JSON) as a value.
fn state_value(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok()
}

/// Sends `event` (`{ room, socketId, userId, state? }`) to the other members of each room,
/// after the state change.
async fn notify(s: SocketRef, event: &'static str, rooms: Vec<String>, who: Who) {
    for room in rooms {
        let mut body = json!({ "room": room, "socketId": who.socket_id, "userId": who.user_id });
        if let Some(state) = &who.state {
            body["state"] = state.clone();
        }
        s.to(room).emit(event, &body).await.ok();
    }
}

fn on_recover(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> Job {
    if !seen(&ctx, &s) {
        return done();
    }
    let max_streams = ctx.cfg.max_rooms_per_socket + 1;
    let req = match parse_recover_request(&payload(data), max_streams) {
        Ok(req) => req,
        Err(refusal) => {
            refuse(&ctx, &s, ack, refusal);
            return done();
        }
    };
    // After this socket's earlier joins (its rooms, after a reconnect): synchronously, or in
    // the socket's lane when joins wait for `authorizeRoom`. The replay reads the history as it
    // is then; the client drops the events it also receives live (same seq).
    // With a cluster the history is in Redis: the answer is awaited (the socket's rooms are
    // already joined, synchronously, so membership is as the client expects).
    if let Some((cluster, epoch)) = cluster_epoch(&ctx) {
        if ctx.hooks.authorize_room.is_none() {
            return Box::pin(async move {
                answer_recover_cluster(&ctx, &s, ack, &req, &cluster, &epoch).await;
            });
        }
        return sequenced(ctx.clone(), s.clone(), ack, move |ctx, s, ack| async move {
            answer_recover_cluster(&ctx, &s, ack, &req, &cluster, &epoch).await;
        });
    }
    if ctx.hooks.authorize_room.is_none() {
        answer_recover(&ctx, &s, ack, &req);
        return done();
    }
    sequenced(ctx.clone(), s.clone(), ack, move |ctx, s, ack| async move {
        answer_recover(&ctx, &s, ack, &req);
    })
}

/// The cluster and its epoch while Redis answers; `None` for a single hub, or while Redis is
/// away (the hub's own epoch and history apply then).
fn cluster_epoch(ctx: &Ctx) -> Option<(Arc<Cluster>, Arc<str>)> {
    let c = ctx.cluster.clone()?;
    let epoch = c.epoch()?;
    Some((c, epoch))
}

async fn answer_recover_cluster(
    ctx: &Ctx,
    s: &SocketRef,
    ack: AckSender,
    req: &RecoverRequest,
    cluster: &Cluster,
    epoch: &str,
) {
    let sid = s.id.to_string();
    let answer = if req.epoch == *ctx.epoch {
        // Numbered by this hub while Redis was away: its own history has them.
        recover_answer(
            req,
            &ctx.epoch,
            &mut ctx.streams.lock(),
            |room| ctx.presence.is_member(&sid, room),
            now_ms(),
        )
    } else {
        recover_answer_cluster(req, epoch, cluster, |room| {
            ctx.presence.is_member(&sid, room)
        })
        .await
    };
    send_recover(ctx, &sid, ack, req, answer);
}

fn answer_recover(ctx: &Ctx, s: &SocketRef, ack: AckSender, req: &RecoverRequest) {
    let sid = s.id.to_string();
    let answer = recover_answer(
        req,
        &ctx.epoch,
        &mut ctx.streams.lock(),
        |room| ctx.presence.is_member(&sid, room),
        now_ms(),
    );
    send_recover(ctx, &sid, ack, req, answer);
}

fn send_recover(
    ctx: &Ctx,
    sid: &str,
    ack: AckSender,
    req: &RecoverRequest,
    (text, hits, misses, replayed): (String, u64, u64, u64),
) {
    Stats::add(&ctx.stats.recoveries, hits);
    Stats::add(&ctx.stats.recovery_misses, misses);
    Stats::add(&ctx.stats.events_replayed, replayed);
    if req.gap {
        ctx.presence.add_missed(sid, replayed);
    }
    match RawValue::from_string(text) {
        Ok(raw) => {
            ack.send(&*raw).ok();
        }
        Err(e) => eprintln!("nself-realtime: internal error: a recover answer was not JSON ({e})"),
    }
}

type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

fn done() -> Job {
    Box::pin(std::future::ready(()))
}

fn on_join(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> Job {
    if !seen(&ctx, &s) {
        return done();
    }
    let room = match parse_room_request(&payload(data)) {
        Ok(room) => room,
        Err(refusal) => {
            refuse(&ctx, &s, ack, refusal);
            return done();
        }
    };
    if !patterns_allow(&ctx, &s, &room) {
        forbid(&ctx, &s, ack, &room);
        return done();
    }
    let Some(hook) = ctx.hooks.authorize_room.clone() else {
        return Box::pin(apply_join(&ctx, &s, ack, room));
    };
    // `authorizeRoom` answers asynchronously: the join waits for it in the socket's lane, and
    // so do the socket's later joins and leaves.
    sequenced(ctx.clone(), s.clone(), ack, move |ctx, s, ack| async move {
        let user = user_of(&ctx, &s);
        let arg = json!([user, room]).to_string();
        let timeout = Duration::from_millis(ctx.cfg.auth_timeout_ms);
        let allowed = auth::call(&hook, "authorizeRoom", arg, timeout).await;
        if allowed == Some(Value::Bool(true)) {
            apply_join(&ctx, &s, ack, room).await;
        } else {
            forbid(&ctx, &s, ack, &room);
        }
    })
}

/// Whether the room matches the socket's identity patterns (always, when it has none).
fn patterns_allow(ctx: &Ctx, s: &SocketRef, room: &str) -> bool {
    ctx.guards
        .lock()
        .get(s.id.as_str())
        .is_none_or(|g| g.rooms.as_deref().is_none_or(|p| any_matches(p, room)))
}

fn forbid(ctx: &Ctx, s: &SocketRef, ack: AckSender, room: &str) {
    Stats::add(&ctx.stats.joins_forbidden, 1);
    refuse(
        ctx,
        s,
        ack,
        Refusal::new("FORBIDDEN", format!("not allowed to join room {room:?}")),
    );
}

fn user_of(ctx: &Ctx, s: &SocketRef) -> String {
    ctx.presence
        .user_of(s.id.as_str())
        .map_or_else(|| "anonymous".to_string(), |u| u.to_string())
}

/// Runs `job` after the socket's earlier sequenced requests, and before its later ones. The
/// caller's part before this (parsing, the rate limit) is synchronous, in packet order.
fn sequenced<F, Fut>(ctx: SharedCtx, s: SocketRef, ack: AckSender, job: F) -> Job
where
    F: FnOnce(SharedCtx, SocketRef, AckSender) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = oneshot::channel::<()>();
    let prev = {
        let mut guards = ctx.guards.lock();
        let Some(g) = guards.get_mut(s.id.as_str()) else {
            return done();
        };
        if g.in_flight >= MAX_IN_FLIGHT {
            None
        } else {
            g.in_flight += 1;
            Some(g.lane.replace(rx))
        }
    };
    let Some(prev) = prev else {
        refuse(
            &ctx,
            &s,
            ack,
            Refusal::new(
                "RATE_LIMITED",
                format!("more than {MAX_IN_FLIGHT} room requests waiting for authorizeRoom"),
            ),
        );
        return done();
    };
    Box::pin(async move {
        if let Some(prev) = prev {
            // An error only means the earlier request's task is gone: go on.
            prev.await.ok();
        }
        let sid = s.id.to_string();
        job(ctx.clone(), s, ack).await;
        if let Some(g) = ctx.guards.lock().get_mut(&sid) {
            g.in_flight = g.in_flight.saturating_sub(1);
        }
        tx.send(()).ok();
    })
}

/// Joins a room (the checks passed), acks, and tells the other members.
fn apply_join(ctx: &Ctx, s: &SocketRef, ack: AckSender, room: String) -> Job {
    let mut joined = Vec::new();
    match ctx
        .presence
        .join(s.id.as_str(), &room, ctx.cfg.max_rooms_per_socket)
    {
        Ok(newly) => {
            if newly {
                s.join(room.clone());
                joined.push(room.clone());
            }
            let members = members_json(ctx, &room);
            let target = Target::Room(room.as_str().into());
            // Where the room's stream stands: the client's starting point for recovery. In a
            // cluster that is in Redis: the ack waits for it (the join itself is done).
            if let Some((cluster, epoch)) = cluster_epoch(ctx) {
                let who = Who::of(ctx, s);
                let s = s.clone();
                return futures_boxed(async move {
                    let seq = cluster
                        .last_seqs(std::slice::from_ref(&target))
                        .await
                        .and_then(|v| v.first().copied())
                        .unwrap_or(0);
                    ack.send(&json!({
                        "ok": true,
                        "room": room,
                        "members": members,
                        "seq": seq,
                        "epoch": &*epoch,
                    }))
                    .ok();
                    notify(s, "presence:join", joined, who).await;
                });
            }
            let seq = ctx.streams.lock().last_seq(&target);
            ack.send(&json!({
                "ok": true,
                "room": room,
                "members": members,
                "seq": seq,
                "epoch": &*ctx.epoch,
            }))
            .ok();
        }
        Err(JoinError::TooManyRooms { max }) => refuse(
            ctx,
            s,
            ack,
            Refusal::new(
                "TOO_MANY_ROOMS",
                format!("this socket is already in {max} room(s), the maxRoomsPerSocket limit"),
            ),
        ),
        Err(JoinError::UnknownSocket) => {}
    }
    // Members already there learn the newcomer's state with its arrival.
    let who = Who::of(ctx, s);
    futures_boxed(notify(s.clone(), "presence:join", joined, who))
}

fn futures_boxed(f: impl Future<Output = ()> + Send + 'static) -> Job {
    Box::pin(f)
}

/// The members of a room for the join ack, so that a newcomer knows who is there
/// (`presence:*` events keep it current afterwards).
fn members_json(ctx: &Ctx, room: &str) -> Value {
    let mut all = ctx.presence.room_members(room);
    if let Some(c) = &ctx.cluster {
        all.extend(c.remote_room_members(room));
    }
    let members: Vec<Value> = all
        .into_iter()
        .map(|m| {
            let mut member = json!({ "socketId": m.socket_id, "userId": m.user_id });
            if let Some(state) = m.state.as_deref().and_then(state_value) {
                member["state"] = state;
            }
            member
        })
        .collect();
    Value::Array(members)
}

fn on_leave(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> Job {
    if !seen(&ctx, &s) {
        return done();
    }
    let room = match parse_room_request(&payload(data)) {
        Ok(room) => room,
        Err(refusal) => {
            refuse(&ctx, &s, ack, refusal);
            return done();
        }
    };
    if ctx.hooks.authorize_room.is_none() {
        return Box::pin(apply_leave(&ctx, &s, ack, room));
    }
    sequenced(ctx.clone(), s.clone(), ack, move |ctx, s, ack| async move {
        apply_leave(&ctx, &s, ack, room).await;
    })
}

fn apply_leave(
    ctx: &Ctx,
    s: &SocketRef,
    ack: AckSender,
    room: String,
) -> impl Future<Output = ()> + Send + 'static {
    let mut left = Vec::new();
    if ctx.presence.leave(s.id.as_str(), &room) {
        s.leave(room.clone());
        left.push(room.clone());
    }
    ack.send(&json!({ "ok": true, "room": room })).ok();
    let who = Who {
        state: None,
        ..Who::of(ctx, s)
    };
    notify(s.clone(), "presence:leave", left, who)
}

fn on_heartbeat(s: SocketRef, ack: AckSender, State(ctx): State<SharedCtx>) -> Job {
    if !seen(&ctx, &s) {
        return done();
    }
    // The heads of this socket's streams: a client that missed the last events of a stream
    // (its queue overflowed and nothing came after) learns it here and recovers them.
    if let Some((cluster, epoch)) = cluster_epoch(&ctx) {
        let rooms = ctx.presence.rooms_of(s.id.as_str());
        return Box::pin(async move {
            let mut targets = vec![Target::All];
            targets.extend(rooms.iter().map(|r| Target::Room(r.clone())));
            let mut seq = serde_json::Map::new();
            if let Some(heads) = cluster.last_seqs(&targets).await {
                for (t, head) in targets.iter().zip(heads) {
                    seq.insert(t.room().unwrap_or("*").to_string(), head.into());
                }
            }
            let body = json!({
                "timestamp": crate::clock::iso8601(now_ms()),
                "epoch": &*epoch,
                "seq": seq,
            });
            ack.send(&body).ok();
            s.emit("pong", &body).ok();
        });
    }
    let mut seq = serde_json::Map::new();
    {
        let streams = ctx.streams.lock();
        seq.insert("*".into(), streams.last_seq(&Target::All).into());
        for room in ctx.presence.rooms_of(s.id.as_str()) {
            let last = streams.last_seq(&Target::Room(room.clone()));
            seq.insert(room.to_string(), last.into());
        }
    }
    let body = json!({
        "timestamp": crate::clock::iso8601(now_ms()),
        "epoch": &*ctx.epoch,
        "seq": seq,
    });
    ack.send(&body).ok();
    s.emit("pong", &body).ok();
    done()
}

fn on_presence_set(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> Job {
    if !seen(&ctx, &s) {
        return done();
    }
    let mut rooms = Vec::new();
    match parse_presence_state(&payload(data)) {
        Err(refusal) => refuse(&ctx, &s, ack, refusal),
        Ok(state) => {
            if let Some(m) = ctx.presence.set_state(s.id.as_str(), &state) {
                rooms = room_names(&m);
            }
            ack.send(&json!({ "ok": true })).ok();
        }
    }
    let who = Who::of(&ctx, &s);
    Box::pin(notify(s, "presence:update", rooms, who))
}

fn on_other(s: SocketRef, State(ctx): State<SharedCtx>) -> Job {
    seen(&ctx, &s);
    done()
}

fn on_disconnect(
    s: SocketRef,
    _reason: DisconnectReason,
    State(ctx): State<SharedCtx>,
) -> impl Future<Output = ()> + Send + 'static {
    let socket_id = s.id.to_string();
    ctx.forget(&socket_id);
    let (rooms, user_id) = match ctx.presence.remove(&socket_id) {
        Some(m) => (room_names(&m), m.user_id.to_string()),
        None => (Vec::new(), String::new()),
    };
    let who = Who {
        socket_id,
        user_id,
        state: None,
    };
    // Through the socket's own namespace, not `SocketIo::to`: while the hub closes, the
    // namespaces are already gone from `SocketIo` when these handlers run.
    notify(s, "presence:leave", rooms, who)
}

fn room_names(m: &Membership) -> Vec<String> {
    m.rooms.iter().map(|r| r.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::HistoryConfig;

    #[test]
    fn recover_requests_are_checked() {
        let r = parse_recover_request(
            &json!({"epoch":"ab","streams":{"*":3,"project-1":0},"gap":true}),
            4,
        )
        .unwrap();
        assert_eq!(r.epoch, "ab");
        assert!(r.gap);
        assert!(r.streams.contains(&(None, 3)));
        assert!(r.streams.contains(&(Some("project-1".into()), 0)));
        for bad in [
            json!(null),
            json!({"streams":{}}),
            json!({"epoch":1,"streams":{}}),
            json!({"epoch":"a"}),
            json!({"epoch":"a","streams":[]}),
            json!({"epoch":"a","streams":{"bad room":1}}),
            json!({"epoch":"a","streams":{"*":-1}}),
            json!({"epoch":"a","streams":{"*":1.5}}),
            json!({"epoch":"a","streams":{"*":"1"}}),
            json!({"epoch":"a","streams":{"*":9007199254740992u64}}),
            json!({"epoch":"a","streams":{"a":1,"b":1,"c":1,"d":1,"e":1}}),
            json!({"epoch":"a","streams":{},"gap":"yes"}),
            json!({"epoch":"x".repeat(65),"streams":{}}),
        ] {
            let err = parse_recover_request(&bad, 4).unwrap_err();
            assert_eq!(err.code, "BAD_REQUEST", "{bad}");
            assert!(err.message.starts_with("recover: "), "{}", err.message);
        }
    }

    #[test]
    fn recover_answers_per_stream() {
        let mut streams = Streams::new(HistoryConfig {
            max_events: 2,
            max_age_ms: 60_000,
        });
        for _ in 0..3 {
            streams.stamp(&Target::All, 0, |n| format!("{{\"n\":{n}}}"));
            streams.stamp(&Target::Room("r".into()), 0, |n| format!("{{\"r\":{n}}}"));
        }
        let req = RecoverRequest {
            epoch: "e1".into(),
            streams: vec![(None, 1), (Some("r".into()), 0), (Some("other".into()), 0)],
            gap: false,
        };
        let (text, hits, misses, replayed) =
            recover_answer(&req, "e1", &mut streams, |room| room == "r", 0);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((hits, misses, replayed), (1, 2, 2));
        assert_eq!(v["epoch"], "e1");
        assert_eq!(
            v["streams"][0],
            json!({"stream":"*","seq":3,"recovered":true,"events":[{"n":2},{"n":3}]})
        );
        // History holds 2 and 3 only: from 0 is a miss, not a partial answer.
        assert_eq!(v["streams"][1]["recovered"], false);
        // Not a member: nothing from that room.
        assert_eq!(v["streams"][2]["recovered"], false);
        // Another epoch: nothing recovered.
        let (text, hits, ..) = recover_answer(&req, "e2", &mut streams, |_| true, 0);
        assert_eq!(hits, 0);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["epoch"], "e2");
    }

    #[test]
    fn room_requests_in_both_forms() {
        assert_eq!(
            parse_room_request(&json!({"roomId":"project-1"})),
            Ok("project-1".into())
        );
        assert_eq!(
            parse_room_request(&json!({"type":"join:room","data":{"roomId":"p"},"timestamp":"t"})),
            Ok("p".into())
        );
        assert_eq!(
            parse_room_request(&json!({})).unwrap_err().code,
            "BAD_REQUEST"
        );
        assert_eq!(
            parse_room_request(&Value::Null).unwrap_err().code,
            "BAD_REQUEST"
        );
        assert_eq!(
            parse_room_request(&json!({"roomId":5})).unwrap_err().code,
            "INVALID_ROOM"
        );
        assert_eq!(
            parse_room_request(&json!({"roomId":"a b"}))
                .unwrap_err()
                .code,
            "INVALID_ROOM"
        );
    }

    #[test]
    fn presence_state_is_a_small_object() {
        assert_eq!(
            parse_presence_state(&json!({"state":{"page":"/services"}})),
            Ok(r#"{"page":"/services"}"#.into())
        );
        assert_eq!(
            parse_presence_state(&json!({"state":"x"}))
                .unwrap_err()
                .code,
            "BAD_REQUEST"
        );
        let big = json!({"state":{"k":"x".repeat(1100)}});
        assert_eq!(
            parse_presence_state(&big).unwrap_err().code,
            "PAYLOAD_TOO_LARGE"
        );
    }
}
