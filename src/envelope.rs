//! The envelope around every event sent to clients (SPEC §5):
//! `{ "type", "data", "timestamp", "room"? }`, built as JSON text around the caller's payload,
//! which passes through byte for byte (extra fields included).

/// Builds the envelope. `kind` and `room` were validated (`[A-Za-z0-9_.:-]`), `data` is JSON.
pub fn build(kind: &str, data: &str, timestamp: &str, room: Option<&str>) -> String {
    let mut out = String::with_capacity(data.len() + kind.len() + 64 + room.map_or(0, str::len));
    out.push_str("{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"data\":");
    out.push_str(data);
    out.push_str(",\"timestamp\":\"");
    out.push_str(timestamp);
    out.push('"');
    if let Some(room) = room {
        out.push_str(",\"room\":\"");
        out.push_str(room);
        out.push('"');
    }
    out.push('}');
    out
}

/// Joins envelopes into the JSON array carried by one `batch` packet.
pub fn batch(envelopes: &[String]) -> String {
    let len = envelopes.iter().map(|e| e.len() + 1).sum::<usize>() + 2;
    let mut out = String::with_capacity(len);
    out.push('[');
    for (i, e) in envelopes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(e);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn envelope_is_json_with_the_payload_unchanged() {
        let e = build(
            "logs:stream",
            r#"{"line":"x","n":1.50}"#,
            "2026-01-01T00:00:00.000Z",
            Some("p-1"),
        );
        assert!(e.contains(r#""data":{"line":"x","n":1.50}"#));
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["type"], "logs:stream");
        assert_eq!(v["room"], "p-1");
        let e = build("x", "null", "t", None);
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v, json!({"type":"x","data":null,"timestamp":"t"}));
    }

    #[test]
    fn batch_is_an_array_in_order() {
        let b = batch(&["1".into(), "2".into(), "3".into()]);
        assert_eq!(b, "[1,2,3]");
        assert_eq!(batch(&[]), "[]");
    }
}
