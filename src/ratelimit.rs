//! Rate limits (`rateLimit`), pure logic with the clock passed in (milliseconds):
//! [`TokenBucket`]; [`PacketLimiter`], one per socket, for client packets (drop, then disconnect
//! a socket that keeps flooding); [`IpLimiter`], one per hub, for new connections per second
//! and open connections per client address. [`crate::rooms`] and [`crate::server`] apply them.

use std::collections::HashMap;
use std::net::IpAddr;

/// `rateLimit` options; a rate or count of 0 turns that limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Client packets per second per socket (refill rate).
    pub packets_per_second: u32,
    /// Packets a socket may send at once above the rate.
    pub burst: u32,
    /// Dropped packets after which a socket is disconnected; the count decays by a tenth of
    /// this per second, so it takes sustained flooding, not one burst, to get there.
    pub disconnect_after: u32,
    /// New connections (handshakes) per second per client address.
    pub connections_per_second_per_ip: u32,
    /// Handshakes an address may make at once above that rate.
    pub connection_burst_per_ip: u32,
    /// Open Socket.IO connections per client address.
    pub max_connections_per_ip: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            packets_per_second: 30,
            burst: 60,
            disconnect_after: 100,
            connections_per_second_per_ip: 20,
            connection_burst_per_ip: 100,
            max_connections_per_ip: 200,
        }
    }
}

/// A classic token bucket: holds up to `capacity` tokens, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, per_second: f64, now_ms: u64) -> Self {
        TokenBucket {
            capacity: f64::from(capacity.max(1)),
            per_second,
            tokens: f64::from(capacity.max(1)),
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full (an idle entry that can be forgotten).
    pub fn is_full(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.tokens >= self.capacity
    }
}

/// What to do with a client packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Drop it; `notify` on the first drop of a run (one `error` event, not one per packet).
    Drop {
        notify: bool,
    },
    /// Drop it and disconnect the socket.
    Disconnect,
}

/// One socket's packet limit.
#[derive(Debug, Clone)]
pub struct PacketLimiter {
    /// `None`: unlimited.
    packets: Option<TokenBucket>,
    /// Drops left before disconnecting; `None`: never disconnect.
    strikes: Option<TokenBucket>,
    /// Whether the last packet was dropped (to notify once per run of drops).
    dropping: bool,
}

impl PacketLimiter {
    pub fn new(cfg: &RateLimitConfig, now_ms: u64) -> Self {
        let packets = (cfg.packets_per_second > 0)
            .then(|| TokenBucket::new(cfg.burst.max(1), f64::from(cfg.packets_per_second), now_ms));
        let strikes = (cfg.disconnect_after > 0).then(|| {
            TokenBucket::new(
                cfg.disconnect_after,
                f64::from(cfg.disconnect_after) / 10.0,
                now_ms,
            )
        });
        PacketLimiter {
            packets,
            strikes,
            dropping: false,
        }
    }

    pub fn check(&mut self, now_ms: u64) -> Verdict {
        let Some(bucket) = &mut self.packets else {
            return Verdict::Allow;
        };
        if bucket.take(now_ms) {
            self.dropping = false;
            return Verdict::Allow;
        }
        if let Some(strikes) = &mut self.strikes {
            if !strikes.take(now_ms) {
                return Verdict::Disconnect;
            }
        }
        let notify = !self.dropping;
        self.dropping = true;
        Verdict::Drop { notify }
    }
}

/// Why a handshake was refused (HTTP 429).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRefusal {
    TooManyNewConnections,
    TooManyOpenConnections,
}

#[derive(Debug)]
struct IpEntry {
    handshakes: TokenBucket,
    open: u32,
}

/// Per-address limits of one hub. Entries are forgotten once idle, so memory stays bounded by
/// the addresses that are active.
#[derive(Debug)]
pub struct IpLimiter {
    cfg: RateLimitConfig,
    entries: HashMap<IpAddr, IpEntry>,
}

/// Past this many entries, idle ones are pruned on the next handshake.
const PRUNE_ABOVE: usize = 4096;

impl IpLimiter {
    pub fn new(cfg: RateLimitConfig) -> Self {
        IpLimiter {
            cfg,
            entries: HashMap::new(),
        }
    }

    fn entry(&mut self, ip: IpAddr, now_ms: u64) -> &mut IpEntry {
        let (burst, rate) = (
            self.cfg.connection_burst_per_ip,
            f64::from(self.cfg.connections_per_second_per_ip),
        );
        self.entries.entry(ip).or_insert_with(|| IpEntry {
            handshakes: TokenBucket::new(burst, rate, now_ms),
            open: 0,
        })
    }

    /// A new handshake from `ip`: allowed, or why not.
    pub fn handshake(&mut self, ip: IpAddr, now_ms: u64) -> Result<(), IpRefusal> {
        if self.entries.len() > PRUNE_ABOVE {
            self.entries
                .retain(|_, e| e.open > 0 || !e.handshakes.is_full(now_ms));
        }
        let (rate_on, max_open) = (
            self.cfg.connections_per_second_per_ip > 0,
            self.cfg.max_connections_per_ip,
        );
        let e = self.entry(ip, now_ms);
        if max_open > 0 && e.open >= max_open {
            return Err(IpRefusal::TooManyOpenConnections);
        }
        if rate_on && !e.handshakes.take(now_ms) {
            return Err(IpRefusal::TooManyNewConnections);
        }
        Ok(())
    }

