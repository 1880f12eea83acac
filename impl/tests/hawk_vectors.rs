//! Hawk test vectors published by the hawk project (github.com/mozilla/hawk, mirrored as
//! hapijs/hawk; checked against v9.0.0, commit aa5e09e):
//!
//! * `API.md` "Protocol Example" and "Payload Validation" (also asserted by `test/readme.js`);
//! * `test/crypto.js` normalized strings; `test/server.js` request and response MACs;
//!   `test/client.js` response verification.
//!
//! Plus a table of header parse errors and the server-side verification behaviour around
//! the vectors.

use tessera::hawk::{
    authenticate_request, authenticate_response, calculate_mac, client_authorization_header,
    normalized_string, parse_authorization_header, payload_hash, server_authorization_header,
    verify_stale_timestamp_header, Artifacts, AuthorizationHeader, Credentials, MacType,
    NonceCache, ParseError, Payload, RequestParts, ResponseError, ServerOrigin, VerifyError,
    DEFAULT_SKEW_SECS, MAX_HEADER_LEN,
};

const ID: &str = "dh37fgj492je";
const KEY: &str = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn";
const TS: u64 = 1_353_832_234;

fn creds() -> Credentials {
    Credentials::new(ID, KEY, "sha256").unwrap()
}

fn readme_artifacts(method: &str) -> Artifacts {
    Artifacts::new(
        method,
        "/resource/1?b=1&a=2",
        "example.com",
        8000,
        TS,
        "j4h3g2",
    )
    .with_ext("some-app-ext-data")
}

const GET_NORMALIZED: &str =
    "hawk.1.header\n1353832234\nj4h3g2\nGET\n/resource/1?b=1&a=2\nexample.com\n8000\n\nsome-app-ext-data\n";
const GET_MAC: &str = "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=";
const GET_HEADER: &str = "Hawk id=\"dh37fgj492je\", ts=\"1353832234\", nonce=\"j4h3g2\", ext=\"some-app-ext-data\", mac=\"6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=\"";

const POST_BODY: &str = "Thank you for flying Hawk";
const POST_HASH: &str = "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=";
const POST_NORMALIZED: &str = "hawk.1.header\n1353832234\nj4h3g2\nPOST\n/resource/1?b=1&a=2\nexample.com\n8000\nYi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=\nsome-app-ext-data\n";
const POST_MAC: &str = "aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw=";
const POST_HEADER: &str = "Hawk id=\"dh37fgj492je\", ts=\"1353832234\", nonce=\"j4h3g2\", hash=\"Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=\", ext=\"some-app-ext-data\", mac=\"aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw=\"";

#[test]
fn readme_get_example() {
    let a = readme_artifacts("GET");
    assert_eq!(normalized_string(MacType::Header, &a), GET_NORMALIZED);
    assert_eq!(calculate_mac(&creds(), MacType::Header, &a), GET_MAC);
    assert_eq!(
        client_authorization_header(&creds(), &a).unwrap(),
        GET_HEADER
    );
}

#[test]
fn readme_post_example_with_payload() {
    assert_eq!(
        payload_hash(Some("text/plain"), POST_BODY.as_bytes()),
        POST_HASH
    );
    // parameters are stripped, case folded and whitespace trimmed before hashing
    assert_eq!(
        payload_hash(Some(" Text/Plain ; charset=utf-8"), POST_BODY.as_bytes()),
        POST_HASH
    );
    let a = readme_artifacts("POST").with_payload(Some("text/plain"), POST_BODY.as_bytes());
    assert_eq!(a.hash.as_deref(), Some(POST_HASH));
    assert_eq!(normalized_string(MacType::Header, &a), POST_NORMALIZED);
    assert_eq!(calculate_mac(&creds(), MacType::Header, &a), POST_MAC);
    assert_eq!(
        client_authorization_header(&creds(), &a).unwrap(),
        POST_HEADER
    );
}

