//! Consumer-side checks (spec chapter 10) against the real Authority, without a browser: the
//! demo (Authority + demo Consumer, in process, on ephemeral loopback ports) driven by a scripted
//! HTTP browser, and the library called directly.

#[path = "browser/agent.rs"]
mod agent;

use agent::{query_param, Agent};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tessera::clock::{system_now, Clock as _, TestClock};
use tessera::consumer::{CallbackParams, Consumer, Error};
use tessera::demo::{self, Demo, DemoOptions};
use tessera::hawk::ResponseError;

async fn start() -> Demo {
    demo::start(DemoOptions::ephemeral())
        .await
        .expect("demo starts")
}

/// Starts a login in `browser` at the demo Consumer; returns the authorize URL.
async fn begin(d: &Demo, browser: &Agent) -> String {
    let r = agent::start_login(browser, &d.consumer_url).await;
    assert_eq!(r.status, 303);
    let to = r.location().unwrap();
    assert!(
        to.starts_with(&format!("{}/authorize?request=", d.issuer)),
        "{to}"
    );
    to
}

/// GETs a callback URL in `browser`; returns where the Consumer sends it (path and query).
async fn deliver(browser: &Agent, callback: &str) -> agent::Resp {
    browser.get(callback).await
}

fn reason(r: &agent::Resp) -> Option<String> {
    r.location()
        .and_then(|l| query_param(&format!("http://x{l}"), "reason"))
}

#[tokio::test]
async fn a_login_through_the_web_integration_and_what_the_callback_sends_back() {
    let d = start().await;
    let browser = Agent::new();
    let authorize = begin(&d, &browser).await;
    let before = browser
        .cookie("tessera_consumer")
        .expect("session cookie on /login");
    let callback = browser
        .authorize(&authorize, &d.username, &d.password, "allow")
        .await;
    // spec TSR-CALLBACK-3 seen from here: only code, state and iss, no sid.
    assert!(
        callback.starts_with(&format!("{}/callback?code=", d.consumer_url)),
        "{callback}"
    );
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(d.issuer.as_str())
    );

    let r = deliver(&browser, &callback).await;
    // spec TSR-CONSUMER-9: 303 to a clean URL, no referrer.
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location().as_deref(), Some("/"));
    assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"));
    assert!(
        r.body.is_empty(),
        "no page (and so no third-party resource) on the callback"
    );
    // spec TSR-CONSUMER-2: HttpOnly, SameSite=Lax (http on loopback: no Secure).
    let set = r.set_cookies().join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    // spec TSR-CONSUMER-8: a new session id after login; the old one is dead.
    let after = browser.cookie("tessera_consumer").unwrap();
    assert_ne!(before, after);
    let stale = Agent::new();
    stale.set_cookie("tessera_consumer", &before);
    assert!(stale
        .get(&format!("{}/", d.consumer_url))
        .await
        .body
        .contains("not logged in"));

    let home = browser.get(&format!("{}/", d.consumer_url)).await;
    assert!(home.body.contains("You are logged in"), "{}", home.body);
    assert!(
        home.body.contains("demo@example.org"),
        "Subject data via the ticket"
    );
    assert!(home.body.contains(&d.issuer));

    // The library view of that session: identity is (issuer, sub) (spec TSR-CONSUMER-10).
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        "cookie",
        format!("tessera_consumer={after}").parse().unwrap(),
    );
    let s = d.web.session(&h);
    let login = s.login.clone().expect("logged in");
    assert_eq!(login.subject_id().issuer, d.issuer);
    assert_eq!(login.grants.get("staff"), Some(&true));
    assert_eq!(login.grants.get("admin"), Some(&false));
    assert_eq!(login.scopes.get("email"), Some(&true));

    // Refresh: rotation replaces the sid (spec TSR-CONSUMER-11) ...
    let refreshed = d.web.refresh(&s).await.expect("refresh");
    assert_ne!(refreshed.sid, login.sid);
    let s2 = d.web.session(&h);
    assert_eq!(
        s2.login.as_ref().unwrap().sid,
        refreshed.sid,
        "stored before use"
    );
    d.web
        .consumer()
        .subject_data(&refreshed)
        .await
        .expect("new ticket works");
    let info = d
        .web
        .consumer()
        .ticket_info(&refreshed)
        .await
        .expect("ticket info");
    assert_eq!(info.user.as_deref(), Some(login.sub.as_str()));
    assert_eq!(info.scope, refreshed.ticket.scope);
    // ... a late duplicate of that refresh in this Consumer shares its outcome (single flight,
    // TSR-CONSUMER-15) ...
    let again = d
        .web
        .consumer()
        .refresh(&login)
        .await
        .expect("same outcome");
    assert_eq!(again.sid, refreshed.sid);
    // ... and a refresh of the old sid from elsewhere (another Consumer process, or whoever
    // copied it) is a reuse, reported distinctly, meaning logout.
    let elsewhere = d.consumer_with(None, None, None).unwrap();
    let e = elsewhere.refresh(&login).await.unwrap_err();
    assert!(matches!(e, Error::SessionReused), "{e:?}");
    assert!(e.is_logout());
    // The family is revoked: the new ticket is dead too.
    let e = d.web.consumer().subject_data(&refreshed).await.unwrap_err();
    assert!(
        matches!(&e, Error::Authority { status: 401, code } if code == "ticket_revoked"),
        "{e:?}"
    );
    assert!(e.is_logout());
    d.stop().await;
}

