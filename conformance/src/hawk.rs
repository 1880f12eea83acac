//! A small Hawk 1.1 client, written for the conformance suite alone.
//!
//! This is deliberately an **independent second implementation** of the Hawk profile of spec
//! chapter 4: it shares no code with the reference Authority (`impl/src/hawk.rs`), so a mistake
//! made once in the reference implementation is not silently agreed with here. It is checked
//! against the vectors published with the `hawk` package (see the tests below), and does only
//! what a Consumer needs:
//!
//! * the request header (TSR-HAWK-3 syntax, 4.3 normalized string, TSR-HAWK-5 payload hash,
//!   the Oz `app`/`dlg` lines of 4.7);
//! * verification of `Server-Authorization` (TSR-HAWK-12, TSR-HAWK-13);
//! * verification of the stale-timestamp reply's `tsm` (TSR-HAWK-8).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::{digest, hmac};
use std::collections::BTreeMap;

/// Hawk credentials: the `id` and the key, used as the bytes of its string (spec 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub id: String,
    pub key: String,
}

/// Everything the request MAC covers (spec 4.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Artifacts {
    pub method: String,
    /// Path and query, exactly as sent.
    pub target: String,
    pub host: String,
    pub port: u16,
    pub ts: i64,
    pub nonce: String,
    pub hash: Option<String>,
    pub ext: Option<String>,
    pub app: Option<String>,
    pub dlg: Option<String>,
}

/// `hawk.1.header` or `hawk.1.response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Header,
    Response,
}

/// The normalized string of spec 4.3.
pub fn normalized(kind: Kind, a: &Artifacts) -> String {
    let first = match kind {
        Kind::Header => "hawk.1.header",
        Kind::Response => "hawk.1.response",
    };
    let ext = a
        .ext
        .as_deref()
        .unwrap_or("")
        .replace('\\', "\\\\")
        .replace('\n', "\\n");
    let mut s = format!(
        "{first}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{ext}\n",
        a.ts,
        a.nonce,
        a.method.to_ascii_uppercase(),
        a.target,
        a.host.to_ascii_lowercase(),
        a.port,
        a.hash.as_deref().unwrap_or(""),
    );
    if let Some(app) = &a.app {
        s.push_str(app);
        s.push('\n');
        s.push_str(a.dlg.as_deref().unwrap_or(""));
        s.push('\n');
    }
    s
}

/// `base64(HMAC-SHA-256(key, text))`.
pub fn hmac_b64(key: &str, text: &str) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    STANDARD.encode(hmac::sign(&k, text.as_bytes()).as_ref())
}

/// The MAC of `kind` over `a` (spec 4.3, 4.6).
pub fn mac(credentials: &Credentials, kind: Kind, a: &Artifacts) -> String {
    hmac_b64(&credentials.key, &normalized(kind, a))
}

/// The media type of a `Content-Type` value: lower case, no parameters (spec TSR-HAWK-5).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The payload hash of spec TSR-HAWK-5.
pub fn payload_hash(content_type: &str, body: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"hawk.1.payload\n");
    ctx.update(media_type(content_type).as_bytes());
    ctx.update(b"\n");
    ctx.update(body);
    ctx.update(b"\n");
    STANDARD.encode(ctx.finish().as_ref())
}

/// The `Authorization` header value for `a`, signed with `credentials`. `mac_override`
/// replaces the computed MAC (for negative tests).
pub fn authorization_header(
    credentials: &Credentials,
    a: &Artifacts,
    mac_override: Option<&str>,
) -> String {
    authorization_header_omitting(credentials, a, mac_override, &[])
}

/// [`authorization_header`] without the attributes named in `omit` (for negative tests: the
/// MAC still covers every value).
pub fn authorization_header_omitting(
    credentials: &Credentials,
    a: &Artifacts,
    mac_override: Option<&str>,
    omit: &[String],
) -> String {
    let computed = mac(credentials, Kind::Header, a);
    let m = mac_override.unwrap_or(&computed);
    let ts = a.ts.to_string();
    let attributes = [
        ("id", Some(credentials.id.as_str())),
        ("ts", Some(ts.as_str())),
        ("nonce", Some(a.nonce.as_str())),
        ("hash", a.hash.as_deref()),
        ("ext", a.ext.as_deref()),
        ("mac", Some(m)),
        ("app", a.app.as_deref()),
        ("dlg", a.dlg.as_deref()),
    ];
    let listed: Vec<String> = attributes
        .iter()
        .filter(|(name, _)| !omit.iter().any(|o| o == name))
        .filter_map(|(name, value)| value.map(|v| format!("{name}=\"{v}\"")))
        .collect();
    if listed.is_empty() {
        "Hawk".to_string()
    } else {
        format!("Hawk {}", listed.join(", "))
    }
}

