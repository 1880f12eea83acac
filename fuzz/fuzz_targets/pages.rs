//! The authorize pages (spec 5.3): the query of `GET /authorize`, the cookies, and the login and
//! consent forms. No input yields a 5xx or a panic.
#![no_main]

#[path = "common.rs"]
mod common;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    // layout: selector, cookie header, '\n', query or form body
    let (cookie, payload) = common::split(rest, b'\n');
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
    common::send(req);
});