#[tokio::test]
async fn logout_revokes_at_the_authority_and_clears_the_cookie() {
    let d = start().await;
    let browser = Agent::new();
    let authorize = begin(&d, &browser).await;
    let cb = browser
        .authorize(&authorize, &d.username, &d.password, "allow")
        .await;
    assert_eq!(deliver(&browser, &cb).await.status, 303);
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        "cookie",
        format!(
            "tessera_consumer={}",
            browser.cookie("tessera_consumer").unwrap()
        )
        .parse()
        .unwrap(),
    );
    let s = d.web.session(&h);
    let login = s.login.clone().unwrap();
    // The demo's log-out button (POST /logout with its CSRF token).
    let home = browser.get(&format!("{}/", d.consumer_url)).await;
    let csrf = agent::form_value(&home.body, "csrf").unwrap();
    let bad = browser
        .post_form(&format!("{}/logout", d.consumer_url), &[("csrf", "forged")])
        .await;
    assert_eq!(bad.location().as_deref(), Some("/?notice=bad_csrf"));
    let r = browser
        .post_form(&format!("{}/logout", d.consumer_url), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    assert!(
        browser.cookie("tessera_consumer").is_none(),
        "cookie cleared"
    );
    let e = d.web.consumer().subject_data(&login).await.unwrap_err();
    assert!(
        matches!(&e, Error::Authority { code, .. } if code == "ticket_revoked"),
        "{e:?}"
    );
    d.stop().await;
}

/// spec TSR-CONSUMER-4: a callback with another `iss`, or none, is refused before any request
/// to an Authority.
#[tokio::test]
async fn a_callback_with_a_wrong_or_missing_iss_is_refused_without_a_request() {
    let d = start().await;
    let c = d.web.consumer();
    let start = c.begin_login(None).await.unwrap();
    let browser = Agent::new();
    let cb = browser
        .authorize(&start.authorize_url, &d.username, &d.password, "allow")
        .await;
    let code = query_param(&cb, "code");

    let wrong = CallbackParams {
        code: code.clone(),
        error: None,
        iss: Some("https://evil.example".into()),
        state: query_param(&cb, "state"),
    };
    assert_eq!(
        wrong.state.as_ref(),
        Some(&start.pending.state),
        "TSR-CALLBACK-5"
    );
    let e = c
        .complete_login(Some(start.pending.clone()), &wrong)
        .await
        .unwrap_err();
    match &e {
        Error::IssuerMismatch { expected, got } => {
            assert_eq!(expected, &d.issuer);
            assert_eq!(got, "https://evil.example");
        }
        other => panic!("{other:?}"),
    }
    // A trailing slash is not the same issuer: exact comparison.
    let slash = CallbackParams {
        iss: Some(format!("{}/", d.issuer)),
        ..wrong.clone()
    };
    assert!(matches!(
        c.complete_login(Some(start.pending.clone()), &slash).await,
        Err(Error::IssuerMismatch { .. })
    ));
    let missing = CallbackParams {
        iss: None,
        ..wrong.clone()
    };
    assert!(matches!(
        c.complete_login(Some(start.pending.clone()), &missing)
            .await,
        Err(Error::MissingIssuer)
    ));
    // No request reached the Authority: the code is still unredeemed and works once.
    let right = CallbackParams {
        iss: Some(d.issuer.clone()),
        ..wrong
    };
    c.complete_login(Some(start.pending), &right)
        .await
        .expect("code still fresh");

    // Through the web integration: refused with an error page naming the check.
    let browser = Agent::new();
    let authorize = begin(&d, &browser).await;
    let cb = browser
        .authorize(&authorize, &d.username, &d.password, "allow")
        .await;
    let forged = cb.replace(
        &format!(
            "iss={}",
            url::form_urlencoded::byte_serialize(d.issuer.as_bytes()).collect::<String>()
        ),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(forged, cb);
    let r = deliver(&browser, &forged).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(reason(&r).as_deref(), Some("issuer_mismatch"));
    let page = browser.get(&absolute(&d, &r.location().unwrap())).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("different Authority"), "{}", page.body);
    d.stop().await;
}

fn absolute(d: &Demo, path: &str) -> String {
    format!("{}{path}", d.consumer_url)
}

/// spec TSR-CONSUMER-3: the attacker's callback (their own code) delivered into a browser
/// session that did not start the flow is refused.
#[tokio::test]
async fn a_callback_in_a_browser_session_that_did_not_start_the_flow_is_refused() {
    let d = start().await;
    d.add_subject("mallory", "mallory-password").unwrap();
    // The attacker runs a login in their own browser and keeps the callback URL.
    let attacker = Agent::new();
    let authorize = begin(&d, &attacker).await;
    let attackers_callback = attacker
        .authorize(&authorize, "mallory", "mallory-password", "allow")
        .await;

    // Login CSRF: the victim's browser, with no session at the Consumer, is made to open it.
    let victim = Agent::new();
    let r = deliver(&victim, &attackers_callback).await;
    assert_eq!(reason(&r).as_deref(), Some("no_pending_login"));
    assert!(victim
        .get(&absolute(&d, "/"))
        .await
        .body
        .contains("not logged in"));

    // Library level, same check: no pending login, no request.
    let e = d
        .web
        .consumer()
        .complete_login(
            None,
            &CallbackParams::from_query(attackers_callback.split_once('?').unwrap().1).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoPendingLogin), "{e:?}");

    // Session swapping: the victim has a login of their own pending; the attacker's callback
    // carries the attacker's state, which is not one of the victim's pending logins, so the
    // Consumer refuses it before any request (TSR-CONSUMER-13) — the victim is not logged in
    // as mallory, and the victim's own login is still pending (TSR-CONSUMER-6).
    let _ = begin(&d, &victim).await;
    let r = deliver(&victim, &attackers_callback).await;
    assert_eq!(reason(&r).as_deref(), Some("no_pending_login"));
    assert!(victim
        .get(&absolute(&d, "/"))
        .await
        .body
        .contains("not logged in"));
    d.stop().await;
}

