//! Strict reading of JSON request bodies (spec TSR-CONV-3, TSR-CONV-15), once for every wire
//! type: a member named twice in one object, or a `null` anywhere, is refused before serde maps
//! the body to a type. serde_json alone keeps the last of two members of the same name (so
//! `{"sid":"bogus","sid":"<real>"}` would act on the second) and reads `null` as an absent
//! `Option`.

use crate::error::Error;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// Deepest nesting accepted: far more than any request needs (serde_json's own limit is 128).
const MAX_DEPTH: usize = 32;

/// Why a body was refused; the texts name no value from the body (spec TSR-ERROR-2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictError {
    /// Not JSON (or trailing bytes after the value).
    #[error("the body is not valid JSON")]
    Syntax,
    /// The same member twice in one object.
    #[error("a member appears twice in one object")]
    DuplicateMember,
    /// A `null` value: optional members are omitted, never `null`.
    #[error("a member is null; leave optional members out instead")]
    Null,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("the body is nested too deeply")]
    TooDeep,
}

/// Parses `body` as one JSON value, refusing duplicate members and `null`.
pub fn parse_strict(body: &[u8]) -> Result<Value, StrictError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut found = None;
    let value = Strict {
        depth: 0,
        found: &mut found,
    }
    .deserialize(&mut de);
    let Ok(value) = value else {
        return Err(found.unwrap_or(StrictError::Syntax));
    };
    de.end().map_err(|_| StrictError::Syntax)?;
    Ok(value)
}

/// One value at `depth`; the first strictness failure is kept in `found` (serde's error type
/// carries only text).
struct Strict<'a> {
    depth: usize,
    found: &'a mut Option<StrictError>,
}

impl Strict<'_> {
    fn fail<E: de::Error>(&mut self, why: StrictError) -> E {
        let text = why.to_string();
        *self.found = Some(why);
        E::custom(text)
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<Value, E> {
        Err(self.fail(StrictError::Null))
    }

    fn visit_none<E: de::Error>(mut self) -> Result<Value, E> {
        Err(self.fail(StrictError::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.fail(StrictError::TooDeep));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict {
            depth: self.depth + 1,
            found: self.found,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.fail(StrictError::TooDeep));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(self.fail(StrictError::DuplicateMember));
            }
            let v = map.next_value_seed(Strict {
                depth: self.depth + 1,
                found: self.found,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses a JSON request body. spec TSR-CONV-3, TSR-CONV-15: not JSON, not an object, a member
/// twice or `null`, missing, wrongly typed or unknown members are all `400 invalid_request`.
pub fn parse<T: crate::wire::Request>(body: &[u8]) -> Result<T, Error> {
    // spec TSR-CONV-15: duplicate members and null refused once, here, for every wire type
    let value = parse_strict(body).map_err(|e| Error::InvalidRequest(Cow::Owned(e.to_string())))?;
    if !value.is_object() {
        return Err(Error::invalid_request("the body is not a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| {
        // serde's messages for unknown and missing members name only the member (ours or the
        // client's own key); messages about values may quote the value, so they are replaced.
        let msg = e.to_string();
        if msg.starts_with("unknown field") {
            let name = msg.split('`').nth(1).unwrap_or("?");
            Error::InvalidRequest(Cow::Owned(format!("unknown member `{}`", short(name))))
        } else if msg.starts_with("missing field") {
            Error::InvalidRequest(Cow::Owned(msg))
        } else {
            Error::invalid_request("a member has the wrong type or value")
        }
    })
}

fn short(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

/// spec TSR-CONV-8: every name matches `[a-z][a-z0-9_.:-]{0,63}` and none repeats.
pub fn check_names(names: &[String]) -> Result<(), Error> {
    for (i, n) in names.iter().enumerate() {
        if !crate::wire::is_name(n) {
            return Err(Error::invalid_request(
                "a name in grants or scopes does not match [a-z][a-z0-9_.:-]{0,63}",
            ));
        }
        if names[..i].contains(n) {
            return Err(Error::invalid_request("a name appears twice in a list"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        let v = parse_strict(br#"{"a":[1,"x",{"b":true}],"c":-2.5}"#).unwrap();
        assert_eq!(v["a"][2]["b"], Value::Bool(true));
    }

    #[test]
    fn refuses_duplicates_at_any_depth() {
        for body in [
            &br#"{"sid":"bogus","sid":"real"}"#[..],
            br#"{"a":{"x":1,"x":1}}"#,
            br#"{"a":[{"x":1,"y":2,"x":3}]}"#,
        ] {
            assert_eq!(parse_strict(body), Err(StrictError::DuplicateMember));
        }
        // the same name in different objects is fine
        assert!(parse_strict(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    #[test]
    fn refuses_null_anywhere() {
        for body in [&b"null"[..], br#"{"ttl":null}"#, br#"{"scope":[null]}"#] {
            assert_eq!(parse_strict(body), Err(StrictError::Null));
        }
    }

    #[test]
    fn refuses_junk_and_depth() {
        for body in [&b""[..], b"{", br#"{"a":1} x"#, b"\xff", br#"{"a":1,}"#] {
            assert_eq!(parse_strict(body), Err(StrictError::Syntax), "{body:?}");
        }
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(parse_strict(deep.as_bytes()), Err(StrictError::TooDeep));
        let ok = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert!(parse_strict(ok.as_bytes()).is_ok());
    }

    #[test]
    fn parse_refuses_bad_bodies_without_echoing_values() {
        let cases: &[&[u8]] = &[
            b"",
            b"nope",
            b"[]",
            b"{\"sid\": 5}",
            b"{\"sid\": \"a\", \"extra\": 1}",
            b"{}",
        ];
        for body in cases {
            let e = parse::<crate::wire::SidRequest>(body).unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{body:?}");
        }
        let e = parse::<crate::wire::SidRequest>(br#"{"sid": ["SECRETVALUE"]}"#).unwrap_err();
        assert!(!format!("{:?}", e.wire()).contains("SECRETVALUE"));
        assert_eq!(
            parse::<crate::wire::SidRequest>(br#"{"sid":"x"}"#)
                .unwrap()
                .sid,
            "x"
        );
    }

    #[test]
    fn check_names_refuses_repeats() {
        assert!(check_names(&["a".into(), "a".into()]).is_err());
        assert!(check_names(&["a".into(), "b".into()]).is_ok());
        assert!(check_names(&["A".into()]).is_err());
    }
}
