//! Every error code of the spec's table (8.2) that the server can produce, over HTTP.
//! Table-driven; all failures are collected before asserting.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::json;
use tessera::hawk::{self, Credentials};
use tessera::server::Authority;

fn raw(
    method: &str,
    path: &str,
    auth: Option<&str>,
    ct: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        r = r.header(header::AUTHORIZATION, a);
    }
    if let Some(c) = ct {
        r = r.header(header::CONTENT_TYPE, c);
    }
    r.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn transport_and_hawk_errors() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let mut f = Failures::default();
    let hs_body = br#"{"redirect_uri":"x"}"#.to_vec();
    let now = h.now();
    let signed = |creds: &Creds, body: Option<&[u8]>, ts: i64, nonce: &str| {
        h.sign(creds, "POST", "/v1/handshake", body, ts, nonce).1
    };

    // route and method (404, 405)
    f.check(
        "404",
        h.plain("GET", "/nope", None).await.outcome(),
        "404 not_found",
    );
    f.check(
        "405",
        h.plain("GET", "/v1/handshake", None).await.outcome(),
        "405 method_not_allowed",
    );
    f.check(
        "405 json",
        h.plain("DELETE", "/v1/subject", None).await.outcome(),
        "405 method_not_allowed",
    );

    // 413 (TSR-CONV-5), before authentication
    let big = vec![b' '; 17 * 1024];
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            None,
            Some("application/json"),
            big,
        ))
        .await;
    f.check("413", r.outcome(), "413 payload_too_large");
    // 415 (TSR-CONV-4)
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&c, Some(b"x=1"), now, "n415")),
            Some("text/plain"),
            b"x=1".to_vec(),
        ))
        .await;
    f.check("415", r.outcome(), "415 unsupported_media_type");
    let r = h
        .send(raw("POST", "/v1/handshake", None, None, b"{}".to_vec()))
        .await;
    f.check(
        "415 no content type",
        r.outcome(),
        "415 unsupported_media_type",
    );

    // 401 unauthenticated (TSR-HAWK-2)
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            None,
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("no header", r.outcome(), "401 unauthenticated");
    f.check(
        "no header www-auth",
        r.header("www-authenticate").unwrap_or(""),
        "Hawk",
    );
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some("Basic YTpi"),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("basic", r.outcome(), "401 unauthenticated");

    // 400 invalid_header (TSR-HAWK-3)
    for (name, hdr) in [
        ("bare", "Hawk".to_owned()),
        (
            "unknown attr",
            r#"Hawk id="a", ts="1", nonce="n", mac="m", foo="x""#.to_owned(),
        ),
        (
            "repeated",
            r#"Hawk id="a", id="a", ts="1", nonce="n", mac="m""#.to_owned(),
        ),
        (
            "missing mac",
            r#"Hawk id="a", ts="1", nonce="n""#.to_owned(),
        ),
        (
            "bad ts",
            r#"Hawk id="a", ts="x1", nonce="n", mac="m""#.to_owned(),
        ),
        (
            "too long",
            format!(
                r#"Hawk id="a", ts="1", nonce="n", mac="{}""#,
                "m".repeat(5000)
            ),
        ),
    ] {
        let r = h
            .send(raw(
                "POST",
                "/v1/handshake",
                Some(&hdr),
                Some("application/json"),
                hs_body.clone(),
            ))
            .await;
        f.check(name, r.outcome(), "400 invalid_header");
    }

    // 401 invalid_credentials (TSR-HAWK-4, TSR-HAWK-6, TSR-HAWK-1)
    let unknown = Creds {
        id: "nobody".into(),
        key: "k".repeat(43),
        app: None,
        dlg: None,
    };
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&unknown, Some(&hs_body), now, "n1")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("unknown id", r.outcome(), "401 invalid_credentials");
    f.check(
        "unknown id unsigned",
        r.header("server-authorization").is_none(),
        true,
    );
    let mut wrong_key = c.clone();
    wrong_key.key = "x".repeat(43);
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&wrong_key, Some(&hs_body), now, "n2")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("wrong key", r.outcome(), "401 invalid_credentials");
    // signed for another host (TSR-HAWK-4)
    let a = tessera::hawk::Artifacts::new(
        "POST",
        "/v1/handshake",
        "evil.example",
        7700,
        now as u64,
        "n3",
    )
    .with_payload(Some("application/json"), &hs_body);
    let other = hawk::client_authorization_header(
        &Credentials::new(c.id.clone(), c.key.as_bytes(), "sha256").unwrap(),
        &a,
    )
    .unwrap();
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&other),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("other host", r.outcome(), "401 invalid_credentials");
    // app attribute with Consumer credentials (TSR-HAWK-14)
    let mut with_app = c.clone();
    with_app.app = Some(CONSUMER.into());
    f.check(
        "app on consumer creds",
        h.post(&with_app, "/v1/app-ticket", json!({}))
            .await
            .outcome(),
        "401 invalid_credentials",
    );
    // Consumer credentials at a ticket endpoint, a ticket at a Consumer endpoint (TSR-HAWK-1, TSR-TICKET-8)
    let r = h
        .send(raw(
            "GET",
            "/v1/ticket",
            Some(&h.sign(&c, "GET", "/v1/ticket", None, now, "n4").1),
            None,
            vec![],
        ))
        .await;
    f.check(
        "consumer creds at ticket endpoint",
        r.outcome(),
        "401 invalid_credentials",
    );
    let app = h.post(&c, "/v1/app-ticket", json!({})).await;
    let t = Creds::ticket(&app.json);
    f.check(
        "ticket at consumer endpoint",
        h.post(&t, "/v1/revoke", json!({"sid": "x"}))
            .await
            .outcome(),
        "401 invalid_credentials",
    );
    // a forged ticket id: one character in the middle of the sealed part changed to a
    // different one (the last character may carry only padding bits, and may already be `A`)
    let mut forged = t.clone();
    let middle = t.id.len() - 10;
    let flipped = if &t.id[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    forged.id = format!("{}{flipped}{}", &t.id[..middle], &t.id[middle + 1..]);
    let r = h
        .send(raw(
            "GET",
            "/v1/ticket",
            Some(&h.sign(&forged, "GET", "/v1/ticket", None, now, "n5").1),
            None,
            vec![],
        ))
        .await;
    f.check("forged ticket", r.outcome(), "401 invalid_credentials");

    // 401 invalid_payload_hash (TSR-HAWK-5)
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&c, None, now, "n6")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("missing hash", r.outcome(), "401 invalid_payload_hash");
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&c, Some(b"{}"), now, "n7")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("wrong hash", r.outcome(), "401 invalid_payload_hash");
    f.check(
        "wrong hash signed",
        r.header("server-authorization").is_some(),
        true,
    );

    // 401 stale_timestamp with ts and tsm (TSR-HAWK-7, TSR-HAWK-8)
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&c, Some(&hs_body), now - 61, "n8")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("stale", r.outcome(), "401 stale_timestamp");
    let www = r.header("www-authenticate").unwrap_or("").to_owned();
    let creds = Credentials::new(c.id.clone(), c.key.as_bytes(), "sha256").unwrap();
    f.check(
        "tsm verifies",
        hawk::verify_stale_timestamp_header(&www, &creds, now as u64)
            .map_err(|e| e.to_string())
            .map(|_| ())
            .is_ok(),
        true,
    );
    f.check(
        "stale unsigned",
        r.header("server-authorization").is_none(),
        true,
    );
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&c, Some(&hs_body), now + 61, "n9")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("future", r.outcome(), "401 stale_timestamp");
    // stale but with a bad MAC: the MAC decides first
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&signed(&wrong_key, Some(&hs_body), now - 600, "n10")),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("stale + bad mac", r.outcome(), "401 invalid_credentials");

    // 401 replayed_request (TSR-HAWK-9), whatever the first answer was
    let auth = signed(&c, Some(&hs_body), now, "replay-me");
    let first = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&auth),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("first", first.outcome(), "400 invalid_request");
    let second = h
        .send(raw(
            "POST",
            "/v1/handshake",
            Some(&auth),
            Some("application/json"),
            hs_body.clone(),
        ))
        .await;
    f.check("replay", second.outcome(), "401 replayed_request");

    // authentication before the body (TSR-CONV-6)
    let r = h
        .send(raw(
            "POST",
            "/v1/handshake",
            None,
            Some("application/json"),
            b"not json".to_vec(),
        ))
        .await;
    f.check("auth before body", r.outcome(), "401 unauthenticated");
    f.assert();
}