/// spec TSR-CONSUMER-6: a pending login is used once; the same callback again is refused.
#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let d = start().await;
    let browser = Agent::new();
    let authorize = begin(&d, &browser).await;
    let cb = browser
        .authorize(&authorize, &d.username, &d.password, "allow")
        .await;
    assert_eq!(
        deliver(&browser, &cb).await.location().as_deref(),
        Some("/")
    );
    // Replayed in the same browser (now logged in with a new session id) ...
    let r = deliver(&browser, &cb).await;
    assert_eq!(reason(&r).as_deref(), Some("no_pending_login"));
    // ... or with the pre-login session cookie (as someone who copied it would).
    let d2 = start().await;
    let b2 = Agent::new();
    let authorize = begin(&d2, &b2).await;
    let old_cookie = b2.cookie("tessera_consumer").unwrap();
    let cb = b2
        .authorize(&authorize, &d2.username, &d2.password, "allow")
        .await;
    assert_eq!(deliver(&b2, &cb).await.status, 303);
    let copy = Agent::new();
    copy.set_cookie("tessera_consumer", &old_cookie);
    assert_eq!(
        reason(&deliver(&copy, &cb).await).as_deref(),
        Some("no_pending_login")
    );

    // Library level: a failed completion consumes the pending login too (whatever the
    // outcome): the web layer takes it before checking, so the second try finds none.
    let c = d.web.consumer();
    let start = c.begin_login(None).await.unwrap();
    let store = tessera::consumer::MemoryPendingStore::default();
    use tessera::consumer::PendingStore as _;
    let state = start.pending.state.clone();
    store.put("browser-1", start.pending);
    let bad = CallbackParams {
        code: Some("x".into()),
        error: None,
        iss: Some("https://evil.example".into()),
        state: Some(state.clone()),
    };
    assert!(c
        .complete_login(store.take("browser-1", &state), &bad)
        .await
        .is_err());
    let e = c
        .complete_login(store.take("browser-1", &state), &bad)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoPendingLogin));
    d.stop().await;
    d2.stop().await;
}

/// spec TSR-CONSUMER-12: a denial goes through the same binding and issuer checks, and is shown.
#[tokio::test]
async fn a_denial_is_checked_like_a_success_and_reported() {
    let d = start().await;
    let browser = Agent::new();
    let authorize = begin(&d, &browser).await;
    let cb = browser
        .authorize(&authorize, &d.username, &d.password, "deny")
        .await;
    assert_eq!(query_param(&cb, "error").as_deref(), Some("access_denied"));
    // In another browser: the binding check comes first.
    assert_eq!(
        reason(&deliver(&Agent::new(), &cb).await).as_deref(),
        Some("no_pending_login")
    );
    let r = deliver(&browser, &cb).await;
    assert_eq!(reason(&r).as_deref(), Some("access_denied"));
    let page = browser.get(&absolute(&d, &r.location().unwrap())).await;
    assert!(page.body.contains("You declined"), "{}", page.body);

    let c = d.web.consumer();
    let start = c.begin_login(None).await.unwrap();
    let denied = CallbackParams {
        code: None,
        error: Some("access_denied".into()),
        iss: Some("https://evil.example".into()),
        state: Some(start.pending.state.clone()),
    };
    assert!(matches!(
        c.complete_login(Some(start.pending.clone()), &denied).await,
        Err(Error::IssuerMismatch { .. })
    ));
    let denied = CallbackParams {
        iss: Some(d.issuer.clone()),
        ..denied
    };
    assert!(matches!(
        c.complete_login(Some(start.pending), &denied).await,
        Err(Error::AccessDenied)
    ));
    d.stop().await;
}

// ---------------------------------------------------------------------------------------------
// A man in the middle between the Consumer and the real Authority (an HTTP proxy the
// Consumer's client is configured with), to alter responses.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tamper {
    /// One byte of the body changed, header kept.
    Body,
    /// The Server-Authorization MAC replaced.
    Mac,
    /// Server-Authorization removed.
    Strip,
    /// The tsm of a stale-timestamp reply altered.
    Tsm,
    /// Nothing altered; request bodies recorded.
    Record,
    /// The response's status replaced by 400, headers and body kept.
    Status,
    /// The first request to the path is recorded and answered `502` without reaching the
    /// Authority (a refused or indefinitely delayed back-channel request); later ones pass.
    RefuseFirst,
    /// On every path (`only_path` "*"): members no version defines added to the JSON body and
    /// to its nested objects, and the response signed again with the Consumer's key (an
    /// Authority of a later minor version, spec TSR-CONV-17).
    Extend,
}

struct Proxy {
    url: String,
    hits: Arc<AtomicUsize>,
    /// (path, Authorization header, request body) of every request, in order.
    seen: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
}

async fn proxy(tamper: Tamper, only_path: &'static str) -> Proxy {
    proxy_signing(tamper, only_path, Keys::default()).await
}

/// The credentials a [`Tamper::Extend`] proxy signs altered responses with, found by the
/// request's Hawk `id` (the Consumer's, or a ticket's once the test adds it).
type Keys = Arc<std::sync::Mutex<Vec<tessera::hawk::Credentials>>>;

