//! The other hubs' presence, as this hub last heard it (SPEC §9): each hub writes a snapshot of
//! its own sockets to Redis every second with a TTL, and reads everyone else's. Pure logic: the
//! snapshot codec, and the merge of what was read, with expiry of hubs that stopped reporting.
//! Reading Redis is [`crate::cluster`]'s job; the local registry stays [`crate::presence`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::presence::PresenceInfo;

/// One socket in a snapshot (field names as `getPresence()` returns them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    user_id: String,
    socket_id: String,
    rooms: Vec<String>,
    connected_at: String,
    last_seen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// A hub's snapshot as written to Redis: its sockets and when it was taken.
pub fn encode(at_ms: u64, sockets: &[PresenceInfo]) -> String {
    let wire: Vec<Wire> = sockets
        .iter()
        .map(|p| Wire {
            user_id: p.user_id.clone(),
            socket_id: p.socket_id.clone(),
            rooms: p.rooms.clone(),
            connected_at: p.connected_at.clone(),
            last_seen: p.last_seen.clone(),
            state: p.state.clone(),
        })
        .collect();
    serde_json::json!({ "at": at_ms, "sockets": wire }).to_string()
}

/// Reads a snapshot; `None` for anything else (another version, a damaged value).
pub fn decode(text: &str) -> Option<(u64, Vec<PresenceInfo>)> {
    #[derive(Deserialize)]
    struct Snapshot {
        at: u64,
        sockets: Vec<Wire>,
    }
    let s: Snapshot = serde_json::from_str(text).ok()?;
    let sockets = s
        .sockets
        .into_iter()
        .map(|w| PresenceInfo {
            user_id: w.user_id,
            socket_id: w.socket_id,
            rooms: w.rooms,
            connected_at: w.connected_at,
            last_seen: w.last_seen,
            state: w.state,
        })
        .collect();
    Some((s.at, sockets))
}

/// The other hubs' sockets, by hub id.
#[derive(Debug, Default)]
pub struct Replica {
    hubs: BTreeMap<String, (u64, Vec<PresenceInfo>)>,
}

impl Replica {
    /// Replaces what is known with one round of reads: `(hub id, snapshot text)` of every hub
    /// that reported (this hub excluded). Hubs not in the round, and snapshots older than
    /// `stale_after_ms`, are dropped: a hub that died vanishes within that bound.
    pub fn update(&mut self, read: Vec<(String, String)>, now_ms: u64, stale_after_ms: u64) {
        self.hubs.clear();
        for (hub, text) in read {
            if let Some((at, sockets)) = decode(&text) {
                if now_ms.saturating_sub(at) <= stale_after_ms {
                    self.hubs.insert(hub, (at, sockets));
                }
            }
        }
    }

    /// Drops everything (Redis unreachable for longer than the staleness bound).
    pub fn expire(&mut self, now_ms: u64, stale_after_ms: u64) {
        self.hubs
            .retain(|_, (at, _)| now_ms.saturating_sub(*at) <= stale_after_ms);
    }

    /// Other hubs known to be alive.
    pub fn hubs(&self) -> usize {
        self.hubs.len()
    }

    pub fn all(&self) -> impl Iterator<Item = &PresenceInfo> {
        self.hubs.values().flat_map(|(_, s)| s.iter())
    }

    pub fn len(&self) -> usize {
        self.hubs.values().map(|(_, s)| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn room_members(&self, room: &str) -> Vec<PresenceInfo> {
        self.all()
            .filter(|p| p.rooms.iter().any(|r| r == room))
            .cloned()
            .collect()
    }

    pub fn user(&self, user_id: &str) -> Vec<PresenceInfo> {
        self.all()
            .filter(|p| p.user_id == user_id)
            .cloned()
            .collect()
    }

    /// Rooms with members on other hubs.
    pub fn rooms(&self) -> std::collections::HashSet<&str> {
        self.all()
            .flat_map(|p| p.rooms.iter().map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(sid: &str, user: &str, rooms: &[&str]) -> PresenceInfo {
        PresenceInfo {
            user_id: user.into(),
            socket_id: sid.into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            connected_at: "2026-01-01T00:00:00.000Z".into(),
            last_seen: "2026-01-01T00:00:01.000Z".into(),
            state: Some(r#"{"page":"/"}"#.into()),
        }
    }

    #[test]
    fn snapshots_round_trip() {
        let sockets = vec![p("a", "u1", &["r1"]), p("b", "u2", &[])];
        assert_eq!(decode(&encode(5, &sockets)), Some((5, sockets)));
        assert_eq!(decode("nonsense"), None);
        assert_eq!(decode(r#"{"at":1}"#), None);
    }

    #[test]
    fn merge_answers_queries_and_forgets_silent_hubs() {
        let mut r = Replica::default();
        r.update(
            vec![
                (
                    "h1".into(),
                    encode(1000, &[p("a", "u1", &["r1"]), p("b", "u2", &["r1", "r2"])]),
                ),
                ("h2".into(), encode(1000, &[p("c", "u1", &["r2"])])),
                ("h3".into(), encode(100, &[p("d", "u3", &[])])), // too old
                ("h4".into(), "garbage".into()),
            ],
            4000,
            3000,
        );
        assert_eq!(r.hubs(), 2);
        assert_eq!(r.len(), 3);
        assert_eq!(r.room_members("r1").len(), 2);
        assert_eq!(r.user("u1").len(), 2);
        assert_eq!(r.rooms().len(), 2);
        r.expire(4000, 3000);
        assert_eq!(r.hubs(), 2);
        r.expire(5000, 3000);
        assert_eq!(r.hubs(), 0);
        assert!(r.is_empty());
    }
}
