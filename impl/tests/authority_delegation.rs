//! Delegation by token exchange (spec 7.7, TSR-DELEGATE-1..5), against the real Authority: the
//! delegate is limited to its registration and the Subject's consent, gets its own pairwise
//! `sub`, and holds a key the delegator never sees.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

/// A login of the delegator (`conformance-consumer`: email and profile; may delegate to
/// `conformance-delegate`, registered for email only) in which alice allows `scopes` and ticks
/// `delegates` on the consent page. Returns (sid, result).
async fn login(h: &Harness, scopes: &[&str], delegates: &[&str]) -> (String, Resp) {
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &["email", "profile"]).await;
    let a = h
        .plain(
            "POST",
            "/conformance/authorize",
            Some(
                json!({"authorize_url": hs.json["authorize_url"], "username": "alice",
                        "decision": "allow", "scopes": scopes, "delegates": delegates}),
            ),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let code = query_param(a.json["redirect"].as_str().unwrap(), "code").unwrap();
    let sid = hs.json["sid"].as_str().unwrap().to_owned();
    let r = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": code}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    (sid, r)
}

async fn grant(h: &Harness, ticket: &Value, body: Value) -> Resp {
    h.post(&Creds::ticket(ticket), "/v1/delegate", body).await
}

#[tokio::test]
async fn the_delegate_gets_its_own_sub_and_key_limited_to_registration_and_consent() {
    let h = Harness::new();
    let d = h.consumer(DELEGATE);
    let (_, r) = login(&h, &["email", "profile"], &[DELEGATE]).await;
    let parent = r.json["ticket"].clone();
    assert_eq!(parent["scope"], json!(["email", "profile"]));

    let g = grant(&h, &parent, json!({ "delegate": DELEGATE })).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.json);
    assert_eq!(g.json["delegate"], DELEGATE);
    assert_eq!(g.json["exp"], h.now() + 60, "TSR-DELEGATE-4");
    let grant_value = g.json["grant"].as_str().unwrap().to_owned();
    assert!(g.json.get("key").is_none() && g.json.get("ticket").is_none());

    // TSR-DELEGATE-3: only the delegate, with its own key, gets the ticket
    let x = h
        .post(&d, "/v1/exchange", json!({ "grant": grant_value }))
        .await;
    assert_eq!(x.status, StatusCode::OK, "{}", x.json);
    let t = x.json.clone();
    assert_eq!(t["app"], DELEGATE);
    assert_eq!(t["dlg"], CONSUMER);
    assert_eq!(t["delegate"], false);
    assert_eq!(
        t["grant"], parent["grant"],
        "dies with the delegator's family"
    );
    // TSR-DELEGATE-1: delegator's scope ∩ the delegate's registration (email only) ∩ consent
    assert_eq!(t["scope"], json!(["email"]));
    // TSR-DELEGATE-2: the delegate's own pairwise sub, the one its own login of alice gets
    assert_ne!(t["user"], parent["user"]);
    let (_, own) = h.logged_in(&d, &[], &["email"]).await;
    assert_eq!(t["user"], own.json["sub"]);
    // a key the delegator never saw: not in any answer to the delegator
    assert_ne!(t["key"], parent["key"]);
    assert!(!g
        .body
        .windows(43)
        .any(|w| w == t["key"].as_str().unwrap().as_bytes()));
    let data = h.get(&Creds::ticket(&t), "/v1/subject").await;
    assert_eq!(
        data.json,
        json!({"sub": own.json["sub"], "email": "alice@example.org"})
    );
    // TSR-DELEGATE-4: single use
    assert_eq!(
        h.post(&d, "/v1/exchange", json!({ "grant": grant_value }))
            .await
            .outcome(),
        "400 invalid_grant"
    );
    // a delegated ticket cannot be delegated again
    assert_eq!(
        grant(&h, &t, json!({ "delegate": CONSUMER }))
            .await
            .outcome(),
        "403 delegation_not_allowed"
    );
}