/// [`proxy`], signing altered responses again with the matching one of `keys`.
async fn proxy_signing(tamper: Tamper, only_path: &'static str, keys: Keys) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let upstream = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let upstream = upstream.clone();
        let h = h.clone();
        let log = log.clone();
        let keys = keys.clone();
        async move {
            let uri = req.uri().to_string();
            let path = req.uri().path().to_owned();
            let method = req.method().clone();
            let headers = req.headers().clone();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            log.lock().unwrap().push((
                path.clone(),
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            if tamper == Tamper::RefuseFirst
                && path == only_path
                && h.fetch_add(1, Ordering::SeqCst) == 0
            {
                let mut resp = axum::response::Response::new(axum::body::Body::empty());
                *resp.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
                return resp;
            }
            let mut rb = upstream.request(method.clone(), &uri).body(body.to_vec());
            for (k, v) in &headers {
                if k != "host" && k != "proxy-connection" {
                    rb = rb.header(k, v);
                }
            }
            let r = rb.send().await.unwrap();
            let status = r.status();
            let mut out_headers = r.headers().clone();
            let mut out = r.bytes().await.unwrap().to_vec();
            if (path == only_path || only_path == "*") && tamper != Tamper::RefuseFirst {
                h.fetch_add(1, Ordering::SeqCst);
                match tamper {
                    Tamper::Body => {
                        if let Some(i) = out.iter().position(|&b| b == b'"') {
                            out.insert(i + 1, b'X');
                        }
                    }
                    Tamper::Mac => {
                        if let Some(sa) = out_headers.get("server-authorization") {
                            let s = sa.to_str().unwrap();
                            let i = s.find("mac=\"").unwrap() + 5;
                            let mut t = s.to_owned();
                            let c = if &t[i..=i] == "A" { "B" } else { "A" };
                            t.replace_range(i..=i, c);
                            out_headers.insert("server-authorization", t.parse().unwrap());
                        }
                    }
                    Tamper::Strip => {
                        out_headers.remove("server-authorization");
                    }
                    Tamper::Extend => {
                        out = extended(&out);
                        if let Some(auth) = headers.get("authorization") {
                            let sa = sign_again(
                                &keys.lock().unwrap(),
                                method.as_str(),
                                &uri,
                                auth.to_str().unwrap(),
                                status.as_u16(),
                                out_headers
                                    .get("content-type")
                                    .and_then(|v| v.to_str().ok()),
                                &out,
                            );
                            out_headers.insert("server-authorization", sa.parse().unwrap());
                        }
                    }
                    Tamper::Record | Tamper::RefuseFirst | Tamper::Status => {}
                    Tamper::Tsm => {
                        if let Some(w) = out_headers.get("www-authenticate") {
                            let s = w.to_str().unwrap().replace("tsm=\"", "tsm=\"AAAA");
                            out_headers.insert("www-authenticate", s.parse().unwrap());
                        }
                    }
                }
                out_headers.remove("content-length");
            }
            let mut resp = axum::response::Response::new(axum::body::Body::from(out));
            *resp.status_mut() = if tamper == Tamper::Status && path == only_path {
                axum::http::StatusCode::BAD_REQUEST
            } else {
                status
            };
            for (k, v) in &out_headers {
                if k != "transfer-encoding" {
                    resp.headers_mut().insert(k, v.clone());
                }
            }
            resp
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Proxy { url, hits, seen }
}

/// A JSON object body with a member no version defines added at the top and in each nested
/// object that is a struct of the spec (`ticket`, `hawk`, `ttl`); other bodies unchanged.
fn extended(body: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut m)) = serde_json::from_slice(body) else {
        return body.to_vec();
    };
    let future = serde_json::json!({"from": "a later minor version", "n": [1, 2]});
    for nested in ["ticket", "hawk", "ttl"] {
        if let Some(serde_json::Value::Object(o)) = m.get_mut(nested) {
            o.insert("x_future_member".into(), future.clone());
        }
    }
    m.insert("x_future_member".into(), future);
    serde_json::to_vec(&m).unwrap()
}

/// The `Server-Authorization` the Authority would send for `body`, for the request signed
/// with `authorization` (TSR-HAWK-17: `ext` carries the status).
fn sign_again(
    keys: &[tessera::hawk::Credentials],
    method: &str,
    uri: &str,
    authorization: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> String {
    use tessera::hawk::{self, Artifacts, Payload};
    let a = hawk::parse_authorization_header(authorization).unwrap();
    let key = keys
        .iter()
        .find(|k| k.id() == a.id)
        .expect("a key for this id");
    let u = url::Url::parse(uri).unwrap();
    let resource = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    let mut request = Artifacts::new(
        method,
        resource,
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap(),
        a.ts,
        a.nonce,
    );
    request.app = a.app;
    request.dlg = a.dlg;
    let payload = Payload { content_type, body };
    hawk::server_authorization_header(
        key,
        &request,
        Some(payload),
        Some(&hawk::status_ext(status)),
    )
    .unwrap()
}

fn proxied(p: &Proxy) -> reqwest::Client {
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(&p.url).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// spec TSR-HAWK-13, TSR-CONSUMER-7: a result whose Server-Authorization does not verify (or
/// is missing) is refused and nothing in it is used.
#[tokio::test]
async fn a_response_with_a_bad_server_authorization_is_refused() {
    let d = start().await;
    for (tamper, check) in [
        (
            Tamper::Body,
            (|e: &Error| {
                matches!(
                    e,
                    Error::ServerAuthorizationInvalid(ResponseError::BadPayloadHash)
                )
            }) as fn(&Error) -> bool,
        ),
        (Tamper::Mac, |e: &Error| {
            matches!(e, Error::ServerAuthorizationInvalid(ResponseError::BadMac))
        }),
        (Tamper::Strip, |e: &Error| {
            matches!(e, Error::ServerAuthorizationMissing { status: 200 })
        }),
    ] {
        let p = proxy(tamper, "/v1/result").await;
        let mitm = d.consumer_with(None, None, Some(proxied(&p))).unwrap();
        // The handshake passes the proxy untouched ...
        let start = mitm
            .begin_login(None)
            .await
            .expect("untampered handshake verifies");
        let cb = Agent::new()
            .authorize(&start.authorize_url, &d.username, &d.password, "allow")
            .await;
        let params = CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap();
        // ... the result does not.
        let e = mitm
            .complete_login(Some(start.pending), &params)
            .await
            .unwrap_err();
        assert!(check(&e), "{tamper:?}: {e:?}");
        assert!(e.kind().starts_with("server_authorization"));
        assert_eq!(p.hits.load(Ordering::SeqCst), 1, "went through the proxy");
    }
    // The handshake too: a tampered handshake answer gives no authorize URL.
    let p = proxy(Tamper::Body, "/v1/handshake").await;
    let mitm = d.consumer_with(None, None, Some(proxied(&p))).unwrap();
    let e = mitm.begin_login(None).await.unwrap_err();
    assert!(matches!(e, Error::ServerAuthorizationInvalid(_)), "{e:?}");
    d.stop().await;
}

/// spec TSR-CONV-17: an Authority that adds members to its responses (metadata, handshake,
/// result and its ticket, refresh, ticket, error bodies) keeps working with this Consumer.
#[tokio::test]
async fn responses_with_members_this_version_does_not_know_are_accepted() {
    let d = start().await;
    let key = tessera::hawk::Credentials::new(
        d.registration.consumer_id.clone(),
        d.registration.key.as_bytes(),
        "sha256",
    )
    .unwrap();
    let keys = Keys::new(vec![key].into());
    let p = proxy_signing(Tamper::Extend, "*", keys.clone()).await;
    let a = Consumer::discover(&proxied(&p), &d.issuer, d.registration.clone())
        .await
        .expect("metadata with unknown members");
    let c = Consumer::new(vec![a])
        .unwrap()
        .with_http_client(proxied(&p));
    let start = c
        .begin_login(None)
        .await
        .expect("handshake with unknown members");
    let cb = Agent::new()
        .authorize(&start.authorize_url, &d.username, &d.password, "allow")
        .await;
    let params = CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap();
    let login = c
        .complete_login(Some(start.pending), &params)
        .await
        .expect("result and ticket with unknown members");
    let t = &login.ticket;
    keys.lock()
        .unwrap()
        .push(tessera::hawk::Credentials::new(t.id.clone(), t.key.as_bytes(), "sha256").unwrap());
    let info = c
        .ticket_info(&login)
        .await
        .expect("ticket info with unknown members");
    assert_eq!(info.user.as_deref(), Some(login.sub.as_str()));
    let refreshed = c
        .refresh(&login)
        .await
        .expect("refresh with unknown members");
    assert_ne!(refreshed.sid, login.sid);
    c.revoke(&refreshed)
        .await
        .expect("revoke with unknown members");
    // An error body with an unknown member still names its code.
    let e = c.refresh(&refreshed).await.unwrap_err();
    assert!(
        matches!(&e, Error::Authority { status: 400, code } if code == "session_revoked"),
        "{e:?}"
    );
    let (bodies, extended) = (p.seen.lock().unwrap().len(), p.hits.load(Ordering::SeqCst));
    assert!(
        extended >= 6 && extended == bodies,
        "{extended} of {bodies} altered"
    );
    d.stop().await;
}

/// spec TSR-HAWK-8: a Consumer whose clock is off gets a stale-timestamp reply, verifies its
/// tsm, adjusts its offset and retries once; a reply whose tsm does not verify moves nothing.
#[tokio::test]
async fn a_stale_timestamp_is_retried_once_after_verifying_tsm() {
    let d = start().await;
    let slow = Arc::new(TestClock::new(system_now() - 3_600));
    let c = d.consumer_with(Some(slow.clone()), None, None).unwrap();
    let start = c
        .begin_login(None)
        .await
        .expect("retried with the Authority's time");
    // The next request uses the learned offset at once (no stale round trip): it works even
    // through a proxy that would corrupt any stale reply.
    let cb = Agent::new()
        .authorize(&start.authorize_url, &d.username, &d.password, "allow")
        .await;
    let params = CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap();
    // The pending login's exp is in our (slow) clock's terms.
    assert!(start.pending.exp > slow.now() && start.pending.exp < slow.now() + 700);
    c.complete_login(Some(start.pending), &params)
        .await
        .expect("result with the offset");

    let p = proxy(Tamper::Tsm, "/v1/handshake").await;
    let c = d
        .consumer_with(Some(slow), None, Some(proxied(&p)))
        .unwrap();
    let e = c.begin_login(None).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::StaleTimestampUnverified(ResponseError::BadTimestampMac)
        ),
        "{e:?}"
    );
    d.stop().await;
}

/// spec TSR-META-1: configuring from metadata checks the issuer against the URL it came from.
#[tokio::test]
async fn metadata_discovery_checks_the_issuer() {
    let d = start().await;
    let http = tessera::consumer::default_http_client();
    let reg = d.registration.clone();
    let a = Consumer::discover(
        &http,
        &format!("{}/.well-known/tessera-authority", d.issuer),
        reg.clone(),
    )
    .await
    .expect("discovered");
    assert_eq!(a.endpoints.result, format!("{}/v1/result", d.issuer));
    // The library's hand configuration (the reference layout) is what the Authority publishes.
    assert_eq!(
        a.endpoints,
        tessera::consumer::Endpoints::reference_layout(&d.issuer).unwrap()
    );
    let c = Consumer::new(vec![a]).unwrap();
    c.begin_login(None)
        .await
        .expect("works with discovered endpoints");
    // Same server, named differently: the document's issuer is not the URL's.
    // (the demo Authority is on `localhost`, its Consumer on `127.0.0.1`)
    let other = d.issuer.replace("localhost", "127.0.0.1");
    let e = Consumer::discover(&http, &other, reg.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::MetadataIssuerMismatch { expected, got } if expected == &other && got == &d.issuer),
        "{e:?}"
    );
    // Plain http off loopback is refused before any request (spec TSR-CONV-1).
    let e = Consumer::discover(&http, "http://auth.example", reg)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
    d.stop().await;
}

