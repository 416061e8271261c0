//! Sequence numbers and recent history per target (a room, or everyone), as pure logic: what
//! makes recovery after a reconnect, and after a client's queue overflowed, lossless.
//!
//! Every envelope sent to a target gets that target's next `seq` (from 1, per hub start, which
//! the `epoch` names). With history on, the last `max_events` envelopes of each target, none
//! older than `max_age_ms`, are kept, so a client that saw `seq` n can ask for everything after
//! n. When the history no longer reaches back to n + 1 the answer says so: the client must
//! refetch its state instead of trusting a stream with a hole.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::batch::Target;
use crate::options::HistoryConfig;

/// One sent event, kept for replay.
#[derive(Debug, Clone)]
pub struct Stored {
    pub seq: u64,
    pub at_ms: u64,
    /// The whole envelope, `seq` and `epoch` included: replayed byte for byte.
    pub envelope: Arc<str>,
}

#[derive(Default)]
struct Stream {
    /// The last `seq` given out (0: none yet).
    last: u64,
    events: VecDeque<Stored>,
}

/// The answer to "what came after `seq` n on this target".
#[derive(Debug, PartialEq)]
pub enum Replay {
    /// Every event after n, in order (empty when nothing was sent since).
    Events(Vec<Arc<str>>),
    /// The history does not reach back to n + 1 (evicted, off, or n is from the future).
    Gone,
}

/// Every target's sequence and history.
pub struct Streams {
    cfg: HistoryConfig,
    streams: HashMap<Target, Stream>,
    /// Events currently held, over all targets (for `getStats()`).
    held: usize,
}

impl Streams {
    pub fn new(cfg: HistoryConfig) -> Self {
        Streams {
            cfg,
            streams: HashMap::new(),
            held: 0,
        }
    }

    /// Gives the next `seq` of `target` to an envelope; `close` turns that number into the
    /// final envelope text, which is stored (history on) and returned.
    pub fn stamp(
        &mut self,
        target: &Target,
        now_ms: u64,
        close: impl FnOnce(u64) -> String,
    ) -> String {
        let stream = match self.streams.get_mut(target) {
            Some(s) => s,
            None => self.streams.entry(target.clone()).or_default(),
        };
        stream.last += 1;
        let envelope = close(stream.last);
        if self.cfg.enabled() {
            stream.events.push_back(Stored {
                seq: stream.last,
                at_ms: now_ms,
                envelope: Arc::from(envelope.as_str()),
            });
            self.held += 1;
            if stream.events.len() > self.cfg.max_events {
                stream.events.pop_front();
                self.held -= 1;
            }
            let removed = evict_old(stream, now_ms, self.cfg.max_age_ms);
            self.held -= removed;
        }
        envelope
    }

    /// The last `seq` given out on `target` (0 when none).
    pub fn last_seq(&self, target: &Target) -> u64 {
        self.streams.get(target).map_or(0, |s| s.last)
    }

    /// Everything sent to `target` after `after`, if the history still holds all of it.
    pub fn replay(&mut self, target: &Target, after: u64, now_ms: u64) -> Replay {
        let Some(stream) = self.streams.get_mut(target) else {
            // Nothing was ever sent there in this epoch: only "nothing after 0" is true.
            return if after == 0 {
                Replay::Events(Vec::new())
            } else {
                Replay::Gone
            };
        };
        if after > stream.last {
            return Replay::Gone;
        }
        if after == stream.last {
            return Replay::Events(Vec::new());
        }
        let removed = evict_old(stream, now_ms, self.cfg.max_age_ms);
        self.held -= removed;
        match stream.events.front() {
            Some(first) if first.seq <= after + 1 => {
                let skip = (after + 1 - first.seq) as usize;
                Replay::Events(
                    stream
                        .events
                        .iter()
                        .skip(skip)
                        .map(|s| s.envelope.clone())
                        .collect(),
                )
            }
            _ => Replay::Gone,
        }
    }

    /// Drops events older than `max_age_ms`, and targets with nothing held and no recent use.
    pub fn prune(&mut self, now_ms: u64) {
        let max_age = self.cfg.max_age_ms;
        let mut removed = 0;
        for stream in self.streams.values_mut() {
            removed += evict_old(stream, now_ms, max_age);
        }
        self.held -= removed;
        // A target whose history emptied keeps its counter only while it could matter: a room
        // nobody emits to any more is forgotten (its next emit starts again at 1, which a
        // client that still remembers the old numbers sees as "not recovered").
        if self.streams.len() > 1024 {
            self.streams.retain(|_, s| !s.events.is_empty());
        }
    }

