//! The bodies of the fuzz targets (issue 13): one function per parser an attacker reaches,
//! each panicking on a finding (a panic, a 5xx, a refusal without the JSON body of spec 8.1,
//! or a broken invariant of the parser). `fuzz_targets/*.rs` hand them libFuzzer's inputs;
//! `impl/tests/fuzz_smoke.rs` includes this file and runs every target over its committed
//! seeds (`fuzz/seeds/<target>/`) and mutations of them, so a normal `cargo test` (CI) runs
//! them too, without nightly or libFuzzer.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use std::sync::OnceLock;
use tessera::config::{Config, Issuer};
use tessera::server::{app, Authority};
use tower::ServiceExt as _;

/// A target's body: panics on a finding.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its `fuzz_targets/` binary and `seeds/` folder).
pub const TARGETS: &[(&str, Target)] = &[
    ("hawk_header", hawk_header),
    ("json_bodies", json_bodies),
    ("sealed_ticket", sealed_ticket),
    ("metadata", metadata),
    ("pages", pages),
    ("api", api),
];

/// The Hawk `Authorization` header parser (spec 4.2): never panics; what it accepts obeys
/// the limits of TSR-HAWK-3.
pub fn hawk_header(data: &[u8]) {
    use tessera::hawk::{parse_authorization_header, MAX_HEADER_LEN, MAX_NONCE_LEN};
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = parse_authorization_header(s) {
        assert!(s.len() <= MAX_HEADER_LEN);
        assert!(!h.id.is_empty() && !h.nonce.is_empty() && !h.mac.is_empty());
        assert!(h.nonce.len() <= MAX_NONCE_LEN);
    }
}

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

/// Every JSON request body type through the one strict parser (spec TSR-CONV-3,
/// TSR-CONV-15): never panics, and anything accepted has no duplicate member and no null.
pub fn json_bodies(data: &[u8]) {
    use tessera::wire::{
        self, AppTicketRequest, ClockAdvance, ConformanceAuthorize, HandshakeRequest,
        ReissueRequest, ResultRequest, SidRequest,
    };
    let strict = tessera::json::parse_strict(data);
    if let Ok(v) = &strict {
        // serde_json agrees it is JSON, and nothing null survived
        assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok());
        assert!(!has_null(v));
    }
    let results = [
        wire::parse::<HandshakeRequest>(data).is_ok(),
        wire::parse::<ResultRequest>(data).is_ok(),
        wire::parse::<SidRequest>(data).is_ok(),
        wire::parse::<AppTicketRequest>(data).is_ok(),
        wire::parse::<ReissueRequest>(data).is_ok(),
        wire::parse::<ConformanceAuthorize>(data).is_ok(),
        wire::parse::<ClockAdvance>(data).is_ok(),
    ];
    if results.iter().any(|ok| *ok) {
        assert!(
            strict.is_ok(),
            "a wire type accepted what the strict parser refuses"
        );
    }
    if let Err(e) = wire::parse::<SidRequest>(data) {
        assert_eq!(e.status().as_u16(), 400);
    }
}

/// Sealed ticket ids (spec TSR-TICKET-2): opening attacker-chosen strings never panics and
/// never succeeds without the key; a real seal survives and tampering is refused.
pub fn sealed_ticket(data: &[u8]) {
    use tessera::rand::SeededRandom;
    use tessera::seal::Sealer;
    static S: OnceLock<Sealer> = OnceLock::new();
    let s = S.get_or_init(|| Sealer::new("k1", &[9u8; 32]).unwrap());
    if let Ok(text) = std::str::from_utf8(data) {
        // a string the fuzzer made cannot be a valid seal under a key it does not know
        assert!(s.open(text).is_err());
        // nor through the server's path (the opened-ticket cache in front of the sealer)
        static OPENED: OnceLock<tessera::seal::OpenedCache<tessera::core::TicketContents>> =
            OnceLock::new();
        let opened = OPENED.get_or_init(|| tessera::seal::OpenedCache::new(64));
        assert!(opened.open(s, text, tessera::core::parse_ticket).is_none());
    }
    if data.len() <= tessera::seal::MAX_PLAINTEXT_LEN {
        let sealed = s.seal(data, &SeededRandom::new(data.len() as u64)).unwrap();
        assert_eq!(s.open(&sealed).unwrap(), data);
        let mut tampered = sealed.into_bytes();
        let i = data.first().map_or(0, |b| usize::from(*b)) % tampered.len();
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        if let Ok(t) = String::from_utf8(tampered) {
            assert!(s.open(&t).map_or(true, |p| p == data));
        }
    }
}

