//! `A`, the honest Authority of the Consumer profile (spec A.6): the reference Authority in
//! conformance mode on its real clock, started in process, with the Consumer under test
//! registered. The suite reaches it over HTTP; in process it only registers the Consumer (as an
//! operator would, chapter 3) and records which back-channel requests reach it.

use super::BackChannel;
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
    tx: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[derive(Clone)]
struct Recorder {
    log: BackChannel,
    sids: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

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
        let recorder = Recorder {
            log,
            sids: std::sync::Arc::clone(&sids),
        };
        let router = tessera::server::app(state)
            .layer(axum::middleware::from_fn_with_state(recorder, record));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tessera::server::serve(listener, router, async move {
            let _ = rx.await;
        }));
        Ok(Honest {
            issuer,
            consumer_id: consumer_id.into(),
            key,
            sids,
            tx,
            task,
        })
    }

    /// Every `sid` `A` issued to the Consumer so far.
    pub fn sids(&self) -> Vec<String> {
        self.sids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub async fn stop(self) {
        let _ = self.tx.send(());
        let _ = self.task.await;
    }
}

/// Records every `/v1/…` request as `A {path}`, and the `sid` of every handshake answer.
async fn record(State(r): State<Recorder>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !path.starts_with("/v1/") {
        return next.run(req).await;
    }
    r.log.record(format!("A {path}"));
    let resp = next.run(req).await;
    if path != "/v1/handshake" {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    if let Some(sid) = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["sid"].as_str().map(String::from))
    {
        r.sids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sid);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
