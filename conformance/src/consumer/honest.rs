//! `A`, the honest Authority of the Consumer profile (spec A.6): the reference Authority in
//! conformance mode on its real clock, started in process, with the Consumer under test
//! registered. The suite reaches it over HTTP; in process it only registers the Consumer (as an
//! operator would, chapter 3) and records which back-channel requests reach it, and the `sid`
//! of every handshake and refresh answer. For `refresh-elsewhere` and `revoke-at-authority`
//! (spec A.6.4) the suite itself signs requests to `A` with the Consumer's key, as a second
//! holder of the Consumer's `sid` would; those are not the Consumer's back channel.

use super::BackChannel;
use crate::hawk::{self, Artifacts, Credentials};
use crate::symbols::random_token;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// The running honest Authority.
#[derive(Debug)]
pub struct Honest {
    pub issuer: String,
    pub consumer_id: String,
    /// The Consumer's key at `A`.
    pub key: String,
    sids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    answers: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    port: u16,
    http: reqwest::Client,
    tx: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[derive(Clone)]
struct Recorder {
    log: BackChannel,
    sids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    answers: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The header marking the suite's own requests to `A`, which are not the Consumer's.
const SUITE_REQUEST: &str = "x-tessera-suite-request";

/// Grants and scopes the Consumer under test is registered for, and asks for.
pub const GRANTS: &[&str] = &["staff"];
pub const SCOPES: &[&str] = &["email"];

impl Honest {
    /// Starts `A` with `consumer_id` registered for `redirect_uri`.
    pub async fn start(
        consumer_id: &str,
        redirect_uri: &str,
        log: BackChannel,
    ) -> Result<Honest, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot bind the honest Authority: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let issuer = format!("http://127.0.0.1:{port}");
        let mut config = tessera::config::Config::new(
            tessera::config::Issuer::parse(&issuer).map_err(|e| e.to_string())?,
        );
        config.conformance = true;
        let key = random_token();
        let consumer = tessera::core::Consumer {
            id: consumer_id.into(),
            key: key.clone(),
            name: "Consumer under test".into(),
            redirect_uris: vec![redirect_uri.into()],
            grants: GRANTS.iter().map(|s| (*s).to_string()).collect(),
            scopes: SCOPES.iter().map(|s| (*s).to_string()).collect(),
            may_delegate: false,
            delegates: vec![],
        };
        let state = tokio::task::spawn_blocking(move || -> Result<_, String> {
            // real clock: the Consumer under test signs with its own; no restart fence, since
            // every key is fresh at this start (spec A.2)
            let state = tessera::server::Authority::builder(config)
                .real_clock()
                .restart_fence(false)
                .build()
                .map_err(|e| e.to_string())?;
            state
                .store()
                .put_consumer(&consumer)
                .map_err(|e| e.to_string())?;
            Ok(state)
        })
        .await
        .map_err(|e| e.to_string())??;
        let sids = std::sync::Arc::default();
        let answers = std::sync::Arc::default();
        let recorder = Recorder {
            log,
            sids: std::sync::Arc::clone(&sids),
            answers: std::sync::Arc::clone(&answers),
        };
        let router = tessera::server::app(state)
            .layer(axum::middleware::from_fn_with_state(recorder, record));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tessera::server::serve(listener, router, async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Honest {
            issuer,
            consumer_id: consumer_id.into(),
            key,
            sids,
            answers,
            port,
            http,
            tx,
            task,
        })
    }

    /// Every `sid` `A` issued to the Consumer so far (handshakes and refreshes), in order.
    pub fn sids(&self) -> Vec<String> {
        self.sids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `A`'s answers to the Consumer's refresh requests so far, as `200` or `400 session_reused`.
    pub fn refresh_answers(&self) -> Vec<String> {
        self.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `POST {path}` `{"sid": <the sid A issued last>}` signed with the Consumer's key, as a
    /// second holder of the Consumer's `sid` would send it; the status must be 200.
    pub async fn act_on_last_sid(&self, path: &str) -> Result<(), String> {
        let sid = self
            .sids()
            .last()
            .cloned()
            .ok_or("A has issued no sid yet")?;
        let body = serde_json::to_vec(&serde_json::json!({ "sid": sid })).expect("json");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let artifacts = Artifacts {
            method: "POST".into(),
            target: path.into(),
            host: "127.0.0.1".into(),
            port: self.port,
            ts: i64::try_from(now).map_err(|e| e.to_string())?,
            nonce: random_token()[..12].to_string(),
            hash: Some(hawk::payload_hash("application/json", &body)),
            ..Artifacts::default()
        };
        let credentials = Credentials {
            id: self.consumer_id.clone(),
            key: self.key.clone(),
        };
        let url = format!("{}{path}", self.issuer);
        let r = self
            .http
            .post(&url)
            .header(
                "authorization",
                hawk::authorization_header(&credentials, &artifacts, None),
            )
            .header("content-type", "application/json")
            .header(SUITE_REQUEST, "1")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = r.status().as_u16();
        if status != 200 {
            let text = r.text().await.unwrap_or_default();
            return Err(format!("POST {path} at A answered {status} {text:.300}"));
        }
        Ok(())
    }

    pub async fn stop(self) {
        let _ = self.tx.send(());
        let _ = self.task.await;
    }
}

/// Records every `/v1/…` request of the Consumer as `A {path}` and its answer to a refresh,
/// and the `sid` of every handshake and refresh answer (the suite's own requests too).
async fn record(State(r): State<Recorder>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !path.starts_with("/v1/") {
        return next.run(req).await;
    }
    let by_consumer = !req.headers().contains_key(SUITE_REQUEST);
    if by_consumer {
        r.log.record(format!("A {path}"));
    }
    let resp = next.run(req).await;
    if path != "/v1/handshake" && path != "/v1/refresh" {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let answer = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default();
    if let Some(sid) = answer["sid"].as_str() {
        r.sids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sid.to_string());
    }
    if path == "/v1/refresh" && by_consumer {
        let status = parts.status.as_u16();
        let text = match answer["error"].as_str() {
            Some(code) => format!("{status} {code}"),
            None => status.to_string(),
        };
        r.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
