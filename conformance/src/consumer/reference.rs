//! The reference Consumer in test mode (spec A.6.1): the demo Consumer (`tessera::demo::app`)
//! on the Rust Consumer library's axum integration, with the `/tessera-test/` routes in
//! front of it. Started in process when `--profile consumer` has no `--target`; the suite
//! reaches it over HTTP only.
//!
//! `POST /tessera-test/reset` builds a new [`tessera::consumer::Consumer`] from the Authorities'
//! metadata ([`tessera::consumer::Consumer::discover`], TSR-META-1) and a new `WebConsumer`
//! around it, so every session and pending login of the previous scenario is gone; requests
//! other than `/tessera-test/…` go to the demo Consumer of the current configuration.
//! `POST /tessera-test/refresh` calls the integration's own refresh
//! ([`tessera::consumer::web::WebConsumer::refresh`], what the demo's `POST /refresh` does) from
//! as many tasks at once as asked; `POST /tessera-test/subject` and `/logout` its
//! `subject_data` (the demo's home page) and `logout` (the demo's `POST /logout`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tessera::consumer::web::{WebConsumer, WebOptions};
use tessera::consumer::{default_http_client, Consumer, Registration};
use tower::ServiceExt as _;

#[derive(Default)]
struct Current {
    web: Option<(WebConsumer, Router)>,
    /// The last refusal per browser session (the session cookie's value).
    errors: HashMap<String, String>,
}

#[derive(Clone)]
struct TestMode {
    base: String,
    current: Arc<Mutex<Current>>,
}

impl TestMode {
    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running reference Consumer in test mode, on a runtime of its own (its own thread): a
/// Consumer that hangs its threads (an endless loop, a deadlock) cannot stop the suite's
/// runtime, whose timeouts then report it.
#[derive(Debug)]
pub struct ReferenceConsumer {
    url: String,
    tx: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// How long [`ReferenceConsumer::stop`] waits for it to finish; one that hangs is left behind.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

const COOKIE: &str = "tessera_consumer";
const ERROR_PREFIX: &str = "/login/error?reason=";

impl ReferenceConsumer {
    /// Starts it on an ephemeral loopback port, with no Authority until the first reset.
    pub async fn start() -> Result<ReferenceConsumer, String> {
        Self::start_on(0).await
    }

    /// Starts it on loopback port `port` (0: any free one). Loopback only: in test mode
    /// anyone who reaches it can reconfigure its Authorities (TSR-CONF-7).
    pub async fn start_on(port: u16) -> Result<ReferenceConsumer, String> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("cannot bind the reference Consumer on 127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let url = format!("http://127.0.0.1:{port}");
        let router = app(url.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the reference Consumer's runtime: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("reference-consumer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = tessera::server::serve(listener, router, async move {
                        let _ = rx.await;
                    })
                    .await;
                });
                runtime.shutdown_timeout(STOP_WAIT);
            })
            .map_err(|e| format!("cannot start the reference Consumer's thread: {e}"))?;
        Ok(ReferenceConsumer { url, tx, thread })
    }

    /// Its base URL (the `--target` of the Consumer profile).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops it, waiting at most [`STOP_WAIT`] (a hung one is left to the process's exit).
    pub async fn stop(self) {
        let _ = self.tx.send(());
        let thread = self.thread;
        let joined = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + STOP_WAIT;
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        });
        let _ = joined.await;
    }
}

/// The test-mode routes in front of the demo Consumer (`base`: its own base URL).
pub fn app(base: String) -> Router {
    let state = TestMode {
        base,
        current: Arc::default(),
    };
    Router::new()
        .route("/tessera-test/consumer", get(describe))
        .route("/tessera-test/reset", post(reset))
        .route("/tessera-test/session", get(session))
        .route("/tessera-test/refresh", post(refresh))
        .route("/tessera-test/subject", post(subject))
        .route("/tessera-test/logout", post(logout))
        .fallback(forward)
        .with_state(state)
}

