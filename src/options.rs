//! `HubOptions` (SPEC §3): parsed from the JSON the caller passed, merged with the defaults and
//! validated. Every rejection names the option, what was expected and what came.

use serde_json::{Map, Value};

use crate::error::{HubError, HubResult};
use crate::origin::{parse_origin, OriginPolicy};
use crate::ratelimit::RateLimitConfig;
use crate::token::MIN_SECRET_LEN;
use crate::validate::{describe, is_valid_event_name};

/// The `secret` keys: the first signs `createToken`, every one verifies (key rotation).
/// `Debug` never prints them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secrets(pub Vec<Vec<u8>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} key(s))", self.0.len())
    }
}

impl Secrets {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The signing key.
    pub fn signing(&self) -> Option<&[u8]> {
        self.0.first().map(Vec::as_slice)
    }
}

/// Which Engine.IO transports clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transports {
    Both,
    WebsocketOnly,
    PollingOnly,
}

/// SPEC §6: which event types are coalesced, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    /// A target's batch is sent as soon as it holds this many events.
    pub max_size: usize,
    /// ... or this long after its first event.
    pub max_wait_ms: u64,
    /// Event types that are batched; others are sent one by one.
    pub events: Vec<String>,
    /// How a `batch` packet is written ([`crate::compact`]).
    pub format: BatchFormat,
}

/// The argument of a `batch` packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchFormat {
    /// One object holding the batch as a table (types, key lists, values): far fewer bytes.
    #[default]
    Compact,
    /// An array of full envelopes, for clients that read packets without our client.
    Envelopes,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_size: 10,
            max_wait_ms: 100,
            events: vec!["logs:stream".into(), "docker:stats".into()],
            format: BatchFormat::Compact,
        }
    }
}

/// SPEC §8: when silent sockets are considered gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceConfig {
    pub stale_after_ms: u64,
    pub sweep_interval_ms: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            stale_after_ms: 300_000,
            sweep_interval_ms: 60_000,
        }
    }
}

/// Per-target history for recovery (the delivery guarantees of the README). `history: false`
/// is `max_events: 0`: envelopes are still numbered, but a gap can never be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    pub max_events: usize,
    pub max_age_ms: u64,
}

impl HistoryConfig {
    pub fn enabled(&self) -> bool {
        self.max_events > 0 && self.max_age_ms > 0
    }
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_events: 1000,
            max_age_ms: 120_000,
        }
    }
}

/// `redis: { url, prefix? }`: share emits, presence and history with the other hubs (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub url: String,
    /// Every key and channel of the cluster starts with it.
    pub prefix: String,
}

pub const DEFAULT_REDIS_PREFIX: &str = "nself-realtime";

/// Parses `redis` (of `startHub` and `createEmitter`); `name` is how errors call it.
pub fn parse_redis(v: &Value, name: &str) -> HubResult<RedisConfig> {
    const EXPECTED: &str = "an object { url: 'redis://host:port', prefix?: string }";
    let fail = |what: String| HubError::options(format!("{name}{what}"));
    let Value::Object(map) = v else {
        return Err(fail(format!(": expected {EXPECTED}, got {}", describe(v))));
    };
    if let Some(k) = map.keys().find(|k| *k != "url" && *k != "prefix") {
        return Err(fail(format!(".{k}: unknown option (expected url, prefix)")));
    }
    let url = match map.get("url") {
        Some(Value::String(u)) if u.starts_with("redis://") && u.len() <= 2048 => u.clone(),
        other => {
            return Err(fail(format!(
                ".url: expected a 'redis://host:port' URL, got {}",
                other.map_or_else(|| "nothing".into(), describe)
            )))
        }
    };
    let prefix = match map.get("prefix") {
        None | Some(Value::Null) => DEFAULT_REDIS_PREFIX.to_string(),
        Some(Value::String(p))
            if !p.is_empty()
                && p.len() <= 64
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c)) =>
        {
            p.clone()
        }
        Some(other) => {
            return Err(fail(format!(
                ".prefix: expected 1..64 characters of [A-Za-z0-9_.:-], got {}",
                describe(other)
            )))
        }
    };
    Ok(RedisConfig { url, prefix })
}

