//! Strict parsing of what a Consumer sends (spec TSR-CONV-15, TSR-HAWK-3, TSR-HAWK-14):
//! duplicate members and `null` are refused once for every body, a long nonce is refused by
//! the header parser, and `dlg` without `app` is an Oz mismatch (401), not a syntax error.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{Creds, Harness, CONSUMER};
use serde_json::json;
use tessera::rand::token;

/// A signed POST with `body` sent byte for byte (a `Value` cannot hold a duplicate member).
async fn post_raw(h: &Harness, creds: &Creds, path: &str, body: &str) -> common::Resp {
    let nonce = token(&h.rng, 12);
    let (_, auth) = h.sign(creds, "POST", path, Some(body.as_bytes()), h.now(), &nonce);
    h.send(
        Request::post(path)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_duplicate_sid_is_refused_and_the_real_session_is_untouched() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (sid, _) = h.logged_in(&c, &[], &[]).await;
    for body in [
        format!(r#"{{"sid":"bogus","sid":"{sid}"}}"#),
        format!(r#"{{"sid":"{sid}","sid":"bogus"}}"#),
        format!(r#"{{"sid":"{sid}","sid":"{sid}"}}"#),
    ] {
        let r = post_raw(&h, &c, "/v1/refresh", &body).await;
        assert_eq!(r.outcome(), "400 invalid_request", "{body}: {}", r.json);
        assert!(
            r.json["error_description"]
                .as_str()
                .unwrap()
                .contains("twice"),
            "{}",
            r.json
        );
    }
    // nothing was refreshed: the session refreshes normally now
    let r = h.post(&c, "/v1/refresh", json!({ "sid": sid })).await;
    assert_eq!(r.outcome(), "200", "{}", r.json);
}

#[tokio::test]
async fn a_duplicate_redirect_uri_is_refused() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let body = r#"{"redirect_uri":"https://evil.example/cb","redirect_uri":"https://consumer.example/callback","grants":[],"scopes":[]}"#;
    let r = post_raw(&h, &c, "/v1/handshake", body).await;
    assert_eq!(r.outcome(), "400 invalid_request", "{}", r.json);
}

#[tokio::test]
async fn null_members_are_refused_on_reissue() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (_, result) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&result.json["ticket"]);
    for body in [
        r#"{"ttl":null}"#,
        r#"{"scope":null}"#,
        r#"{"scope":["email",null]}"#,
    ] {
        let r = post_raw(&h, &t, "/v1/reissue", body).await;
        assert_eq!(r.outcome(), "400 invalid_request", "{body}: {}", r.json);
        assert!(
            r.json["error_description"]
                .as_str()
                .unwrap()
                .contains("null"),
            "{}",
            r.json
        );
    }
    // leaving the member out is how an optional member is omitted
    let r = post_raw(&h, &t, "/v1/reissue", r#"{"ttl":60}"#).await;
    assert_eq!(r.outcome(), "200", "{}", r.json);
}

#[tokio::test]
async fn a_nonce_over_64_characters_is_an_invalid_header() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    for (len, want) in [
        (64, "200"),
        (65, "400 invalid_header"),
        (3765, "400 invalid_header"),
    ] {
        let nonce = "n".repeat(len);
        let (_, auth) = h.sign(&c, "POST", "/v1/app-ticket", Some(b"{}"), h.now(), &nonce);
        let r = h
            .send(
                Request::post("/v1/app-ticket")
                    .header(header::AUTHORIZATION, auth)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.outcome(), want, "nonce of {len}: {}", r.json);
    }
}

#[tokio::test]
async fn dlg_without_app_is_401_invalid_credentials() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let nonce = token(&h.rng, 12);
    let (_, auth) = h.sign(&c, "POST", "/v1/app-ticket", Some(b"{}"), h.now(), &nonce);
    let auth = format!("{auth}, dlg=\"conformance-delegate\"");
    let r = h
        .send(
            Request::post("/v1/app-ticket")
                .header(header::AUTHORIZATION, auth)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    assert_eq!(r.error(), "invalid_credentials");
}
