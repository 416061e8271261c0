//! Who may connect and which rooms they may join: the JS hooks (`authenticate`,
//! `authorizeRoom`) as plain Rust callables, the handshake object they receive, and the rules
//! that combine them with `secret` tokens. The socketioxide glue is in [`crate::rooms`]; the JS
//! side of the hooks (threadsafe functions) is in [`crate::binding`].
//!
//! Rules (README "Authentication"):
//! - a handshake `auth.token`, when `secret` is set, is verified in Rust: valid -> its identity,
//!   no JS call; invalid, forged or expired -> refused (never handed to `authenticate`);
//! - no token: `authenticate(handshake)` when given; else refused when `secret` is set; else
//!   the connection is `'anonymous'`;
//! - a join needs the room to match one of the identity's `rooms` patterns (when it has any)
//!   *and* `authorizeRoom(userId, room)` to return `true` (when given).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

/// A call into JS: a JSON argument in, the JSON of what the JS function resolved to out, or an
/// error (a throw, a rejection, a hub that stopped) whose text is only logged.
pub type JsHook = Arc<dyn Fn(String) -> HookFuture + Send + Sync>;
pub type HookFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// The JS functions of `startHub` options, kept out of [`crate::options::HubConfig`] (which is
/// JSON and compared for same-options restarts).
#[derive(Clone, Default)]
pub struct Hooks {
    /// `authenticate(handshake)`, called with the handshake object's JSON.
    pub authenticate: Option<JsHook>,
    /// `authorizeRoom(userId, room)`, called with `[userId, room]`.
    pub authorize_room: Option<JsHook>,
}

impl Hooks {
    /// Which hooks are set (what a same-options restart compares).
    pub fn shape(&self) -> (bool, bool) {
        (self.authenticate.is_some(), self.authorize_room.is_some())
    }
}

/// Calls a hook with a deadline; `None` on a timeout or any JS failure (logged once here).
pub async fn call(hook: &JsHook, name: &str, arg: String, timeout: Duration) -> Option<Value> {
    match tokio::time::timeout(timeout, hook(arg)).await {
        Err(_) => {
            eprintln!(
                "nself-realtime: {name} did not settle within {} ms; refused",
                timeout.as_millis()
            );
            None
        }
        Ok(Err(e)) => {
            eprintln!("nself-realtime: {name} failed: {e}; refused");
            None
        }
        Ok(Ok(json)) => match serde_json::from_str(&json) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!(
                    "nself-realtime: {name} returned something that is not JSON ({e}); refused"
                );
                None
            }
        },
    }
}

/// The `handshake` argument of `authenticate`: `{ headers, cookies, query, auth, address }`.
/// Header names are lower case; repeated headers are joined with `, ` (`cookie` with `; `).
pub fn handshake_json(
    headers: &http::HeaderMap,
    query: Option<&str>,
    auth: &Value,
    address: &str,
) -> Value {
    let mut h = Map::new();
    for name in headers.keys() {
        let sep = if name == http::header::COOKIE {
            "; "
        } else {
            ", "
        };
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(sep);
        h.insert(name.as_str().to_string(), Value::String(joined));
    }
    let cookies = h
        .get("cookie")
        .and_then(Value::as_str)
        .map(parse_cookies)
        .unwrap_or_default();
    serde_json::json!({
        "headers": h,
        "cookies": cookies,
        "query": parse_query(query.unwrap_or("")),
        "auth": auth,
        "address": address,
    })
}

/// `a=1; b=two` -> `{ a: '1', b: 'two' }` (first one wins, values percent-decoded when they
/// decode, surrounding quotes removed).
pub fn parse_cookies(header: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in header.split(';') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || out.contains_key(k) {
            continue;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        let v = percent_decode(v, false).unwrap_or_else(|| v.to_string());
        out.insert(k.to_string(), Value::String(v));
    }
    out
}

/// A URL query -> `{ key: value }` (the last one wins, as Node's `URLSearchParams.get` does
/// not, but as socket.io's `handshake.query` object does); `+` is a space.
pub fn parse_query(q: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (percent_decode(k, true), percent_decode(v, true)) else {
            continue;
        };
        out.insert(k, Value::String(v));
    }
    out
}

/// Percent-decoding to UTF-8; `None` for a bad escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn cookies_and_query() {
        let c = parse_cookies("sid=abc%20def; theme=\"dark\"; bad; sid=second; =x");
        assert_eq!(Value::Object(c), json!({"sid":"abc def","theme":"dark"}));
        let q = parse_query("EIO=4&transport=websocket&name=a+b%21&x&%ff=1");
        assert_eq!(
            Value::Object(q),
            json!({"EIO":"4","transport":"websocket","name":"a b!","x":""})
        );
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%e2%82%ac", false), Some("€".into()));
    }

    #[test]
    fn handshake_has_every_part() {
        let mut headers = http::HeaderMap::new();
        headers.insert("cookie", "session=s1".parse().unwrap());
        headers.append("x-forwarded-for", "1.1.1.1".parse().unwrap());
        headers.append("x-forwarded-for", "2.2.2.2".parse().unwrap());
        let h = handshake_json(&headers, Some("a=1"), &json!({"k":"v"}), "127.0.0.1");
        assert_eq!(
            h,
            json!({
                "headers": {"cookie":"session=s1","x-forwarded-for":"1.1.1.1, 2.2.2.2"},
                "cookies": {"session":"s1"},
                "query": {"a":"1"},
                "auth": {"k":"v"},
                "address": "127.0.0.1",
            })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn parsers_never_panic(s in ".{0,200}") {
            let _ = parse_cookies(&s);
            let _ = parse_query(&s);
            let _ = percent_decode(&s, true);
        }

        #[test]
        fn percent_encoding_round_trips(s in ".{0,50}") {
            let encoded: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
            prop_assert_eq!(percent_decode(&encoded, false), Some(s));
        }
    }
}