/// The validated options of one hub. Two `startHub` calls are "the same" when these are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    pub host: String,
    pub port: u16,
    /// Socket.IO request path, normalised without a trailing slash (`/api/ws`).
    pub path: String,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub batch: BatchConfig,
    pub presence: PresenceConfig,
    pub history: HistoryConfig,
    pub max_payload_bytes: usize,
    pub max_rooms_per_socket: usize,
    /// Per-socket outgoing queue, in packets. A packet for a socket whose queue is full is
    /// dropped (and counted): sized so that a burst of 10,000 events reaches even a
    /// long-polling client, which drains its queue only once per poll.
    pub max_queued_packets: usize,
    pub transports: Transports,
    pub unref: bool,
    /// Origins allowed to open sessions (browser requests carry `Origin`).
    pub allowed_origins: OriginPolicy,
    /// Token keys; empty: no token verification, and no refusal without a token.
    pub secret: Secrets,
    /// Deadline of one `authenticate` or `authorizeRoom` call.
    pub auth_timeout_ms: u64,
    pub rate_limit: RateLimitConfig,
    /// Take the client address from the last `X-Forwarded-For` entry (set by our proxy).
    pub trust_proxy: bool,
    /// Binary attachments per client packet (their total size is capped by maxPayloadBytes).
    pub max_binary_attachments: usize,
    /// Whether `authenticate` / `authorizeRoom` functions were given (the functions
    /// themselves are not options; a restart compares only whether they are there).
    pub has_authenticate: bool,
    pub has_authorize_room: bool,
    /// Scale-out through Redis; `None`: this hub alone.
    pub redis: Option<RedisConfig>,
    /// Where a GET answers Prometheus text (`metricsPath`); `None`: no metrics endpoint.
    pub metrics_path: Option<String>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            host: "127.0.0.1".into(),
            port: 3022,
            path: "/api/ws".into(),
            ping_interval_ms: 30_000,
            ping_timeout_ms: 10_000,
            batch: BatchConfig::default(),
            presence: PresenceConfig::default(),
            history: HistoryConfig::default(),
            max_payload_bytes: 65_536,
            max_rooms_per_socket: 64,
            max_queued_packets: 16_384,
            transports: Transports::Both,
            unref: false,
            allowed_origins: OriginPolicy::SameHostOrLocal,
            secret: Secrets::default(),
            auth_timeout_ms: 5000,
            rate_limit: RateLimitConfig::default(),
            trust_proxy: false,
            max_binary_attachments: 10,
            has_authenticate: false,
            has_authorize_room: false,
            redis: None,
            metrics_path: None,
        }
    }
}

const KNOWN: &[&str] = &[
    "host",
    "port",
    "path",
    "pingIntervalMs",
    "pingTimeoutMs",
    "batch",
    "presence",
    "history",
    "maxPayloadBytes",
    "maxRoomsPerSocket",
    "maxQueuedPackets",
    "transports",
    "unref",
    "allowedOrigins",
    "secret",
    "authTimeoutMs",
    "rateLimit",
    "trustProxy",
    "maxBinaryAttachments",
    "redis",
    "metricsPath",
];

/// Keys of `rateLimit`.
const RATE_LIMIT_KEYS: &[&str] = &[
    "packetsPerSecond",
    "burst",
    "disconnectAfter",
    "connectionsPerSecondPerIp",
    "connectionBurstPerIp",
    "maxConnectionsPerIp",
];