#[test]
fn crypto_js_normalized_strings() {
    let base = Artifacts::new(
        "GET",
        "/resource/something",
        "example.com",
        8080,
        1_357_747_017,
        "k3k4j5",
    );
    let cases = [
        (
            base.clone(),
            "hawk.1.header\n1357747017\nk3k4j5\nGET\n/resource/something\nexample.com\n8080\n\n\n",
        ),
        (
            base.clone().with_ext("this is some app data"),
            "hawk.1.header\n1357747017\nk3k4j5\nGET\n/resource/something\nexample.com\n8080\n\nthis is some app data\n",
        ),
        (
            Artifacts {
                hash: Some("U4MKKSmiVxk37JCCrAVIjV/OhB3y+NdwoCr6RShbVkE=".into()),
                ..base.with_ext("this is some app data")
            },
            "hawk.1.header\n1357747017\nk3k4j5\nGET\n/resource/something\nexample.com\n8080\nU4MKKSmiVxk37JCCrAVIjV/OhB3y+NdwoCr6RShbVkE=\nthis is some app data\n",
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(a, want)| {
            let got = normalized_string(MacType::Header, a);
            (got != *want).then(|| format!("{a:?}: got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn server_js_request_macs() {
    // "parses a valid authentication header (sha256)": same credentials, ext "some-app-data"
    let get = Artifacts::new(
        "GET",
        "/resource/1?b=1&a=2",
        "example.com",
        8000,
        TS,
        "j4h3g2",
    )
    .with_ext("some-app-data");
    assert_eq!(
        calculate_mac(&creds(), MacType::Header, &get),
        "m8r1rHbXN6NgO+KIIhjO7sFRyd78RNGVUwehe8Cp2dU="
    );
    // "parses a valid authentication header (POST with payload)": hash given, payload unknown
    let c = Credentials::new("123456", KEY, "sha256").unwrap();
    let mut post = Artifacts::new(
        "POST",
        "/resource/4?filter=a",
        "example.com",
        8080,
        1_357_926_341,
        "1AwuJD",
    )
    .with_ext("some-app-data");
    post.hash = Some("qAiXIVv+yjDATneWxZP2YCTa9aHRgQdnH9b3Wc+o3dg=".into());
    assert_eq!(
        calculate_mac(&c, MacType::Header, &post),
        "UeYcj5UoTVaAWXNvJfLVia7kU3VabxCqrccXP8sUGC4="
    );
}

/// `test/server.js` `header()` cases: request artifacts, then response payload and ext.
#[test]
fn server_js_response_headers() {
    let c = Credentials::new("123456", KEY, "sha256").unwrap();
    // The request's own hash/ext are replaced by the response's; give them to make sure.
    let mut request = Artifacts::new(
        "POST",
        "/resource/4?filter=a",
        "example.com",
        8080,
        1_398_546_787,
        "xUwusx",
    )
    .with_ext("some-app-data");
    request.hash = Some("nJjkVtBE5Y/Bk38Aiokwn0jiJxt/0S2WRSUwWLCf5xk=".into());
    let reply = Payload {
        content_type: Some("text/plain"),
        body: b"some reply",
    };
    let empty = Payload {
        content_type: Some("text/plain"),
        body: b"",
    };
    let cases = [
        (Some(reply), Some("response-specific"), "Hawk mac=\"n14wVJK4cOxAytPUMc5bPezQzuJGl5n7MYXhFQgEKsE=\", hash=\"f9cDF/TDm7TkYRLnGwRMfeDzT6LixQVLvrIKhh0vgmM=\", ext=\"response-specific\""),
        (Some(empty), Some("response-specific"), "Hawk mac=\"i8/kUBDx0QF+PpCtW860kkV/fa9dbwEoe/FpGUXowf0=\", hash=\"q/t+NNAkQZNlq/aAD6PlexImwQTxwgT2MahfTa9XRLA=\", ext=\"response-specific\""),
        (Some(empty), None, "Hawk mac=\"q+fdjQv3kF56JGKLYeLzAS9dYGcvDqAXRG7MTVHAFKE=\", hash=\"q/t+NNAkQZNlq/aAD6PlexImwQTxwgT2MahfTa9XRLA=\""),
        (Some(reply), None, "Hawk mac=\"6PrybJTJs20jsgBw5eilXpcytD8kUbaIKNYXL+6g0ns=\", hash=\"f9cDF/TDm7TkYRLnGwRMfeDzT6LixQVLvrIKhh0vgmM=\""),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(payload, ext, want)| {
            let got = server_authorization_header(&c, &request, *payload, *ext).unwrap();
            (got != *want).then(|| format!("ext {ext:?}: got {got}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `test/client.js` "validates response payload" and "rejects on invalid mac".
#[test]
fn client_js_response_verification() {
    let c = Credentials::new("123456", KEY, "sha256").unwrap();
    let mut request = Artifacts::new(
        "POST",
        "/resource/4?filter=a",
        "example.com",
        8080,
        1_453_070_933,
        "3hOHpR",
    )
    .with_ext("some-app-data");
    request.hash = Some("nJjkVtBE5Y/Bk38Aiokwn0jiJxt/0S2WRSUwWLCf5xk=".into());
    let payload = Payload {
        content_type: Some("text/plain"),
        body: b"some reply",
    };
    let good = "Hawk mac=\"odsVGUq0rCoITaiNagW22REIpqkwP9zt5FyqqOW9Zj8=\", hash=\"f9cDF/TDm7TkYRLnGwRMfeDzT6LixQVLvrIKhh0vgmM=\", ext=\"response-specific\"";
    let got = authenticate_response(good, &c, &request, Some(payload)).unwrap();
    assert_eq!(got.ext.as_deref(), Some("response-specific"));
    let bad = "Hawk mac=\"_IJRsMl/4oL+nn+vKoeVZPdCHXB4yJkNnBbTbHFZUYE=\", hash=\"f9cDF/TDm7TkYRLnGwRMfeDzT6LixQVLvrIKhh0vgmM=\", ext=\"response-specific\"";
    assert_eq!(
        authenticate_response(bad, &c, &request, Some(payload)),
        Err(ResponseError::BadMac)
    );
    let wrong_body = Payload {
        content_type: Some("text/plain"),
        body: b"some other reply",
    };
    assert_eq!(
        authenticate_response(good, &c, &request, Some(wrong_body)),
        Err(ResponseError::BadPayloadHash)
    );
    assert!(matches!(
        authenticate_response("Hawk mac=\"abc\", bad=\"xyz\"", &c, &request, None),
        Err(ResponseError::Parse(ParseError::UnknownAttribute(_)))
    ));
}

// ---------------------------------------------------------------------------------------------
// Parsing

const MAC: &str = "/qwS4UjfVWMcUyW6EEgUH4jlr7T/wuKe3dKijvTvSos=";

#[test]
fn parse_error_table() {
    use ParseError::*;
    let long = format!(
        "Hawk id=\"{}\", ts=\"1\", nonce=\"n\", mac=\"m\"",
        "a".repeat(MAX_HEADER_LEN)
    );
    let cases: Vec<(String, ParseError)> = vec![
        (String::new(), Missing),
        (long, TooLong),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l".into(), BadScheme),
        ("Hawkish id=\"1\"".into(), BadScheme),
        ("Hawk".into(), BadSyntax),
        ("Hawk ".into(), BadSyntax),
        ("Hawk,id=\"1\"".into(), BadSyntax),
        (" Hawk id=\"1\"".into(), BadSyntax),
        ("Hawk id=123".into(), BadSyntax),
        ("Hawk id='123'".into(), BadSyntax),
        ("Hawk id=\"123".into(), BadSyntax),
        ("Hawk id = \"123\"".into(), BadSyntax),
        ("Hawk id=\"1\" ts=\"2\"".into(), BadSyntax),
        ("Hawk id=\"1\",, ts=\"2\"".into(), BadSyntax),
        ("Hawk junk id=\"1\"".into(), BadSyntax),
        ("Hawk =\"1\"".into(), BadSyntax),
        (
            format!("Hawk id=\"123\\\", ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\""),
            BadSyntax,
        ),
        (
            format!("Hawk id=\"1\r\n2\", ts=\"1\", nonce=\"n\", mac=\"{MAC}\""),
            BadSyntax,
        ),
        (
            format!("Hawk id=\"é\", ts=\"1\", nonce=\"n\", mac=\"{MAC}\""),
            BadSyntax,
        ),
        (
            format!("Hawk id=\"123\", ts=\"1353788437\", nonce=\"k3j4h2\", x=\"3\", mac=\"{MAC}\""),
            UnknownAttribute("x".into()),
        ),
        (
            format!("Hawk ID=\"123\", ts=\"1\", nonce=\"n\", mac=\"{MAC}\""),
            UnknownAttribute("ID".into()),
        ),
        (
            format!("Hawk id=\"123\", ts=\"1\", nonce=\"n\", mac=\"{MAC}\", tsm=\"x\""),
            UnknownAttribute("tsm".into()),
        ),
        (
            format!("Hawk id=\"\t\", ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\""),
            BadAttributeValue("id".into()),
        ),
        (
            format!("Hawk id=\"\", ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\""),
            BadAttributeValue("id".into()),
        ),
        (
            format!("Hawk id=\"1\", ts=\"\", nonce=\"n\", mac=\"{MAC}\""),
            BadAttributeValue("ts".into()),
        ),
        (
            format!(
                "Hawk id=\"123\", id=\"456\", ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\""
            ),
            DuplicateAttribute("id".into()),
        ),
        (
            format!("Hawk id=\"1\", ts=\"1\", nonce=\"n\", mac=\"{MAC}\", mac=\"{MAC}\""),
            DuplicateAttribute("mac".into()),
        ),
        (
            format!("Hawk ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\", ext=\"hello\""),
            MissingAttribute("id"),
        ),
        (
            format!("Hawk id=\"123\", nonce=\"k3j4h2\", mac=\"{MAC}\", ext=\"hello\""),
            MissingAttribute("ts"),
        ),
        (
            format!("Hawk id=\"123\", ts=\"1353788437\", mac=\"{MAC}\", ext=\"hello\""),
            MissingAttribute("nonce"),
        ),
        (
            "Hawk id=\"123\", ts=\"1353788437\", nonce=\"k3j4h2\", ext=\"hello\"".into(),
            MissingAttribute("mac"),
        ),
        (
            format!("Hawk id=\"1\", ts=\"12a\", nonce=\"n\", mac=\"{MAC}\""),
            BadTimestamp,
        ),
        (
            format!("Hawk id=\"1\", ts=\"-1\", nonce=\"n\", mac=\"{MAC}\""),
            BadTimestamp,
        ),
        (
            format!("Hawk id=\"1\", ts=\"1353788437.5\", nonce=\"n\", mac=\"{MAC}\""),
            BadTimestamp,
        ),
        (
            format!("Hawk id=\"1\", ts=\"01353788437\", nonce=\"n\", mac=\"{MAC}\""),
            BadTimestamp,
        ),
        (
            format!("Hawk id=\"1\", ts=\"18446744073709551616\", nonce=\"n\", mac=\"{MAC}\""),
            BadTimestamp,
        ),
        (
            format!("Hawk id=\"1\", ts=\" 1\", nonce=\"n\", mac=\"{MAC}\""),
            BadTimestamp,
        ),
        (
            format!(
                "Hawk id=\"1\", ts=\"1\", nonce=\"{}\", mac=\"{MAC}\"",
                "n".repeat(tessera::hawk::MAX_NONCE_LEN + 1)
            ),
            NonceTooLong,
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(header, want)| {
            let got = parse_authorization_header(header);
            (got.as_ref().err() != Some(want)).then(|| {
                let shown: String = header.chars().take(100).collect();
                format!("{shown:?}: got {got:?}, want {want:?}")
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing cases: {failures:#?}",
        failures.len()
    );
}

#[test]
fn parse_accepts_what_the_node_package_accepts() {
    let want = AuthorizationHeader {
        id: "123".into(),
        ts: 1_353_788_437,
        nonce: "k3j4h2".into(),
        mac: MAC.into(),
        hash: None,
        ext: Some("hello".into()),
        app: None,
        dlg: None,
    };
    let cases = [
        format!(
            "Hawk id=\"123\", ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\", ext=\"hello\""
        ),
        format!(
            "hawk id=\"123\", ts=\"1353788437\", nonce=\"k3j4h2\", mac=\"{MAC}\", ext=\"hello\""
        ),
        format!(
            "HAWK   id=\"123\",ts=\"1353788437\" ,nonce=\"k3j4h2\",\tmac=\"{MAC}\", ext=\"hello\","
        ),
        format!(
            "Hawk\text=\"hello\", mac=\"{MAC}\", nonce=\"k3j4h2\", ts=\"1353788437\", id=\"123\"  "
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|h| {
            let got = parse_authorization_header(h);
            (got.as_ref() != Ok(&want)).then(|| format!("{h:?}: got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");

    // every allowed value character, and Oz app/dlg
    let all_chars: String = (0x20u8..=0x7e)
        .filter(|&b| b != b'"' && b != b'\\')
        .map(char::from)
        .collect();
    let h = format!("Hawk id=\"1\", ts=\"0\", nonce=\"n\", mac=\"m\", ext=\"{all_chars}\", app=\"a\", dlg=\"d\"");
    let parsed = parse_authorization_header(&h).unwrap();
    assert_eq!(parsed.ext.as_deref(), Some(all_chars.as_str()));
    assert_eq!(
        (parsed.app.as_deref(), parsed.dlg.as_deref()),
        (Some("a"), Some("d"))
    );
    assert_eq!(parsed.ts, 0);
}

#[test]
fn parser_never_panics_on_mangled_headers() {
    // Every prefix and every single-byte corruption of a valid header: must return, not panic.
    let valid = format!("{POST_HEADER}, app=\"app1\", dlg=\"dlg1\"");
    let bytes = valid.as_bytes();
    for end in 0..=bytes.len() {
        let _ = parse_authorization_header(&valid[..end]);
    }
    for i in 0..bytes.len() {
        for b in [b'"', b'\\', b',', b'=', b' ', b'\t', b'\n', 0u8, 0x7f] {
            let mut m = bytes.to_vec();
            m[i] = b;
            if let Ok(s) = std::str::from_utf8(&m) {
                let _ = parse_authorization_header(s);
            }
        }
    }
    assert!(parse_authorization_header(&valid).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Server-side verification around the vectors

fn origin() -> ServerOrigin {
    ServerOrigin {
        host: "example.com".into(),
        port: 8000,
    }
}

fn post_parts(body: &'static str) -> RequestParts<'static> {
    RequestParts {
        method: "POST",
        resource: "/resource/1?b=1&a=2",
        content_type: Some("text/plain"),
        body: body.as_bytes(),
    }
}

const GET_PARTS: RequestParts<'static> = RequestParts {
    method: "GET",
    resource: "/resource/1?b=1&a=2",
    content_type: None,
    body: b"",
};

fn verify(
    header: &str,
    parts: &RequestParts<'_>,
    now: u64,
    cache: &NonceCache,
) -> Result<Artifacts, VerifyError> {
    verify_at(header, &origin(), parts, now, cache)
}

fn verify_at(
    header: &str,
    origin: &ServerOrigin,
    parts: &RequestParts<'_>,
    now: u64,
    cache: &NonceCache,
) -> Result<Artifacts, VerifyError> {
    let h = parse_authorization_header(header).unwrap();
    authenticate_request(&h, &creds(), origin, parts, now, DEFAULT_SKEW_SECS, cache)
}

#[test]
fn server_accepts_readme_requests_once() {
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    let got = verify(GET_HEADER, &GET_PARTS, TS, &cache).unwrap();
    assert_eq!(got, readme_artifacts("GET"));
    assert_eq!(
        verify(GET_HEADER, &GET_PARTS, TS + 1, &cache),
        Err(VerifyError::Replayed)
    );

    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    let got = verify(POST_HEADER, &post_parts(POST_BODY), TS, &cache).unwrap();
    assert_eq!(got.hash.as_deref(), Some(POST_HASH));
    assert_eq!(
        verify(POST_HEADER, &post_parts(POST_BODY), TS, &cache),
        Err(VerifyError::Replayed)
    );
}

#[test]
fn server_binds_request_to_its_own_host_port_method_and_resource() {
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    let other_port = ServerOrigin {
        host: "example.com".into(),
        port: 443,
    };
    let other_host = ServerOrigin {
        host: "example.org".into(),
        port: 8000,
    };
    let upper_host = ServerOrigin {
        host: "EXAMPLE.com".into(),
        port: 8000,
    };
    assert_eq!(
        verify_at(GET_HEADER, &other_port, &GET_PARTS, TS, &cache),
        Err(VerifyError::BadMac)
    );
    assert_eq!(
        verify_at(GET_HEADER, &other_host, &GET_PARTS, TS, &cache),
        Err(VerifyError::BadMac)
    );
    let moved = RequestParts {
        resource: "/resource/1?a=2&b=1",
        ..GET_PARTS
    };
    assert_eq!(
        verify(GET_HEADER, &moved, TS, &cache),
        Err(VerifyError::BadMac)
    );
    let deleted = RequestParts {
        method: "DELETE",
        ..GET_PARTS
    };
    assert_eq!(
        verify(GET_HEADER, &deleted, TS, &cache),
        Err(VerifyError::BadMac)
    );
    // host is compared case-insensitively; a MAC failure consumed no nonce
    assert!(verify_at(GET_HEADER, &upper_host, &GET_PARTS, TS, &cache).is_ok());
}

#[test]
fn server_checks_payload_hash() {
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    // body present, no hash in the (validly MACed) GET header
    assert_eq!(
        verify(
            GET_HEADER,
            &RequestParts {
                body: b"x",
                ..GET_PARTS
            },
            TS,
            &cache
        ),
        Err(VerifyError::MissingPayloadHash)
    );
    assert_eq!(
        verify(
            POST_HEADER,
            &post_parts("Thank you for flying Hawk!"),
            TS,
            &cache
        ),
        Err(VerifyError::BadPayloadHash)
    );
    let json = RequestParts {
        content_type: Some("application/json"),
        ..post_parts(POST_BODY)
    };
    assert_eq!(
        verify(POST_HEADER, &json, TS, &cache),
        Err(VerifyError::BadPayloadHash)
    );
    // hash present but the server saw no body: checked against the empty payload
    assert_eq!(
        verify(POST_HEADER, &post_parts(""), TS, &cache),
        Err(VerifyError::BadPayloadHash)
    );
    // a failed hash consumed no nonce
    assert!(verify(POST_HEADER, &post_parts(POST_BODY), TS, &cache).is_ok());
}

#[test]
fn server_refuses_stale_timestamps_with_a_verifiable_reply() {
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    for now in [TS + 61, TS - 61, TS + 100_000] {
        let Err(VerifyError::Stale(stale)) = verify(GET_HEADER, &GET_PARTS, now, &cache) else {
            panic!("expected stale at {now}");
        };
        assert_eq!(stale.now, now);
        assert!(stale
            .www_authenticate
            .starts_with(&format!("Hawk ts=\"{now}\", tsm=\"")));
        assert!(stale
            .www_authenticate
            .ends_with("\", error=\"Stale timestamp\""));
        // the client (whose clock says TS) learns the offset
        let offset = verify_stale_timestamp_header(&stale.www_authenticate, &creds(), TS).unwrap();
        assert_eq!(i128::from(offset), i128::from(now) - i128::from(TS));
        // another key cannot have made it
        let other = Credentials::new(ID, "another key", "sha256").unwrap();
        assert_eq!(
            verify_stale_timestamp_header(&stale.www_authenticate, &other, TS),
            Err(ResponseError::BadTimestampMac)
        );
    }
    assert!(cache.is_empty(), "stale requests must not consume nonces");
    // the edges of the window are accepted (separate caches: GET and POST share id, ts, nonce)
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    assert!(verify(GET_HEADER, &GET_PARTS, TS + 60, &cache).is_ok());
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    assert!(verify(POST_HEADER, &post_parts(POST_BODY), TS - 60, &cache).is_ok());
}

#[test]
fn server_restart_fence_refuses_requests_from_before_the_restart() {
    // The previous process might have accepted (and remembered) this request; a new cache
    // created at TS must not accept it again, even though it is within the skew.
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, TS);
    assert!(matches!(
        verify(GET_HEADER, &GET_PARTS, TS + 5, &cache),
        Err(VerifyError::Stale(_))
    ));
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, TS - 61);
    assert!(verify(GET_HEADER, &GET_PARTS, TS + 5, &cache).is_ok());
}

#[test]
fn server_refuses_when_nonce_cache_is_full() {
    let cache = NonceCache::new(1, DEFAULT_SKEW_SECS, 0);
    assert!(verify(GET_HEADER, &GET_PARTS, TS, &cache).is_ok());
    // The README POST shares (id, ts, nonce) with the GET: that is a replay, not a new entry.
    assert_eq!(
        verify(POST_HEADER, &post_parts(POST_BODY), TS, &cache),
        Err(VerifyError::Replayed)
    );
    let mut fresh = readme_artifacts("GET");
    fresh.nonce = "k9k9k9".into();
    let header = client_authorization_header(&creds(), &fresh).unwrap();
    assert_eq!(
        verify(&header, &GET_PARTS, TS, &cache),
        Err(VerifyError::NonceCacheFull)
    );
    // once the first entry has expired there is room again
    let mut later = fresh;
    later.ts = TS + 61;
    let header = client_authorization_header(&creds(), &later).unwrap();
    assert!(verify(&header, &GET_PARTS, TS + 61, &cache).is_ok());
}

#[test]
fn server_rejects_mismatched_credentials_and_garbage_macs() {
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    let h = parse_authorization_header(GET_HEADER).unwrap();
    let other = Credentials::new("someone-else", KEY, "sha256").unwrap();
    assert_eq!(
        authenticate_request(&h, &other, &origin(), &GET_PARTS, TS, 60, &cache),
        Err(VerifyError::CredentialsMismatch)
    );
    for mac in [
        "AAAA",
        "not base64!",
        "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE",
        "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAF=",
    ] {
        let h = AuthorizationHeader {
            mac: mac.into(),
            ..h.clone()
        };
        assert_eq!(
            authenticate_request(&h, &creds(), &origin(), &GET_PARTS, TS, 60, &cache),
            Err(VerifyError::BadMac),
            "{mac}"
        );
    }
}

#[test]
fn oz_app_and_dlg_are_covered_by_the_mac() {
    let a = readme_artifacts("GET").with_app("app-1", Some("dlg-1".into()));
    assert_eq!(
        normalized_string(MacType::Header, &a),
        format!("{GET_NORMALIZED}app-1\ndlg-1\n")
    );
    let header = client_authorization_header(&creds(), &a).unwrap();
    assert!(
        header.ends_with(", app=\"app-1\", dlg=\"dlg-1\""),
        "{header}"
    );
    let cache = NonceCache::new(100, DEFAULT_SKEW_SECS, 0);
    let got = verify(&header, &GET_PARTS, TS, &cache).unwrap();
    assert_eq!(got, a);
    // swapping dlg or dropping it breaks the MAC
    let swapped = header.replace("dlg=\"dlg-1\"", "dlg=\"dlg-2\"");
    assert_eq!(
        verify(&swapped, &GET_PARTS, TS, &cache),
        Err(VerifyError::BadMac)
    );
    let dropped = header.replace(", dlg=\"dlg-1\"", "");
    assert_eq!(
        verify(&dropped, &GET_PARTS, TS, &cache),
        Err(VerifyError::BadMac)
    );
    // app without dlg: an empty dlg line
    let app_only = readme_artifacts("GET").with_app("app-1", None);
    assert_eq!(
        normalized_string(MacType::Header, &app_only),
        format!("{GET_NORMALIZED}app-1\n\n")
    );
}

#[test]
fn ext_is_escaped_in_the_normalized_string() {
    let a = readme_artifacts("GET").with_ext("a\\b\nc");
    assert!(normalized_string(MacType::Header, &a).contains("\na\\\\b\\nc\n"));
    // but such an ext cannot go into a header
    assert!(client_authorization_header(&creds(), &a).is_err());
}

#[test]
fn response_round_trip_with_oz_request() {
    let request = readme_artifacts("POST")
        .with_payload(Some("text/plain"), POST_BODY.as_bytes())
        .with_app("app-1", Some("dlg-1".into()));
    let body = Payload {
        content_type: Some("application/json"),
        body: br#"{"ok":true}"#,
    };
    let header = server_authorization_header(&creds(), &request, Some(body), Some("r")).unwrap();
    assert!(authenticate_response(&header, &creds(), &request, Some(body)).is_ok());
    // the response MAC covers the request's dlg
    let other = Artifacts {
        dlg: Some("dlg-2".into()),
        ..request.clone()
    };
    assert_eq!(
        authenticate_response(&header, &creds(), &other, Some(body)),
        Err(ResponseError::BadMac)
    );
    // a header without hash cannot vouch for a payload
    let bare = server_authorization_header(&creds(), &request, None, None).unwrap();
    assert!(authenticate_response(&bare, &creds(), &request, None).is_ok());
    assert_eq!(
        authenticate_response(&bare, &creds(), &request, Some(body)),
        Err(ResponseError::MissingPayloadHash)
    );
}
