//! Login throttling through the HTML forms (spec TSR-AUTHZ-8): an attacker guessing an
//! account's password never locks its owner out, and one client spraying usernames is
//! throttled even when it throws its cookie away.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{cookies, find_value, page, query_param, Harness, Resp, CONSUMER, ISSUER};
use std::net::IpAddr;
use tessera::server::ClientAddr;

/// A browser: its cookie, a pending authorize request and the form's CSRF token.
struct Browser {
    cookie: String,
    request: String,
    csrf: String,
    addr: IpAddr,
}

async fn browser(h: &Harness, addr: [u8; 4]) -> Browser {
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &[]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    let p = page(h, &url[ISSUER.len()..], "").await;
    Browser {
        cookie: cookies(&p).into_iter().next().unwrap(),
        request: query_param(url, "request").unwrap(),
        csrf: find_value(&String::from_utf8(p.body).unwrap(), "csrf_token"),
        addr: IpAddr::from(addr),
    }
}

async fn login(h: &Harness, b: &Browser, username: &str, password: &str) -> Resp {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("request", b.request.as_str()),
            ("csrf_token", &b.csrf),
            ("username", username),
            ("password", password),
        ])
        .finish();
    h.send(
        Request::post("/authorize/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &b.cookie)
            .extension(ClientAddr(b.addr))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn ten_wrong_passwords_from_an_attacker_do_not_lock_the_owner_out() {
    let h = Harness::new();
    let attacker = browser(&h, [198, 51, 100, 7]).await;
    for _ in 0..10 {
        let r = login(&h, &attacker, "alice", "guess").await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // the attacker's own client is now backed off, even with the right password
    let pw = h.password("alice");
    let r = login(&h, &attacker, "alice", &pw).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
    // the owner, from their own browser elsewhere, signs in at once
    let owner = browser(&h, [203, 0, 113, 20]).await;
    let r = login(&h, &owner, "alice", &pw).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // and from their own browser behind the attacker's address (same NAT)
    let owner_nat = browser(&h, [198, 51, 100, 7]).await;
    let r = login(&h, &owner_nat, "alice", &pw).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_back_off_doubles() {
    let h = Harness::new();
    let b = browser(&h, [198, 51, 100, 8]).await;
    for _ in 0..10 {
        login(&h, &b, "alice", "guess").await;
    }
    assert_eq!(
        login(&h, &b, "alice", "guess").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    h.clock.advance(60);
    assert_eq!(login(&h, &b, "alice", "guess").await.status, StatusCode::OK);
    h.clock.advance(60);
    let r = login(&h, &b, "alice", "guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "120 s now");
    h.clock.advance(61);
    assert_eq!(login(&h, &b, "alice", "guess").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sprayed_usernames_from_one_client_are_throttled() {
    let h = Harness::new();
    let mut refused = 0;
    for i in 0..40 {
        // a fresh cookie (a new browser) for each name does not help
        let b = browser(&h, [198, 51, 100, 9]).await;
        let r = login(&h, &b, &format!("user{i}"), "password1").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} of 40 refused");
    // another client is not affected
    let other = browser(&h, [203, 0, 113, 21]).await;
    let pw = h.password("alice");
    assert_eq!(
        login(&h, &other, "alice", &pw).await.status,
        StatusCode::SEE_OTHER
    );
}