#[tokio::test]
async fn body_and_endpoint_errors() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let mut f = Failures::default();
    let st = h.state();
    let hs = |extra: serde_json::Value| {
        let mut b = json!({"redirect_uri": REDIRECT, "grants": [], "scopes": [], "state": st});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("ok", hs(json!({})), "200"),
        (
            "missing member",
            hs(json!({"grants": null})),
            "400 invalid_request",
        ),
        (
            "unknown member",
            hs(json!({"scope": ["email"]})),
            "400 invalid_request",
        ),
        (
            "wrong type",
            hs(json!({"grants": "admin"})),
            "400 invalid_request",
        ),
        ("not an object", json!(["x"]), "400 invalid_request"),
        (
            "bad name",
            hs(json!({"scopes": ["Email"]})),
            "400 invalid_request",
        ),
        (
            "repeated name",
            hs(json!({"scopes": ["email", "email"]})),
            "400 invalid_request",
        ),
        // spec TSR-HANDSHAKE-7
        (
            "no state",
            hs(json!({"state": null})),
            "400 invalid_request",
        ),
        (
            "short state",
            hs(json!({"state": "a".repeat(21)})),
            "400 invalid_request",
        ),
        (
            "long state",
            hs(json!({"state": "a".repeat(129)})),
            "400 invalid_request",
        ),
        (
            "longest state",
            hs(json!({"state": "a".repeat(128)})),
            "200",
        ),
        (
            "state with a character outside [A-Za-z0-9_-]",
            hs(json!({"state": "abcdefghijabcdefghij+="})),
            "400 invalid_request",
        ),
        // spec TSR-HANDSHAKE-3 withdrawn: a v1 handshake's PKCE members are unknown
        (
            "v1 pkce members",
            hs(
                json!({"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}),
            ),
            "400 invalid_request",
        ),
        (
            "redirect",
            hs(json!({"redirect_uri": "https://consumer.example/callback/"})),
            "400 invalid_redirect_uri",
        ),
        (
            "grant",
            hs(json!({"grants": ["root"]})),
            "400 grant_not_allowed",
        ),
        (
            "scope",
            hs(json!({"scopes": ["phone"]})),
            "400 scope_not_allowed",
        ),
    ];
    for (name, body, want) in cases {
        f.check(
            name,
            h.post(&c, "/v1/handshake", body).await.outcome(),
            want,
        );
    }
    let r = h
        .send({
            let (_, auth) = h.sign(&c, "POST", "/v1/handshake", Some(b"{nope"), h.now(), "nj");
            raw(
                "POST",
                "/v1/handshake",
                Some(&auth),
                Some("application/json"),
                b"{nope".to_vec(),
            )
        })
        .await;
    f.check("malformed json", r.outcome(), "400 invalid_request");

    // result / refresh states (spec 6.1 table)
    let (sid, code, _) = h.authorized(&c, &[], &["email"]).await;
    let res = |sid: &str, code: &str| json!({"sid": sid, "code": code});
    f.check(
        "unknown session",
        h.post(&c, "/v1/result", res("nope", "not-a-code"))
            .await
            .outcome(),
        "400 unknown_session",
    );
    let d = h.consumer(DELEGATE);
    f.check(
        "other consumer's session",
        h.post(&d, "/v1/result", res(&sid, &code)).await.outcome(),
        "400 unknown_session",
    );
    f.check(
        "refresh unknown",
        h.post(&c, "/v1/refresh", json!({"sid": "nope"}))
            .await
            .outcome(),
        "400 unknown_session",
    );
    f.check(
        "refresh authorized",
        h.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_not_active",
    );
    h.clock.advance(60);
    f.check(
        "code expired",
        h.post(&c, "/v1/result", res(&sid, &code)).await.outcome(),
        "400 code_expired",
    );
    h.clock.advance(540);
    f.check(
        "session expired",
        h.post(&c, "/v1/result", res(&sid, &code)).await.outcome(),
        "400 session_expired",
    );
    f.check(
        "refresh expired",
        h.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_expired",
    );
    // expired, then revoked: revocation first (TSR-SESSION-1)
    f.check(
        "revoke expired",
        h.post(&c, "/v1/revoke", json!({"sid": sid}))
            .await
            .outcome(),
        "200",
    );
    f.check(
        "revoked",
        h.post(&c, "/v1/result", res(&sid, &code)).await.outcome(),
        "400 session_revoked",
    );
    // pending session: refresh not active; revoke works
    let (hs_resp, _) = h.handshake(&c, &[], &[]).await;
    let psid = hs_resp.json["sid"].as_str().unwrap();
    f.check(
        "refresh pending",
        h.post(&c, "/v1/refresh", json!({"sid": psid}))
            .await
            .outcome(),
        "400 session_not_active",
    );
    f.check(
        "revoke pending",
        h.post(&c, "/v1/revoke", json!({"sid": psid}))
            .await
            .outcome(),
        "200",
    );
    f.check(
        "pending revoked",
        h.conformance_authorize(
            hs_resp.json["authorize_url"].as_str().unwrap(),
            "alice",
            "allow",
            None,
        )
        .await
        .outcome(),
        "400 invalid_request",
    );

    // tickets: expiry (TSR-TICKET-5), reissue ttl (TSR-REISSUE-2), scope (TSR-REISSUE-1)
    let (_, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    f.check(
        "ttl 0",
        h.post(&t, "/v1/reissue", json!({"ttl": 0})).await.outcome(),
        "400 invalid_request",
    );
    f.check(
        "ttl too long",
        h.post(&t, "/v1/reissue", json!({"ttl": 3601}))
            .await
            .outcome(),
        "400 invalid_request",
    );
    f.check(
        "ttl float",
        h.post(&t, "/v1/reissue", json!({"ttl": 1.5}))
            .await
            .outcome(),
        "400 invalid_request",
    );
    f.check(
        "wider scope",
        h.post(&t, "/v1/reissue", json!({"scope": ["profile"]}))
            .await
            .outcome(),
        "400 scope_not_allowed",
    );
    f.check(
        "reissue {}",
        h.post(&t, "/v1/reissue", json!({})).await.outcome(),
        "200",
    );
    f.check(
        "app-ticket unknown member",
        h.post(&c, "/v1/app-ticket", json!({"x": 1}))
            .await
            .outcome(),
        "400 invalid_request",
    );
    h.clock.advance(3600);
    f.check(
        "ticket expired",
        h.get(&t, "/v1/subject").await.outcome(),
        "401 ticket_expired",
    );
    f.check(
        "ticket expired /v1/ticket",
        h.get(&t, "/v1/ticket").await.outcome(),
        "401 ticket_expired",
    );
    f.assert();
}

#[tokio::test]
async fn conformance_endpoints() {
    let h = Harness::new();
    let mut f = Failures::default();
    let now = h.now();
    let r = h.plain("GET", "/conformance/clock", None).await;
    f.check("clock", &r.json["now"], now);
    let r = h
        .plain("POST", "/conformance/clock", Some(json!({"advance": 10})))
        .await;
    f.check("advance", &r.json["now"], now + 10);
    for (name, body) in [
        ("negative", json!({"advance": -1})),
        ("float", json!({"advance": 1.5})),
        ("over a year", json!({"advance": 31_536_001})),
        ("string", json!({"advance": "1"})),
        ("unknown", json!({"advance": 1, "x": 1})),
    ] {
        f.check(
            name,
            h.plain("POST", "/conformance/clock", Some(body))
                .await
                .outcome(),
            "400 invalid_request",
        );
    }
    f.check(
        "clock unchanged",
        &h.plain("GET", "/conformance/clock", None).await.json["now"],
        now + 10,
    );
    let fx = h.plain("GET", "/conformance/fixtures", None).await;
    f.check("fixtures issuer", &fx.json["issuer"], json!(ISSUER));
    f.check(
        "consumers",
        fx.json["consumers"].as_array().map_or(0, Vec::len),
        2,
    );
    f.check(
        "bad authorize_url",
        h.conformance_authorize("not a url", "alice", "allow", None)
            .await
            .outcome(),
        "400 invalid_request",
    );
    f.check(
        "unknown request",
        h.conformance_authorize(
            "http://127.0.0.1:7700/authorize?request=x",
            "alice",
            "allow",
            None,
        )
        .await
        .outcome(),
        "400 invalid_request",
    );
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &["email"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap();
    f.check(
        "unknown user",
        h.conformance_authorize(url, "bob", "allow", None)
            .await
            .outcome(),
        "400 invalid_request",
    );
    f.check(
        "bad decision",
        h.conformance_authorize(url, "alice", "maybe", None)
            .await
            .outcome(),
        "400 invalid_request",
    );
    f.check(
        "unrequested scope",
        h.conformance_authorize(url, "alice", "allow", Some(&["profile"]))
            .await
            .outcome(),
        "400 invalid_request",
    );
    f.check(
        "still pending",
        h.conformance_authorize(url, "alice", "allow", Some(&[]))
            .await
            .outcome(),
        "200",
    );
    f.assert();

    // TSR-CONF-1: absent outside conformance mode
    let plain = Harness::build(Authority::builder(config(false)).restart_fence(false), None);
    for p in [
        "/conformance/clock",
        "/conformance/fixtures",
        "/conformance/authorize",
    ] {
        assert_eq!(
            plain.plain("GET", p, None).await.outcome(),
            "404 not_found",
            "{p}"
        );
    }
    let m = plain
        .plain("GET", "/.well-known/tessera-authority", None)
        .await;
    assert_eq!(m.json["conformance_mode"], false);
    let o = plain.plain("GET", "/openapi.json", None).await;
    assert_eq!(o.json["openapi"], "3.1.0");
    assert!(o.json["paths"]["/v1/result"]["post"].is_object());
}

#[tokio::test]
async fn nonce_memory_full_is_503_and_the_restart_fence_holds() {
    // TSR-HAWK-11
    let mut cfg = config(true);
    cfg.nonce_capacity = 1;
    let h = Harness::build(Authority::builder(cfg), None);
    let c = h.consumer(CONSUMER);
    assert_eq!(
        h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "200"
    );
    let r = h.post(&c, "/v1/app-ticket", json!({})).await;
    assert_eq!(r.outcome(), "503 temporarily_unavailable");
    h.clock.advance(121);
    assert_eq!(
        h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "200"
    );

    // TSR-HAWK-10: with the fence on, timestamps up to start + skew are stale
    let h = Harness::build(Authority::builder(config(true)).restart_fence(true), None);
    let c = h.consumer(CONSUMER);
    assert_eq!(
        h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "401 stale_timestamp"
    );
    h.clock.advance(61);
    assert_eq!(
        h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "200"
    );
    let _ = StatusCode::OK;
}