/// Unknown Authority and wrong keys are reported as such.
#[tokio::test]
async fn a_wrong_key_shows_as_an_unverified_401() {
    let d = start().await;
    let mut reg = d.registration.clone();
    reg.key = "A".repeat(43);
    let c = Consumer::new(vec![tessera::consumer::AuthorityConfig::new(
        &d.issuer, reg,
    )
    .unwrap()])
    .unwrap();
    let e = c.begin_login(None).await.unwrap_err();
    assert!(
        matches!(e, Error::ServerAuthorizationMissing { status: 401 }),
        "{e:?}"
    );
    assert!(matches!(
        c.begin_login(Some("https://other.example")).await,
        Err(Error::UnknownAuthority(_))
    ));
    d.stop().await;
}

/// An expired ticket is refreshed by the web integration (and the new sid stored first, spec
/// TSR-CONSUMER-11); an expired session logs the Subject out. The Authority's clock is moved;
/// the Consumer's is not, so every step also goes through a verified stale-timestamp reply.
#[tokio::test]
async fn an_expired_ticket_is_refreshed_and_an_expired_session_logs_out() {
    let clock = Arc::new(TestClock::new(system_now()));
    let d = demo::start(DemoOptions {
        authority_clock: Some(clock.clone()),
        ..DemoOptions::ephemeral()
    })
    .await
    .unwrap();
    let browser = Agent::new();
    let authorize = begin(&d, &browser).await;
    let cb = browser
        .authorize(&authorize, &d.username, &d.password, "allow")
        .await;
    assert_eq!(deliver(&browser, &cb).await.status, 303);
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        "cookie",
        format!(
            "tessera_consumer={}",
            browser.cookie("tessera_consumer").unwrap()
        )
        .parse()
        .unwrap(),
    );
    let s = d.web.session(&h);
    let first = s.login.clone().unwrap();

    clock.advance(3_601).unwrap(); // past the ticket (1 h), within the session (1 day)
    let e = d.web.consumer().subject_data(&first).await.unwrap_err();
    assert!(e.needs_refresh() && !e.is_logout(), "{e:?}");
    let data = d.web.subject_data(&s).await.expect("refreshed, then read");
    assert_eq!(data["sub"], first.sub.as_str());
    let now = d.web.session(&h).login.unwrap();
    assert_ne!(now.sid, first.sid, "the new sid is stored");
    assert!(browser
        .get(&absolute(&d, "/"))
        .await
        .body
        .contains("demo@example.org"));

    clock.advance(90_000).unwrap(); // past the session too
    let e = d.web.subject_data(&d.web.session(&h)).await.unwrap_err();
    assert!(e.is_logout(), "{e:?}");
    assert!(d.web.session(&h).login.is_none(), "logged out");
    d.stop().await;
}

