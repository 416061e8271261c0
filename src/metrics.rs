//! The `metricsPath` endpoint's body: `getStats()` as Prometheus text exposition format 0.0.4
//! (`# HELP`, `# TYPE`, one sample per metric, names prefixed `nself_realtime_`). Pure logic:
//! the HTTP side is [`crate::server`]'s.

use std::fmt::Write;

use crate::hub::HubStats;

/// The `Content-Type` of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (since start); the name ends in `_total`.
    Counter,
    /// A value now.
    Gauge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Without the `nself_realtime_` prefix.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub value: f64,
}

const fn counter(name: &'static str, help: &'static str, value: u64) -> Metric {
    Metric {
        name,
        help,
        kind: Kind::Counter,
        value: value as f64,
    }
}

const fn gauge(name: &'static str, help: &'static str, value: u64) -> Metric {
    Metric {
        name,
        help,
        kind: Kind::Gauge,
        value: value as f64,
    }
}

/// The metrics of one hub's stats; the Redis and cluster ones only with `redis`.
pub fn from_stats(s: &HubStats) -> Vec<Metric> {
    let mut m = vec![
        gauge(
            "connections",
            "Sockets connected to this hub now.",
            s.connections,
        ),
        counter(
            "connections_total",
            "Sockets connected since start.",
            s.connections_total,
        ),
        gauge(
            "rooms",
            "Rooms with at least one member on this hub.",
            s.rooms,
        ),
        counter(
            "events_emitted_total",
            "Emitter calls accepted.",
            s.events_emitted,
        ),
        counter(
            "batches_sent_total",
            "batch packets sent (one per flushed target).",
            s.batches_sent,
        ),
        counter(
            "packets_sent_total",
            "Packets put into client queues (one per recipient).",
            s.packets_sent,
        ),
        counter(
            "events_dropped_total",
            "Events a client did not get because its queue was full (per event, per client).",
            s.events_dropped,
        ),
        gauge(
            "events_queued",
            "Accepted events not yet handled by the dispatcher.",
            s.events_queued,
        ),
        gauge(
            "events_in_batches",
            "Events waiting in batches.",
            s.events_in_batches,
        ),
        counter(
            "recoveries_total",
            "Streams recovered in full by clients' recover requests.",
            s.recoveries,
        ),
        counter(
            "events_replayed_total",
            "Events replayed by recoveries.",
            s.events_replayed,
        ),
        counter(
            "recovery_misses_total",
            "Streams a client asked for that history no longer covered.",
            s.recovery_misses,
        ),
        gauge(
            "history_events",
            "Events held in this hub's history.",
            s.history_events,
        ),
        counter(
            "auth_failures_total",
            "Connections refused as unauthorized.",
            s.auth_failures,
        ),
        counter(
            "origin_refusals_total",
            "HTTP requests refused for their Origin (403).",
            s.origin_refusals,
        ),
        counter(
            "connections_rate_limited_total",
            "Handshakes refused by the per-address limits (429).",
            s.connections_rate_limited,
        ),
        counter(
            "packets_rate_limited_total",
            "Client packets dropped by the per-socket rate limit.",
            s.packets_rate_limited,
        ),
        counter(
            "sockets_rate_limited_total",
            "Sockets disconnected for flooding.",
            s.sockets_rate_limited,
        ),
        counter(
            "joins_forbidden_total",
            "Joins refused with FORBIDDEN.",
            s.joins_forbidden,
        ),
        gauge(
            "uptime_seconds",
            "Seconds since this hub started.",
            s.uptime_ms / 1000,
        ),
    ];
    if let Some(c) = &s.cluster {
        m.extend([
            gauge(
                "redis_connected",
                "1 when Redis answered last time, else 0.",
                u64::from(c.redis.connected),
            ),
            counter(
                "redis_outages_total",
                "Times Redis became unreachable since start.",
                c.redis.outages,
            ),
            counter(
                "redis_unpublished_total",
                "Broadcasts that reached this hub's clients only, because Redis was away.",
                c.redis.unpublished,
            ),
            gauge(
                "cluster_hubs",
                "Hubs alive in the cluster, this one included.",
                c.hubs,
            ),
            gauge(
                "cluster_connections",
                "Sockets connected to any hub of the cluster.",
                c.connections,
            ),
            gauge(
                "cluster_rooms",
                "Rooms with members on any hub of the cluster.",
                c.rooms,
            ),
        ]);
    }
    m
}

