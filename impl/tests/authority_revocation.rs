//! Revocation on security events (spec TSR-REG-8, TSR-REG-9) and the v1.1 authorize-page rules
//! (TSR-AUTHZ-9 first browser, TSR-AUTHZ-10 signed-in account, "not you?", logout), against the
//! real Authority.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use tessera::password::{self, Cost};
use tessera::rand::SystemRandom;

/// spec TSR-REG-8: replacing a Consumer's key ends its user tickets, its app tickets, its
/// sessions (refresh refused) and its families; another Consumer's are untouched; what is
/// minted with the new key works.
#[tokio::test]
async fn rotating_a_consumer_key_ends_its_tickets_and_families() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let d = h.consumer(DELEGATE);
    let (sid, r) = h.logged_in(&c, &[], &["email"]).await;
    let user = Creds::ticket(&r.json["ticket"]);
    let app = h.post(&c, "/v1/app-ticket", json!({})).await;
    assert_eq!(app.status, StatusCode::OK);
    let app = Creds::ticket(&app.json);
    let (other_sid, other) = h.logged_in(&d, &[], &["email"]).await;
    let other = Creds::ticket(&other.json["ticket"]);
    assert_eq!(h.get(&user, "/v1/ticket").await.outcome(), "200");
    assert_eq!(h.get(&app, "/v1/ticket").await.outcome(), "200");

    // the operator replaces the key (as `tessera consumer rotate-key` does)
    let store = h.state.store().clone();
    let mut reg = store.consumer(CONSUMER).unwrap().unwrap();
    reg.key = tessera::rand::token(&SystemRandom::new(), 32);
    store.put_consumer(&reg).unwrap();

    assert_eq!(
        h.get(&user, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
    assert_eq!(
        h.get(&app, "/v1/ticket").await.outcome(),
        "401 ticket_revoked",
        "app tickets too"
    );
    let c2 = Creds {
        key: reg.key.clone(),
        ..c.clone()
    };
    assert_eq!(
        h.post(&c2, "/v1/refresh", json!({ "sid": sid }))
            .await
            .outcome(),
        "400 session_revoked",
        "the family is over"
    );
    // the old key itself no longer authenticates (TSR-REG-5)
    assert_eq!(
        h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "401 invalid_credentials"
    );
    // another Consumer's session and ticket live on
    assert_eq!(h.get(&other, "/v1/subject").await.outcome(), "200");
    assert_eq!(
        h.post(&d, "/v1/refresh", json!({ "sid": other_sid }))
            .await
            .outcome(),
        "200"
    );
    // the new key mints tickets that work
    let fresh = h.post(&c2, "/v1/app-ticket", json!({})).await;
    assert_eq!(
        h.get(&Creds::ticket(&fresh.json), "/v1/ticket")
            .await
            .outcome(),
        "200"
    );
}

/// spec TSR-REG-9: changing a Subject's password ends that Subject's families (at every
/// Consumer) and its login cookie at the Authority; another Subject's are untouched.
#[tokio::test]
async fn a_password_change_ends_the_subjects_families_and_login_cookies() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let d = h.consumer(DELEGATE);
    let (sid, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    let (dsid, _) = h.logged_in(&d, &[], &["email"]).await;

    // a login cookie of alice at the Authority, through the forms
    let (hs, _) = h.handshake(&c, &[], &["email"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    let path = &url[url.find("/authorize").unwrap()..];
    let request = query_param(url, "request").unwrap();
    let p = page(&h, path, "").await;
    let browser = cookies(&p)
        .into_iter()
        .find(|c| c.starts_with("tessera_browser="))
        .unwrap();
    let csrf = find_value(&String::from_utf8(p.body.clone()).unwrap(), "csrf_token");
    let ok = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", &h.password("alice")),
        ],
    )
    .await;
    let login = cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("tessera_login="))
        .unwrap();
    let jar = format!("{browser}; {login}");
    let consent = page(&h, path, &jar).await;
    assert!(String::from_utf8_lossy(&consent.body).contains("Allow access?"));

    // alice changes her password (as `tessera subject add` with her username does)
    let store = h.state.store().clone();
    let mut alice = store.subject_by_username("alice").unwrap().unwrap();
    alice.password_hash =
        password::hash("a new password", Cost::FIXTURE, &SystemRandom::new()).unwrap();
    store.put_subject(&alice).unwrap();

    assert_eq!(
        h.get(&t, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({ "sid": sid }))
            .await
            .outcome(),
        "400 session_revoked"
    );
    assert_eq!(
        h.post(&d, "/v1/refresh", json!({ "sid": dsid }))
            .await
            .outcome(),
        "400 session_revoked",
        "at every Consumer"
    );
    // the old login cookie no longer signs in: back to the sign-in form
    let again = page(&h, path, &jar).await;
    let body = String::from_utf8_lossy(&again.body);
    assert!(body.contains("name=\"password\""), "{body}");
    // an unrelated save that keeps the password ends nothing
    let (sid2, _) = h.logged_in(&c, &[], &["email"]).await;
    let alice = store.subject_by_username("alice").unwrap().unwrap();
    store.put_subject(&alice).unwrap();
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({ "sid": sid2 }))
            .await
            .outcome(),
        "200"
    );
}

