//! The compact form of a `batch` packet (`batch.format: 'compact'`, the default): the envelopes
//! of one batch written once as a table instead of N times in full. Pure text in, text out; the
//! dispatcher decides when to send, [`crate::envelope`] builds the envelopes this reads.
//!
//! A batch's envelopes share their target (so `room`), their `epoch`, and in a single hub their
//! `seq` runs (the dispatcher numbers a target's events in order and the batcher keeps them in
//! that order). The compact argument is a JSON object (a classic batch is an array):
//!
//! ```text
//! { "epoch": E, "seq": S, "timestamp": T, "room": R?,       // room absent for broadcasts
//!   "types":  ["logs:stream", ...],                         // distinct event types, first seen first
//!   "shapes": [["service","level","t","n"], ...],           // distinct key lists of object payloads
//!   "items":  [[typeIdx, ms, shapeIdx, v1, v2, ...],        // data = { shapes[shapeIdx][k]: v(k+1) }
//!              [typeIdx, ms, -1, data]],                    // any other data, verbatim
//!   "seqs":   [S, ...]? }                                   // only when the seqs do not run S, S+1, ...
//! ```
//!
//! Item i is the envelope `{ type: types[typeIdx], data, timestamp: T + ms (ISO, ms precision),
//! room: R?, seq: S + i (or seqs[i]), epoch: E }`. Values and payloads are the emitted JSON text,
//! byte for byte; keys are JSON strings naming the same keys. A payload with a repeated key goes
//! verbatim (JSON.parse keeps the last value at the first position, which a table cannot say).
//!
//! When a batch cannot be written this way (envelopes of different epochs, which a cluster hub
//! produces while Redis comes and goes; a timestamp not of the hub's form), [`batch`] falls back
//! to the classic array for that packet: clients accept both.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::clock::iso8601;
use crate::envelope;
use crate::options::BatchFormat;

/// The argument of one `batch` packet for `envelopes` (in emit order), in `format`.
pub fn batch(format: BatchFormat, envelopes: &[String]) -> String {
    match format {
        BatchFormat::Envelopes => envelope::batch(envelopes),
        BatchFormat::Compact => encode(envelopes).unwrap_or_else(|| envelope::batch(envelopes)),
    }
}

/// One envelope as [`envelope::open`] + [`envelope::close`] write it. Unknown fields make the
/// envelope one this module does not know how to rebuild, hence no compact form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a RawValue,
    #[serde(borrow)]
    data: &'a RawValue,
    timestamp: &'a str,
    room: Option<&'a str>,
    seq: u64,
    epoch: &'a str,
}

/// The compact form of `envelopes`, or `None` when they cannot be written compactly.
pub fn encode(envelopes: &[String]) -> Option<String> {
    let parsed: Vec<Envelope> = envelopes
        .iter()
        .map(|e| serde_json::from_str(e).ok())
        .collect::<Option<_>>()?;
    let first = parsed.first()?;
    let t0 = parse_iso(first.timestamp)?;
    let consecutive = parsed
        .iter()
        .enumerate()
        .all(|(i, e)| first.seq.checked_add(i as u64) == Some(e.seq));

    let mut types: Vec<&str> = Vec::new();
    let mut shapes: Vec<String> = Vec::new();
    let mut shape_index: HashMap<String, usize> = HashMap::new();
    let mut items = String::with_capacity(envelopes.iter().map(String::len).sum());
    let mut key_text = String::new();
    for (i, e) in parsed.iter().enumerate() {
        if e.epoch != first.epoch || e.room != first.room {
            return None;
        }
        let ms = parse_iso(e.timestamp)? as i64 - t0 as i64;
        let kind = e.kind.get();
        let type_idx = match types.iter().position(|t| *t == kind) {
            Some(k) => k,
            None => {
                types.push(kind);
                types.len() - 1
            }
        };
        if i > 0 {
            items.push(',');
        }
        let _ = write!(items, "[{type_idx},{ms},");
        match object_entries(e.data.get()) {
            Some(entries) => {
                key_text.clear();
                key_text.push('[');
                for (k, (key, _)) in entries.iter().enumerate() {
                    if k > 0 {
                        key_text.push(',');
                    }
                    push_key(&mut key_text, key, matches!(key, Cow::Owned(_)))?;
                }
                key_text.push(']');
                let shape_idx = match shape_index.get(&key_text) {
                    Some(&s) => s,
                    None => {
                        shapes.push(key_text.clone());
                        shape_index.insert(key_text.clone(), shapes.len() - 1);
                        shapes.len() - 1
                    }
                };
                let _ = write!(items, "{shape_idx}");
                for (_, value) in &entries {
                    items.push(',');
                    items.push_str(value.get());
                }
            }
            None => {
                items.push_str("-1,");
                items.push_str(e.data.get());
            }
        }
        items.push(']');
    }

    let mut out = String::with_capacity(items.len() + 128);
    // The epoch, timestamp and room were JSON strings without escapes (they borrowed).
    let _ = write!(
        out,
        "{{\"epoch\":\"{}\",\"seq\":{},\"timestamp\":\"{}\"",
        first.epoch, first.seq, first.timestamp
    );
    if let Some(room) = first.room {
        let _ = write!(out, ",\"room\":\"{room}\"");
    }
    out.push_str(",\"types\":[");
    out.push_str(&types.join(","));
    out.push_str("],\"shapes\":[");
    out.push_str(&shapes.join(","));
    out.push_str("],\"items\":[");
    out.push_str(&items);
    out.push(']');
    if !consecutive {
        out.push_str(",\"seqs\":[");
        for (i, e) in parsed.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}", e.seq);
        }
        out.push(']');
    }
    out.push('}');
    Some(out)
}

