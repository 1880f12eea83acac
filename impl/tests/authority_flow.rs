//! Whole logins driven over HTTP (oneshot): conformance authorize and the HTML forms.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn whole_login_refresh_reuse_and_revocation() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);

    // metadata (TSR-META-1, TSR-META-2)
    let m = h.plain("GET", "/.well-known/tessera-authority", None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.json["issuer"], ISSUER);
    assert_eq!(m.json["conformance_mode"], true);
    assert_eq!(m.json["hawk"]["timestamp_skew_seconds"], 60);
    assert_eq!(m.json["ttl"]["code"], 60);
    assert_eq!(m.json["scopes_supported"], json!(["email", "profile"]));
    assert_eq!(m.json["protocol_version"], "1.1", "TSR-META-3");
    assert!(m.json.get("code_challenge_methods_supported").is_none());

    // handshake (TSR-HANDSHAKE-4..6)
    let (hs, state) = h
        .handshake(&c, &["admin", "staff"], &["email", "profile"])
        .await;
    assert_eq!(hs.status, StatusCode::OK, "{}", hs.json);
    let sid = hs.json["sid"].as_str().unwrap().to_owned();
    let url = hs.json["authorize_url"].as_str().unwrap().to_owned();
    assert_eq!(hs.json["iss"], ISSUER);
    assert_eq!(hs.json["exp"], h.now() + 600);
    assert!(url.starts_with("http://127.0.0.1:7700/authorize?request="));
    assert!(!url.contains(&sid), "TSR-HANDSHAKE-5");
    assert_eq!(sid.len(), 43, "TSR-CONV-9");

    // result before the decision (TSR-RESULT-3)
    let r = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": "x"}))
        .await;
    assert_eq!(r.outcome(), "400 authorization_pending");

    // the Subject allows, unticking `profile` (TSR-AUTHZ-7, TSR-CALLBACK-1..3)
    let a = h
        .conformance_authorize(&url, "alice", "allow", Some(&["email"]))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let redirect = a.json["redirect"].as_str().unwrap();
    assert!(
        redirect.starts_with("https://consumer.example/callback?code="),
        "{redirect}"
    );
    assert_eq!(query_param(redirect, "iss").as_deref(), Some(ISSUER));
    assert_eq!(
        query_param(redirect, "state").as_deref(),
        Some(state.as_str()),
        "TSR-CALLBACK-5"
    );
    let u = url::Url::parse(redirect).unwrap();
    assert_eq!(u.query_pairs().count(), 3, "TSR-CALLBACK-3");
    let code = query_param(redirect, "code").unwrap();

    // decided at most once (TSR-AUTHZ-7, TSR-CONF-6)
    let again = h.conformance_authorize(&url, "alice", "allow", None).await;
    assert_eq!(again.outcome(), "400 invalid_request");

    // wrong code: refused, nothing changes (TSR-RESULT-4)
    let r = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": "nope"}))
        .await;
    assert_eq!(r.outcome(), "400 invalid_code");
    // a v1 result request (with the PKCE verifier) is refused: the member is unknown
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": sid, "code": code, "code_verifier": "x".repeat(43)}),
        )
        .await;
    assert_eq!(r.outcome(), "400 invalid_request", "TSR-RESULT-6 withdrawn");

    // result (TSR-RESULT-7, TSR-RESULT-8, TSR-TICKET-4)
    let r = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": code}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["grants"], json!({"admin": false, "staff": true}));
    assert_eq!(r.json["scopes"], json!({"email": true, "profile": false}));
    assert_eq!(r.json["exp"], h.now() + 86_400);
    let sub = r.json["sub"].as_str().unwrap().to_owned();
    assert_eq!(sub.len(), 22);
    let ticket = r.json["ticket"].clone();
    assert_eq!(ticket["scope"], json!(["email"]));
    assert_eq!(ticket["user"], sub.as_str());
    assert_eq!(ticket["app"], CONSUMER);
    assert_eq!(ticket["exp"], h.now() + 3600);
    assert_eq!(ticket["dlg"], json!(null));
    assert!(ticket["grant"].as_str().unwrap().starts_with("fam_"));

    // Subject data API (TSR-DATA-1, TSR-DATA-2)
    let t = Creds::ticket(&ticket);
    let d = h.get(&t, "/v1/subject").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.json);
    assert_eq!(d.json, json!({"sub": sub, "email": "alice@example.org"}));
    let info = h.get(&t, "/v1/ticket").await;
    assert_eq!(
        info.json,
        json!({"app": CONSUMER, "user": sub, "scope": ["email"], "exp": ticket["exp"],
        "grant": ticket["grant"], "dlg": null, "delegate": true}),
        "TSR-DATA-3"
    );

    // refresh (TSR-REFRESH-3)
    let rf = h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
    assert_eq!(rf.status, StatusCode::OK, "{}", rf.json);
    assert_eq!(rf.json["previous_sid"], sid.as_str());
    let sid2 = rf.json["sid"].as_str().unwrap().to_owned();
    assert_ne!(sid2, sid);
    assert_eq!(
        rf.json["ticket"]["scope"],
        json!(["email"]),
        "TSR-REFRESH-6"
    );
    assert_eq!(rf.json["ticket"]["grant"], ticket["grant"]);

    // the old sid is dead (TSR-REFRESH-4) and its reuse revokes the family (TSR-REFRESH-5)
    let r = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": code}))
        .await;
    assert_eq!(
        r.outcome(),
        "400 code_reused",
        "TSR-RESULT-9 on a rotated session"
    );
    let reuse = h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
    assert_eq!(
        reuse.outcome(),
        "400 session_revoked",
        "code reuse above already revoked the family"
    );
    let r = h.post(&c, "/v1/refresh", json!({"sid": sid2})).await;
    assert_eq!(r.outcome(), "400 session_revoked");
    let d = h.get(&t, "/v1/subject").await;
    assert_eq!(d.outcome(), "401 ticket_revoked", "TSR-SESSION-4");
    let d = h
        .get(&Creds::ticket(&rf.json["ticket"]), "/v1/subject")
        .await;
    assert_eq!(d.outcome(), "401 ticket_revoked");
}

