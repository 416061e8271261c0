//! The rules of SPEC §4 (payloads of the six event types, custom event names) and §5 (room
//! names). Every rejection names the field, what was expected and what came, e.g.
//! `progress: expected a number from 0 to 100, got 150`.

use serde_json::Value;

use crate::error::{HubError, HubResult};
use crate::json::Json;

/// The six typed events of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    ServiceStatus,
    BuildProgress,
    DeployProgress,
    LogStream,
    DockerStats,
    DbQueryResult,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::ServiceStatus,
        EventKind::BuildProgress,
        EventKind::DeployProgress,
        EventKind::LogStream,
        EventKind::DockerStats,
        EventKind::DbQueryResult,
    ];

    /// The wire name, which is also the `type` of the envelope.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::ServiceStatus => "service:status",
            EventKind::BuildProgress => "build:progress",
            EventKind::DeployProgress => "deploy:progress",
            EventKind::LogStream => "logs:stream",
            EventKind::DockerStats => "docker:stats",
            EventKind::DbQueryResult => "db:query:result",
        }
    }

    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Checks a payload of this type.
    pub fn validate(self, data: &Json) -> HubResult<()> {
        let Json::Object(_) = data else {
            return Err(HubError::event(format!(
                "data: expected a {} object, got {}",
                self.name(),
                describe_json(data)
            )));
        };
        let o = Obj::root(data);
        match self {
            EventKind::ServiceStatus => {
                o.non_empty_string("service")?;
                o.one_of(
                    "status",
                    &["running", "stopped", "starting", "stopping", "unhealthy"],
                )?;
                o.timestamp("timestamp")?;
                o.opt_string("containerId")?;
                if let Some(h) = o.opt_object("health")? {
                    h.one_of("status", &["healthy", "unhealthy", "pending"])?;
                    h.opt_timestamp("lastCheck")?;
                }
                if let Some(r) = o.opt_object("resources")? {
                    r.opt_number("cpu", 0.0, f64::MAX)?;
                    r.opt_number("memory", 0.0, f64::MAX)?;
                }
            }
            EventKind::BuildProgress => {
                o.non_empty_string("step")?;
                o.number("progress", 0.0, 100.0)?;
                o.one_of("status", &["pending", "in-progress", "complete", "failed"])?;
                o.opt_string("message")?;
                o.timestamp("timestamp")?;
                let total = o.opt_count("totalSteps")?;
                let current = o.opt_count("currentStep")?;
                if let (Some(t), Some(c)) = (total, current) {
                    if c > t {
                        return Err(HubError::event(format!(
                            "currentStep: expected at most totalSteps ({t}), got {c}"
                        )));
                    }
                }
                o.opt_string_list("logs")?;
            }
            EventKind::DeployProgress => {
                o.non_empty_string("stage")?;
                o.one_of("environment", &["local", "staging", "production"])?;
                o.one_of("status", &["pending", "in-progress", "complete", "failed"])?;
                o.string_list("logs")?;
                o.timestamp("timestamp")?;
                o.opt_number("progress", 0.0, 100.0)?;
                o.opt_string("error")?;
            }
            EventKind::LogStream => {
                o.non_empty_string("service")?;
                o.string("line")?;
                o.timestamp("timestamp")?;
                o.opt_one_of("level", &["info", "warn", "error", "debug"])?;
                o.opt_one_of("source", &["stdout", "stderr"])?;
            }
            EventKind::DockerStats => {
                o.non_empty_string("containerId")?;
                o.string("containerName")?;
                o.timestamp("timestamp")?;
                let s = o.object("stats")?;
                s.number("cpu", 0.0, f64::MAX)?;
                s.number("memory", 0.0, f64::MAX)?;
                s.number("memoryLimit", 0.0, f64::MAX)?;
                s.number("memoryPercent", 0.0, f64::MAX)?;
                let n = s.object("network")?;
                n.number("rx", 0.0, f64::MAX)?;
                n.number("tx", 0.0, f64::MAX)?;
                let b = s.object("blockIO")?;
                b.number("read", 0.0, f64::MAX)?;
                b.number("write", 0.0, f64::MAX)?;
            }
            EventKind::DbQueryResult => {
                o.non_empty_string("queryId")?;
                o.array("rows")?;
                o.count("rowCount")?;
                let fields = o.array("fields")?;
                for (i, f) in fields.iter().enumerate() {
                    let f = o.item_object(Seg::Index("fields", i), f)?;
                    f.string("name")?;
                    f.count("dataTypeID")?;
                }
                o.opt_number("executionTime", 0.0, f64::MAX)?;
                o.timestamp("timestamp")?;
                o.opt_string("error")?;
            }
        }
        Ok(())
    }
}