/// spec TSR-CONF-8
async fn describe(State(t): State<TestMode>) -> Response {
    Json(json!({
        "redirect_uri": format!("{}/callback", t.base),
        "login_url": format!("{}/login", t.base),
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct ResetBody {
    authorities: Vec<AuthorityBody>,
}

#[derive(serde::Deserialize)]
struct AuthorityBody {
    issuer: String,
    consumer_id: String,
    key: String,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// spec TSR-CONF-9: a fresh Consumer from the Authorities' metadata; 400 when one is refused.
async fn reset(State(t): State<TestMode>, Json(body): Json<ResetBody>) -> Response {
    *t.lock() = Current::default();
    let http = default_http_client();
    let mut configs = Vec::new();
    for a in body.authorities {
        let registration = Registration {
            consumer_id: a.consumer_id,
            key: a.key,
            redirect_uri: format!("{}/callback", t.base),
            grants: a.grants,
            scopes: a.scopes,
        };
        match Consumer::discover(&http, &a.issuer, registration).await {
            Ok(c) => configs.push(c),
            Err(e) => {
                return (StatusCode::BAD_REQUEST, Json(json!({"error": e.kind()}))).into_response()
            }
        }
    }
    let consumer = match Consumer::new(configs) {
        Ok(c) => c,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": e.kind()}))).into_response()
        }
    };
    let web = WebConsumer::new(consumer, WebOptions::default());
    let router = tessera::demo::app::router(&web);
    t.lock().web = Some((web, router));
    Json(json!({})).into_response()
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// spec TSR-CONF-10: who this browser session is logged in as (the library keys a login by
/// (issuer, sub), TSR-CONSUMER-10), and its last refusal.
async fn session(State(t): State<TestMode>, headers: HeaderMap) -> Response {
    Json(session_state(&t, &headers)).into_response()
}

/// The body of `GET /tessera-test/session` for the browser session of `headers`.
fn session_state(t: &TestMode, headers: &HeaderMap) -> serde_json::Value {
    let c = t.lock();
    let logged_in = c
        .web
        .as_ref()
        .and_then(|(web, _)| web.session(headers).login)
        .map(|l| {
            let id = l.subject_id();
            json!({"issuer": id.issuer, "sub": id.sub})
        });
    let error = cookie(headers).and_then(|id| c.errors.get(&id).cloned());
    json!({"logged_in": logged_in, "error": error})
}

/// The current integration, if a reset configured one.
fn current_web(t: &TestMode) -> Option<WebConsumer> {
    t.lock().web.as_ref().map(|(web, _)| web.clone())
}

/// Remembers `e` as the browser session's last refusal (its wire code for the Authority's).
fn remember(t: &TestMode, headers: &HeaderMap, e: &tessera::consumer::Error) {
    let code = match e {
        tessera::consumer::Error::Authority { code, .. } => code.clone(),
        other => other.kind().to_string(),
    };
    if let Some(id) = cookie(headers) {
        t.lock().errors.insert(id, code);
    }
}

/// spec TSR-CONF-14: the Subject data through the integration's `subject_data` (what the demo's
/// home page shows: it refreshes an expired ticket first and logs out on a logout error), after
/// the library's checks (`Server-Authorization`, the data's `sub`).
async fn subject(State(t): State<TestMode>, headers: HeaderMap) -> Response {
    let mut data = serde_json::Value::Null;
    if let Some(web) = current_web(&t) {
        let browser = web.session(&headers);
        if browser.login.is_some() {
            match web.subject_data(&browser).await {
                Ok(d) => data = serde_json::Value::Object(d),
                Err(e) => remember(&t, &headers, &e),
            }
        }
    }
    let mut body = session_state(&t, &headers);
    body["data"] = data;
    Json(body).into_response()
}

/// spec TSR-CONF-15: the integration's logout (what the demo's `POST /logout` does): the login
/// revoked at its Authority, the session forgotten, the cookie cleared.
async fn logout(State(t): State<TestMode>, headers: HeaderMap) -> Response {
    let mut set_cookie = None;
    if let Some(web) = current_web(&t) {
        let browser = web.session(&headers);
        if browser.login.is_some() {
            let (cookie, outcome) = web.logout(&browser).await;
            if let Err(e) = outcome {
                remember(&t, &headers, &e);
            }
            set_cookie = Some(cookie);
        }
    }
    let mut r = Json(session_state(&t, &headers)).into_response();
    if let Some(v) = set_cookie.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(serde::Deserialize)]
struct RefreshBody {
    #[serde(default = "one")]
    concurrent: u32,
}

fn one() -> u32 {
    1
}

/// spec TSR-CONF-13: `concurrent` refreshes of this browser session's login at once, each
/// from the session as it is now (as that many requests arriving together), through the
/// integration's refresh, which stores the new login or logs the session out
/// (TSR-CONSUMER-11) and shares one request among them (TSR-CONSUMER-15); then the session's
/// state, as `GET /tessera-test/session` says it.
async fn refresh(
    State(t): State<TestMode>,
    headers: HeaderMap,
    Json(body): Json<RefreshBody>,
) -> Response {
    if !(1..=8).contains(&body.concurrent) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "concurrent must be 1 to 8"})),
        )
            .into_response();
    }
    if let Some(web) = current_web(&t) {
        let browser = web.session(&headers);
        if browser.login.is_some() {
            let tasks: Vec<_> = (0..body.concurrent)
                .map(|_| {
                    let (web, browser) = (web.clone(), browser.clone());
                    tokio::spawn(async move { web.refresh(&browser).await })
                })
                .collect();
            for task in tasks {
                if let Ok(Err(e)) = task.await {
                    remember(&t, &headers, &e);
                }
            }
        }
    }
    session(State(t), headers).await
}

/// Everything else: the demo Consumer; a redirect to its error page is remembered as the
/// browser session's last refusal.
async fn forward(State(t): State<TestMode>, req: Request) -> Response {
    let Some(router) = t.lock().web.as_ref().map(|(_, r)| r.clone()) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no Authority configured: POST /tessera-test/reset first",
        )
            .into_response();
    };
    let id = cookie(req.headers());
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if let (Some(id), Some(reason)) = (
        id,
        resp.headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix(ERROR_PREFIX)),
    ) {
        t.lock().errors.insert(id, reason.to_string());
    }
    resp.map(Body::new)
}
