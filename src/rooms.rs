//! The client side of the wire protocol (SPEC §5) on top of socketioxide: `join:room` and
//! `leave:room` with acks, `heartbeat` -> `pong`, `presence:set`, and the `presence:*` events to
//! the other members of a room. Presence bookkeeping itself lives in [`crate::presence`].

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use serde_json::{json, Value};
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;

use crate::clock::now_ms;
use crate::options::HubConfig;
use crate::presence::{JoinError, Membership, Presence};
use crate::stats::Stats;
use crate::validate::check_room;

/// What the socket handlers share: handed to socketioxide as its state.
pub struct Ctx {
    pub cfg: Arc<HubConfig>,
    pub presence: Arc<Presence>,
    pub stats: Arc<Stats>,
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

/// Connect middleware: registers the protocol handlers and the presence entry of a new socket.
/// It runs before socketioxide sends the CONNECT packet; the connect handler proper runs after
/// it, on its own task, so a client's first request could otherwise arrive before its handler
/// exists and be dropped (seen under load as a `join:room` that was never acknowledged).
/// A middleware that refuses connections (authentication) must run before this one.
pub async fn register(s: SocketRef, State(ctx): State<SharedCtx>) -> Result<(), Infallible> {
    let sid = s.id.to_string();
    ctx.presence.add(&sid, "anonymous", now_ms());
    Stats::add(&ctx.stats.connections_total, 1);
    s.on("join:room", on_join);
    s.on("leave:room", on_leave);
    s.on("heartbeat", on_heartbeat);
    s.on("presence:set", on_presence_set);
    s.on_fallback(on_other);
    s.on_disconnect(on_disconnect);
    Ok(())
}

/// The connect handler: everything a new socket needs was set up by [`register`].
pub async fn on_connect() {}

/// Counts a client packet and moves the socket's `lastSeen`.
fn seen(ctx: &Ctx, s: &SocketRef) {
    Stats::add(&ctx.stats.client_packets, 1);
    ctx.presence.touch(s.id.as_str(), now_ms());
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

fn on_join(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> impl Future<Output = ()> + Send + 'static {
    seen(&ctx, &s);
    let mut joined = Vec::new();
    match parse_room_request(&payload(data)) {
        Err(refusal) => refuse(&ctx, &s, ack, refusal),
        Ok(room) => match ctx
            .presence
            .join(s.id.as_str(), &room, ctx.cfg.max_rooms_per_socket)
        {
            Ok(newly) => {
                if newly {
                    s.join(room.clone());
                    joined.push(room.clone());
                }
                let members = members_json(&ctx, &room);
                ack.send(&json!({ "ok": true, "room": room, "members": members }))
                    .ok();
            }
            Err(JoinError::TooManyRooms { max }) => refuse(
                &ctx,
                &s,
                ack,
                Refusal::new(
                    "TOO_MANY_ROOMS",
                    format!("this socket is already in {max} room(s), the maxRoomsPerSocket limit"),
                ),
            ),
            Err(JoinError::UnknownSocket) => {}
        },
    }
    // Members already there learn the newcomer's state with its arrival.
    let who = Who::of(&ctx, &s);
    notify(s, "presence:join", joined, who)
}

/// The members of a room for the join ack, so that a newcomer knows who is there
/// (`presence:*` events keep it current afterwards).
fn members_json(ctx: &Ctx, room: &str) -> Value {
    let members: Vec<Value> = ctx
        .presence
        .room_members(room)
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
) -> impl Future<Output = ()> + Send + 'static {
    seen(&ctx, &s);
    let mut left = Vec::new();
    match parse_room_request(&payload(data)) {
        Err(refusal) => refuse(&ctx, &s, ack, refusal),
        Ok(room) => {
            if ctx.presence.leave(s.id.as_str(), &room) {
                s.leave(room.clone());
                left.push(room.clone());
            }
            ack.send(&json!({ "ok": true, "room": room })).ok();
        }
    }
    let who = Who {
        state: None,
        ..Who::of(&ctx, &s)
    };
    notify(s, "presence:leave", left, who)
}

fn on_heartbeat(
    s: SocketRef,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> impl Future<Output = ()> + Send + 'static {
    seen(&ctx, &s);
    let body = json!({ "timestamp": crate::clock::iso8601(now_ms()) });
    ack.send(&body).ok();
    s.emit("pong", &body).ok();
    std::future::ready(())
}

fn on_presence_set(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) -> impl Future<Output = ()> + Send + 'static {
    seen(&ctx, &s);
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
    notify(s, "presence:update", rooms, who)
}

fn on_other(s: SocketRef, State(ctx): State<SharedCtx>) -> impl Future<Output = ()> + Send {
    seen(&ctx, &s);
    std::future::ready(())
}

fn on_disconnect(
    s: SocketRef,
    _reason: DisconnectReason,
    State(ctx): State<SharedCtx>,
) -> impl Future<Output = ()> + Send + 'static {
    let socket_id = s.id.to_string();
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