/// spec TSR-CONSUMER-13, TSR-CONSUMER-5, TSR-HAWK-14, as seen on the wire: the handshake
/// carries a fresh 128-bit `state` (and no PKCE member), the result request exactly the pending
/// sid and the code, each Hawk-signed with the Consumer's id; Subject data requests are signed
/// with the ticket and carry its `app`.
#[tokio::test]
async fn on_the_wire_the_handshake_carries_state_and_the_result_only_sid_and_code() {
    let d = start().await;
    let p = proxy(Tamper::Record, "/none").await;
    let c = d.consumer_with(None, None, Some(proxied(&p))).unwrap();
    let start = c.begin_login(None).await.unwrap();
    let other = c.begin_login(None).await.unwrap();
    let state = start.pending.state.clone();
    let sid = start.pending.sid.clone();
    assert_eq!(state.len(), 22, "16 random bytes");
    assert_ne!(state, other.pending.state, "fresh per login");
    assert!(
        !start.authorize_url.contains(&sid),
        "no sid in the browser's URL"
    );
    let cb = Agent::new()
        .authorize(&start.authorize_url, &d.username, &d.password, "allow")
        .await;
    assert_eq!(query_param(&cb, "state").as_deref(), Some(state.as_str()));
    let params = CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap();
    let login = c
        .complete_login(Some(start.pending), &params)
        .await
        .unwrap();
    c.subject_data(&login).await.unwrap();
    let seen = p.seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/handshake",
            "/v1/handshake",
            "/v1/result",
            "/v1/subject"
        ]
    );
    let (_, auth, hs) = &seen[0];
    let hs: serde_json::Value = serde_json::from_str(hs).unwrap();
    assert_eq!(hs["state"], state.as_str());
    let mut members: Vec<&String> = hs.as_object().unwrap().keys().collect();
    members.sort();
    assert_eq!(members, ["grants", "redirect_uri", "scopes", "state"]);
    assert!(auth.starts_with("Hawk id=\"demo-consumer\"") && !auth.contains(&d.registration.key));
    let (_, auth, res) = &seen[2];
    let res: serde_json::Value = serde_json::from_str(res).unwrap();
    assert_eq!(
        res,
        serde_json::json!({"sid": sid, "code": params.code.unwrap()})
    );
    assert!(auth.starts_with("Hawk id=\"demo-consumer\""));
    let (_, auth, _) = &seen[3];
    assert!(auth.contains(&format!("id=\"{}\"", login.ticket.id)));
    assert!(auth.contains("app=\"demo-consumer\""));
    assert!(!auth.contains(&login.ticket.key));
    d.stop().await;
}

