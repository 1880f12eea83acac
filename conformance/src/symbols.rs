//! Symbolic values of vectors (see [`crate::vector`]): substitution and matching.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Values bound while a vector runs, and the per-vector built-ins.
#[derive(Debug, Default)]
pub struct Scope {
    pub bound: BTreeMap<String, Value>,
    pub issuer: String,
    pub now: i64,
    labels: BTreeMap<String, String>,
}

/// 32 random bytes, unpadded base64url (43 characters).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("system randomness");
    URL_SAFE_NO_PAD.encode(b)
}

/// `base64url(SHA-256(verifier))`, the S256 challenge (RFC 7636).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

impl Scope {
    pub fn new(issuer: &str, now: i64) -> Self {
        Scope {
            issuer: issuer.to_string(),
            now,
            ..Scope::default()
        }
    }

    fn label(&mut self, kind: &str, label: &str) -> String {
        self.labels
            .entry(format!("{kind}:{label}"))
            .or_insert_with(random_token)
            .clone()
    }

    /// The value of the symbol `name/pointer` (without `$`).
    pub fn lookup(&mut self, symbol: &str) -> Result<Value, String> {
        let (name, pointer) = match symbol.find('/') {
            Some(i) => (&symbol[..i], &symbol[i..]),
            None => (symbol, ""),
        };
        let value = if let Some(l) = name.strip_prefix("verifier:") {
            Value::String(self.label("verifier", l))
        } else if let Some(l) = name.strip_prefix("challenge:") {
            Value::String(s256(&self.label("verifier", l)))
        } else if let Some(l) = name.strip_prefix("random:") {
            Value::String(self.label("random", l))
        } else if name == "issuer" {
            Value::String(self.issuer.clone())
        } else if name == "now" {
            Value::from(self.now)
        } else {
            self.bound
                .get(name)
                .cloned()
                .ok_or_else(|| format!("${name} is not bound (an earlier step did not bind it)"))?
        };
        if pointer.is_empty() {
            return Ok(value);
        }
        value
            .pointer(pointer)
            .cloned()
            .ok_or_else(|| format!("${symbol}: ${name} has nothing at {pointer}"))
    }

    /// Substitutes symbols in a string: a whole-string `$sym` yields the value itself,
    /// `${sym}` inside text is spliced as a string.
    pub fn string(&mut self, s: &str) -> Result<Value, String> {
        if let Some(sym) = s.strip_prefix('$') {
            if !sym.starts_with('{') && is_symbol(sym) {
                return self.lookup(sym);
            }
        }
        Ok(Value::String(self.splice(s)?))
    }

