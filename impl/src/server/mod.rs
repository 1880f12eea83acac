//! The HTTP layer (axum): parses, loads, calls the sans-IO core, persists, renders.
//!
//! Build a [`AppState`] with [`Authority::builder`], turn it into a [`Router`] with [`app`],
//! and serve it with [`serve`] (or [`spawn`] for an in-process server on an ephemeral port).
//!
//! By concept: `state` (the handlers' shared state and the store thread pool), `builder`
//! ([`Authority`]), `seal_keys` (the ticket sealing keys in the store), `fixtures`
//! (conformance fixtures), `purge` (forgetting expired records), `listener` (the HTTP/1.1
//! listener and its limits), `api` (the JSON API), `auth` (Hawk verification of API calls),
//! `pages` (the authorize pages), `cookies`, `login_limit` and `rate` (throttles),
//! `conformance` (appendix A), `openapi`; this file: the router and the in-process server.

mod api;
mod auth;
mod builder;
mod conformance;
mod cookies;
mod fixtures;
mod listener;
mod login_limit;
mod openapi;
mod pages;
mod purge;
mod rate;
mod seal_keys;
mod state;

pub use builder::{Authority, BuildError};
pub use purge::{purge_expired, spawn_purger, PURGE_ALL_EVERY, PURGE_UNDECIDED_EVERY};
pub use seal_keys::{reload_sealing_keys, retire_sealing_key, rotate_sealing_key, sealing_keys};
pub use state::AppState;

use crate::config::{Config, Issuer};
use crate::error::Error;
use axum::Router;
use std::net::SocketAddr;

/// Largest request body (spec TSR-CONV-5).
pub const BODY_LIMIT: usize = 16 * 1024;

/// The Authority's router. Conformance routes exist only in conformance mode (spec TSR-CONF-1).
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .merge(openapi::routes())
        .route("/metrics", axum::routing::get(crate::metrics::metrics))
        .route("/healthz", axum::routing::get(crate::metrics::healthz))
        .route("/readyz", axum::routing::get(crate::metrics::readyz));
    if state.config().conformance {
        router = router.merge(conformance::routes());
    }
    router
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        // metrics, audit events, the request's span and the access log (at DEBUG; 5xx at
        // ERROR), in one layer: see `metrics::InstrumentLayer`
        .layer(crate::metrics::InstrumentLayer::new(state.clone()))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked");
                axum::response::IntoResponse::into_response(Error::Internal)
            },
        ))
        .with_state(state)
}

pub use listener::{serve_tls_with_limits, serve_with_limits, tls_config_from_pem};
pub use login_limit::{Attempt as LoginAttempt, ClientAddr, LoginLimiter, RetryAfter};

/// Serves `router` on `listener` until `shutdown` resolves, with the default
/// [`HttpLimits`](crate::config::HttpLimits) (see [`serve_with_limits`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(
        listener,
        router,
        crate::config::HttpLimits::default(),
        shutdown,
    )
    .await
}

/// An Authority running in this process (see [`spawn`]).
#[derive(Debug)]
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state (issuer, fixtures, store).
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The issuer identifier, `http://127.0.0.1:{port}`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        self.state.config().issuer.as_str()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Starts an Authority on `127.0.0.1` on an ephemeral port, with issuer
/// `http://127.0.0.1:{port}`. `configure` adjusts the builder (store, clock, conformance…);
/// the issuer is set here.
pub async fn spawn(
    conformance: bool,
    configure: impl FnOnce(Authority) -> Authority + Send + 'static,
) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let issuer = Issuer::parse(&format!("http://127.0.0.1:{}", addr.port()))?;
    let mut config = Config::new(issuer);
    config.conformance = conformance;
    let state = tokio::task::spawn_blocking(move || configure(Authority::builder(config)).build())
        .await??;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = app(state.clone());
    let limits = state.config().http;
    let task = tokio::spawn(serve_with_limits(listener, router, limits, async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}