/// The fixation race of spec 9.2, against the real Authority and the real Consumer library:
/// the attacker starts a login, has the victim allow it, and the callback (the attacker's code
/// and state) lands in the victim's browser session, which has a pending login of its own.
/// The network refuses (or delays forever) the Consumer's back-channel request and hands a copy
/// to the attacker, who redeems the code in its own flow.
///
/// v1.1 (TSR-CONSUMER-13): the Consumer refuses the foreign state locally, so no result request
/// is sent and there is nothing to capture. The v1 behaviour (no state check: the code went out
/// with the victim's `sid`) is reproduced by handing the library the victim's pending login
/// with the callback's state rewritten to match: the refused request is captured, v1's burn
/// (TSR-RESULT-11) never runs because the request never reached the Authority, and the
/// attacker is logged in as the victim.
#[tokio::test]
async fn the_fixation_race_is_refused_before_the_back_channel() {
    use tessera::consumer::PendingStore as _;
    let d = start().await;
    let p = proxy(Tamper::RefuseFirst, "/v1/result").await;
    let c = d.consumer_with(None, None, Some(proxied(&p))).unwrap();
    let store = tessera::consumer::MemoryPendingStore::default();
    let results = |p: &Proxy| {
        p.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _, _)| path == "/v1/result")
            .map(|(_, _, body)| serde_json::from_str::<serde_json::Value>(body).unwrap())
            .collect::<Vec<_>>()
    };

    // The attacker's flow, in the attacker's browser session at the Consumer.
    let attackers = c.begin_login(None).await.unwrap();
    let attackers_state = attackers.pending.state.clone();
    store.put("attacker-browser", attackers.pending);
    // The victim's own flow, pending in the victim's browser session.
    let victims = c.begin_login(None).await.unwrap();
    let victims_state = victims.pending.state.clone();
    store.put("victim-browser", victims.pending.clone());
    // The victim is made to open the attacker's authorize URL, and allows.
    let victim = Agent::new();
    let cb = victim
        .authorize(&attackers.authorize_url, &d.username, &d.password, "allow")
        .await;
    let params = CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap();
    assert_eq!(params.state.as_deref(), Some(attackers_state.as_str()));

    // v1.1: the callback arrives in the victim's browser session; its state names none of
    // that session's pending logins, so nothing is taken and nothing is sent.
    let taken = store.take("victim-browser", params.state.as_deref().unwrap());
    assert!(taken.is_none());
    let e = c.complete_login(taken, &params).await.unwrap_err();
    assert!(matches!(e, Error::NoPendingLogin), "{e:?}");
    assert!(
        results(&p).is_empty(),
        "no result request left the Consumer"
    );
    assert_eq!(p.hits.load(Ordering::SeqCst), 0);

    // v1 behaviour: the code goes out with the victim's sid; the network refuses it and the
    // attacker captures it.
    let v1_callback = CallbackParams {
        state: Some(victims_state.clone()),
        ..params.clone()
    };
    let e = c
        .complete_login(store.take("victim-browser", &victims_state), &v1_callback)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ServerAuthorizationMissing { status: 502 }),
        "{e:?}"
    );
    let captured = results(&p);
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0]["sid"], victims.pending.sid.as_str());
    let stolen_code = captured[0]["code"].as_str().unwrap().to_owned();
    // The attacker completes its own flow with the captured code, in its own browser session.
    let replay = CallbackParams {
        code: Some(stolen_code),
        error: None,
        iss: Some(d.issuer.clone()),
        state: Some(attackers_state.clone()),
    };
    let stolen = c
        .complete_login(store.take("attacker-browser", &attackers_state), &replay)
        .await
        .expect("under v1 behaviour the captured code logs the attacker in");
    // ... as the victim: the same Subject as the victim's own honest login.
    let honest = c.begin_login(None).await.unwrap();
    let cb = Agent::new()
        .authorize(&honest.authorize_url, &d.username, &d.password, "allow")
        .await;
    let own = c
        .complete_login(
            Some(honest.pending),
            &CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stolen.subject_id(), own.subject_id());
    d.stop().await;
}

