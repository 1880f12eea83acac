//! Bad input never gets a 5xx, never a non-JSON answer from the JSON API, and never changes
//! state: random bodies, headers and paths thrown at every endpoint.

mod common;

use axum::body::Body;
use axum::http::{header, Request};
use common::*;
use proptest::prelude::*;
use serde_json::json;

const PATHS: &[&str] = &[
    "/v1/handshake",
    "/v1/result",
    "/v1/refresh",
    "/v1/revoke",
    "/v1/app-ticket",
    "/v1/reissue",
    "/v1/subject",
    "/v1/ticket",
    "/conformance/clock",
    "/conformance/authorize",
    "/.well-known/tessera-authority",
    "/openapi.json",
];

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[ -~]{0,80}".prop_map(String::into_bytes),
        Just(br#"{"sid": "x", "code": "y"}"#.to_vec()),
        Just(br#"{"advance": 99999999999999999999}"#.to_vec()),
        Just(br#"{"scope": [1,2], "ttl": -5, "issue_to": null}"#.to_vec()),
    ]
}

fn header_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "Hawk [ -~]{0,120}".prop_map(Some),
        "[ -~]{0,40}".prop_map(Some),
        (any::<u64>(), "[a-zA-Z0-9]{1,10}").prop_map(|(ts, n)| Some(format!(
            r#"Hawk id="conformance-consumer", ts="{ts}", nonce="{n}", mac="AAAA", hash="BBBB""#
        ))),
        "t1\\.[a-z0-9]{1,4}\\.[A-Za-z0-9_-]{0,60}".prop_map(|id| Some(format!(
            r#"Hawk id="{id}", ts="1", nonce="n", mac="m", app="conformance-consumer""#
        ))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn no_5xx_and_no_state_change(
        path in proptest::sample::select(PATHS),
        method in proptest::sample::select(&["GET", "POST", "PUT"][..]),
        auth in header_strategy(),
        ct in proptest::option::of(proptest::sample::select(&["application/json", "text/plain", "application/json; charset=utf-8", "x"][..])),
        body in body_strategy(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let h = Harness::new();
            let c = h.consumer(CONSUMER);
            let (sid, code, _) = h.authorized(&c, &[], &["email"]).await;
            let now = h.now();
            let mut req = Request::builder().method(method).uri(path);
            if let Some(a) = &auth {
                req = req.header(header::AUTHORIZATION, a.as_str());
            }
            if let Some(ct) = ct {
                req = req.header(header::CONTENT_TYPE, ct);
            }
            let r = h.send(req.body(Body::from(body)).unwrap()).await;
            prop_assert!(r.status.as_u16() < 500, "{} {path}: {} {}", method, r.status, String::from_utf8_lossy(&r.body));
            if r.status.as_u16() >= 400 {
                prop_assert!(r.json["error"].is_string(), "error body not JSON: {:?}", r.body);
            }
            // the clock, the session and its code are as they were
            prop_assert_eq!(h.now(), now);
            let res = h.post(&c, "/v1/result", json!({"sid": sid, "code": code})).await;
            prop_assert_eq!(res.outcome(), "200");
            Ok(())
        })?;
    }
}
