//! Signed connection tokens (the `secret` fast path): `createToken` signs, the connect
//! middleware verifies, with no JS call per connection. Pure logic; the clock is passed in.
//!
//! Format: `base64url(payload JSON) "." base64url(HMAC-SHA256(key, first part))`, no padding.
//! The payload is `{ "sub": userId, "rooms"?: [pattern], "iat": s, "exp": s }` (seconds since the
//! epoch). Every hub with the same secret verifies the same tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::{HubError, HubResult};
use crate::glob::check_pattern;

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted; anything longer is refused before it is decoded.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest user id (tokens and `authenticate` results).
pub const MAX_USER_ID_LEN: usize = 256;
/// Most room patterns one identity may carry.
pub const MAX_PATTERNS: usize = 100;
/// Shortest accepted secret, in bytes: HMAC keys shorter than this are guessable.
pub const MIN_SECRET_LEN: usize = 32;
/// Longest `expiresIn`: one year.
pub const MAX_EXPIRES_IN_S: u64 = 366 * 24 * 3600;

/// Who a connection is, from a token or from `authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    /// Room patterns this user may join; `None`: any room (subject to `authorizeRoom`).
    pub rooms: Option<Vec<String>>,
}

/// `createToken(options)`: `{ userId, rooms?, expiresIn, secret? }` -> a token signed with
/// `secret`, or else with `hub_key` (the running hub's first secret).
pub fn create(options: &Value, hub_key: Option<&[u8]>, now_s: u64) -> HubResult<String> {
    let o = options.as_object().ok_or_else(|| {
        HubError::options(format!(
            "options: expected {{ userId, rooms?, expiresIn, secret? }}, got {}",
            crate::validate::describe(options)
        ))
    })?;
    if let Some(k) = o
        .keys()
        .find(|k| !["userId", "rooms", "expiresIn", "secret"].contains(&k.as_str()))
    {
        return Err(HubError::options(format!(
            "unknown option '{k}'; known: userId, rooms, expiresIn, secret"
        )));
    }
    let identity = identity_from_json(options)
        .map_err(HubError::options)?
        .ok_or_else(|| HubError::options("userId: expected a string"))?;
    let expires_in = match o.get("expiresIn") {
        Some(v) => parse_expires_in(v).map_err(HubError::options)?,
        None => {
            return Err(HubError::options(
                "expiresIn: expected seconds or a string such as '15m', got nothing",
            ))
        }
    };
    let key = match o.get("secret") {
        None | Some(Value::Null) => hub_key.map(<[u8]>::to_vec).ok_or_else(|| {
            HubError::options("secret: no secret given, and no running hub was started with one")
        })?,
        Some(Value::String(s)) if s.len() >= MIN_SECRET_LEN => s.as_bytes().to_vec(),
        Some(v) => {
            return Err(HubError::options(format!(
                "secret: expected a string of at least {MIN_SECRET_LEN} bytes, got {}",
                match v {
                    Value::String(s) => format!("one of {} bytes", s.len()),
                    other => crate::validate::describe(other),
                }
            )))
        }
    };
    Ok(sign(&identity, expires_in, now_s, &key))
}

/// Why a token was refused. Never sent to the client (it only learns `unauthorized`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed(&'static str),
    BadSignature,
    Expired,
}