impl HubConfig {
    /// Parses `startHub(options)`. `None`, `null` and `undefined` mean "all defaults";
    /// an option set to `undefined` (absent from the JSON) takes its default.
    pub fn from_json(value: Option<&Value>) -> HubResult<HubConfig> {
        let mut cfg = HubConfig::default();
        let obj = match value {
            None | Some(Value::Null) => return Ok(cfg),
            Some(Value::Object(obj)) => obj,
            Some(other) => {
                return Err(HubError::options(format!(
                    "options: expected an object, got {}",
                    describe(other)
                )))
            }
        };
        for key in obj.keys() {
            if !KNOWN.contains(&key.as_str()) {
                return Err(HubError::options(format!(
                    "unknown option '{key}'; known options: {}",
                    KNOWN.join(", ")
                )));
            }
        }
        let opts = Opts(obj, "");
        if let Some(host) = opts.string("host")? {
            if host.is_empty() || host.len() > 253 || host.contains(char::is_whitespace) {
                return Err(HubError::options(format!(
                    "host: expected an IP address or host name, got {host:?}"
                )));
            }
            cfg.host = host;
        }
        if let Some(port) = opts.int("port", 0, 65_535)? {
            cfg.port = port as u16;
        }
        if let Some(path) = opts.string("path")? {
            cfg.path = normalize_path(&path)?;
        }
        if let Some(v) = opts.int("pingIntervalMs", 50, 3_600_000)? {
            cfg.ping_interval_ms = v;
        }
        if let Some(v) = opts.int("pingTimeoutMs", 50, 3_600_000)? {
            cfg.ping_timeout_ms = v;
        }
        if let Some(batch) = opts.object("batch")? {
            let b = Opts(batch, "batch.");
            b.only(&["maxSize", "maxWaitMs", "events", "format"])?;
            if let Some(v) = b.int("maxSize", 1, 10_000)? {
                cfg.batch.max_size = v as usize;
            }
            if let Some(v) = b.int("maxWaitMs", 0, 60_000)? {
                cfg.batch.max_wait_ms = v;
            }
            if let Some(events) = b.string_list("events")? {
                for (i, e) in events.iter().enumerate() {
                    if !is_valid_event_name(e) {
                        return Err(HubError::options(format!(
                            "batch.events[{i}]: expected an event name of 1-64 characters \
                             [A-Za-z0-9_.:-], got {e:?}"
                        )));
                    }
                }
                cfg.batch.events = events;
            }
            if let Some(format) = b.string("format")? {
                cfg.batch.format = match format.as_str() {
                    "compact" => BatchFormat::Compact,
                    "envelopes" => BatchFormat::Envelopes,
                    _ => {
                        return Err(HubError::options(format!(
                            "batch.format: expected 'compact' or 'envelopes', got {format:?}"
                        )))
                    }
                };
            }
        }
        if let Some(presence) = opts.object("presence")? {
            let p = Opts(presence, "presence.");
            p.only(&["staleAfterMs", "sweepIntervalMs"])?;
            if let Some(v) = p.int("staleAfterMs", 100, 86_400_000)? {
                cfg.presence.stale_after_ms = v;
            }
            if let Some(v) = p.int("sweepIntervalMs", 10, 86_400_000)? {
                cfg.presence.sweep_interval_ms = v;
            }
        }
        match opts.get("history") {
            None => {}
            Some(Value::Bool(false)) => {
                cfg.history = HistoryConfig {
                    max_events: 0,
                    max_age_ms: 0,
                }
            }
            Some(Value::Bool(true)) => {}
            Some(Value::Object(history)) => {
                let h = Opts(history, "history.");
                h.only(&["maxEvents", "maxAgeMs"])?;
                if let Some(v) = h.int("maxEvents", 0, 1_000_000)? {
                    cfg.history.max_events = v as usize;
                }
                if let Some(v) = h.int("maxAgeMs", 0, 86_400_000)? {
                    cfg.history.max_age_ms = v;
                }
            }
            Some(v) => {
                return Err(opts.fail("history", "false or an object { maxEvents?, maxAgeMs? }", v))
            }
        }
        if let Some(v) = opts.int("maxPayloadBytes", 1024, 100 * 1024 * 1024)? {
            cfg.max_payload_bytes = v as usize;
        }
        if let Some(v) = opts.int("maxRoomsPerSocket", 1, 100_000)? {
            cfg.max_rooms_per_socket = v as usize;
        }
        if let Some(v) = opts.int("maxQueuedPackets", 16, 1_048_576)? {
            cfg.max_queued_packets = v as usize;
        }
        if let Some(list) = opts.string_list("transports")? {
            let ws = list.iter().any(|t| t == "websocket");
            let polling = list.iter().any(|t| t == "polling");
            let bad = list.iter().find(|t| *t != "websocket" && *t != "polling");
            cfg.transports = match (bad, ws, polling) {
                (None, true, true) => Transports::Both,
                (None, true, false) => Transports::WebsocketOnly,
                (None, false, true) => Transports::PollingOnly,
                _ => {
                    return Err(HubError::options(format!(
                        "transports: expected a non-empty list of 'websocket' and 'polling', \
                         got {list:?}"
                    )))
                }
            };
        }
        if let Some(v) = opts.bool("unref")? {
            cfg.unref = v;
        }
        if let Some(v) = opts.get("allowedOrigins") {
            cfg.allowed_origins = parse_allowed_origins(v)?;
        }
        if let Some(v) = opts.get("secret") {
            cfg.secret = parse_secret(v)?;
        }
        if let Some(v) = opts.int("authTimeoutMs", 1, 600_000)? {
            cfg.auth_timeout_ms = v;
        }
        match opts.get("rateLimit") {
            None => {}
            Some(Value::Bool(false)) => {
                cfg.rate_limit = RateLimitConfig {
                    packets_per_second: 0,
                    burst: 0,
                    disconnect_after: 0,
                    connections_per_second_per_ip: 0,
                    connection_burst_per_ip: 0,
                    max_connections_per_ip: 0,
                }
            }
            Some(Value::Object(o)) => {
                let r = Opts(o, "rateLimit.");
                r.only(RATE_LIMIT_KEYS)?;
                let rl = &mut cfg.rate_limit;
                let fields: [(&str, &mut u32); 6] = [
                    ("packetsPerSecond", &mut rl.packets_per_second),
                    ("burst", &mut rl.burst),
                    ("disconnectAfter", &mut rl.disconnect_after),
                    (
                        "connectionsPerSecondPerIp",
                        &mut rl.connections_per_second_per_ip,
                    ),
                    ("connectionBurstPerIp", &mut rl.connection_burst_per_ip),
                    ("maxConnectionsPerIp", &mut rl.max_connections_per_ip),
                ];
                for (key, field) in fields {
                    if let Some(v) = r.int(key, 0, 1_000_000)? {
                        *field = v as u32;
                    }
                }
            }
            Some(v) => {
                return Err(opts.fail("rateLimit", "an object or false", v));
            }
        }
        if let Some(v) = opts.bool("trustProxy")? {
            cfg.trust_proxy = v;
        }
        if let Some(v) = opts.int("maxBinaryAttachments", 0, 10_000)? {
            cfg.max_binary_attachments = v as usize;
        }
        match opts.get("redis") {
            None | Some(Value::Null) => {}
            Some(v) => cfg.redis = Some(parse_redis(v, "redis")?),
        }
        if let Some(m) = opts.string("metricsPath")? {
            let m = normalize_path(&m).map_err(|_| {
                HubError::options(format!(
                    "metricsPath: expected a URL path starting with '/' (no query or \
                     whitespace), got {m:?}"
                ))
            })?;
            if m == cfg.path || m.starts_with(&format!("{}/", cfg.path.trim_end_matches('/'))) {
                return Err(HubError::options(format!(
                    "metricsPath: expected a path outside the Socket.IO path {:?}, got {m:?}",
                    cfg.path
                )));
            }
            cfg.metrics_path = Some(m);
        }
        Ok(cfg)
    }

