//! What anonymous visitors of a Consumer's login button can make the Authority store is
//! bounded (spec TSR-CONV-16): a per-Consumer handshake rate, and sessions never redeemed
//! purged soon after their expiry.

mod common;

use axum::http::StatusCode;
use common::{config, query_param, Harness, CONSUMER, DELEGATE};
use serde_json::json;
use tessera::server::{purge_expired, Authority};

#[tokio::test]
async fn one_consumer_over_its_handshake_rate_gets_429_and_another_is_unaffected() {
    let mut c = config(true);
    c.handshakes_per_consumer_per_minute = 3;
    let h = Harness::build(Authority::builder(c), None);
    // the start of a minute, so the window does not roll over mid-test
    h.clock.advance(60 - h.now().rem_euclid(60));
    let a = h.consumer(CONSUMER);
    for _ in 0..3 {
        assert_eq!(h.handshake(&a, &[], &[]).await.0.status, StatusCode::OK);
    }
    let r = h.handshake(&a, &[], &[]).await.0;
    assert_eq!(r.outcome(), "429 too_many_requests", "{}", r.json);
    assert!(r.header("server-authorization").is_some(), "signed");
    // a minute's window, at its start: the whole minute to wait
    assert_eq!(r.header("retry-after"), Some("60"), "Retry-After");
    let b = h.consumer(DELEGATE);
    assert_eq!(h.handshake(&b, &[], &[]).await.0.status, StatusCode::OK);
    h.clock.advance(60);
    assert_eq!(h.handshake(&a, &[], &[]).await.0.status, StatusCode::OK);
}

#[tokio::test]
async fn pending_and_denied_sessions_are_purged_soon_after_expiry_and_active_ones_kept() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (pending, _) = h.handshake(&c, &[], &[]).await;
    let (denied, _) = h.handshake(&c, &[], &[]).await;
    let r = h
        .conformance_authorize(
            denied.json["authorize_url"].as_str().unwrap(),
            "alice",
            "deny",
            None,
        )
        .await;
    assert!(query_param(r.json["redirect"].as_str().unwrap(), "error").is_some());
    let (active, _) = h.logged_in(&c, &[], &[]).await;

    let ttl = h.state.config().ttl.authorize;
    let grace = h.state.config().undecided_grace;
    // within the grace, a late result still says why
    h.clock.advance(ttl + 1);
    assert_eq!(purge_expired(&h.state, false).await.unwrap(), 0);
    let late = h
        .post(
            &c,
            "/v1/result",
            json!({ "sid": pending.json["sid"], "code": "x" }),
        )
        .await;
    assert_eq!(late.outcome(), "400 session_expired", "{}", late.json);
    // after it, both are gone; the active session is untouched
    h.clock.advance(grace);
    assert_eq!(purge_expired(&h.state, false).await.unwrap(), 2);
    for sid in [&pending.json["sid"], &denied.json["sid"]] {
        let r = h
            .post(&c, "/v1/result", json!({ "sid": sid, "code": "x" }))
            .await;
        assert_eq!(r.outcome(), "400 unknown_session", "{}", r.json);
    }
    let r = h.post(&c, "/v1/refresh", json!({ "sid": active })).await;
    assert_eq!(r.outcome(), "200", "{}", r.json);
}