/// Names Socket.IO reserves, and names this protocol uses; `emit()` refuses both.
const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
    "batch",
    "join:room",
    "leave:room",
    "heartbeat",
    "recover",
    "pong",
    "error",
];

/// 1..64 characters of `[A-Za-z0-9_.:-]`.
pub fn is_valid_event_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(is_name_byte)
}

/// Checks a custom event name for `emit()`.
pub fn check_custom_event_name(name: &str) -> HubResult<()> {
    if !is_valid_event_name(name) {
        return Err(HubError::event(format!(
            "event: expected a name of 1-64 characters [A-Za-z0-9_.:-], got {}",
            quote(name)
        )));
    }
    if RESERVED_EVENTS.contains(&name) || name.starts_with("presence:") {
        return Err(HubError::event(format!(
            "event: {name:?} is reserved by Socket.IO or this protocol; pick another name"
        )));
    }
    Ok(())
}

/// Room names: 1..128 characters of `[A-Za-z0-9_.:-]` (SPEC §5).
pub fn check_room(room: &str) -> HubResult<()> {
    if (1..=128).contains(&room.len()) && room.bytes().all(is_name_byte) {
        Ok(())
    } else {
        Err(HubError::room(format!(
            "room: expected 1-128 characters [A-Za-z0-9_.:-], got {}",
            quote(room)
        )))
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')
}

/// A character allowed in room and event names: `[A-Za-z0-9_.:-]`.
pub fn is_room_char(c: char) -> bool {
    c.is_ascii() && is_name_byte(c as u8)
}

/// A short, readable rendering of a value for error messages.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// [`describe`] for a payload being validated.
fn describe_json(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quote(s),
        Json::Array(a) => format!("an array of {}", a.len()),
        Json::Object(_) => "an object".into(),
    }
}

/// A string in quotes, cut to 60 characters.
fn quote(s: &str) -> String {
    if s.chars().count() > 60 {
        let head: String = s.chars().take(57).collect();
        format!("{head:?}... ({} chars)", s.chars().count())
    } else {
        format!("{s:?}")
    }
}

/// One step of the path to a nested field: `stats` in `stats.network.rx`, `fields[2]`.
#[derive(Clone, Copy)]
enum Seg<'p> {
    Key(&'p str),
    Index(&'p str, usize),
}

impl std::fmt::Display for Seg<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Seg::Key(k) => f.write_str(k),
            Seg::Index(k, i) => write!(f, "{k}[{i}]"),
        }
    }
}

/// Field checks on one object. A nested object knows its parent and its key, and its path
/// (`stats.network.`) is only spelled out for an error message.
struct Obj<'r, 'p> {
    json: &'r Json<'r>,
    at: Option<(&'p Obj<'r, 'p>, Seg<'p>)>,
}

impl<'r, 'p> Obj<'r, 'p> {
    fn root(json: &'r Json<'r>) -> Self {
        Obj { json, at: None }
    }

    fn path(&self) -> String {
        let mut out = String::new();
        self.write_path(&mut out);
        out
    }

    fn write_path(&self, out: &mut String) {
        if let Some((parent, seg)) = self.at {
            parent.write_path(out);
            out.push_str(&seg.to_string());
            out.push('.');
        }
    }

    fn fail(&self, key: &str, expected: &str, got: Option<&Json>) -> HubError {
        let got = got.map(describe_json).unwrap_or_else(|| "nothing".into());
        HubError::event(format!(
            "{}{key}: expected {expected}, got {got}",
            self.path()
        ))
    }

    /// A present, non-null field, or `None` for an absent/null optional one.
    fn opt(&self, key: &str) -> Option<&'r Json<'r>> {
        self.json.get(key).filter(|v| !v.is_null())
    }

    fn req(&self, key: &str, expected: &str) -> HubResult<&'r Json<'r>> {
        self.opt(key).ok_or_else(|| self.fail(key, expected, None))
    }

