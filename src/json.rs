//! A borrowed JSON tree for validating payloads on the emitting thread.
//!
//! `serde_json::Value` allocates a `String` for every key and string value and a `BTreeMap`
//! for every object, all thrown away right after the checks of SPEC §4. This tree borrows
//! every string that has no escapes from the JSON text and keeps an object's members in one
//! `Vec`, so a typical status event is parsed with three allocations instead of about twenty
//! (`bench/emit-cost.mjs`, BENCHMARKS.md). Parsing is serde_json's, with its recursion limit.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value borrowing from its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in document order; a repeated key keeps every occurrence, and [`Json::get`]
    /// answers with the last one, as `JSON.parse` and `serde_json::Value` do.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Parses `text` (the whole of it) as one JSON value.
pub fn parse(text: &str) -> serde_json::Result<Json<'_>> {
    serde_json::from_str(text)
}

impl<'a> Json<'a> {
    /// An object's member, the last one of that name; `None` for an absent key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json<'de>, E> {
        serde_json::Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// An object key, borrowed when it has no escapes (also read by [`crate::compact`]).
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Back to a `serde_json::Value`, for comparing with serde_json's own parse.
    fn to_value(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(to_value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), to_value(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn borrows_plain_strings_and_unescapes_the_rest() {
        let text = r#"{"a":"plain","b\n":"esc\"aped","c":[1,-2,1.5,true,null]}"#;
        let j = parse(text).unwrap();
        assert!(matches!(
            j.get("a"),
            Some(Json::String(Cow::Borrowed("plain")))
        ));
        assert_eq!(j.get("b\n").and_then(Json::as_str), Some("esc\"aped"));
        let c = j.get("c").and_then(Json::as_array).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(c[1].as_f64(), Some(-2.0));
        assert!(c[4].is_null());
        assert_eq!(j.get("missing"), None);
        assert_eq!(Json::Null.get("a"), None);
    }

    #[test]
    fn a_repeated_key_answers_with_the_last_value() {
        let j = parse(r#"{"k":1,"k":"two"}"#).unwrap();
        assert_eq!(j.get("k").and_then(Json::as_str), Some("two"));
        let v: Value = serde_json::from_str(r#"{"k":1,"k":"two"}"#).unwrap();
        assert_eq!(v["k"], "two");
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for bad in ["", "{", "[1,]", "{\"a\":1}x", "NaN", "'a'", "{\"a\" 1}"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).is_err(), "recursion limit");
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| serde_json::json!(i)),
            any::<u64>().prop_map(|i| serde_json::json!(i)),
            (-1e300f64..1e300).prop_map(|f| serde_json::json!(f)),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_value(v in any_json()) {
            let text = v.to_string();
            let j = parse(&text).unwrap();
            // serde_json's own parse of the same text (its float parsing is not exact, so the
            // comparison is with what it reads back, not with `v`).
            let expected: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(to_value(&j), expected);
        }
    }
}