    /// `${sym}` spliced into `s`.
    pub fn splice(&mut self, s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
            match self.lookup(&after[..end])? {
                Value::String(v) => out.push_str(&v),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Substitutes symbols everywhere in a JSON value; `{"$sum": [a, b, …]}` adds integers.
    pub fn value(&mut self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => self.string(s)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.value(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) if map.len() == 1 && map.contains_key("$sum") => {
                let terms = map["$sum"].as_array().ok_or("$sum takes an array")?;
                let mut total: i64 = 0;
                for t in terms {
                    total += self
                        .value(t)?
                        .as_i64()
                        .ok_or_else(|| format!("$sum term {t} is not an integer"))?;
                }
                Value::from(total)
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.value(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Checks `actual` against the expectation `expected` (symbols substituted). Plain values
    /// compare equal (arrays of strings as sets: lists of names are sets, spec 7.2); a
    /// one-member object whose key starts with `$` is a matcher:
    /// `$type` (`string`, `integer`, `boolean`, `null`, `object`, `array`), `$len` (string
    /// length), `$not`, `$prefix`, `$contains`, `$not_contains`, `$ge`, `$le`, `$gt`, `$lt`
    /// (integers), `$sum` (a value), `$all` (an array of matchers).
    pub fn matches(&mut self, expected: &Value, actual: &Value) -> Result<(), String> {
        if let Value::Object(map) = expected {
            if map.len() == 1 {
                let (k, arg) = map.iter().next().expect("one member");
                if k.starts_with('$') && k != "$sum" {
                    return self.matcher(k, arg, actual);
                }
            }
            if let (Value::Object(want), Value::Object(got)) = (expected, actual) {
                if want.len() != got.len() || want.keys().any(|k| !got.contains_key(k)) {
                    let w: Vec<&String> = want.keys().collect();
                    let g: Vec<&String> = got.keys().collect();
                    return Err(format!("expected the members {w:?}, got {g:?}"));
                }
                for (k, w) in want {
                    self.matches(w, &got[k]).map_err(|e| format!("{k}: {e}"))?;
                }
                return Ok(());
            }
        }
        let want = self.value(expected)?;
        if equal(&want, actual) {
            Ok(())
        } else {
            Err(format!("expected {want}, got {actual}"))
        }
    }

    fn matcher(&mut self, op: &str, arg: &Value, actual: &Value) -> Result<(), String> {
        let fail = |what: String| Err(format!("{what}, got {actual}"));
        match op {
            "$type" => {
                let t = match actual {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                if Some(t) == arg.as_str() {
                    Ok(())
                } else {
                    fail(format!("expected a value of type {arg}"))
                }
            }
            "$len" => match (actual.as_str(), arg.as_u64()) {
                (Some(s), Some(n)) if s.len() as u64 == n => Ok(()),
                _ => fail(format!("expected a string of {arg} characters")),
            },
            "$not" => {
                let want = self.value(arg)?;
                if equal(&want, actual) {
                    fail(format!("expected anything but {want}"))
                } else {
                    Ok(())
                }
            }
            "$prefix" | "$contains" | "$not_contains" => {
                let want = self.value(arg)?;
                let want = want.as_str().ok_or("string matcher needs a string")?;
                let Some(s) = actual.as_str() else {
                    return fail("expected a string".into());
                };
                let ok = match op {
                    "$prefix" => s.starts_with(want),
                    "$contains" => s.contains(want),
                    _ => !s.contains(want),
                };
                if ok {
                    Ok(())
                } else {
                    fail(format!("expected a string with {op} {want:?}"))
                }
            }
            "$ge" | "$le" | "$gt" | "$lt" => {
                let want = self
                    .value(arg)?
                    .as_i64()
                    .ok_or("comparison needs an integer")?;
                let Some(n) = actual.as_i64() else {
                    return fail("expected an integer".into());
                };
                let ok = match op {
                    "$ge" => n >= want,
                    "$le" => n <= want,
                    "$gt" => n > want,
                    _ => n < want,
                };
                if ok {
                    Ok(())
                } else {
                    fail(format!("expected an integer {op} {want}"))
                }
            }
            "$all" => {
                for m in arg.as_array().ok_or("$all takes an array")? {
                    self.matches(m, actual)?;
                }
                Ok(())
            }
            other => Err(format!("unknown matcher {other}")),
        }
    }
}

fn is_symbol(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_:.-/".contains(c))
}

/// JSON equality, with arrays of strings compared as sets.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y))
            if x.iter().all(Value::is_string) && y.iter().all(Value::is_string) =>
        {
            let mut x: Vec<&str> = x.iter().filter_map(Value::as_str).collect();
            let mut y: Vec<&str> = y.iter().filter_map(Value::as_str).collect();
            x.sort_unstable();
            y.sort_unstable();
            x == y
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitution_and_matchers() {
        let mut s = Scope::new("http://127.0.0.1:9", 100);
        s.bound
            .insert("t1".into(), json!({"id": "abc", "scope": ["b", "a"]}));
        assert_eq!(s.string("$t1/id").unwrap(), json!("abc"));
        assert_eq!(s.string("x${t1/id}y").unwrap(), json!("xabcy"));
        assert_eq!(s.string("$issuer").unwrap(), json!("http://127.0.0.1:9"));
        assert_eq!(s.value(&json!({"$sum": ["$now", 5]})).unwrap(), json!(105));
        let v = s.string("$verifier:a").unwrap();
        let c = s.string("$challenge:a").unwrap();
        assert_eq!(c, json!(s256(v.as_str().unwrap())));
        assert!(s.matches(&json!(["a", "b"]), &json!(["b", "a"])).is_ok());
        assert!(s.matches(&json!({"$len": 3}), &json!("abc")).is_ok());
        assert!(s
            .matches(&json!({"$not": "$t1/id"}), &json!("abc"))
            .is_err());
        assert!(s
            .matches(&json!({"$le": {"$sum": ["$now", 1]}}), &json!(101))
            .is_ok());
        assert!(s
            .matches(
                &json!({"$prefix": "${issuer}/a"}),
                &json!("http://127.0.0.1:9/a?x")
            )
            .is_ok());
        assert!(s.string("$nope").is_err());
        // RFC 7636 appendix B
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
