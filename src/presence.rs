//! Who is connected (SPEC §8): one entry per socket with its user, rooms, times and the state it
//! last sent with `presence:set`, plus the room -> members index that rooms, fan-out counts and
//! `getRoomMembers` read. Sending `presence:*` events is left to [`crate::rooms`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::clock::iso8601;

/// One socket's presence, as `getPresence()` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceInfo {
    pub user_id: String,
    pub socket_id: String,
    pub rooms: Vec<String>,
    pub connected_at: String,
    pub last_seen: String,
    /// Raw JSON of the last `presence:set` state.
    pub state: Option<String>,
}

struct Entry {
    user_id: Arc<str>,
    rooms: BTreeSet<Arc<str>>,
    connected_at: u64,
    /// Moves on every packet; atomic so that the hot path takes only the read lock.
    last_seen: AtomicU64,
    state: Option<Arc<str>>,
    /// Events this socket missed while connected (its queue overflowed), as its client
    /// reported when it recovered them.
    missed: AtomicU64,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<Arc<str>, Entry>,
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

/// Why a join was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum JoinError {
    /// The socket is already in `max` rooms.
    TooManyRooms { max: usize },
    /// The socket is gone.
    UnknownSocket,
}

/// What a socket that left, or was removed, was part of.
#[derive(Debug, PartialEq, Eq)]
pub struct Membership {
    pub user_id: Arc<str>,
    pub rooms: Vec<Arc<str>>,
}

/// The presence registry of one hub. A `parking_lot::RwLock` because every operation is short
/// and never awaits; readers (fan-out counts, queries) far outnumber writers (joins, leaves).
#[derive(Default)]
pub struct Presence {
    inner: RwLock<Inner>,
}

impl Presence {
    pub fn add(&self, socket_id: &str, user_id: &str, now_ms: u64) {
        let entry = Entry {
            user_id: user_id.into(),
            rooms: BTreeSet::new(),
            connected_at: now_ms,
            last_seen: AtomicU64::new(now_ms),
            state: None,
            missed: AtomicU64::new(0),
        };
        self.inner.write().sockets.insert(socket_id.into(), entry);
    }

