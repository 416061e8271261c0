//! Redis key and channel names of a cluster, and the codecs of what is stored under them, as
//! pure logic. Everything a hub or an emitter keeps in Redis lives under one `prefix`, so that
//! several clusters (or test runs) can share a Redis.
//!
//! Layout (`P` = prefix):
//! - `P:epoch` (string): the cluster epoch, created once with `SET NX`; gone only with Redis's
//!   data, and then every counter went with it.
//! - `P:seq` (hash): per target (`*` or `r:<room>`), the last `seq` given out.
//! - `P:hist:<target>` (stream): the envelopes of a target, entry id `0-<seq>`, `MAXLEN` capped,
//!   expiring `maxAgeMs` after its last event.
//! - `P:hubs` (sorted set): hub id -> last heartbeat (ms); `P:presence:<hub>` (string, with a
//!   TTL): that hub's presence snapshot.
//! - socketioxide-redis channels: `P-request#/#…`, `P-response#/#…` (its own names).

use crate::batch::Target;

/// A target as it appears in keys and in `recover` / heartbeat maps.
pub fn target_key(target: &Target) -> String {
    match target {
        Target::All => "*".to_string(),
        Target::Room(r) => format!("r:{r}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.prefix)
    }

    pub fn seq(&self) -> String {
        format!("{}:seq", self.prefix)
    }

    pub fn history(&self, target: &Target) -> String {
        format!("{}:hist:{}", self.prefix, target_key(target))
    }

    pub fn hubs(&self) -> String {
        format!("{}:hubs", self.prefix)
    }

    pub fn presence(&self, hub_id: &str) -> String {
        format!("{}:presence:{hub_id}", self.prefix)
    }
}

/// The stream entry id of a `seq`: `0-<seq>` (ids must grow; ours grow with `seq`).
pub fn entry_id(seq: u64) -> String {
    format!("0-{seq}")
}

/// The `seq` of a stream entry id written by [`entry_id`].
pub fn seq_of_entry(id: &str) -> Option<u64> {
    id.strip_prefix("0-")?.parse().ok()
}

/// Numbers one emit and stores it in history, atomically: so that `seq` order is the order in
/// which the envelopes exist in Redis, whichever hub emitted them.
///
/// KEYS: epoch, seq hash, history stream. ARGV: target field, candidate epoch (used when the
/// cluster has none yet, or lost it with Redis's data), envelope up to before `seq`, max events
/// (0: no history), max age ms, now ms. Returns `{ seq, epoch }`; the envelope stored is
/// `open .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"}'`, byte for byte what
/// [`crate::envelope::close`] makes of it.
pub const STAMP_SCRIPT: &str = r#"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
  epoch = ARGV[2]
end
local seq = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local max = tonumber(ARGV[4])
if max > 0 then
  local env = ARGV[3] .. ',"seq":' .. string.format('%d', seq) .. ',"epoch":"' .. epoch .. '"}'
  redis.call('XADD', KEYS[3], 'MAXLEN', max, '0-' .. string.format('%d', seq), 'e', env, 't', ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return { seq, epoch }
"#;

/// One stored envelope read back from a history stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub at_ms: u64,
    pub envelope: String,
}

/// What a replay from Redis history gives: the same rule as [`crate::history::Streams::replay`]:
/// everything after `after`, or nothing when the history no longer reaches back to `after + 1`
/// (evicted by `MAXLEN`, older than `max_age_ms`, or `after` is from the future).
pub fn replay_from(
    entries: Vec<Entry>,
    after: u64,
    last: u64,
    now_ms: u64,
    max_age_ms: u64,
) -> Option<Vec<String>> {
    if after > last {
        return None;
    }
    if after == last {
        return Some(Vec::new());
    }
    let first = entries.first()?;
    if first.seq != after + 1 || now_ms.saturating_sub(first.at_ms) > max_age_ms {
        return None;
    }
    // Every later entry is newer; a hole inside (never written: a failed script) is a miss.
    let mut expect = after + 1;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        if e.seq != expect {
            return None;
        }
        expect += 1;
        out.push(e.envelope);
    }
    if expect != last + 1 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, at_ms: u64) -> Entry {
        Entry {
            seq,
            at_ms,
            envelope: seq.to_string(),
        }
    }

    #[test]
    fn keys_are_prefixed_and_targets_distinct() {
        let k = Keys::new("app");
        assert_eq!(k.epoch(), "app:epoch");
        assert_eq!(k.history(&Target::All), "app:hist:*");
        assert_eq!(k.history(&Target::Room("*".into())), "app:hist:r:*");
        assert_eq!(k.presence("h1"), "app:presence:h1");
    }

    #[test]
    fn entry_ids_round_trip() {
        assert_eq!(entry_id(42), "0-42");
        assert_eq!(seq_of_entry("0-42"), Some(42));
        assert_eq!(seq_of_entry("1-42"), None);
        assert_eq!(seq_of_entry("0-x"), None);
    }

    #[test]
    fn envelope_of_the_script_is_what_close_makes() {
        let open = crate::envelope::open("x", "1", "t", None);
        let lua_like = format!("{open},\"seq\":{},\"epoch\":\"{}\"}}", 7, "e1");
        assert_eq!(crate::envelope::close(open, 7, "e1"), lua_like);
    }

    #[test]
    fn replay_follows_the_local_rules() {
        let all = || vec![entry(3, 100), entry(4, 100), entry(5, 100)];
        // Everything after 2.
        assert_eq!(
            replay_from(all(), 2, 5, 100, 1000),
            Some(vec!["3".into(), "4".into(), "5".into()])
        );
        // Up to date; from the future.
        assert_eq!(replay_from(vec![], 5, 5, 100, 1000), Some(vec![]));
        assert_eq!(replay_from(vec![], 6, 5, 100, 1000), None);
        // Evicted: history starts after what the client needs.
        assert_eq!(
            replay_from(vec![entry(4, 100), entry(5, 100)], 2, 5, 100, 1000),
            None
        );
        // Too old.
        assert_eq!(replay_from(all(), 2, 5, 2000, 1000), None);
        // A hole, or history that stops short of the counter.
        assert_eq!(
            replay_from(vec![entry(3, 100), entry(5, 100)], 2, 5, 100, 1000),
            None
        );
        assert_eq!(replay_from(vec![entry(3, 100)], 2, 5, 100, 1000), None);
        // Nothing kept at all.
        assert_eq!(replay_from(vec![], 2, 5, 100, 1000), None);
    }
}