/// Signs `identity` with `key`, valid from `now_s` for `expires_in_s` seconds.
pub fn sign(identity: &Identity, expires_in_s: u64, now_s: u64, key: &[u8]) -> String {
    let mut payload = json!({
        "sub": identity.user_id,
        "iat": now_s,
        "exp": now_s.saturating_add(expires_in_s),
    });
    if let Some(rooms) = &identity.rooms {
        payload["rooms"] = json!(rooms);
    }
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mac = URL_SAFE_NO_PAD.encode(mac(key, body.as_bytes()));
    format!("{body}.{mac}")
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Verifies a token against every key (the first signs, all verify, for rotation) and returns
/// its identity. The signature is checked (in constant time) before the payload is parsed.
pub fn verify(token: &str, keys: &[Vec<u8>], now_s: u64) -> Result<Identity, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("too long"));
    }
    let (body, sig) = token
        .split_once('.')
        .ok_or(TokenError::Malformed("no '.'"))?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TokenError::Malformed("signature is not base64url"))?;
    let valid = keys.iter().any(|key| {
        HmacSha256::new_from_slice(key).is_ok_and(|mut m| {
            m.update(body.as_bytes());
            m.verify_slice(&sig).is_ok()
        })
    });
    if !valid {
        return Err(TokenError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
    let payload: Value =
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed("payload JSON"))?;
    let exp = payload
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(TokenError::Malformed("exp"))?;
    if now_s >= exp {
        return Err(TokenError::Expired);
    }
    let user_id = payload
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed("sub"))?;
    check_user_id(user_id).map_err(|_| TokenError::Malformed("sub"))?;
    let rooms = match payload.get("rooms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(patterns(v).map_err(|_| TokenError::Malformed("rooms"))?),
    };
    Ok(Identity {
        user_id: user_id.to_string(),
        rooms,
    })
}

/// A user id: 1..=256 characters, no control characters.
pub fn check_user_id(user_id: &str) -> Result<(), String> {
    let n = user_id.chars().count();
    if n == 0 || n > MAX_USER_ID_LEN || user_id.chars().any(char::is_control) {
        return Err(format!(
            "userId: expected a string of 1-{MAX_USER_ID_LEN} characters without control \
             characters, got {}",
            crate::validate::describe(&Value::String(user_id.into()))
        ));
    }
    Ok(())
}