    /// Names of the options that differ between two configurations.
    pub fn differences(&self, other: &HubConfig) -> Vec<&'static str> {
        let mut diff = Vec::new();
        let mut check = |name, same: bool| {
            if !same {
                diff.push(name);
            }
        };
        check("host", self.host == other.host);
        check("port", self.port == other.port);
        check("path", self.path == other.path);
        check(
            "pingIntervalMs",
            self.ping_interval_ms == other.ping_interval_ms,
        );
        check(
            "pingTimeoutMs",
            self.ping_timeout_ms == other.ping_timeout_ms,
        );
        check("batch", self.batch == other.batch);
        check("presence", self.presence == other.presence);
        check("history", self.history == other.history);
        check(
            "maxPayloadBytes",
            self.max_payload_bytes == other.max_payload_bytes,
        );
        check(
            "maxRoomsPerSocket",
            self.max_rooms_per_socket == other.max_rooms_per_socket,
        );
        check(
            "maxQueuedPackets",
            self.max_queued_packets == other.max_queued_packets,
        );
        check("transports", self.transports == other.transports);
        check("unref", self.unref == other.unref);
        check(
            "allowedOrigins",
            self.allowed_origins == other.allowed_origins,
        );
        check("secret", self.secret == other.secret);
        check(
            "authTimeoutMs",
            self.auth_timeout_ms == other.auth_timeout_ms,
        );
        check("rateLimit", self.rate_limit == other.rate_limit);
        check("trustProxy", self.trust_proxy == other.trust_proxy);
        check(
            "maxBinaryAttachments",
            self.max_binary_attachments == other.max_binary_attachments,
        );
        check(
            "authenticate",
            self.has_authenticate == other.has_authenticate,
        );
        check(
            "authorizeRoom",
            self.has_authorize_room == other.has_authorize_room,
        );
        check("redis", self.redis == other.redis);
        check("metricsPath", self.metrics_path == other.metrics_path);
        diff
    }

    /// The URL a client on this machine connects to.
    pub fn url(&self, port: u16) -> String {
        let host = match self.host.as_str() {
            "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            h => h,
        };
        if host.contains(':') {
            format!("http://[{host}]:{port}")
        } else {
            format!("http://{host}:{port}")
        }
    }
}