#[tokio::test]
async fn consent_and_narrowing_limit_the_delegation() {
    let h = Harness::new();
    let d = h.consumer(DELEGATE);
    // the Subject left `email` unticked: nothing of it reaches the delegate
    let (_, r) = login(&h, &["profile"], &[DELEGATE]).await;
    let g = grant(&h, &r.json["ticket"], json!({ "delegate": DELEGATE })).await;
    let x = h
        .post(&d, "/v1/exchange", json!({ "grant": g.json["grant"] }))
        .await;
    assert_eq!(x.json["scope"], json!([]), "profile is not the delegate's");
    // the Subject did not tick the delegate: no grant (TSR-DELEGATE-5)
    let (_, r) = login(&h, &["email", "profile"], &[]).await;
    assert_eq!(
        grant(&h, &r.json["ticket"], json!({ "delegate": DELEGATE }))
            .await
            .outcome(),
        "403 delegation_not_allowed"
    );
    // a narrower request narrows further
    let (_, r) = login(&h, &["email", "profile"], &[DELEGATE]).await;
    let g = grant(
        &h,
        &r.json["ticket"],
        json!({ "delegate": DELEGATE, "scope": ["profile"] }),
    )
    .await;
    let x = h
        .post(&d, "/v1/exchange", json!({ "grant": g.json["grant"] }))
        .await;
    assert_eq!(x.json["scope"], json!([]));
}

#[tokio::test]
async fn registration_expiry_presenter_and_family_bound_the_grant() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let d = h.consumer(DELEGATE);
    let (sid, r) = login(&h, &["email"], &[DELEGATE]).await;
    let t = r.json["ticket"].clone();
    // not a registered Consumer; not among the delegator's registered delegates
    assert_eq!(
        grant(&h, &t, json!({ "delegate": "nobody" }))
            .await
            .outcome(),
        "400 unknown_consumer"
    );
    assert_eq!(
        grant(&h, &t, json!({ "delegate": CONSUMER }))
            .await
            .outcome(),
        "403 delegation_not_allowed"
    );
    // the delegate has no delegates of its own
    let (_, rd) = h.logged_in(&d, &[], &["email"]).await;
    assert_eq!(
        grant(&h, &rd.json["ticket"], json!({ "delegate": CONSUMER }))
            .await
            .outcome(),
        "403 delegation_not_allowed"
    );
    // an app ticket acts for no Subject
    let app = h.post(&c, "/v1/app-ticket", json!({})).await;
    assert_eq!(
        grant(&h, &app.json, json!({ "delegate": DELEGATE }))
            .await
            .outcome(),
        "403 delegation_not_allowed"
    );
    // presented by another Consumer than its delegate: refused (and spent)
    let g = grant(&h, &t, json!({ "delegate": DELEGATE })).await;
    assert_eq!(
        h.post(&c, "/v1/exchange", json!({ "grant": g.json["grant"] }))
            .await
            .outcome(),
        "400 invalid_grant"
    );
    // expired after 60 s
    let g = grant(&h, &t, json!({ "delegate": DELEGATE })).await;
    h.clock.advance(60);
    assert_eq!(
        h.post(&d, "/v1/exchange", json!({ "grant": g.json["grant"] }))
            .await
            .outcome(),
        "400 invalid_grant"
    );
    // the delegated ticket dies with the delegator's family, and a pending grant with it
    let g = grant(&h, &t, json!({ "delegate": DELEGATE })).await;
    let x = h
        .post(&d, "/v1/exchange", json!({ "grant": g.json["grant"] }))
        .await;
    let dt = Creds::ticket(&x.json);
    assert_eq!(h.get(&dt, "/v1/subject").await.outcome(), "200");
    let g2 = grant(&h, &t, json!({ "delegate": DELEGATE })).await;
    assert_eq!(
        h.post(&c, "/v1/revoke", json!({ "sid": sid }))
            .await
            .outcome(),
        "200"
    );
    assert_eq!(
        h.get(&dt, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
    assert_eq!(
        h.post(&d, "/v1/exchange", json!({ "grant": g2.json["grant"] }))
            .await
            .outcome(),
        "400 invalid_grant"
    );
}