/// A list of room patterns (`rooms`): an array of at most 100 patterns.
pub fn patterns(v: &Value) -> Result<Vec<String>, String> {
    let list = v.as_array().ok_or_else(|| {
        format!(
            "rooms: expected an array of room patterns, got {}",
            crate::validate::describe(v)
        )
    })?;
    if list.len() > MAX_PATTERNS {
        return Err(format!(
            "rooms: expected at most {MAX_PATTERNS} patterns, got {}",
            list.len()
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| match p.as_str() {
            Some(s) => check_pattern(s)
                .map(|()| s.to_string())
                .map_err(|e| format!("rooms[{i}]: {e}")),
            None => Err(format!(
                "rooms[{i}]: expected a string, got {}",
                crate::validate::describe(p)
            )),
        })
        .collect()
}

/// Reads what `authenticate` resolved to (as JSON): `null` (refused) or `{ userId, rooms? }`.
pub fn identity_from_json(v: &Value) -> Result<Option<Identity>, String> {
    match v {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Object(o) => {
            let user_id = match o.get("userId") {
                Some(Value::String(s)) => s,
                other => {
                    return Err(format!(
                        "userId: expected a string, got {}",
                        other.map_or_else(|| "nothing".into(), crate::validate::describe)
                    ))
                }
            };
            check_user_id(user_id)?;
            let rooms = match o.get("rooms") {
                None | Some(Value::Null) => None,
                Some(v) => Some(patterns(v)?),
            };
            Ok(Some(Identity {
                user_id: user_id.clone(),
                rooms,
            }))
        }
        other => Err(format!(
            "expected {{ userId, rooms? }} or null, got {}",
            crate::validate::describe(other)
        )),
    }
}

/// `expiresIn`: seconds as a number, or a string with a unit (`'90s'`, `'15m'`, `'12h'`,
/// `'7d'`); 1 second to one year.
pub fn parse_expires_in(v: &Value) -> Result<u64, String> {
    let fail = || {
        format!(
            "expiresIn: expected seconds (an integer from 1 to {MAX_EXPIRES_IN_S}) or a \
             string such as '15m', '12h' or '7d', got {}",
            crate::validate::describe(v)
        )
    };
    let secs = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= MAX_EXPIRES_IN_S as f64)
            .map(|f| f as u64),
        Value::String(s) => {
            let s = s.trim();
            let (digits, unit) =
                s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let mult = match unit {
                "" | "s" => Some(1),
                "m" => Some(60),
                "h" => Some(3600),
                "d" => Some(86_400),
                _ => None,
            };
            match (digits.parse::<u64>(), mult) {
                (Ok(n), Some(m)) if digits.len() <= 12 => n.checked_mul(m),
                _ => None,
            }
        }
        _ => None,
    };
    secs.filter(|s| (1..=MAX_EXPIRES_IN_S).contains(s))
        .ok_or_else(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const K1: &[u8] = b"0123456789abcdef0123456789abcdef";
    const K2: &[u8] = b"fedcba9876543210fedcba9876543210";

    fn id(rooms: Option<Vec<&str>>) -> Identity {
        Identity {
            user_id: "user-1".into(),
            rooms: rooms.map(|r| r.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let t = sign(&id(Some(vec!["project-*"])), 60, 1000, K1);
        assert_eq!(
            verify(&t, &[K1.to_vec()], 1000),
            Ok(id(Some(vec!["project-*"])))
        );
        assert_eq!(
            verify(&t, &[K1.to_vec()], 1059).map(|i| i.user_id),
            Ok("user-1".into())
        );
        assert_eq!(verify(&t, &[K1.to_vec()], 1060), Err(TokenError::Expired));
        let t = sign(&id(None), 60, 1000, K1);
        assert_eq!(verify(&t, &[K1.to_vec()], 1000), Ok(id(None)));
    }

    #[test]
    fn rotation_accepts_every_listed_key() {
        let old = sign(&id(None), 60, 0, K1);
        let new = sign(&id(None), 60, 0, K2);
        let keys = [K2.to_vec(), K1.to_vec()];
        assert!(verify(&old, &keys, 1).is_ok());
        assert!(verify(&new, &keys, 1).is_ok());
        assert_eq!(
            verify(&old, &[K2.to_vec()], 1),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let t = sign(&id(Some(vec!["project-a"])), 60, 0, K1);
        let (_, sig) = t.split_once('.').unwrap();
        let forged_body = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","exp":99999999999}"#);
        assert_eq!(
            verify(&format!("{forged_body}.{sig}"), &[K1.to_vec()], 1),
            Err(TokenError::BadSignature)
        );
        assert!(verify("", &[K1.to_vec()], 1).is_err());
        assert!(verify("abc", &[K1.to_vec()], 1).is_err());
        assert!(verify("a.b.c", &[K1.to_vec()], 1).is_err());
        assert!(verify(&"x".repeat(MAX_TOKEN_LEN + 1), &[K1.to_vec()], 1).is_err());
        // A validly signed payload that is not ours is still refused.
        let body = URL_SAFE_NO_PAD.encode(r#"{"sub":"","exp":99999999999}"#);
        let sig = URL_SAFE_NO_PAD.encode(mac(K1, body.as_bytes()));
        assert_eq!(
            verify(&format!("{body}.{sig}"), &[K1.to_vec()], 1),
            Err(TokenError::Malformed("sub"))
        );
    }

    #[test]
    fn authenticate_results() {
        assert_eq!(identity_from_json(&Value::Null), Ok(None));
        assert_eq!(
            identity_from_json(&json!({"userId":"u","rooms":["a-*"]})),
            Ok(Some(Identity {
                user_id: "u".into(),
                rooms: Some(vec!["a-*".into()])
            }))
        );
        assert!(identity_from_json(&json!({"userId":5})).is_err());
        assert!(identity_from_json(&json!({"userId":""})).is_err());
        assert!(identity_from_json(&json!({"userId":"u","rooms":"a"})).is_err());
        assert!(identity_from_json(&json!({"userId":"u","rooms":["a b"]})).is_err());
        assert!(identity_from_json(&json!("u")).is_err());
    }

    #[test]
    fn create_checks_its_options() {
        let key = std::str::from_utf8(K1).unwrap();
        let t = create(
            &json!({"userId":"u","expiresIn":"1h","secret":key}),
            None,
            0,
        )
        .unwrap();
        assert_eq!(
            verify(&t, &[K1.to_vec()], 3599).map(|i| i.user_id),
            Ok("u".into())
        );
        let t = create(
            &json!({"userId":"u","rooms":["p-*"],"expiresIn":60}),
            Some(K2),
            0,
        )
        .unwrap();
        assert_eq!(
            verify(&t, &[K2.to_vec()], 1).unwrap().rooms,
            Some(vec!["p-*".into()])
        );
        let err = |v: Value| create(&v, Some(K1), 0).unwrap_err().message;
        assert!(err(json!({"userId":"u"})).starts_with("expiresIn:"));
        assert!(err(json!({"expiresIn":1})).starts_with("userId:"));
        assert!(err(json!({"userId":"u","expiresIn":1,"secret":"short"})).starts_with("secret:"));
        assert!(
            err(json!({"userId":"u","expiresIn":1,"extra":1})).contains("unknown option 'extra'")
        );
        assert!(err(json!("u")).starts_with("options:"));
        assert!(create(&json!({"userId":"u","expiresIn":1}), None, 0)
            .unwrap_err()
            .message
            .starts_with("secret:"));
    }

    #[test]
    fn expires_in_forms() {
        assert_eq!(parse_expires_in(&json!(60)), Ok(60));
        assert_eq!(parse_expires_in(&json!("15m")), Ok(900));
        assert_eq!(parse_expires_in(&json!("2h")), Ok(7200));
        assert_eq!(parse_expires_in(&json!("7d")), Ok(7 * 86_400));
        assert_eq!(parse_expires_in(&json!("30")), Ok(30));
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("1y"),
            json!("h"),
            json!(""),
            json!(null),
            json!("99999999999999999999d"),
        ] {
            assert!(parse_expires_in(&bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn verify_never_panics_on_garbage(s in ".{0,300}") {
            let _ = verify(&s, &[K1.to_vec()], 1);
        }

        #[test]
        fn verify_never_panics_on_dotted_base64(a in "[A-Za-z0-9_-]{0,200}", b in "[A-Za-z0-9_-]{0,60}") {
            let t = format!("{a}.{b}");
            prop_assert!(verify(&t, &[K1.to_vec()], 1).is_err());
        }

        #[test]
        fn round_trip(user in "[a-zA-Z0-9 @._\u{e9}\u{4e2d}-]{1,40}", exp in 1u64..100_000, now in 0u64..1_000_000) {
            let identity = Identity { user_id: user, rooms: Some(vec!["p-*".into()]) };
            let t = sign(&identity, exp, now, K1);
            prop_assert_eq!(verify(&t, &[K2.to_vec(), K1.to_vec()], now), Ok(identity));
            prop_assert_eq!(verify(&t, &[K1.to_vec()], now + exp), Err(TokenError::Expired));
        }

        #[test]
        fn flipping_any_character_breaks_the_token(i in 0usize..200, c in "[A-Za-z0-9_.-]") {
            let t = sign(&id(None), 60, 0, K1);
            let i = i % t.len();
            let mut bytes = t.clone().into_bytes();
            let c = c.as_bytes()[0];
            prop_assume!(bytes[i] != c);
            bytes[i] = c;
            let forged = String::from_utf8(bytes).unwrap();
            // Base64 has trailing bits: a changed last character may decode to the same bytes.
            let same = URL_SAFE_NO_PAD.decode(forged.split('.').nth(1).unwrap_or("")).ok()
                == URL_SAFE_NO_PAD.decode(t.split('.').nth(1).unwrap_or("")).ok()
                && forged.split('.').next() == t.split('.').next();
            prop_assume!(!same);
            prop_assert!(verify(&forged, &[K1.to_vec()], 1).is_err());
        }

        #[test]
        fn expires_in_never_panics(s in ".{0,30}") {
            let _ = parse_expires_in(&Value::String(s));
        }
    }
}