/// spec TSR-CONSUMER-13: one browser session, two tabs, two logins started one after the
/// other; both callbacks complete (in either order), and a forged callback in between cancels
/// neither (TSR-CONSUMER-6).
#[tokio::test]
async fn two_tabs_both_log_in() {
    let d = start().await;
    d.add_subject("mallory", "mallory-password").unwrap();
    let browser = Agent::new();
    let first = begin(&d, &browser).await;
    let second = begin(&d, &browser).await;
    assert_ne!(first, second);
    // Each tab at the Authority (the browser shares its cookies, as tabs do).
    let cb1 = browser
        .authorize(&first, &d.username, &d.password, "allow")
        .await;
    let cb2 = browser
        .authorize(&second, &d.username, &d.password, "allow")
        .await;
    assert_ne!(query_param(&cb1, "state"), query_param(&cb2, "state"));
    // A forged callback (someone else's flow) arrives first: refused, both logins survive.
    let attacker = Agent::new();
    let a = begin(&d, &attacker).await;
    let foreign = attacker
        .authorize(&a, "mallory", "mallory-password", "allow")
        .await;
    assert_eq!(
        reason(&deliver(&browser, &foreign).await).as_deref(),
        Some("no_pending_login")
    );
    // The second tab completes first, then the first tab.
    let r = deliver(&browser, &cb2).await;
    assert_eq!(
        r.location().as_deref(),
        Some("/"),
        "second tab: {:?}",
        reason(&r)
    );
    let r = deliver(&browser, &cb1).await;
    assert_eq!(
        r.location().as_deref(),
        Some("/"),
        "first tab: {:?}",
        reason(&r)
    );
    let home = browser.get(&absolute(&d, "/")).await;
    assert!(home.body.contains("You are logged in"), "{}", home.body);
    // Each callback was used once.
    assert_eq!(
        reason(&deliver(&browser, &cb1).await).as_deref(),
        Some("no_pending_login")
    );
    d.stop().await;
}

/// spec TSR-CONSUMER-15: a double-submitted refresh (two concurrent refreshes of one login, and
/// a third just after) keeps the user logged in: the Consumer library sends one refresh request
/// and every caller gets its outcome. Without single flight (two Consumer instances, each
/// refreshing the same login at once), the second request is a reuse of the rotated sid and the
/// family is revoked (TSR-REFRESH-5): the v1 behaviour that logged the user out.
#[tokio::test]
async fn a_double_submitted_refresh_keeps_the_user_logged_in() {
    let d = start().await;
    let p = proxy(Tamper::Record, "/none").await;
    let c = d.consumer_with(None, None, Some(proxied(&p))).unwrap();
    let login = |c: Consumer| {
        let d = &d;
        async move {
            let start = c.begin_login(None).await.unwrap();
            let cb = Agent::new()
                .authorize(&start.authorize_url, &d.username, &d.password, "allow")
                .await;
            c.complete_login(
                Some(start.pending),
                &CallbackParams::from_query(cb.split_once('?').unwrap().1).unwrap(),
            )
            .await
            .unwrap()
        }
    };
    let l = login(c.clone()).await;
    let (a, b) = tokio::join!(c.refresh(&l), c.refresh(&l));
    let (a, b) = (a.expect("first submit"), b.expect("second submit"));
    assert_eq!(a.sid, b.sid, "one refresh, one new sid");
    let late = c.refresh(&l).await.expect("a late third submit");
    assert_eq!(late.sid, a.sid);
    let refreshes = p
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _, _)| path == "/v1/refresh")
        .count();
    assert_eq!(refreshes, 1, "one request reached the Authority");
    c.subject_data(&a).await.expect("still logged in");
    c.refresh(&a).await.expect("and the new sid refreshes");

    // Without single flight: two instances refresh the same login at once.
    let l = login(c.clone()).await;
    let other = d.consumer_with(None, None, None).unwrap();
    let (x, y) = tokio::join!(c.refresh(&l), other.refresh(&l));
    let failed = [&x, &y].iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 1, "one of the two is a reuse: {x:?} {y:?}");
    let winner = x.or(y).unwrap();
    let e = c.subject_data(&winner).await.unwrap_err();
    assert!(e.is_logout(), "the family was revoked: {e:?}");
    d.stop().await;
}

/// spec TSR-CONSUMER-14: a login starts only on a same-origin POST with the browser session's
/// CSRF token. A cross-site page can make the victim's browser GET /login (which only shows a
/// button) or POST /login without the token (refused before any handshake).
#[tokio::test]
async fn a_login_cannot_be_started_cross_site() {
    let d = start().await;
    let victim = Agent::new();
    // GET never starts a login: a page, no redirect to the Authority
    let page = victim.get(&format!("{}/login", d.consumer_url)).await;
    assert_eq!(page.status, 200);
    assert!(page.location().is_none());
    assert!(page.body.contains("method=\"post\""), "{}", page.body);
    // a forged POST (the attacker cannot read the token): refused, no Authority involved
    let forged = victim
        .post_form(&format!("{}/login", d.consumer_url), &[("csrf", "guess")])
        .await;
    assert_eq!(forged.status, 303);
    assert_eq!(reason(&forged).as_deref(), Some("login_csrf"));
    let bare = Agent::new()
        .post_form(&format!("{}/login", d.consumer_url), &[])
        .await;
    assert_eq!(reason(&bare).as_deref(), Some("login_csrf"));
    // the token of the victim's own page starts it
    let csrf = agent::form_value(&page.body, "csrf").unwrap();
    let ok = victim
        .post_form(&format!("{}/login", d.consumer_url), &[("csrf", &csrf)])
        .await;
    assert!(
        ok.location()
            .is_some_and(|l| l.starts_with(&format!("{}/authorize?request=", d.issuer))),
        "{:?}",
        ok.location()
    );
    d.stop().await;
}

/// spec TSR-HAWK-17: the response MAC covers the status (`ext="status=…"`); a response whose
/// status was changed on the way is refused although its MAC and body verify.
#[tokio::test]
async fn a_response_with_a_changed_status_is_refused() {
    let d = start().await;
    let p = proxy(Tamper::Status, "/v1/handshake").await;
    let c = d.consumer_with(None, None, Some(proxied(&p))).unwrap();
    let e = c.begin_login(None).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse(m) if m.contains("status")),
        "{e:?}"
    );
    assert_eq!(p.hits.load(Ordering::SeqCst), 1);
    d.stop().await;
}