#[tokio::test]
async fn refresh_reuse_revokes_the_family_then_revoke_is_idempotent() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (sid, r) = h.logged_in(&c, &[], &["email"]).await;
    let rf = h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
    assert_eq!(rf.status, StatusCode::OK);
    let sid2 = rf.json["sid"].as_str().unwrap();
    // TSR-REFRESH-5
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_reused"
    );
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": sid2}))
            .await
            .outcome(),
        "400 session_revoked"
    );
    assert_eq!(
        h.get(&Creds::ticket(&r.json["ticket"]), "/v1/ticket")
            .await
            .outcome(),
        "401 ticket_revoked"
    );
    // TSR-REVOKE-2
    assert_eq!(
        h.post(&c, "/v1/revoke", json!({"sid": sid2})).await.json,
        json!({})
    );
}

#[tokio::test]
async fn revoke_kills_sessions_and_tickets() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (sid, r) = h.logged_in(&c, &["staff"], &["email", "profile"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    assert_eq!(h.get(&t, "/v1/subject").await.status, StatusCode::OK);
    // another Consumer cannot revoke it (TSR-REVOKE-2) and learns nothing
    let d = h.consumer(DELEGATE);
    let rv = h.post(&d, "/v1/revoke", json!({"sid": sid})).await;
    assert_eq!((rv.outcome(), rv.json.clone()), ("200".into(), json!({})));
    assert_eq!(h.get(&t, "/v1/subject").await.status, StatusCode::OK);
    // TSR-REVOKE-1, TSR-REVOKE-3
    let rv = h.post(&c, "/v1/revoke", json!({"sid": sid})).await;
    assert_eq!((rv.outcome(), rv.json.clone()), ("200".into(), json!({})));
    assert_eq!(
        h.get(&t, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_revoked"
    );
    // unknown sid: 200 {} (TSR-REVOKE-2)
    assert_eq!(
        h.post(&c, "/v1/revoke", json!({"sid": "nope"})).await.json,
        json!({})
    );
}

#[tokio::test]
async fn code_reuse_revokes_what_the_first_redemption_issued() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (sid, code, _) = h.authorized(&c, &[], &["email"]).await;
    let body = json!({"sid": sid, "code": code});
    let first = h.post(&c, "/v1/result", body.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    // TSR-RESULT-9: another code changes nothing
    let other = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": "other"}))
        .await;
    assert_eq!(other.outcome(), "400 invalid_code");
    let t = Creds::ticket(&first.json["ticket"]);
    assert_eq!(h.get(&t, "/v1/subject").await.status, StatusCode::OK);
    // the same code again: code_reused and the family dies
    assert_eq!(
        h.post(&c, "/v1/result", body).await.outcome(),
        "400 code_reused"
    );
    assert_eq!(
        h.get(&t, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
}

#[tokio::test]
async fn denial_and_pairwise_subjects() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (hs, state) = h.handshake(&c, &[], &[]).await;
    let a = h
        .conformance_authorize(
            hs.json["authorize_url"].as_str().unwrap(),
            "alice",
            "deny",
            None,
        )
        .await;
    let redirect = a.json["redirect"].as_str().unwrap();
    assert_eq!(
        redirect,
        format!("https://consumer.example/callback?error=access_denied&state={state}&iss=http%3A%2F%2F127.0.0.1%3A7700"),
        "TSR-CALLBACK-2, TSR-CALLBACK-4, TSR-CALLBACK-5"
    );
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": hs.json["sid"], "code": "x"}),
        )
        .await;
    assert_eq!(r.outcome(), "403 access_denied");
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": hs.json["sid"]}))
            .await
            .outcome(),
        "400 session_not_active"
    );

    // TSR-REG-7: stable per Consumer, different across Consumers
    let (_, r1) = h.logged_in(&c, &[], &[]).await;
    let (_, r2) = h.logged_in(&c, &[], &[]).await;
    let d = h.consumer(DELEGATE);
    let (_, r3) = h.logged_in(&d, &[], &[]).await;
    assert_eq!(r1.json["sub"], r2.json["sub"]);
    assert_ne!(r1.json["sub"], r3.json["sub"]);
}

#[tokio::test]
async fn app_tickets_reissue_and_delegation() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let d = h.consumer(DELEGATE);

    // TSR-APP-1, TSR-APP-2
    let app = h.post(&c, "/v1/app-ticket", json!({})).await;
    assert_eq!(app.status, StatusCode::OK, "{}", app.json);
    assert_eq!(
        (
            app.json["user"].clone(),
            app.json["grant"].clone(),
            app.json["scope"].clone()
        ),
        (json!(null), json!(null), json!([]))
    );
    assert_eq!(app.json["exp"], h.now() + 3600);
    let at = Creds::ticket(&app.json);
    assert_eq!(
        h.get(&at, "/v1/subject").await.outcome(),
        "403 insufficient_scope"
    );
    assert_eq!(h.get(&at, "/v1/ticket").await.status, StatusCode::OK);

    let (_, r) = h.logged_in(&c, &[], &["email", "profile"]).await;
    let parent = r.json["ticket"].clone();
    let pt = Creds::ticket(&parent);

    // narrower and shorter (TSR-REISSUE-1, TSR-REISSUE-2)
    let n = h
        .post(&pt, "/v1/reissue", json!({"scope": ["email"], "ttl": 60}))
        .await;
    assert_eq!(n.status, StatusCode::OK, "{}", n.json);
    assert_eq!(n.json["scope"], json!(["email"]));
    assert_eq!(n.json["exp"], h.now() + 60);
    assert_ne!(n.json["key"], parent["key"], "TSR-REISSUE-6");
    let nd = h.get(&Creds::ticket(&n.json), "/v1/subject").await;
    assert_eq!(
        nd.json,
        json!({"sub": parent["user"], "email": "alice@example.org"})
    );
    // a reissue cannot widen (TSR-TICKET-9)
    let nn = h
        .post(
            &Creds::ticket(&n.json),
            "/v1/reissue",
            json!({"scope": ["profile"]}),
        )
        .await;
    assert_eq!(nn.outcome(), "400 scope_not_allowed");

    // v1's delegation by reissue is withdrawn (TSR-REISSUE-3..5): `issue_to` is unknown
    let x = h
        .post(&pt, "/v1/reissue", json!({"issue_to": DELEGATE}))
        .await;
    assert_eq!(x.outcome(), "400 invalid_request");
    // a reissue keeps app, dlg, user and grant (TSR-REISSUE-7)
    let same = h.post(&pt, "/v1/reissue", json!({})).await;
    for m in ["app", "dlg", "user", "grant", "delegate", "scope"] {
        assert_eq!(same.json[m], parent[m], "{m}");
    }
    let _ = d;
}

