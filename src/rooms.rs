//! The client side of the wire protocol (SPEC §5) on top of socketioxide: `join:room` and
//! `leave:room` with acks, `heartbeat` -> `pong`, `presence:set`, and the `presence:*` events to
//! the other members of a room. Presence bookkeeping itself lives in [`crate::presence`].

use std::sync::Arc;

use serde_json::{json, Value};
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;
use socketioxide::SocketIo;

use crate::clock::now_ms;
use crate::options::HubConfig;
use crate::presence::{JoinError, Presence};
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

/// Registers the protocol handlers on a new socket and its presence entry.
pub async fn on_connect(s: SocketRef, State(ctx): State<SharedCtx>) {
    let sid = s.id.to_string();
    ctx.presence.add(&sid, "anonymous", now_ms());
    Stats::add(&ctx.stats.connections_total, 1);
    s.on("join:room", on_join);
    s.on("leave:room", on_leave);
    s.on("heartbeat", on_heartbeat);
    s.on("presence:set", on_presence_set);
    s.on_fallback(on_other);
    s.on_disconnect(on_disconnect);
}

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

async fn on_join(s: SocketRef, data: TryData<Value>, ack: AckSender, State(ctx): State<SharedCtx>) {
    seen(&ctx, &s);
    let room = match parse_room_request(&payload(data)) {
        Ok(room) => room,
        Err(refusal) => return refuse(&ctx, &s, ack, refusal),
    };
    let sid = s.id.as_str();
    match ctx.presence.join(sid, &room, ctx.cfg.max_rooms_per_socket) {
        Ok(newly) => {
            if newly {
                s.join(room.clone());
                let user = ctx
                    .presence
                    .user_of(sid)
                    .unwrap_or_else(|| "anonymous".into());
                let msg = json!({ "room": room, "socketId": sid, "userId": &*user });
                s.to(room.clone()).emit("presence:join", &msg).await.ok();
            }
            ack.send(&json!({ "ok": true, "room": room, "members": members_json(&ctx, &room) }))
                .ok();
        }
        Err(JoinError::TooManyRooms { max }) => refuse(
            &ctx,
            &s,
            ack,
            Refusal::new(
                "TOO_MANY_ROOMS",
                format!("this socket is already in {max} rooms (maxRoomsPerSocket)"),
            ),
        ),
        Err(JoinError::UnknownSocket) => {}
    }
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
            if let Some(state) = m.state.and_then(|s| serde_json::from_str::<Value>(&s).ok()) {
                member["state"] = state;
            }
            member
        })
        .collect();
    Value::Array(members)
}

async fn on_leave(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) {
    seen(&ctx, &s);
    let room = match parse_room_request(&payload(data)) {
        Ok(room) => room,
        Err(refusal) => return refuse(&ctx, &s, ack, refusal),
    };
    let sid = s.id.as_str();
    if ctx.presence.leave(sid, &room) {
        s.leave(room.clone());
        let user = ctx
            .presence
            .user_of(sid)
            .unwrap_or_else(|| "anonymous".into());
        let msg = json!({ "room": room, "socketId": sid, "userId": &*user });
        s.to(room.clone()).emit("presence:leave", &msg).await.ok();
    }
    ack.send(&json!({ "ok": true, "room": room })).ok();
}

async fn on_heartbeat(s: SocketRef, ack: AckSender, State(ctx): State<SharedCtx>) {
    seen(&ctx, &s);
    let now = now_ms();
    let body = json!({ "timestamp": crate::clock::iso8601(now) });
    ack.send(&body).ok();
    s.emit("pong", &body).ok();
}

async fn on_presence_set(
    s: SocketRef,
    data: TryData<Value>,
    ack: AckSender,
    State(ctx): State<SharedCtx>,
) {
    seen(&ctx, &s);
    let state = match parse_presence_state(&payload(data)) {
        Ok(state) => state,
        Err(refusal) => return refuse(&ctx, &s, ack, refusal),
    };
    let sid = s.id.as_str();
    if let Some(m) = ctx.presence.set_state(sid, &state) {
        let state: Value = serde_json::from_str(&state).unwrap_or(Value::Null);
        for room in m.rooms {
            let msg =
                json!({ "room": &*room, "socketId": sid, "userId": &*m.user_id, "state": state });
            s.to(room.to_string())
                .emit("presence:update", &msg)
                .await
                .ok();
        }
    }
    ack.send(&json!({ "ok": true })).ok();
}

async fn on_other(s: SocketRef, State(ctx): State<SharedCtx>) {
    seen(&ctx, &s);
}

async fn on_disconnect(
    s: SocketRef,
    io: SocketIo,
    _reason: DisconnectReason,
    State(ctx): State<SharedCtx>,
) {
    let sid = s.id.as_str();
    if let Some(m) = ctx.presence.remove(sid) {
        for room in m.rooms {
            let msg = json!({ "room": &*room, "socketId": sid, "userId": &*m.user_id });
            io.to(room.to_string())
                .emit("presence:leave", &msg)
                .await
                .ok();
        }
    }
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
