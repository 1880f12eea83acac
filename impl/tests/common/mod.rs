//! Test harness: an Authority router driven with `tower::ServiceExt::oneshot`, a Hawk client,
//! and helpers for the login flow.
#![allow(dead_code, clippy::missing_panics_doc)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use std::sync::Arc;
use tessera::clock::{Clock, TestClock};
use tessera::config::{Config, Issuer};
use tessera::hawk::{self, Artifacts, Credentials, Payload};
use tessera::rand::{token, SystemRandom};
use tessera::server::{app, AppState, Authority};
use tessera::store::Store;
use tessera::wire::Fixtures;
use tower::ServiceExt as _;

pub const ISSUER: &str = "http://127.0.0.1:7700";
pub const CONSUMER: &str = "conformance-consumer";
pub const DELEGATE: &str = "conformance-delegate";
pub const REDIRECT: &str = "https://consumer.example/callback";

/// Hawk credentials for a request: Consumer or ticket.
#[derive(Debug, Clone)]
pub struct Creds {
    pub id: String,
    pub key: String,
    pub app: Option<String>,
    pub dlg: Option<String>,
}

impl Creds {
    pub fn ticket(t: &Value) -> Self {
        Self {
            id: t["id"].as_str().unwrap().to_owned(),
            key: t["key"].as_str().unwrap().to_owned(),
            app: t["app"].as_str().map(str::to_owned),
            dlg: t["dlg"].as_str().map(str::to_owned),
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Resp {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    /// `status error` or `200`, for table-driven checks.
    pub fn outcome(&self) -> String {
        if self.status == StatusCode::OK {
            "200".to_owned()
        } else {
            format!("{} {}", self.status.as_u16(), self.error())
        }
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Harness {
    pub state: AppState,
    pub router: Router,
    pub clock: Arc<TestClock>,
    pub fixtures: Fixtures,
    pub rng: SystemRandom,
}

pub fn config(conformance: bool) -> Config {
    let mut c = Config::new(Issuer::parse(ISSUER).unwrap());
    c.conformance = conformance;
    c
}

impl Harness {
    /// Conformance mode, in-memory store.
    pub fn new() -> Self {
        Self::build(Authority::builder(config(true)), None)
    }

    /// Conformance mode on `store`, with the clock at `start` (if given).
    pub fn with_store(store: Arc<dyn Store>, start: Option<i64>) -> Self {
        Self::build(Authority::builder(config(true)).store(store), start)
    }

    pub fn build(builder: Authority, start: Option<i64>) -> Self {
        let clock = Arc::new(match start {
            Some(s) => TestClock::new(s),
            None => TestClock::starting_now(),
        });
        let state = builder.test_clock(clock.clone()).build().unwrap();
        let fixtures = state.fixtures().cloned().unwrap_or(Fixtures {
            issuer: ISSUER.into(),
            consumers: vec![],
            subjects: vec![],
        });
        Self {
            router: app(state.clone()),
            state,
            clock,
            fixtures,
            rng: SystemRandom::new(),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn consumer(&self, id: &str) -> Creds {
        let c = self
            .fixtures
            .consumers
            .iter()
            .find(|c| c.consumer_id == id)
            .unwrap();
        Creds {
            id: c.consumer_id.clone(),
            key: c.key.clone(),
            app: None,
            dlg: None,
        }
    }

    pub fn password(&self, username: &str) -> String {
        self.fixtures
            .subjects
            .iter()
            .find(|s| s.username == username)
            .unwrap()
            .password
            .clone()
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            json,
        }
    }

    /// A Hawk artifacts + header for a request.
    pub fn sign(
        &self,
        creds: &Creds,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        ts: i64,
        nonce: &str,
    ) -> (Artifacts, String) {
        let issuer = Issuer::parse(ISSUER).unwrap();
        let mut a = Artifacts::new(
            method,
            path,
            issuer.host(),
            issuer.port(),
            u64::try_from(ts).unwrap(),
            nonce,
        );
        if let Some(b) = body {
            a = a.with_payload(Some("application/json"), b);
        }
        if let Some(app) = &creds.app {
            a = a.with_app(app.clone(), creds.dlg.clone());
        }
        let c = Credentials::new(creds.id.clone(), creds.key.as_bytes(), "sha256").unwrap();
        let h = hawk::client_authorization_header(&c, &a).unwrap();
        (a, h)
    }

    /// A signed request; checks `Server-Authorization` on the response (TSR-HAWK-12/13)
    /// unless the reply is a stale-timestamp or an unauthenticated one.
    pub async fn call(&self, creds: &Creds, method: &str, path: &str, body: Option<Value>) -> Resp {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let nonce = token(&self.rng, 12);
        let (artifacts, auth) =
            self.sign(creds, method, path, bytes.as_deref(), self.now(), &nonce);
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header(header::AUTHORIZATION, auth);
        if bytes.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Body::from(bytes.unwrap_or_default())).unwrap();
        let resp = self.send(req).await;
        check_common_headers(&resp);
        let c = Credentials::new(creds.id.clone(), creds.key.as_bytes(), "sha256").unwrap();
        // Errors before the MAC verified (and the stale reply) are not signed; everything
        // else must be (TSR-HAWK-12), and whatever is signed must verify (TSR-HAWK-13).
        let may_be_unsigned = matches!(
            resp.error(),
            "stale_timestamp"
                | "invalid_credentials"
                | "unauthenticated"
                | "invalid_header"
                | "payload_too_large"
                | "unsupported_media_type"
        );
        match resp.header("server-authorization") {
            None if may_be_unsigned => {}
            None => panic!(
                "no Server-Authorization on {} {path}: {}",
                resp.outcome(),
                resp.json
            ),
            Some(sa) => {
                hawk::authenticate_response(
                    sa,
                    &c,
                    &artifacts,
                    Some(Payload {
                        content_type: Some("application/json"),
                        body: &resp.body,
                    }),
                )
                .unwrap();
            }
        }
        resp
    }

    pub async fn post(&self, creds: &Creds, path: &str, body: Value) -> Resp {
        self.call(creds, "POST", path, Some(body)).await
    }

    pub async fn get(&self, creds: &Creds, path: &str) -> Resp {
        self.call(creds, "GET", path, None).await
    }

    /// An unauthenticated JSON request.
    pub async fn plain(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// A fresh `state` as the Consumer library makes it (spec TSR-CONSUMER-13).
    pub fn state(&self) -> String {
        tessera::rand::token(&self.rng, 16)
    }

    pub async fn handshake(
        &self,
        creds: &Creds,
        grants: &[&str],
        scopes: &[&str],
    ) -> (Resp, String) {
        let state = self.state();
        let redirect = if creds.id == DELEGATE {
            "https://delegate.example/callback"
        } else {
            REDIRECT
        };
        let r = self
            .post(
                creds,
                "/v1/handshake",
                json!({ "redirect_uri": redirect, "grants": grants, "scopes": scopes,
                        "state": state }),
            )
            .await;
        (r, state)
    }

    /// Decide through `POST /conformance/authorize`; returns the callback URL.
    pub async fn conformance_authorize(
        &self,
        authorize_url: &str,
        username: &str,
        decision: &str,
        scopes: Option<&[&str]>,
    ) -> Resp {
        let mut body =
            json!({ "authorize_url": authorize_url, "username": username, "decision": decision });
        if let Some(s) = scopes {
            body["scopes"] = json!(s);
        }
        self.plain("POST", "/conformance/authorize", Some(body))
            .await
    }

    /// Handshake + allow as alice: (sid, code, state).
    pub async fn authorized(
        &self,
        creds: &Creds,
        grants: &[&str],
        scopes: &[&str],
    ) -> (String, String, String) {
        let (hs, verifier) = self.handshake(creds, grants, scopes).await;
        assert_eq!(hs.status, StatusCode::OK, "{}", hs.json);
        let r = self
            .conformance_authorize(
                hs.json["authorize_url"].as_str().unwrap(),
                "alice",
                "allow",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        let code = query_param(r.json["redirect"].as_str().unwrap(), "code").unwrap();
        (hs.json["sid"].as_str().unwrap().to_owned(), code, verifier)
    }

    /// A whole login up to an active session: (sid, result response).
    pub async fn logged_in(
        &self,
        creds: &Creds,
        grants: &[&str],
        scopes: &[&str],
    ) -> (String, Resp) {
        let (sid, code, _) = self.authorized(creds, grants, scopes).await;
        let r = self
            .post(creds, "/v1/result", json!({ "sid": sid, "code": code }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        (sid, r)
    }
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// spec TSR-CONV-2 on every JSON response.
pub fn check_common_headers(r: &Resp) {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.json
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    if r.status == StatusCode::UNAUTHORIZED {
        assert!(
            r.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Hawk")),
            "TSR-ERROR-4"
        );
    }
}

/// Collects failures of a table-driven test and reports them all at once.
#[derive(Debug, Default)]
pub struct Failures(pub Vec<String>);

impl Failures {
    pub fn check(&mut self, name: &str, got: impl std::fmt::Display, want: impl std::fmt::Display) {
        let (g, w) = (got.to_string(), want.to_string());
        if g != w {
            self.0.push(format!("{name}: got {g}, want {w}"));
        }
    }
    pub fn assert(self) {
        assert!(
            self.0.is_empty(),
            "{} failure(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

// HTML pages

pub fn find_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

pub fn cookies(r: &Resp) -> Vec<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect()
}

pub fn page_headers_ok(r: &Resp) {
    // TSR-AUTHZ-4
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

pub async fn form(h: &Harness, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Resp {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    h.send(req).await
}

pub async fn page(h: &Harness, path: &str, cookie: &str) -> Resp {
    let mut req = Request::builder().uri(path);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    h.send(req.body(Body::empty()).unwrap()).await
}

/// Logs `username` in through the HTML forms and decides; returns the callback URL.
pub async fn html_authorize(
    h: &Harness,
    authorize_url: &str,
    username: &str,
    password: &str,
    decision: &str,
    scopes: &[&str],
) -> String {
    let path = &authorize_url[authorize_url.find("/authorize").unwrap()..];
    let request = query_param(authorize_url, "request").unwrap();
    let p = page(h, path, "").await;
    assert_eq!(
        p.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&p.body)
    );
    let browser = cookies(&p)
        .into_iter()
        .find(|c| c.starts_with("tessera_browser="))
        .unwrap();
    let csrf = find_value(&String::from_utf8(p.body.clone()).unwrap(), "csrf_token");
    let ok = form(
        h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", username),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(
        ok.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&ok.body)
    );
    let login = cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("tessera_login="))
        .unwrap();
    let jar = format!("{browser}; {login}");
    let consent = page(h, path, &jar).await;
    let csrf = find_value(
        &String::from_utf8(consent.body.clone()).unwrap(),
        "csrf_token",
    );
    let mut fields = vec![
        ("request", request.as_str()),
        ("csrf_token", csrf.as_str()),
        ("decision", decision),
    ];
    fields.extend(scopes.iter().map(|s| ("scope", *s)));
    let done = form(h, "/authorize/consent", &jar, &fields).await;
    assert_eq!(
        done.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&done.body)
    );
    done.header("location").unwrap().to_owned()
}