/// `allowedOrigins`: `'*'`, or a non-empty array of origins (`'https://app.example.com'`).
fn parse_allowed_origins(v: &Value) -> HubResult<OriginPolicy> {
    const EXPECTED: &str =
        "'*' or an array of origins such as 'https://admin.example.com' or 'http://localhost:3000'";
    match v {
        Value::String(s) if s == "*" => Ok(OriginPolicy::Any),
        Value::Array(list) if !list.is_empty() => {
            let mut out = Vec::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                let origin = item
                    .as_str()
                    .and_then(|s| if s == "*" { None } else { parse_origin(s) })
                    .ok_or_else(|| {
                        HubError::options(format!(
                            "allowedOrigins[{i}]: expected an origin (scheme://host[:port], no \
                             path), got {}",
                            describe(item)
                        ))
                    })?;
                out.push(origin.normalized());
            }
            Ok(OriginPolicy::List(out))
        }
        other => Err(HubError::options(format!(
            "allowedOrigins: expected {EXPECTED}, got {}",
            describe(other)
        ))),
    }
}

/// `secret`: a string of at least 32 bytes, or a non-empty array of them (the first signs).
fn parse_secret(v: &Value) -> HubResult<Secrets> {
    let one = |s: &Value, name: &str| -> HubResult<Vec<u8>> {
        match s {
            Value::String(s) if s.len() >= MIN_SECRET_LEN => Ok(s.as_bytes().to_vec()),
            Value::String(s) => Err(HubError::options(format!(
                "{name}: expected a string of at least {MIN_SECRET_LEN} bytes (e.g. \
                 `openssl rand -base64 32`), got one of {} bytes",
                s.len()
            ))),
            other => Err(HubError::options(format!(
                "{name}: expected a string of at least {MIN_SECRET_LEN} bytes, got {}",
                describe(other)
            ))),
        }
    };
    match v {
        Value::Array(list) if !list.is_empty() && list.len() <= 16 => list
            .iter()
            .enumerate()
            .map(|(i, s)| one(s, &format!("secret[{i}]")))
            .collect::<HubResult<Vec<_>>>()
            .map(Secrets),
        Value::Array(_) => Err(HubError::options(
            "secret: expected a string or an array of 1-16 strings, got an empty or longer array",
        )),
        other => one(other, "secret").map(|k| Secrets(vec![k])),
    }
}