/// Parses `Hawk a="b", c="d"` into its attributes. Refuses another scheme, a repeated
/// attribute, or a value with a quote or backslash.
pub fn parse_attributes(header: &str) -> Result<BTreeMap<String, String>, String> {
    let rest = header.trim();
    let rest = match rest.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("hawk") => rest,
        None if rest.eq_ignore_ascii_case("hawk") => "",
        _ => return Err(format!("not a Hawk header: {header:?}")),
    };
    let mut out = BTreeMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (name, after) = s
            .split_once('=')
            .ok_or_else(|| format!("attribute without value in {header:?}"))?;
        let name = name.trim().to_string();
        let after = after
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("unquoted value of {name} in {header:?}"))?;
        let end = after
            .find('"')
            .ok_or_else(|| format!("unterminated value of {name} in {header:?}"))?;
        let value = &after[..end];
        if value.contains('\\') {
            return Err(format!("backslash in {name} of {header:?}"));
        }
        if out.insert(name.clone(), value.to_string()).is_some() {
            return Err(format!("{name} repeated in {header:?}"));
        }
        s = after[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s).trim_start();
    }
    Ok(out)
}

/// Verifies a `Server-Authorization` header (spec TSR-HAWK-12) against the request it answers
/// and the response body and content type.
pub fn verify_server_authorization(
    credentials: &Credentials,
    request: &Artifacts,
    header: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(), String> {
    let attrs = parse_attributes(header)?;
    for name in attrs.keys() {
        if !matches!(name.as_str(), "mac" | "hash" | "ext") {
            return Err(format!("unknown attribute {name} in Server-Authorization"));
        }
    }
    let got_mac = attrs.get("mac").ok_or("Server-Authorization has no mac")?;
    let got_hash = attrs
        .get("hash")
        .ok_or("Server-Authorization has no hash")?;
    let want_hash = payload_hash(content_type, body);
    if !constant_time_eq(got_hash, &want_hash) {
        return Err(format!(
            "Server-Authorization hash {got_hash} is not the hash of the body ({want_hash})"
        ));
    }
    let response = Artifacts {
        hash: Some(got_hash.clone()),
        ext: attrs.get("ext").cloned(),
        ..request.clone()
    };
    let want_mac = mac(credentials, Kind::Response, &response);
    if !constant_time_eq(got_mac, &want_mac) {
        return Err("Server-Authorization mac does not verify".to_string());
    }
    Ok(())
}

/// Verifies the `tsm` of a stale-timestamp reply (spec TSR-HAWK-8) and returns the
/// Authority's `ts`.
pub fn verify_stale_reply(
    credentials: &Credentials,
    www_authenticate: &str,
) -> Result<i64, String> {
    let attrs = parse_attributes(www_authenticate)?;
    let ts = attrs
        .get("ts")
        .ok_or("stale-timestamp reply without ts")?
        .parse::<i64>()
        .map_err(|_| "stale-timestamp reply with a non-numeric ts".to_string())?;
    let tsm = attrs
        .get("tsm")
        .ok_or("stale-timestamp reply without tsm")?;
    let want = hmac_b64(&credentials.key, &format!("hawk.1.ts\n{ts}\n"));
    if !constant_time_eq(tsm, &want) {
        return Err("tsm does not verify".to_string());
    }
    Ok(ts)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors published with the `hawk` package (README and test/).
    const ID: &str = "dh37fgj492je";
    const KEY: &str = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn";

    fn creds() -> Credentials {
        Credentials {
            id: ID.into(),
            key: KEY.into(),
        }
    }

    fn example(method: &str) -> Artifacts {
        Artifacts {
            method: method.into(),
            target: "/resource/1?b=1&a=2".into(),
            host: "example.com".into(),
            port: 8000,
            ts: 1_353_832_234,
            nonce: "j4h3g2".into(),
            ext: Some("some-app-ext-data".into()),
            ..Artifacts::default()
        }
    }

    #[test]
    fn published_get_vector() {
        let a = example("GET");
        assert_eq!(
            mac(&creds(), Kind::Header, &a),
            "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="
        );
        assert_eq!(
            authorization_header(&creds(), &a, None),
            "Hawk id=\"dh37fgj492je\", ts=\"1353832234\", nonce=\"j4h3g2\", ext=\"some-app-ext-data\", mac=\"6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=\""
        );
    }

    #[test]
    fn published_post_vector_with_payload() {
        let hash = payload_hash("text/plain", b"Thank you for flying Hawk");
        assert_eq!(hash, "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=");
        assert_eq!(
            payload_hash("Text/Plain; charset=utf-8", b"Thank you for flying Hawk"),
            hash
        );
        let a = Artifacts {
            hash: Some(hash),
            ..example("POST")
        };
        assert_eq!(
            mac(&creds(), Kind::Header, &a),
            "aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw="
        );
    }

    /// `test/client.js` of the `hawk` package: response verification.
    #[test]
    fn published_response_vector() {
        let c = Credentials {
            id: "123456".into(),
            key: KEY.into(),
        };
        let request = Artifacts {
            method: "POST".into(),
            target: "/resource/4?filter=a".into(),
            host: "example.com".into(),
            port: 8080,
            ts: 1_453_070_933,
            nonce: "3hOHpR".into(),
            hash: Some("nJjkVtBE5Y/Bk38Aiokwn0jiJxt/0S2WRSUwWLCf5xk=".into()),
            ext: Some("some-app-data".into()),
            ..Artifacts::default()
        };
        let good = "Hawk mac=\"odsVGUq0rCoITaiNagW22REIpqkwP9zt5FyqqOW9Zj8=\", hash=\"f9cDF/TDm7TkYRLnGwRMfeDzT6LixQVLvrIKhh0vgmM=\", ext=\"response-specific\"";
        verify_server_authorization(&c, &request, good, "text/plain", b"some reply").unwrap();
        let bad = "Hawk mac=\"_IJRsMl/4oL+nn+vKoeVZPdCHXB4yJkNnBbTbHFZUYE=\", hash=\"f9cDF/TDm7TkYRLnGwRMfeDzT6LixQVLvrIKhh0vgmM=\", ext=\"response-specific\"";
        assert!(
            verify_server_authorization(&c, &request, bad, "text/plain", b"some reply").is_err()
        );
        assert!(
            verify_server_authorization(&c, &request, good, "text/plain", b"some other reply")
                .is_err()
        );
    }

    #[test]
    fn one_attribute_left_out_the_others_kept() {
        let a = example("GET");
        let full = authorization_header(&creds(), &a, None);
        let without = authorization_header_omitting(&creds(), &a, None, &["nonce".into()]);
        assert_eq!(without, full.replace(" nonce=\"j4h3g2\",", ""));
        let without_mac = authorization_header_omitting(&creds(), &a, None, &["mac".into()]);
        assert!(
            without_mac.ends_with("ext=\"some-app-ext-data\""),
            "{without_mac}"
        );
    }

    #[test]
    fn oz_lines_and_ext_escaping() {
        let a = Artifacts {
            ext: Some("a\\b\nc".into()),
            app: Some("app1".into()),
            dlg: None,
            ..example("GET")
        };
        assert!(normalized(Kind::Header, &a).ends_with("\na\\\\b\\nc\napp1\n\n"));
        let h = authorization_header(&creds(), &a, None);
        assert!(h.ends_with(", app=\"app1\""), "{h}");
    }

    #[test]
    fn tsm_round_trip_and_tamper() {
        let tsm = hmac_b64(KEY, "hawk.1.ts\n1353832234\n");
        let header = format!("Hawk ts=\"1353832234\", tsm=\"{tsm}\", error=\"Stale timestamp\"");
        assert_eq!(verify_stale_reply(&creds(), &header), Ok(1_353_832_234));
        let forged = format!("Hawk ts=\"1353832235\", tsm=\"{tsm}\", error=\"Stale timestamp\"");
        assert!(verify_stale_reply(&creds(), &forged).is_err());
    }

    #[test]
    fn attribute_parsing() {
        let a = parse_attributes("Hawk id=\"1\", ts=\"2\"").unwrap();
        assert_eq!(a.get("ts").map(String::as_str), Some("2"));
        assert!(parse_attributes("Basic abc").is_err());
        assert!(parse_attributes("Hawk id=\"1\", id=\"2\"").is_err());
        assert!(parse_attributes("Hawk").unwrap().is_empty());
    }
}