    /// Adds to the events a connected socket missed (see [`Presence::missed`]).
    pub fn add_missed(&self, socket_id: &str, n: u64) {
        if let Some(e) = self.inner.read().sockets.get(socket_id) {
            e.missed.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Connected sockets that missed events, with how many, most first.
    pub fn missed(&self) -> Vec<(String, u64)> {
        let inner = self.inner.read();
        let mut out: Vec<(String, u64)> = inner
            .sockets
            .iter()
            .map(|(sid, e)| (sid.to_string(), e.missed.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Whether a socket is in a room.
    pub fn is_member(&self, socket_id: &str, room: &str) -> bool {
        self.inner
            .read()
            .sockets
            .get(socket_id)
            .is_some_and(|e| e.rooms.contains(room))
    }

    /// The rooms a socket is in.
    pub fn rooms_of(&self, socket_id: &str) -> Vec<Arc<str>> {
        self.inner
            .read()
            .sockets
            .get(socket_id)
            .map(|e| e.rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Removes a socket; returns what it was in, for `presence:leave`.
    pub fn remove(&self, socket_id: &str) -> Option<Membership> {
        let mut inner = self.inner.write();
        let entry = inner.sockets.remove(socket_id)?;
        for room in &entry.rooms {
            remove_member(&mut inner.rooms, room, socket_id);
        }
        Some(Membership {
            user_id: entry.user_id,
            rooms: entry.rooms.into_iter().collect(),
        })
    }

    /// Adds a socket to a room; `Ok(false)` if it was already a member.
    pub fn join(&self, socket_id: &str, room: &str, max_rooms: usize) -> Result<bool, JoinError> {
        let mut inner = self.inner.write();
        let Inner { sockets, rooms } = &mut *inner;
        let (key, entry) = sockets
            .get_key_value(socket_id)
            .ok_or(JoinError::UnknownSocket)?;
        if entry.rooms.contains(room) {
            return Ok(false);
        }
        if entry.rooms.len() >= max_rooms {
            return Err(JoinError::TooManyRooms { max: max_rooms });
        }
        let key = key.clone();
        let room: Arc<str> = room.into();
        rooms.entry(room.clone()).or_default().insert(key);
        if let Some(entry) = sockets.get_mut(socket_id) {
            entry.rooms.insert(room);
        }
        Ok(true)
    }

    /// Removes a socket from a room; `false` if it was not a member.
    pub fn leave(&self, socket_id: &str, room: &str) -> bool {
        let mut inner = self.inner.write();
        let was_member = inner
            .sockets
            .get_mut(socket_id)
            .is_some_and(|e| e.rooms.remove(room));
        if was_member {
            remove_member(&mut inner.rooms, room, socket_id);
        }
        was_member
    }

    /// Records activity of a socket.
    pub fn touch(&self, socket_id: &str, now_ms: u64) {
        if let Some(e) = self.inner.read().sockets.get(socket_id) {
            e.last_seen.fetch_max(now_ms, Ordering::Relaxed);
        }
    }

    /// Stores a socket's `presence:set` state; returns its user and rooms for `presence:update`.
    pub fn set_state(&self, socket_id: &str, state_json: &str) -> Option<Membership> {
        let mut inner = self.inner.write();
        let e = inner.sockets.get_mut(socket_id)?;
        e.state = Some(state_json.into());
        Some(Membership {
            user_id: e.user_id.clone(),
            rooms: e.rooms.iter().cloned().collect(),
        })
    }

    /// The raw JSON of a socket's `presence:set` state, if it sent one.
    pub fn state_of(&self, socket_id: &str) -> Option<Arc<str>> {
        self.inner
            .read()
            .sockets
            .get(socket_id)
            .and_then(|e| e.state.clone())
    }

    pub fn user_of(&self, socket_id: &str) -> Option<Arc<str>> {
        self.inner
            .read()
            .sockets
            .get(socket_id)
            .map(|e| e.user_id.clone())
    }

    /// Sockets silent since before `cutoff_ms`.
    pub fn stale(&self, cutoff_ms: u64) -> Vec<String> {
        self.inner
            .read()
            .sockets
            .iter()
            .filter(|(_, e)| e.last_seen.load(Ordering::Relaxed) < cutoff_ms)
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Connected sockets.
    pub fn len(&self) -> usize {
        self.inner.read().sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rooms with at least one member.
    /// Names of the rooms with members here.
    pub fn room_names(&self) -> Vec<String> {
        self.inner
            .read()
            .rooms
            .keys()
            .map(|r| r.to_string())
            .collect()
    }

    pub fn room_count(&self) -> usize {
        self.inner.read().rooms.len()
    }

    /// Members of a room (all sockets for `None`): how many sockets a broadcast reaches.
    pub fn audience(&self, room: Option<&str>) -> usize {
        let inner = self.inner.read();
        match room {
            None => inner.sockets.len(),
            Some(r) => inner.rooms.get(r).map_or(0, HashSet::len),
        }
    }

    pub fn all(&self) -> Vec<PresenceInfo> {
        let inner = self.inner.read();
        sorted(inner.sockets.iter().map(|(id, e)| info(id, e)).collect())
    }

    pub fn room_members(&self, room: &str) -> Vec<PresenceInfo> {
        let inner = self.inner.read();
        let Some(members) = inner.rooms.get(room) else {
            return Vec::new();
        };
        sorted(
            members
                .iter()
                .filter_map(|id| inner.sockets.get(id).map(|e| info(id, e)))
                .collect(),
        )
    }

    pub fn user(&self, user_id: &str) -> Vec<PresenceInfo> {
        let inner = self.inner.read();
        sorted(
            inner
                .sockets
                .iter()
                .filter(|(_, e)| &*e.user_id == user_id)
                .map(|(id, e)| info(id, e))
                .collect(),
        )
    }
}

fn remove_member(rooms: &mut HashMap<Arc<str>, HashSet<Arc<str>>>, room: &str, socket_id: &str) {
    if let Some(members) = rooms.get_mut(room) {
        members.remove(socket_id);
        if members.is_empty() {
            rooms.remove(room);
        }
    }
}

fn info(id: &str, e: &Entry) -> PresenceInfo {
    PresenceInfo {
        user_id: e.user_id.to_string(),
        socket_id: id.to_string(),
        rooms: e.rooms.iter().map(|r| r.to_string()).collect(),
        connected_at: iso8601(e.connected_at),
        last_seen: iso8601(e.last_seen.load(Ordering::Relaxed)),
        state: e.state.as_ref().map(|s| s.to_string()),
    }
}

/// Oldest connection first, so that lists are stable between calls.
fn sorted(mut list: Vec<PresenceInfo>) -> Vec<PresenceInfo> {
    list.sort_by(|a, b| {
        (a.connected_at.as_str(), a.socket_id.as_str())
            .cmp(&(b.connected_at.as_str(), b.socket_id.as_str()))
    });
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_leave_and_remove_keep_the_room_index() {
        let p = Presence::default();
        p.add("s1", "anonymous", 1_000);
        p.add("s2", "alice", 2_000);
        assert_eq!(p.join("s1", "r", 64), Ok(true));
        assert_eq!(p.join("s1", "r", 64), Ok(false));
        assert_eq!(p.join("s2", "r", 64), Ok(true));
        assert_eq!(p.audience(Some("r")), 2);
        assert_eq!(p.audience(None), 2);
        assert_eq!(p.room_count(), 1);
        assert!(p.leave("s2", "r"));
        assert!(!p.leave("s2", "r"));
        let gone = p.remove("s1").unwrap();
        assert_eq!(gone.rooms, vec![Arc::<str>::from("r")]);
        assert_eq!(p.room_count(), 0);
        assert_eq!(p.audience(Some("r")), 0);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn join_refused_past_max_rooms() {
        let p = Presence::default();
        p.add("s", "u", 0);
        assert_eq!(p.join("s", "a", 2), Ok(true));
        assert_eq!(p.join("s", "b", 2), Ok(true));
        assert_eq!(p.join("s", "c", 2), Err(JoinError::TooManyRooms { max: 2 }));
        assert_eq!(p.join("nobody", "c", 2), Err(JoinError::UnknownSocket));
        assert_eq!(p.all()[0].rooms, vec!["a", "b"]);
    }

    #[test]
    fn stale_sockets_are_those_silent_before_the_cutoff() {
        let p = Presence::default();
        p.add("old", "u", 1_000);
        p.add("fresh", "u", 1_000);
        p.touch("fresh", 5_000);
        assert_eq!(p.stale(4_000), vec!["old".to_string()]);
        assert_eq!(p.user("u").len(), 2);
        // equal connection times sort by socket id: fresh, old
        let all = p.all();
        assert_eq!(all[0].socket_id, "fresh");
        assert_eq!(all[0].last_seen, "1970-01-01T00:00:05.000Z");
        assert_eq!(all[1].last_seen, "1970-01-01T00:00:01.000Z");
    }

    #[test]
    fn state_is_kept_per_socket() {
        let p = Presence::default();
        p.add("s", "u", 0);
        p.join("s", "r", 64).unwrap();
        let m = p.set_state("s", r#"{"page":"/services"}"#).unwrap();
        assert_eq!(m.rooms.len(), 1);
        assert_eq!(
            p.room_members("r")[0].state.as_deref(),
            Some(r#"{"page":"/services"}"#)
        );
        assert!(p.set_state("nobody", "{}").is_none());
    }
}