    /// Events held in history, over all targets.
    pub fn held(&self) -> usize {
        self.held
    }
}

/// Removes the events older than `max_age_ms` from the front; returns how many.
fn evict_old(stream: &mut Stream, now_ms: u64, max_age_ms: u64) -> usize {
    let mut n = 0;
    while stream
        .events
        .front()
        .is_some_and(|e| now_ms.saturating_sub(e.at_ms) > max_age_ms)
    {
        stream.events.pop_front();
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_events: usize, max_age_ms: u64) -> HistoryConfig {
        HistoryConfig {
            max_events,
            max_age_ms,
        }
    }

    fn send(s: &mut Streams, t: &Target, now: u64) -> String {
        s.stamp(t, now, |seq| format!("{seq}"))
    }

    fn seqs(r: Replay) -> Vec<String> {
        match r {
            Replay::Events(v) => v.iter().map(|e| e.to_string()).collect(),
            Replay::Gone => vec!["gone".into()],
        }
    }

    #[test]
    fn each_target_counts_from_one() {
        let mut s = Streams::new(cfg(10, 1000));
        let a = Target::Room("a".into());
        assert_eq!(send(&mut s, &Target::All, 0), "1");
        assert_eq!(send(&mut s, &a, 0), "1");
        assert_eq!(send(&mut s, &a, 0), "2");
        assert_eq!(send(&mut s, &Target::All, 0), "2");
        assert_eq!(s.last_seq(&a), 2);
    }

    #[test]
    fn replay_returns_what_came_after_in_order() {
        let mut s = Streams::new(cfg(10, 1000));
        for _ in 0..5 {
            send(&mut s, &Target::All, 0);
        }
        assert_eq!(seqs(s.replay(&Target::All, 2, 0)), ["3", "4", "5"]);
        assert_eq!(
            seqs(s.replay(&Target::All, 0, 0)),
            ["1", "2", "3", "4", "5"]
        );
        assert!(seqs(s.replay(&Target::All, 5, 0)).is_empty());
        // From the future (another epoch's numbers): not recoverable.
        assert_eq!(seqs(s.replay(&Target::All, 6, 0)), ["gone"]);
        assert_eq!(seqs(s.replay(&Target::Room("x".into()), 3, 0)), ["gone"]);
        assert!(seqs(s.replay(&Target::Room("x".into()), 0, 0)).is_empty());
    }

    #[test]
    fn evicted_history_is_gone_not_partial() {
        let mut s = Streams::new(cfg(3, 1000));
        for _ in 0..6 {
            send(&mut s, &Target::All, 0);
        }
        assert_eq!(s.held(), 3);
        assert_eq!(seqs(s.replay(&Target::All, 3, 0)), ["4", "5", "6"]);
        assert_eq!(seqs(s.replay(&Target::All, 2, 0)), ["gone"]);
    }

    #[test]
    fn old_events_expire() {
        let mut s = Streams::new(cfg(100, 1000));
        send(&mut s, &Target::All, 0);
        send(&mut s, &Target::All, 500);
        send(&mut s, &Target::All, 1800);
        // At 1800 the first (age 1800) is gone; the second (age 1300) too once we look at 1600+.
        assert_eq!(seqs(s.replay(&Target::All, 1, 1800)), ["gone"]);
        assert_eq!(seqs(s.replay(&Target::All, 2, 1800)), ["3"]);
        s.prune(5000);
        assert_eq!(s.held(), 0);
        assert_eq!(seqs(s.replay(&Target::All, 2, 5000)), ["gone"]);
        assert!(seqs(s.replay(&Target::All, 3, 5000)).is_empty());
    }

    #[test]
    fn history_off_still_numbers_but_never_replays_a_gap() {
        let mut s = Streams::new(cfg(0, 0));
        send(&mut s, &Target::All, 0);
        send(&mut s, &Target::All, 0);
        assert_eq!(s.held(), 0);
        assert_eq!(seqs(s.replay(&Target::All, 1, 0)), ["gone"]);
        assert!(seqs(s.replay(&Target::All, 2, 0)).is_empty());
    }
}