    fn string(&self, key: &str) -> HubResult<&'r str> {
        let v = self.req(key, "a string")?;
        v.as_str()
            .ok_or_else(|| self.fail(key, "a string", Some(v)))
    }

    fn non_empty_string(&self, key: &str) -> HubResult<&'r str> {
        let v = self.req(key, "a non-empty string")?;
        v.as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.fail(key, "a non-empty string", Some(v)))
    }

    fn opt_string(&self, key: &str) -> HubResult<()> {
        match self.opt(key) {
            Some(v) if v.as_str().is_none() => Err(self.fail(key, "a string", Some(v))),
            _ => Ok(()),
        }
    }

    fn one_of(&self, key: &str, allowed: &[&str]) -> HubResult<()> {
        let v = self.opt(key);
        match v.and_then(Json::as_str) {
            Some(s) if allowed.contains(&s) => Ok(()),
            // The expectation is spelled out only for the message, not on every passing check.
            _ => Err(self.fail(key, &expected_one_of(allowed), v)),
        }
    }

    fn opt_one_of(&self, key: &str, allowed: &[&str]) -> HubResult<()> {
        if self.opt(key).is_some() {
            self.one_of(key, allowed)
        } else {
            Ok(())
        }
    }

    fn timestamp(&self, key: &str) -> HubResult<()> {
        const EXPECTED: &str = "an ISO-8601 date-time such as \"2026-01-31T12:00:00.000Z\"";
        let v = self.req(key, EXPECTED)?;
        match v.as_str() {
            Some(s) if is_iso_datetime(s) => Ok(()),
            _ => Err(self.fail(key, EXPECTED, Some(v))),
        }
    }

    fn opt_timestamp(&self, key: &str) -> HubResult<()> {
        if self.opt(key).is_some() {
            self.timestamp(key)
        } else {
            Ok(())
        }
    }

    fn number(&self, key: &str, min: f64, max: f64) -> HubResult<f64> {
        let v = self.opt(key);
        match v.and_then(Json::as_f64) {
            Some(n) if n.is_finite() && n >= min && n <= max => Ok(n),
            _ => Err(self.fail(key, &expected_range(min, max), v)),
        }
    }

    fn opt_number(&self, key: &str, min: f64, max: f64) -> HubResult<()> {
        if self.opt(key).is_some() {
            self.number(key, min, max)?;
        }
        Ok(())
    }

    /// A non-negative integer (counts, sizes, ids).
    fn count(&self, key: &str) -> HubResult<u64> {
        const EXPECTED: &str = "a non-negative integer";
        let v = self.req(key, EXPECTED)?;
        match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 => Ok(n as u64),
            _ => Err(self.fail(key, EXPECTED, Some(v))),
        }
    }

    fn opt_count(&self, key: &str) -> HubResult<Option<u64>> {
        if self.opt(key).is_some() {
            self.count(key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn array(&self, key: &str) -> HubResult<&'r [Json<'r>]> {
        let v = self.req(key, "an array")?;
        v.as_array()
            .ok_or_else(|| self.fail(key, "an array", Some(v)))
    }

    fn string_list(&self, key: &str) -> HubResult<()> {
        let list = self.array(key)?;
        for (i, item) in list.iter().enumerate() {
            if item.as_str().is_none() {
                return Err(self.fail(&format!("{key}[{i}]"), "a string", Some(item)));
            }
        }
        Ok(())
    }

    fn opt_string_list(&self, key: &str) -> HubResult<()> {
        if self.opt(key).is_some() {
            self.string_list(key)
        } else {
            Ok(())
        }
    }

    fn object(&'p self, key: &'p str) -> HubResult<Obj<'r, 'p>> {
        let v = self.req(key, "an object")?;
        self.item_object(Seg::Key(key), v)
    }

    fn opt_object(&'p self, key: &'p str) -> HubResult<Option<Obj<'r, 'p>>> {
        match self.opt(key) {
            Some(v) => self.item_object(Seg::Key(key), v).map(Some),
            None => Ok(None),
        }
    }

    fn item_object(&'p self, seg: Seg<'p>, v: &'r Json<'r>) -> HubResult<Obj<'r, 'p>> {
        match v {
            Json::Object(_) => Ok(Obj {
                json: v,
                at: Some((self, seg)),
            }),
            _ => Err(self.fail(&seg.to_string(), "an object", Some(v))),
        }
    }
}

fn expected_one_of(allowed: &[&str]) -> String {
    let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    format!("one of {}", list.join(", "))
}

fn expected_range(min: f64, max: f64) -> String {
    if max == f64::MAX {
        format!("a finite number >= {min}")
    } else {
        format!("a number from {min} to {max}")
    }
}

/// An ISO-8601 date-time as `Date#toISOString` and RFC 3339 write it:
/// `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM]`, with real calendar values.
pub fn is_iso_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 2), digits(8, 2)) else {
        return false;
    };
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days_in_month {
        return false;
    }
    let (Some(hour), Some(minute)) = (digits(11, 2), digits(14, 2)) else {
        return false;
    };
    if b.get(13) != Some(&b':') || hour > 23 || minute > 59 {
        return false;
    }
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        match digits(i + 1, 2) {
            Some(sec) if sec <= 60 => i += 3,
            _ => return false,
        }
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start || i - start > 9 {
                return false;
            }
        }
    }
    match b.get(i) {
        None => true,
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && b[i + 3] == b':'
                && matches!((digits(i + 1, 2), digits(i + 4, 2)), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TS: &str = "2026-11-28T07:02:37.123Z";

    /// Validates through the JSON text, as the emitters do.
    fn validate_value(kind: EventKind, v: &Value) -> HubResult<()> {
        kind.validate(&crate::json::parse(&v.to_string()).unwrap())
    }

    fn err(kind: EventKind, v: Value) -> String {
        validate_value(kind, &v).unwrap_err().message
    }

    #[test]
    fn accepts_every_valid_event_with_extra_fields() {
        let ok = [
            (
                EventKind::ServiceStatus,
                json!({"service":"postgres","status":"running","timestamp":TS,
                "health":{"status":"healthy","lastCheck":TS},"resources":{"cpu":1.5,"memory":1024},"extra":true}),
            ),
            (
                EventKind::BuildProgress,
                json!({"step":"images","progress":50,"status":"in-progress",
                "timestamp":TS,"currentStep":3,"totalSteps":6,"logs":["a"]}),
            ),
            (
                EventKind::DeployProgress,
                json!({"stage":"push","environment":"staging","status":"pending",
                "logs":[],"timestamp":TS,"progress":0}),
            ),
            (
                EventKind::LogStream,
                json!({"service":"hasura","line":"","timestamp":TS,"level":"warn","source":"stderr"}),
            ),
            (
                EventKind::DockerStats,
                json!({"containerId":"abc","containerName":"pg","timestamp":TS,
                "stats":{"cpu":3.2,"memory":1,"memoryLimit":2,"memoryPercent":50,
                "network":{"rx":1,"tx":2},"blockIO":{"read":0,"write":0}}}),
            ),
            (
                EventKind::DbQueryResult,
                json!({"queryId":"q1","rows":[{"a":1}],"rowCount":1,
                "fields":[{"name":"a","dataTypeID":23}],"executionTime":1.2,"timestamp":TS}),
            ),
        ];
        for (kind, v) in ok {
            assert_eq!(validate_value(kind, &v), Ok(()), "{}", kind.name());
        }
    }

    #[test]
    fn rejections_name_field_expectation_and_value() {
        let base = json!({"step":"x","progress":150,"status":"in-progress","timestamp":TS});
        assert_eq!(
            err(EventKind::BuildProgress, base),
            "progress: expected a number from 0 to 100, got 150"
        );
        assert_eq!(
            err(EventKind::ServiceStatus, json!({"service":"pg","status":"paused","timestamp":TS})),
            "status: expected one of 'running', 'stopped', 'starting', 'stopping', 'unhealthy', got \"paused\""
        );
        assert_eq!(
            err(
                EventKind::ServiceStatus,
                json!({"status":"running","timestamp":TS})
            ),
            "service: expected a non-empty string, got nothing"
        );
        assert!(err(
            EventKind::LogStream,
            json!({"service":"a","line":"x","timestamp":"yesterday"})
        )
        .starts_with("timestamp: expected an ISO-8601 date-time"));
        assert_eq!(
            err(
                EventKind::DockerStats,
                json!({"containerId":"a","containerName":"b","timestamp":TS,
                "stats":{"cpu":1,"memory":1,"memoryLimit":1,"memoryPercent":1,
                "network":{"rx":-1,"tx":0},"blockIO":{"read":0,"write":0}}})
            ),
            "stats.network.rx: expected a finite number >= 0, got -1"
        );
        assert_eq!(
            err(
                EventKind::BuildProgress,
                json!({"step":"x","progress":1,"status":"pending","timestamp":TS,
                "currentStep":7,"totalSteps":6})
            ),
            "currentStep: expected at most totalSteps (6), got 7"
        );
        assert_eq!(
            err(
                EventKind::DbQueryResult,
                json!({"queryId":"q","rows":[],"rowCount":1.5,"fields":[],"timestamp":TS})
            ),
            "rowCount: expected a non-negative integer, got 1.5"
        );
        assert_eq!(
            err(
                EventKind::DbQueryResult,
                json!({"queryId":"q","rows":[],"rowCount":0,
                "fields":[{"name":"a","dataTypeID":"int"}],"timestamp":TS})
            ),
            "fields[0].dataTypeID: expected a non-negative integer, got \"int\""
        );
        assert_eq!(
            err(
                EventKind::DeployProgress,
                json!({"stage":"s","environment":"prod","status":"pending","logs":[],"timestamp":TS})
            ),
            "environment: expected one of 'local', 'staging', 'production', got \"prod\""
        );
        assert_eq!(
            err(
                EventKind::DeployProgress,
                json!({"stage":"s","environment":"local","status":"pending","logs":[1],"timestamp":TS})
            ),
            "logs[0]: expected a string, got 1"
        );
        assert_eq!(
            err(EventKind::LogStream, json!("line")),
            "data: expected a logs:stream object, got \"line\""
        );
        // JSON.stringify turns NaN and Infinity into null.
        assert_eq!(
            err(
                EventKind::BuildProgress,
                json!({"step":"x","progress":null,"status":"pending","timestamp":TS})
            ),
            "progress: expected a number from 0 to 100, got nothing"
        );
    }

    #[test]
    fn iso_datetimes() {
        for ok in [
            TS,
            "2026-11-28T07:02:37Z",
            "2026-11-28T07:02Z",
            "2026-11-28T07:02:37+01:00",
            "2024-02-29T00:00:00.000000001Z",
            "2026-11-28T07:02:37",
        ] {
            assert!(is_iso_datetime(ok), "{ok}");
        }
        for bad in [
            "",
            "2026-11-28",
            "2026-13-01T00:00Z",
            "2026-02-29T00:00Z",
            "2026-11-28T24:00Z",
            "2026-11-28T07:02:37.Z",
            "2026-11-28T07:02:37Zjunk",
            "now",
            "2026-11-28T07:02:37+1",
        ] {
            assert!(!is_iso_datetime(bad), "{bad}");
        }
    }

    #[test]
    fn event_and_room_names() {
        assert!(check_custom_event_name("deploy:done").is_ok());
        assert!(check_custom_event_name("").is_err());
        assert!(check_custom_event_name("has space").is_err());
        assert!(check_custom_event_name(&"a".repeat(65)).is_err());
        for reserved in [
            "connect",
            "batch",
            "presence:join",
            "presence:anything",
            "error",
            "pong",
        ] {
            assert!(check_custom_event_name(reserved).is_err(), "{reserved}");
        }
        assert!(check_room("project-abc123").is_ok());
        assert!(check_room(&"r".repeat(128)).is_ok());
        assert!(check_room(&"r".repeat(129)).is_err());
        assert_eq!(
            check_room("a/b").unwrap_err().message,
            "room: expected 1-128 characters [A-Za-z0-9_.:-], got \"a/b\""
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<f64>().prop_map(|f| json!(f)),
                (-1000i64..1000).prop_map(|i| json!(i)),
                ".{0,12}".prop_map(Value::String),
                Just(json!(TS)),
            ];
            leaf.prop_recursive(3, 32, 8, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map(
                        prop_oneof![
                            Just("service".to_string()),
                            Just("status".to_string()),
                            Just("timestamp".to_string()),
                            Just("progress".to_string()),
                            Just("step".to_string()),
                            Just("stats".to_string()),
                            Just("rows".to_string()),
                            Just("fields".to_string()),
                            Just("logs".to_string()),
                            Just("line".to_string()),
                            ".{0,6}",
                        ],
                        inner,
                        0..8,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn every_event_rule_answers_without_panicking(v in any_json()) {
                for kind in [
                    EventKind::ServiceStatus, EventKind::BuildProgress, EventKind::DeployProgress,
                    EventKind::LogStream, EventKind::DockerStats, EventKind::DbQueryResult,
                ] {
                    if let Err(e) = validate_value(kind, &v) {
                        prop_assert!(e.message.contains(": expected"), "{}", e.message);
                    }
                }
            }

            #[test]
            fn names_rooms_and_datetimes_never_panic(s in ".{0,140}") {
                let _ = check_room(&s);
                let _ = check_custom_event_name(&s);
                let _ = is_iso_datetime(&s);
            }

            #[test]
            fn valid_room_names_pass(s in "[A-Za-z0-9_.:-]{1,128}") {
                prop_assert!(check_room(&s).is_ok());
            }
        }
    }
}