/// A request path: starts with `/`, no query, fragment or whitespace; trailing `/` dropped.
fn normalize_path(path: &str) -> HubResult<String> {
    let ok = path.starts_with('/')
        && path.len() <= 256
        && !path
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#' || c.is_control());
    if !ok {
        return Err(HubError::options(format!(
            "path: expected a URL path starting with '/' (no query or whitespace), got {path:?}"
        )));
    }
    let trimmed = path.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    })
}

/// Typed reads from one level of the options object; `prefix` names nested options.
struct Opts<'a>(&'a Map<String, Value>, &'static str);

impl<'a> Opts<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn fail(&self, key: &str, expected: &str, got: &Value) -> HubError {
        HubError::options(format!(
            "{}{key}: expected {expected}, got {}",
            self.1,
            describe(got)
        ))
    }

    fn only(&self, keys: &[&str]) -> HubResult<()> {
        match self.0.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(HubError::options(format!(
                "unknown option '{}{k}'; known: {}",
                self.1,
                keys.join(", ")
            ))),
            None => Ok(()),
        }
    }

    fn int(&self, key: &str, min: u64, max: u64) -> HubResult<Option<u64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let expected = format!("an integer from {min} to {max}");
        let n = v.as_f64().ok_or_else(|| self.fail(key, &expected, v))?;
        if n.fract() != 0.0 || n < min as f64 || n > max as f64 {
            return Err(self.fail(key, &expected, v));
        }
        Ok(Some(n as u64))
    }

    fn string(&self, key: &str) -> HubResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.fail(key, "a string", v)),
        }
    }

    fn bool(&self, key: &str) -> HubResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.fail(key, "a boolean", v)),
        }
    }

    fn object(&self, key: &str) -> HubResult<Option<&'a Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => Err(self.fail(key, "an object", v)),
        }
    }

    fn string_list(&self, key: &str) -> HubResult<Option<Vec<String>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let list = v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|e| e.as_str().map(String::from))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| self.fail(key, "an array of strings", v))?;
        Ok(Some(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_path_is_a_path_outside_the_socket_io_path() {
        let ok = HubConfig::from_json(Some(&serde_json::json!({"metricsPath": "/metrics/"})))
            .expect("valid");
        assert_eq!(ok.metrics_path.as_deref(), Some("/metrics"));
        assert_eq!(HubConfig::default().metrics_path, None);
        for bad in [
            serde_json::json!({"metricsPath": "metrics"}),
            serde_json::json!({"metricsPath": "/me trics"}),
            serde_json::json!({"metricsPath": 1}),
            serde_json::json!({"metricsPath": "/api/ws"}),
            serde_json::json!({"metricsPath": "/api/ws/metrics"}),
            serde_json::json!({"path": "/rt", "metricsPath": "/rt/"}),
        ] {
            let e = HubConfig::from_json(Some(&bad)).expect_err("invalid");
            assert!(e.message.contains("metricsPath"), "{}", e.message);
        }
        // A sibling of the Socket.IO path is fine.
        assert!(
            HubConfig::from_json(Some(&serde_json::json!({"metricsPath": "/api/metrics"}))).is_ok()
        );
    }

    #[test]
    fn redis_option_is_checked_and_named() {
        let ok = HubConfig::from_json(Some(
            &serde_json::json!({"redis":{"url":"redis://127.0.0.1:6379"}}),
        ))
        .unwrap();
        assert_eq!(
            ok.redis,
            Some(RedisConfig {
                url: "redis://127.0.0.1:6379".into(),
                prefix: DEFAULT_REDIS_PREFIX.into()
            })
        );
        for (bad, named) in [
            (serde_json::json!({"redis": "redis://x"}), "redis:"),
            (serde_json::json!({"redis": {}}), "redis.url"),
            (
                serde_json::json!({"redis": {"url": "http://x"}}),
                "redis.url",
            ),
            (
                serde_json::json!({"redis": {"url": "redis://x", "prefix": "a b"}}),
                "redis.prefix",
            ),
            (
                serde_json::json!({"redis": {"url": "redis://x", "db": 1}}),
                "redis.db",
            ),
        ] {
            let e = HubConfig::from_json(Some(&bad)).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::InvalidOptions);
            assert!(e.message.contains(named), "{}", e.message);
        }
    }
    use serde_json::json;

    fn parse(v: Value) -> HubResult<HubConfig> {
        HubConfig::from_json(Some(&v))
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = HubConfig::from_json(None).unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 3022);
        assert_eq!(c.path, "/api/ws");
        assert_eq!((c.ping_interval_ms, c.ping_timeout_ms), (30_000, 10_000));
        assert_eq!(c.batch.max_size, 10);
        assert_eq!(c.batch.max_wait_ms, 100);
        assert_eq!(c.batch.events, vec!["logs:stream", "docker:stats"]);
        assert_eq!(c.batch.format, BatchFormat::Compact);
        let envelopes = parse(json!({ "batch": { "format": "envelopes" } })).unwrap();
        assert_eq!(envelopes.batch.format, BatchFormat::Envelopes);
        assert_eq!(c.presence.stale_after_ms, 300_000);
        assert_eq!(c.presence.sweep_interval_ms, 60_000);
        assert_eq!(c.max_payload_bytes, 65_536);
        assert_eq!(c.max_rooms_per_socket, 64);
        assert_eq!(c.transports, Transports::Both);
        assert!(!c.unref);
        assert_eq!(parse(json!({})).unwrap(), c);
    }

    #[test]
    fn nested_options_merge_with_defaults() {
        let c = parse(json!({ "batch": { "maxWaitMs": 5 }, "port": 0 })).unwrap();
        assert_eq!(c.batch.max_wait_ms, 5);
        assert_eq!(c.batch.max_size, 10);
        assert_eq!(c.port, 0);
    }

    #[test]
    fn bad_options_name_the_option() {
        let e = parse(json!({ "port": 70000 })).unwrap_err();
        assert_eq!(
            e.message,
            "port: expected an integer from 0 to 65535, got 70000"
        );
        let e = parse(json!({ "port": "80" })).unwrap_err();
        assert!(e.message.starts_with("port: expected an integer"), "{e}");
        let e = parse(json!({ "batch": { "maxSize": 0 } })).unwrap_err();
        assert!(e.message.starts_with("batch.maxSize:"), "{e}");
        let e = parse(json!({ "batch": { "format": "array" } })).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidOptions);
        assert!(e.message.starts_with("batch.format:"), "{e}");
        let e = parse(json!({ "batch": { "format": 1 } })).unwrap_err();
        assert!(e.message.starts_with("batch.format:"), "{e}");
        let e = parse(json!({ "prot": 1 })).unwrap_err();
        assert!(e.message.contains("unknown option 'prot'"), "{e}");
        let e = parse(json!({ "transports": [] })).unwrap_err();
        assert!(e.message.starts_with("transports:"), "{e}");
        let e = parse(json!({ "path": "api" })).unwrap_err();
        assert!(e.message.starts_with("path:"), "{e}");
        let e = parse(json!(5)).unwrap_err();
        assert!(e.message.starts_with("options: expected an object"), "{e}");
    }

    #[test]
    fn security_options() {
        let c = HubConfig::from_json(None).unwrap();
        assert_eq!(c.allowed_origins, OriginPolicy::SameHostOrLocal);
        assert!(c.secret.is_empty());
        assert_eq!(c.auth_timeout_ms, 5000);
        assert_eq!(c.rate_limit, RateLimitConfig::default());
        assert!(!c.trust_proxy);
        assert_eq!(c.max_binary_attachments, 10);
        let c = parse(json!({
            "allowedOrigins": ["HTTPS://Admin.example.com:443", "http://localhost:3000"],
            "secret": ["a".repeat(32), "b".repeat(40)],
            "rateLimit": { "packetsPerSecond": 0, "burst": 5 },
            "trustProxy": true,
        }))
        .unwrap();
        assert_eq!(
            c.allowed_origins,
            OriginPolicy::List(vec![
                "https://admin.example.com".into(),
                "http://localhost:3000".into()
            ])
        );
        assert_eq!(c.secret.signing(), Some("a".repeat(32).as_bytes()));
        assert_eq!(c.rate_limit.packets_per_second, 0);
        assert_eq!(c.rate_limit.burst, 5);
        assert_eq!(c.rate_limit.connections_per_second_per_ip, 20);
        assert_eq!(
            parse(json!({ "allowedOrigins": "*" }))
                .unwrap()
                .allowed_origins,
            OriginPolicy::Any
        );
        assert_eq!(
            parse(json!({ "rateLimit": false }))
                .unwrap()
                .rate_limit
                .max_connections_per_ip,
            0
        );
        assert!(
            !format!("{:?}", parse(json!({ "secret": "s".repeat(32) })).unwrap()).contains("ssss")
        );
        for (bad, prefix) in [
            (json!({ "secret": "short" }), "secret:"),
            (json!({ "secret": [] }), "secret:"),
            (json!({ "secret": ["a".repeat(32), 5] }), "secret[1]:"),
            (json!({ "allowedOrigins": [] }), "allowedOrigins:"),
            (json!({ "allowedOrigins": ["*"] }), "allowedOrigins[0]:"),
            (
                json!({ "allowedOrigins": ["https://a/b"] }),
                "allowedOrigins[0]:",
            ),
            (json!({ "rateLimit": { "burst": -1 } }), "rateLimit.burst:"),
            (
                json!({ "rateLimit": { "nope": 1 } }),
                "unknown option 'rateLimit.nope'",
            ),
            (json!({ "rateLimit": 5 }), "rateLimit:"),
            (json!({ "authTimeoutMs": 0 }), "authTimeoutMs:"),
            (
                json!({ "maxBinaryAttachments": 1.5 }),
                "maxBinaryAttachments:",
            ),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert!(e.message.starts_with(prefix), "{bad}: {e}");
        }
    }

    /// Any JSON value: options parsing either succeeds or names what was wrong; never panics.
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(|f| json!(f)),
            any::<i64>().prop_map(|i| json!(i)),
            ".{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("port".to_string()),
                        Just("secret".to_string()),
                        Just("allowedOrigins".to_string()),
                        Just("rateLimit".to_string()),
                        Just("burst".to_string()),
                        Just("batch".to_string()),
                        Just("maxSize".to_string()),
                        Just("transports".to_string()),
                        ".{0,8}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        #[test]
        fn parsing_never_panics_and_errors_are_invalid_options(v in any_json()) {
            if let Err(e) = HubConfig::from_json(Some(&v)) {
                proptest::prop_assert_eq!(e.code, crate::error::ErrorCode::InvalidOptions);
                proptest::prop_assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn path_loses_its_trailing_slash() {
        assert_eq!(parse(json!({ "path": "/rt/" })).unwrap().path, "/rt");
        assert_eq!(parse(json!({ "path": "/" })).unwrap().path, "/");
    }

    #[test]
    fn url_uses_a_connectable_host() {
        let c = HubConfig {
            host: "0.0.0.0".into(),
            ..HubConfig::default()
        };
        assert_eq!(c.url(4000), "http://127.0.0.1:4000");
        let c = HubConfig {
            host: "::1".into(),
            ..HubConfig::default()
        };
        assert_eq!(c.url(4000), "http://[::1]:4000");
    }
}
