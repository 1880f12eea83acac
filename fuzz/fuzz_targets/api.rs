//! The JSON API as an attacker without a key reaches it: any endpoint, any `Authorization`
//! header, content type and body. No input yields a 5xx or a panic, and every refusal has
//! the JSON error body of spec 8.1.
#![no_main]

#[path = "common.rs"]
mod common;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;

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

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = ENDPOINTS[usize::from(which) % ENDPOINTS.len()];
    // layout: selector, Authorization header, '\n', body; the selector's high bit drops the
    // JSON content type
    let (auth, body) = common::split(rest, b'\n');
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
    let (status, body) = common::send(req);
    if status != 200 {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
        assert!(v["error"].is_string(), "{v}");
    }
});
