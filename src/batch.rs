//! Per-target coalescing of high-frequency events (SPEC §6), as pure logic with no I/O: the
//! dispatcher feeds it emits and the clock, and sends whatever it hands back, in that order.
//!
//! Rules: an event whose type is batched joins its target's pending batch; the batch goes out
//! when it holds `max_size` events or `max_wait` after its first event. Any other event to a
//! target first flushes that target's batch, so per-target order holds across all types.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::options::BatchConfig;

/// Who an emit is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every connected client.
    All,
    /// The members of one room.
    Room(Arc<str>),
}

impl Target {
    pub fn room(&self) -> Option<&str> {
        match self {
            Target::All => None,
            Target::Room(r) => Some(r),
        }
    }
}

/// What the dispatcher must send, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// One event: Socket.IO event `event`, one argument, the envelope.
    Event {
        target: Target,
        event: Cow<'static, str>,
        envelope: String,
    },
    /// One `batch` packet: an array of envelopes in emit order.
    Batch {
        target: Target,
        envelopes: Vec<String>,
    },
}

impl Outgoing {
    /// How many events this packet carries.
    pub fn events(&self) -> usize {
        match self {
            Outgoing::Event { .. } => 1,
            Outgoing::Batch { envelopes, .. } => envelopes.len(),
        }
    }
}

struct Pending {
    envelopes: Vec<String>,
    deadline: Instant,
}

/// The pending batches of every target.
pub struct Batcher {
    max_size: usize,
    max_wait: Duration,
    events: HashSet<String>,
    pending: HashMap<Target, Pending>,
    /// Events held in pending batches, for `getStats()`.
    held: usize,
}

impl Batcher {
    pub fn new(cfg: &BatchConfig) -> Self {
        Batcher {
            max_size: cfg.max_size.max(1),
            max_wait: Duration::from_millis(cfg.max_wait_ms),
            events: cfg.events.iter().cloned().collect(),
            pending: HashMap::new(),
            held: 0,
        }
    }

    pub fn is_batched(&self, event: &str) -> bool {
        self.events.contains(event)
    }

    /// Takes one emit; appends to `out` what must be sent now.
    pub fn push(
        &mut self,
        target: Target,
        event: Cow<'static, str>,
        envelope: String,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) {
        if !self.is_batched(&event) {
            self.flush_target(&target, out);
            out.push(Outgoing::Event {
                target,
                event,
                envelope,
            });
            return;
        }
        let max_wait = self.max_wait;
        let pending = self
            .pending
            .entry(target.clone())
            .or_insert_with(|| Pending {
                envelopes: Vec::new(),
                deadline: now + max_wait,
            });
        pending.envelopes.push(envelope);
        self.held += 1;
        if pending.envelopes.len() >= self.max_size {
            self.flush_target(&target, out);
        }
    }

    /// Sends the batches whose `max_wait` has passed, oldest first.
    pub fn flush_due(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        let mut due: Vec<(Instant, Target)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(t, p)| (p.deadline, t.clone()))
            .collect();
        due.sort_by_key(|(deadline, _)| *deadline);
        for (_, target) in due {
            self.flush_target(&target, out);
        }
    }

    /// Sends every pending batch (shutdown).
    pub fn flush_all(&mut self, out: &mut Vec<Outgoing>) {
        self.flush_due(Instant::now() + self.max_wait + Duration::from_secs(1), out);
    }

    /// When the next batch falls due, if any is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Events waiting in pending batches.
    pub fn held(&self) -> usize {
        self.held
    }

    fn flush_target(&mut self, target: &Target, out: &mut Vec<Outgoing>) {
        if let Some(p) = self.pending.remove(target) {
            self.held -= p.envelopes.len();
            out.push(Outgoing::Batch {
                target: target.clone(),
                envelopes: p.envelopes,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batcher() -> Batcher {
        Batcher::new(&BatchConfig::default())
    }

    fn room(r: &str) -> Target {
        Target::Room(r.into())
    }

    fn sizes(out: &[Outgoing]) -> Vec<usize> {
        out.iter().map(Outgoing::events).collect()
    }

    #[test]
    fn batch_flushes_at_max_size_in_order() {
        let mut b = batcher();
        let now = Instant::now();
        let mut out = Vec::new();
        for i in 0..25 {
            b.push(
                room("r"),
                "logs:stream".into(),
                i.to_string(),
                now,
                &mut out,
            );
        }
        assert_eq!(sizes(&out), vec![10, 10]);
        assert_eq!(b.held(), 5);
        b.flush_due(now + Duration::from_millis(100), &mut out);
        assert_eq!(sizes(&out), vec![10, 10, 5]);
        let all: Vec<String> = out
            .into_iter()
            .flat_map(|o| match o {
                Outgoing::Batch { envelopes, .. } => envelopes,
                Outgoing::Event { .. } => unreachable!(),
            })
            .collect();
        let expected: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn batch_flushes_after_max_wait() {
        let mut b = batcher();
        let now = Instant::now();
        let mut out = Vec::new();
        b.push(
            Target::All,
            "docker:stats".into(),
            "a".into(),
            now,
            &mut out,
        );
        assert_eq!(b.next_deadline(), Some(now + Duration::from_millis(100)));
        b.flush_due(now + Duration::from_millis(99), &mut out);
        assert!(out.is_empty());
        b.flush_due(now + Duration::from_millis(100), &mut out);
        assert_eq!(sizes(&out), vec![1]);
        assert_eq!(b.next_deadline(), None);
    }

    #[test]
    fn unbatched_emit_flushes_its_targets_batch_first() {
        let mut b = batcher();
        let now = Instant::now();
        let mut out = Vec::new();
        b.push(room("a"), "logs:stream".into(), "l1".into(), now, &mut out);
        b.push(
            room("b"),
            "logs:stream".into(),
            "other".into(),
            now,
            &mut out,
        );
        b.push(room("a"), "logs:stream".into(), "l2".into(), now, &mut out);
        b.push(
            room("a"),
            "service:status".into(),
            "s".into(),
            now,
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                Outgoing::Batch {
                    target: room("a"),
                    envelopes: vec!["l1".into(), "l2".into()]
                },
                Outgoing::Event {
                    target: room("a"),
                    event: "service:status".into(),
                    envelope: "s".into()
                },
            ]
        );
        // room b's batch is untouched
        assert_eq!(b.held(), 1);
        out.clear();
        b.flush_all(&mut out);
        assert_eq!(sizes(&out), vec![1]);
    }

    #[test]
    fn targets_are_batched_separately() {
        let mut b = batcher();
        let now = Instant::now();
        let mut out = Vec::new();
        for i in 0..10 {
            b.push(
                room("a"),
                "logs:stream".into(),
                i.to_string(),
                now,
                &mut out,
            );
            b.push(
                Target::All,
                "logs:stream".into(),
                i.to_string(),
                now,
                &mut out,
            );
        }
        assert_eq!(sizes(&out), vec![10, 10]);
    }
}