#[tokio::test]
async fn whole_login_through_the_html_forms() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &["staff"], &["email", "profile"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    let path = &url[ISSUER.len()..];
    let request = query_param(url, "request").unwrap();

    // the login page sets the browser cookie
    let p = page(&h, path, "").await;
    assert_eq!(p.status, StatusCode::OK);
    page_headers_ok(&p);
    let browser = cookies(&p)
        .into_iter()
        .find(|c| c.starts_with("tessera_browser="))
        .unwrap();
    let set = p.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "TSR-AUTHZ-6"
    );
    let html = String::from_utf8(p.body.clone()).unwrap();
    let csrf = find_value(&html, "csrf_token");

    // CSRF: a missing or wrong token is refused, 403 (TSR-AUTHZ-2)
    let bad = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", "x"),
            ("username", "alice"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    page_headers_ok(&bad);
    let bad = form(
        &h,
        "/authorize/login",
        "tessera_browser=someoneelse",
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);

    // wrong password: the form again, no cookie
    let wrong = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&wrong.body).contains("Wrong username or password"));
    assert!(cookies(&wrong).is_empty());

    // login: 303 back to the authorize page with the login cookie (TSR-AUTHZ-5)
    let pw = h.password("alice");
    let ok = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!(
        ok.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&ok.body)
    );
    page_headers_ok(&ok);
    let login = cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("tessera_login="))
        .unwrap();
    let jar = format!("{browser}; {login}");

    // consent page names the Consumer and every grant and scope (TSR-AUTHZ-3)
    let consent = page(&h, path, &jar).await;
    let html = String::from_utf8(consent.body.clone()).unwrap();
    for needle in [
        "Conformance Consumer",
        "staff",
        "email",
        "profile",
        "Allow",
        "Deny",
    ] {
        assert!(html.contains(needle), "{needle} missing from consent page");
    }
    let csrf2 = find_value(&html, "csrf_token");

    // the login cookie is bound to the browser cookie
    let stolen = form(
        &h,
        "/authorize/consent",
        &format!("tessera_browser=other; {login}"),
        &[
            ("request", &request),
            ("csrf_token", &csrf2),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);

    // allow with only `email` ticked
    let done = form(
        &h,
        "/authorize/consent",
        &jar,
        &[
            ("request", &request),
            ("csrf_token", &csrf2),
            ("decision", "allow"),
            ("scope", "email"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    page_headers_ok(&done);
    let location = done.header("location").unwrap().to_owned();
    assert!(location.starts_with("https://consumer.example/callback?code="));
    let code = query_param(&location, "code").unwrap();

    // decided once: the page is now an error, never a redirect (TSR-AUTHZ-1)
    let again = page(&h, path, &jar).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.header("location").is_none());
    let again = form(
        &h,
        "/authorize/consent",
        &jar,
        &[
            ("request", &request),
            ("csrf_token", &csrf2),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": hs.json["sid"], "code": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["scopes"], json!({"email": true, "profile": false}));
    assert_eq!(r.json["grants"], json!({"staff": true}));

    // unknown and missing requests: error page, no redirect
    for p in ["/authorize", "/authorize?request=nope"] {
        let e = page(&h, p, "").await;
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{p}");
        page_headers_ok(&e);
    }
}

#[tokio::test]
async fn login_attempts_are_rate_limited() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &[]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    let request = query_param(url, "request").unwrap();
    let p = page(&h, &url[ISSUER.len()..], "").await;
    let browser = cookies(&p).into_iter().next().unwrap();
    let csrf = find_value(&String::from_utf8(p.body).unwrap(), "csrf_token");
    for _ in 0..10 {
        let r = form(
            &h,
            "/authorize/login",
            &browser,
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("username", "alice"),
                ("password", "guess"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // TSR-AUTHZ-8: now refused even with the right password
    let pw = h.password("alice");
    let r = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    h.clock.advance(61);
    let r = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

async fn allow_code(h: &Harness, hs: &Resp) -> String {
    let url = hs.json["authorize_url"].as_str().unwrap();
    let a = h.conformance_authorize(url, "alice", "allow", None).await;
    query_param(a.json["redirect"].as_str().unwrap(), "code").unwrap()
}

/// TSR-RESULT-12 (v1's burn, TSR-RESULT-11, withdrawn): a code presented with another
/// session's `sid` gets the named session's answer and changes neither session. (What keeps
/// such a code off the back channel is the Consumer's `state` check, TSR-CONSUMER-13:
/// `impl/tests/consumer_flow_binding.rs`.)
#[tokio::test]
async fn a_code_presented_for_another_session_changes_nothing() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let (first, _) = h.handshake(&c, &[], &["email"]).await;
    let (second, _) = h.handshake(&c, &[], &["email"]).await;
    let k1 = allow_code(&h, &first).await;
    // the named session is pending: its answer, and nothing else happens
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": second.json["sid"], "code": k1}),
        )
        .await;
    assert_eq!(r.outcome(), "400 authorization_pending");
    let k2 = allow_code(&h, &second).await;
    // the named session is authorized with another code: invalid_code (TSR-RESULT-4)
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": second.json["sid"], "code": k1}),
        )
        .await;
    assert_eq!(r.outcome(), "400 invalid_code");
    // nothing was burned: each code still redeems with its own sid
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": first.json["sid"], "code": k1}),
        )
        .await;
    assert_eq!(r.outcome(), "200");
    let r2 = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": second.json["sid"], "code": k2}),
        )
        .await;
    assert_eq!(r2.outcome(), "200");
    // a spent code with an active session's sid is invalid_code, and that session lives on
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": second.json["sid"], "code": k1}),
        )
        .await;
    assert_eq!(r.outcome(), "400 invalid_code");
    assert_eq!(
        h.get(&Creds::ticket(&r2.json["ticket"]), "/v1/ticket")
            .await
            .outcome(),
        "200"
    );
}
