//! The envelope around every event sent to clients (SPEC §5, plus the delivery fields):
//! `{ "type", "data", "timestamp", "room"?, "seq", "epoch" }`, built as JSON text around the
//! caller's payload, which passes through byte for byte (extra fields included).
//!
//! Built in two steps: [`open`] on the emitting thread, [`close`] by the dispatcher, which alone
//! knows the target's next `seq`.

/// Starts the envelope (everything but `seq` and `epoch`). `kind` and `room` were validated
/// (`[A-Za-z0-9_.:-]`), `data` is JSON.
pub fn open(kind: &str, data: &str, timestamp: &str, room: Option<&str>) -> String {
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
    out
}

/// Finishes an [`open`] envelope with its target's `seq` and the hub's `epoch` (hex).
pub fn close(mut open: String, seq: u64, epoch: &str) -> String {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(open, ",\"seq\":{seq},\"epoch\":\"{epoch}\"}}");
    open
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

/// Finishes an [`open`] envelope sent to one socket (`emitToSocket`): no `seq` (it is on no
/// target's stream) but an `id`, by which the client recognises a retry it already handled.
pub fn close_targeted(mut open: String, id: u64, epoch: &str) -> String {
    use std::fmt::Write;
    let _ = write!(open, ",\"id\":{id},\"epoch\":\"{epoch}\"}}");
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn envelope_is_json_with_the_payload_unchanged() {
        let e = close(
            open(
                "logs:stream",
                r#"{"line":"x","n":1.50}"#,
                "2026-01-01T00:00:00.000Z",
                Some("p-1"),
            ),
            7,
            "00ff",
        );
        assert!(e.contains(r#""data":{"line":"x","n":1.50}"#));
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["type"], "logs:stream");
        assert_eq!(v["room"], "p-1");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["epoch"], "00ff");
        let e = close(open("x", "null", "t", None), 1, "e");
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(
            v,
            json!({"type":"x","data":null,"timestamp":"t","seq":1,"epoch":"e"})
        );
    }

    #[test]
    fn batch_is_an_array_in_order() {
        let b = batch(&["1".into(), "2".into(), "3".into()]);
        assert_eq!(b, "[1,2,3]");
        assert_eq!(batch(&[]), "[]");
    }
}