/// The exposition text: for each metric `# HELP`, `# TYPE` and one sample line.
pub fn render(metrics: &[Metric]) -> String {
    let mut out = String::with_capacity(metrics.len() * 128);
    for m in metrics {
        let kind = match m.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP nself_realtime_{} {}",
            m.name,
            escape_help(m.help)
        );
        let _ = writeln!(out, "# TYPE nself_realtime_{} {kind}", m.name);
        let _ = writeln!(out, "nself_realtime_{} {}", m.name, m.value);
    }
    out
}

/// HELP text escapes `\` and line feeds.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(cluster: bool) -> HubStats {
        HubStats {
            connections: 3,
            connections_total: 5,
            websocket_connections: 3,
            polling_connections: 0,
            rooms: 2,
            events_emitted: 10,
            batches_sent: 1,
            packets_sent: 30,
            events_dropped: 4,
            events_queued: 0,
            events_in_batches: 0,
            client_packets: 0,
            client_errors: 0,
            sockets_swept: 0,
            recoveries: 7,
            events_replayed: 0,
            recovery_misses: 1,
            history_events: 10,
            acks_received: 0,
            ack_timeouts: 0,
            dropped_by_socket: vec![],
            packets_rate_limited: 0,
            sockets_rate_limited: 0,
            auth_failures: 2,
            origin_refusals: 0,
            connections_rate_limited: 0,
            joins_forbidden: 0,
            started_at: String::new(),
            uptime_ms: 61_500,
            cluster: cluster.then_some(crate::hub::ClusterStats {
                hubs: 2,
                connections: 6,
                rooms: 3,
                redis: crate::cluster::RedisHealth {
                    connected: true,
                    last_error: None,
                    outages: 1,
                    unpublished: 9,
                },
            }),
        }
    }

    #[test]
    fn each_metric_has_help_type_and_one_sample() {
        let text = render(&from_stats(&stats(false)));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() % 3, 0);
        for chunk in lines.chunks(3) {
            let name = chunk[2].split(' ').next().expect("a sample");
            assert!(
                chunk[0].starts_with(&format!("# HELP {name} ")),
                "{chunk:?}"
            );
            assert!(
                chunk[1] == format!("# TYPE {name} counter")
                    || chunk[1] == format!("# TYPE {name} gauge")
            );
            // Counters, and only counters, end in _total.
            assert_eq!(
                chunk[1].ends_with("counter"),
                name.ends_with("_total"),
                "{name}"
            );
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
        assert!(text
            .contains("\n# TYPE nself_realtime_connections gauge\nnself_realtime_connections 3\n"));
        assert!(text.contains("\nnself_realtime_events_dropped_total 4\n"));
        assert!(text.contains("\nnself_realtime_recoveries_total 7\n"));
        assert!(text.contains("\nnself_realtime_uptime_seconds 61\n"));
        assert!(!text.contains("redis"), "no Redis metrics without redis");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn redis_health_and_cluster_only_with_redis() {
        let text = render(&from_stats(&stats(true)));
        for line in [
            "# TYPE nself_realtime_redis_connected gauge",
            "nself_realtime_redis_connected 1",
            "nself_realtime_redis_outages_total 1",
            "nself_realtime_redis_unpublished_total 9",
            "nself_realtime_cluster_hubs 2",
            "nself_realtime_cluster_connections 6",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}");
        }
    }

    #[test]
    fn help_is_escaped() {
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }
}