    /// A Socket.IO connection from `ip` opened.
    pub fn opened(&mut self, ip: IpAddr, now_ms: u64) {
        self.entry(ip, now_ms).open += 1;
    }

    /// A Socket.IO connection from `ip` closed.
    pub fn closed(&mut self, ip: IpAddr) {
        if let Some(e) = self.entries.get_mut(&ip) {
            e.open = e.open.saturating_sub(1);
        }
    }

    pub fn open(&self, ip: IpAddr) -> u32 {
        self.entries.get(&ip).map_or(0, |e| e.open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> RateLimitConfig {
        RateLimitConfig::default()
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(60, 30.0, 0);
        assert_eq!((0..100).filter(|_| b.take(0)).count(), 60);
        assert!(!b.take(10));
        assert!(b.take(34)); // 34 ms at 30/s is one token
        assert_eq!((0..100).filter(|_| b.take(1034)).count(), 30);
    }

    #[test]
    fn a_flood_is_dropped_then_disconnected() {
        let mut l = PacketLimiter::new(&cfg(), 0);
        let verdicts: Vec<_> = (0..1000).map(|_| l.check(0)).collect();
        assert!(verdicts[..60].iter().all(|v| *v == Verdict::Allow));
        assert_eq!(verdicts[60], Verdict::Drop { notify: true });
        assert_eq!(verdicts[61], Verdict::Drop { notify: false });
        assert_eq!(verdicts[160], Verdict::Disconnect);
    }

    #[test]
    fn a_slightly_fast_client_is_never_disconnected() {
        // 35 packets a second for ten minutes: some drops, never a disconnect.
        let mut l = PacketLimiter::new(&cfg(), 0);
        let mut drops = 0;
        for i in 0..35 * 600u64 {
            match l.check(i * 1000 / 35) {
                Verdict::Allow => {}
                Verdict::Drop { .. } => drops += 1,
                Verdict::Disconnect => panic!("disconnected after {i} packets"),
            }
        }
        assert!(drops > 0);
    }

    #[test]
    fn zero_turns_limits_off() {
        let off = RateLimitConfig {
            packets_per_second: 0,
            connections_per_second_per_ip: 0,
            max_connections_per_ip: 0,
            ..cfg()
        };
        let mut l = PacketLimiter::new(&off, 0);
        assert!((0..10_000).all(|_| l.check(0) == Verdict::Allow));
        let mut ip = IpLimiter::new(off);
        let a: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..10_000 {
            assert_eq!(ip.handshake(a, 0), Ok(()));
            ip.opened(a, 0);
        }
    }

    #[test]
    fn per_address_limits() {
        let mut ip = IpLimiter::new(RateLimitConfig {
            connection_burst_per_ip: 5,
            connections_per_second_per_ip: 1,
            max_connections_per_ip: 3,
            ..cfg()
        });
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(ip.handshake(a, 0), Ok(()));
            ip.opened(a, 0);
        }
        assert_eq!(ip.handshake(a, 0), Err(IpRefusal::TooManyOpenConnections));
        assert_eq!(ip.handshake(b, 0), Ok(()));
        ip.closed(a);
        assert_eq!(ip.open(a), 2);
        assert_eq!(ip.handshake(a, 0), Ok(()));
        assert_eq!(ip.handshake(a, 0), Ok(()));
        assert_eq!(ip.handshake(a, 0), Err(IpRefusal::TooManyNewConnections));
        assert_eq!(ip.handshake(a, 1000), Ok(()));
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let mut ip = IpLimiter::new(cfg());
        for i in 0..(PRUNE_ABOVE as u32 + 10) {
            ip.handshake(IpAddr::from(i.to_be_bytes()), 0).ok();
        }
        ip.handshake([1, 1, 1, 1].into(), 1_000_000).ok();
        assert!(ip.entries.len() < 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Over any window, a bucket never lets through more than burst + rate * seconds.
        #[test]
        fn a_bucket_never_exceeds_burst_plus_rate(
            burst in 1u32..200, rate in 1u32..200,
            gaps in proptest::collection::vec(0u64..50, 1..500),
        ) {
            let mut b = TokenBucket::new(burst, f64::from(rate), 0);
            let mut now = 0;
            let mut allowed = 0u64;
            for g in gaps {
                now += g;
                if b.take(now) { allowed += 1; }
            }
            let bound = u64::from(burst) + (now * u64::from(rate)).div_ceil(1000) + 1;
            prop_assert!(allowed <= bound, "{} > {}", allowed, bound);
        }

        #[test]
        fn clocks_going_backwards_do_not_mint_tokens(burst in 1u32..50, times in proptest::collection::vec(0u64..10_000, 1..200)) {
            let mut b = TokenBucket::new(burst, 10.0, 0);
            let max_t = times.iter().copied().max().unwrap_or(0);
            let allowed = times.iter().filter(|&&t| b.take(t)).count() as u64;
            prop_assert!(allowed <= u64::from(burst) + max_t * 10 / 1000 + 1);
        }
    }
}