/// spec TSR-AUTHZ-9: an authorize request belongs to the first browser that opens it; a copy
/// of its URL (leaked) opened in another browser gets an error page and no form.
#[tokio::test]
async fn an_authorize_request_belongs_to_the_first_browser() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &["email"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    let path = &url[url.find("/authorize").unwrap()..];
    let first = page(&h, path, "").await;
    assert_eq!(first.status, StatusCode::OK);
    let browser = cookies(&first)
        .into_iter()
        .find(|c| c.starts_with("tessera_browser="))
        .unwrap();
    let other = page(&h, path, "").await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    page_headers_ok(&other);
    let body = String::from_utf8_lossy(&other.body);
    assert!(body.contains("another browser"), "{body}");
    assert!(
        !body.contains("csrf_token"),
        "no form for the second browser"
    );
    assert!(other.header("location").is_none(), "no redirect");
    // the first browser carries on
    assert_eq!(page(&h, path, &browser).await.status, StatusCode::OK);
}

/// spec TSR-AUTHZ-10: the consent page names the signed-in account and offers "not you?",
/// which signs out and returns to the sign-in form of the same request.
#[tokio::test]
async fn the_consent_page_names_the_account_and_not_you_signs_out() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &["email"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    let path = &url[url.find("/authorize").unwrap()..];
    let request = query_param(url, "request").unwrap();
    let p = page(&h, path, "").await;
    let browser = cookies(&p)
        .into_iter()
        .find(|c| c.starts_with("tessera_browser="))
        .unwrap();
    let csrf = find_value(&String::from_utf8(p.body.clone()).unwrap(), "csrf_token");
    let ok = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", &h.password("alice")),
        ],
    )
    .await;
    let login = cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("tessera_login="))
        .unwrap();
    let jar = format!("{browser}; {login}");
    let consent = page(&h, path, &jar).await;
    let body = String::from_utf8(consent.body.clone()).unwrap();
    assert!(
        body.contains("Signed in as <strong>alice</strong>"),
        "{body}"
    );
    assert!(body.contains("action=\"/logout\""), "{body}");
    assert!(body.contains("Not you?"), "{body}");
    // a forged logout (no token) changes nothing
    let forged = form(&h, "/logout", &jar, &[("request", &request)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // not you?
    let out = form(
        &h,
        "/logout",
        &jar,
        &[("request", &request), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        out.header("location")
            .map(|l| l.ends_with(&format!("?request={request}"))),
        Some(true)
    );
    let cleared = out
        .headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_login="))
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // the browser (without the cleared cookie) is back at the sign-in form
    let back = page(&h, path, &browser).await;
    assert!(String::from_utf8_lossy(&back.body).contains("name=\"password\""));
}