/// Appends `key` as a JSON string. A key without escapes in the text (borrowed from it) is
/// quoted as is: valid JSON has no unescaped quote, backslash or control character in a string.
fn push_key(out: &mut String, key: &str, had_escapes: bool) -> Option<()> {
    if had_escapes {
        out.push_str(&serde_json::to_string(key).ok()?);
    } else {
        out.push('"');
        out.push_str(key);
        out.push('"');
    }
    Some(())
}

/// The entries of a JSON object in text order (keys decoded, values as their text); `None` for
/// anything else and for an object with a repeated key.
fn object_entries(json: &str) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    if !json.starts_with('{') {
        return None;
    }
    let Entries(entries) = serde_json::from_str(json).ok()?;
    for (i, (key, _)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(k, _)| k == key) {
            return None;
        }
    }
    Some(entries)
}

struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<crate::json::Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((key.0, value));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// The last millisecond JS `toISOString` writes with a four-digit year (9999-12-31T23:59:59.999Z).
const MAX_ISO_MS: u64 = 253_402_300_799_999;

/// Epoch milliseconds of a timestamp of the hub clock's form (`YYYY-MM-DDTHH:MM:SS.mmmZ`), only
/// when [`iso8601`] (and JS `new Date(ms).toISOString()`) writes it back identically.
pub fn parse_iso(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        b[from..to].iter().try_fold(0u64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    if y < 1970 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let total =
        u64::try_from(days).ok()? * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms;
    (total <= MAX_ISO_MS && iso8601(total) == s).then_some(total)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{close, open};
    use proptest::prelude::*;

    /// What a client does with the compact form: the envelopes, as JSON text.
    fn decode(packed: &str) -> Vec<String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Packed<'a> {
            epoch: String,
            seq: u64,
            timestamp: String,
            room: Option<String>,
            #[serde(borrow)]
            types: Vec<&'a RawValue>,
            shapes: Vec<Vec<String>>,
            #[serde(borrow)]
            items: Vec<Vec<&'a RawValue>>,
            seqs: Option<Vec<u64>>,
        }
        let p: Packed = serde_json::from_str(packed).expect("compact batch");
        let t0 = parse_iso(&p.timestamp).expect("timestamp");
        p.items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let int = |k: usize| item[k].get().parse::<i64>().expect("int");
                let kind = p.types[int(0) as usize].get();
                let timestamp = iso8601((t0 as i64 + int(1)) as u64);
                let data = match int(2) {
                    -1 => {
                        assert_eq!(item.len(), 4);
                        item[3].get().to_string()
                    }
                    s => {
                        let keys = &p.shapes[s as usize];
                        assert_eq!(item.len(), 3 + keys.len());
                        let fields: Vec<String> = keys
                            .iter()
                            .zip(&item[3..])
                            .map(|(k, v)| {
                                format!("{}:{}", serde_json::to_string(k).unwrap(), v.get())
                            })
                            .collect();
                        format!("{{{}}}", fields.join(","))
                    }
                };
                let seq = p.seqs.as_ref().map_or(p.seq + i as u64, |s| s[i]);
                let env = open(kind.trim_matches('"'), &data, &timestamp, p.room.as_deref());
                close(env, seq, &p.epoch)
            })
            .collect()
    }

    const T0: &str = "2026-11-28T12:00:00.000Z";

    fn env(kind: &str, data: &str, ms: u64, room: Option<&str>, seq: u64) -> String {
        let t = iso8601(parse_iso(T0).unwrap() + ms);
        close(open(kind, data, &t, room), seq, "00ff")
    }

    /// Encodes, checks it is compact (an object), decodes, and compares byte for byte.
    fn round_trip(envelopes: &[String]) -> String {
        let packed = batch(BatchFormat::Compact, envelopes);
        assert!(packed.starts_with('{'), "{packed}");
        assert_eq!(decode(&packed), envelopes, "{packed}");
        packed
    }

    #[test]
    fn same_shape_objects_share_one_key_list() {
        let envs: Vec<String> = (0..3)
            .map(|i| {
                let data = format!(r#"{{"service":"api","level":"info","t":{i},"n":1.50}}"#);
                env("logs:stream", &data, i * 7, Some("p-1"), 41 + i)
            })
            .collect();
        let packed = round_trip(&envs);
        assert_eq!(
            packed,
            r#"{"epoch":"00ff","seq":41,"timestamp":"2026-11-28T12:00:00.000Z","room":"p-1","types":["logs:stream"],"shapes":[["service","level","t","n"]],"items":[[0,0,0,"api","info",0,1.50],[0,7,0,"api","info",1,1.50],[0,14,0,"api","info",2,1.50]]}"#
        );
        let classic = batch(BatchFormat::Envelopes, &envs);
        assert!(classic.starts_with('['));
        assert!(packed.len() < classic.len());
    }

    #[test]
    fn a_log_batch_takes_well_under_two_thirds_of_the_bytes() {
        // The benchmark's log line (bench/peers/common.mjs), ten to a batch.
        let envs: Vec<String> = (0..10)
            .map(|i| {
                let data = format!(
                    r#"{{"service":"hasura","line":"{{\"level\":\"info\",\"msg\":\"request completed\",\"path\":\"/v1/graphql\",\"status\":200,\"ms\":{i}}}","timestamp":"2026-11-28T12:00:00.{i:03}Z","level":"info","source":"stdout","t":1795850557123456,"n":{}}}"#,
                    1000 + i
                );
                env("logs:stream", &data, i, Some("bench"), 1000 + i)
            })
            .collect();
        let packed = round_trip(&envs);
        let classic = batch(BatchFormat::Envelopes, &envs);
        assert!(
            packed.len() * 100 < classic.len() * 60,
            "{} vs {}",
            packed.len(),
            classic.len()
        );
    }

    #[test]
    fn mixed_types_shapes_and_non_objects() {
        let envs = vec![
            env("logs:stream", r#"{"a":1,"b":[1,2]}"#, 0, None, 1),
            env("docker:stats", r#"{"b":{"x":null},"a":"s"}"#, 1, None, 2),
            env("logs:stream", r#"{"a":2,"b":[]}"#, 1, None, 3),
            env("x.custom", "[1,{\"a\":2}]", 2, None, 4),
            env("x.custom", r#""text""#, 2, None, 5),
            env("x.custom", "null", 3, None, 6),
            env("x.custom", "1.50", 3, None, 7),
            env("x.custom", "-0.0e5", 3, None, 8),
            env("x.custom", "{}", 4, None, 9),
            env("x.custom", "true", 4, None, 10),
        ];
        let packed = round_trip(&envs);
        assert!(packed.contains(r#""types":["logs:stream","docker:stats","x.custom"]"#));
        assert!(packed.contains(r#""shapes":[["a","b"],["b","a"],[]]"#));
        assert!(!packed.contains("\"room\""), "a broadcast has no room");
        assert!(packed.contains(r#"[2,3,-1,1.50]"#));
    }

    #[test]
    fn keys_with_escapes_and_unicode_name_the_same_keys() {
        let envs = vec![
            env("x", r#"{"qu\"ote":1,"é✓😀":2,"tab\t":3}"#, 0, Some("r"), 1),
            env("x", r#"{"\u0061":1}"#, 0, Some("r"), 2),
        ];
        let packed = batch(BatchFormat::Compact, &envs);
        assert!(packed.contains(r#"["qu\"ote","é✓😀","tab\t"]"#), "{packed}");
        let decoded = decode(&packed);
        assert_eq!(decoded[0], envs[0]);
        // The same key, written without the escape.
        assert_eq!(decoded[1], env("x", r#"{"a":1}"#, 0, Some("r"), 2));
        for (d, e) in decoded.iter().zip(&envs) {
            let (d, e): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(d).unwrap(),
                serde_json::from_str(e).unwrap(),
            );
            assert_eq!(d, e);
        }
    }

    #[test]
    fn repeated_keys_go_verbatim() {
        let envs = vec![
            env("x", r#"{"a":1,"a":2}"#, 0, None, 1),
            env("x", r#"{"a":1,"\u0061":2}"#, 0, None, 2),
        ];
        let packed = round_trip(&envs);
        assert!(packed.contains(r#"[0,0,-1,{"a":1,"a":2}]"#), "{packed}");
        assert!(packed.contains(r#""shapes":[]"#), "{packed}");
    }

    #[test]
    fn seqs_that_do_not_run_are_carried() {
        // Two hubs of a cluster numbering one room: this hub got 5 and 7.
        let envs = vec![
            env("x", "1", 0, Some("r"), 5),
            env("x", "2", 0, Some("r"), 7),
        ];
        let packed = round_trip(&envs);
        assert!(packed.ends_with(r#","seqs":[5,7]}"#), "{packed}");
    }

    #[test]
    fn timestamps_may_go_back() {
        let envs = vec![env("x", "1", 5, None, 1), env("x", "2", 0, None, 2)];
        let packed = round_trip(&envs);
        assert!(packed.contains("[0,-5,-1,2]"), "{packed}");
    }

    #[test]
    fn what_it_cannot_say_falls_back_to_the_array() {
        let two_epochs = vec![
            env("x", "1", 0, None, 1),
            close(open("x", "2", T0, None), 1, "0100"),
        ];
        let odd_time = vec![close(open("x", "1", "2026-11-28T12:00:00Z", None), 1, "e")];
        let extra_field = vec![r#"{"type":"x","data":1,"timestamp":"t","id":1}"#.to_string()];
        for envs in [two_epochs, odd_time, extra_field, vec![]] {
            assert_eq!(batch(BatchFormat::Compact, &envs), envelope::batch(&envs));
        }
    }

    #[test]
    fn parses_only_the_hub_clock_form() {
        assert_eq!(parse_iso("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_iso("2026-11-28T07:22:37.123Z"),
            Some(1_795_850_557_123)
        );
        assert_eq!(parse_iso("2000-02-29T00:00:00.000Z"), Some(951_782_400_000));
        assert_eq!(parse_iso("9999-12-31T23:59:59.999Z"), Some(MAX_ISO_MS));
        for bad in [
            "2026-02-30T00:00:00.000Z",
            "2026-11-28T24:00:00.000Z",
            "2026-11-28T12:00:00.000+",
            "2026-11-28 12:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "+2026-11-28T12:00:00.000Z",
            "2026-11-28T12:00:00.0000",
            "",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("t".to_string()),
            Just("n".to_string()),
            Just("level".to_string()),
            Just("\u{e9}\"\\\n".to_string()),
            "[a-c]{1,2}",
            any::<String>(),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("1.50".to_string()),
            Just("-12e-3".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key(), inner), 0..5).prop_map(|kv| {
                    let fields: Vec<String> = kv
                        .iter()
                        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_batch_decodes_to_its_envelopes(
            items in prop::collection::vec(
                (prop::sample::select(vec!["logs:stream", "docker:stats", "c.x"]), value(), 0u64..5_000),
                1..20,
            ),
            room in prop::option::of("[a-z0-9_.:-]{1,8}"),
            first in 1u64..1_000_000,
            gap in prop::option::of(1usize..20),
        ) {
            let envs: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, (kind, data, ms))| {
                    let seq = first + i as u64 + u64::from(gap.is_some_and(|g| i >= g));
                    env(kind, data, *ms, room.as_deref(), seq)
                })
                .collect();
            let packed = batch(BatchFormat::Compact, &envs);
            prop_assert!(packed.starts_with('{'), "not compact: {}", packed);
            prop_assert_eq!(decode(&packed), envs);
        }
    }
}