/// The metadata a Consumer fetches (spec 5.1) from an Authority it does not trust yet:
/// parsing and checking it never panics.
pub fn metadata(data: &[u8]) {
    use tessera::consumer::Endpoints;
    use tessera::wire::Metadata;
    if let Ok(m) = serde_json::from_slice::<Metadata>(data) {
        let _ = Endpoints::from_metadata("https://auth.example", &m);
        let _ = Endpoints::from_metadata(&m.issuer, &m);
    }
}

/// The authorize pages (spec 5.3): the query of `GET /authorize`, the cookies, and the login
/// and consent forms. No input yields a 5xx or a panic.
pub fn pages(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    // layout: selector, cookie header, '\n', query or form body
    let (cookie, payload) = split(rest, b'\n');
    let mut req = match which % 3 {
        0 => {
            let q: String = url::form_urlencoded::byte_serialize(payload).collect();
            let raw = String::from_utf8_lossy(payload);
            // the query as given when it is a valid URI, else percent-encoded
            let uri = format!("/authorize?{raw}");
            let uri = if uri.parse::<axum::http::Uri>().is_ok() {
                uri
            } else {
                format!("/authorize?request={q}")
            };
            Request::get(uri).body(Body::empty()).unwrap()
        }
        n => Request::post(if n == 1 {
            "/authorize/login"
        } else {
            "/authorize/consent"
        })
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(payload.to_vec()))
        .unwrap(),
    };
    if let Ok(v) = HeaderValue::from_bytes(cookie) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    send(req);
}

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/v1/handshake"),
    ("POST", "/v1/result"),
    ("POST", "/v1/refresh"),
    ("POST", "/v1/revoke"),
    ("POST", "/v1/app-ticket"),
    ("POST", "/v1/reissue"),
    ("GET", "/v1/subject"),
    ("GET", "/v1/ticket"),
    ("POST", "/conformance/authorize"),
    ("POST", "/conformance/clock"),
];

/// The JSON API as an attacker without a key reaches it: any endpoint, any `Authorization`
/// header, content type and body. No input yields a 5xx or a panic, and every refusal has
/// the JSON error body of spec 8.1.
pub fn api(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = ENDPOINTS[usize::from(which) % ENDPOINTS.len()];
    // layout: selector, Authorization header, '\n', body; the selector's high bit drops the
    // JSON content type
    let (auth, body) = split(rest, b'\n');
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .body(Body::from(body.to_vec()))
        .unwrap();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        req.headers_mut().insert(header::AUTHORIZATION, v);
    }
    if which & 0x80 == 0 {
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let (status, body) = send(req);
    if status != 200 {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
        assert!(v["error"].is_string(), "{v}");
    }
}

/// One conformance-mode Authority per process, driven in process with `oneshot`.
struct World {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let mut config = Config::new(Issuer::parse("http://127.0.0.1:7700").unwrap());
        config.conformance = true;
        let state = Authority::builder(config).build().unwrap();
        World {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            router: app(state),
        }
    })
}

/// Sends `req`; returns the status and body. Panics (a finding) on a 5xx.
fn send(req: Request<Body>) -> (u16, Vec<u8>) {
    let w = world();
    let (method, uri) = (req.method().clone(), req.uri().clone());
    w.rt.block_on(async {
        let resp = w.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        assert!(
            status < 500,
            "{method} {uri}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        (status, body)
    })
}

/// Splits `data` at the first `sep`.
fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
