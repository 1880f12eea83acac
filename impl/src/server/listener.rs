//! The HTTP/1.1 listener with the limits of spec TSR-CONV-14: what a slow, idle or numerous
//! client can hold is bounded in time and count, and every refusal the server shapes has the
//! JSON body of spec 8.1, hyper's own 400/414/431 answers included.
//!
//! Each connection is driven by hyper's HTTP/1.1 server over a [`Guarded`] socket:
//! - until a request head is complete the socket reads under a deadline: `header_timeout`
//!   from the connection's opening (or from the first byte of a later request on a kept-alive
//!   connection), so a client that sends nothing, or one byte every few seconds, is closed;
//! - after a response the connection may wait `idle_timeout` for the next request; the same
//!   deadline bounds a response that a client does not read;
//! - the body reads under `body_timeout` from the end of the head ([`DeadlineBody`]), then
//!   the handler answers `408 request_timeout`;
//! - at most `max_connections` are open; one more is answered `503 temporarily_unavailable`
//!   and closed (and beyond a few such answers at once it is closed without one).

use crate::config::HttpLimits;
use crate::error::Error;
use axum::body::Body;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// Refusals (over the connection limit) written at once; beyond them a connection is closed
/// without an answer, so a connection flood costs no more than this many small tasks.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refusal may take (its TLS handshake included) before the socket is dropped.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Requests at once on one HTTP/2 connection (each body keeps its own deadline).
const MAX_H2_STREAMS: u32 = 64;

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting and lets open requests finish.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_connections(listener, router, limits, None, shutdown).await
}

/// [`serve_with_limits`] over TLS: the same limits, with the TLS handshake counted in the
/// header timeout (a client that opens a socket and never finishes its handshake is closed
/// like one that never finishes its request head), HTTP/1.1 or HTTP/2 as ALPN chose. A
/// connection over the limit gets its `503` over TLS, as HTTP/1.1.
pub async fn serve_tls_with_limits(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut refusing = (*tls).clone();
    // the refusal is a raw HTTP/1.1 response, so that is all its handshake offers
    refusing.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tls = Tls {
        serving: tokio_rustls::TlsAcceptor::from(tls),
        refusing: tokio_rustls::TlsAcceptor::from(Arc::new(refusing)),
    };
    serve_connections(listener, router, limits, Some(tls), shutdown).await
}

/// A rustls server configuration from PEM: the certificate chain (leaf first) and its
/// private key, offering HTTP/2 and HTTP/1.1 by ALPN. The process-wide crypto provider
/// must be installed (ring: `rustls::crypto::ring::default_provider().install_default()`).
pub fn tls_config_from_pem(
    cert_chain: &[u8],
    key: &[u8],
) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate file is not PEM: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("the key file holds no PEM private key: {e}"))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS acceptors of [`serve_tls_with_limits`].
#[derive(Clone)]
struct Tls {
    serving: tokio_rustls::TlsAcceptor,
    refusing: tokio_rustls::TlsAcceptor,
}

async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // per-connection failures (reset before accept) are not the listener's; running
                // out of file descriptors is, and spinning would not help
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) {
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let opened = Instant::now();
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            if let Ok(refusal) = Arc::clone(&refusals).try_acquire_owned() {
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async move {
                        match tls {
                            None => refuse(stream).await,
                            Some(tls) => {
                                if let Ok(s) = tls.refusing.accept(stream).await {
                                    refuse(s).await;
                                }
                            }
                        }
                    })
                    .await;
                    drop(refusal);
                });
            }
            continue;
        };
        let router = router.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let ended = match tls {
                None => {
                    serve_connection(stream, peer, opened, router, limits, false, watcher).await
                }
                Some(tls) => {
                    // spec TSR-CONV-14: the handshake is part of the head's time
                    let handshake = tokio::time::timeout_at(
                        opened + limits.header_timeout,
                        tls.serving.accept(stream),
                    );
                    match handshake.await {
                        Ok(Ok(s)) => {
                            let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                            serve_connection(s, peer, opened, router, limits, h2, watcher).await
                        }
                        Ok(Err(e)) => Err(e.into()),
                        Err(_) => Err(timed_out().into()),
                    }
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Drives one connection (HTTP/1.1, or HTTP/2 when `h2`) until it ends.
async fn serve_connection<S>(
    stream: S,
    peer: std::net::SocketAddr,
    opened: Instant,
    router: Router,
    limits: HttpLimits,
    h2: bool,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let requests = Arc::new(AtomicU64::new(0));
    let activity = Arc::new(Mutex::new(Activity {
        phase: Phase::Head(opened),
        in_flight: 0,
    }));
    let io = hyper_util::rt::TokioIo::new(Guarded::new(
        stream,
        limits,
        !h2,
        Arc::clone(&requests),
        Arc::clone(&activity),
    ));
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        requests.fetch_add(1, Ordering::Relaxed);
        request_started(&activity);
        let activity = Arc::clone(&activity);
        let mut req = req.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
        // who is asking, for the login limiter (spec TSR-AUTHZ-8)
        req.extensions_mut()
            .insert(super::ClientAddr(peer.ip().to_canonical()));
        let router = router.clone();
        async move {
            let resp = router.oneshot(req).await;
            request_answered(&activity);
            resp
        }
    });
    if h2 {
        let conn = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .max_concurrent_streams(MAX_H2_STREAMS)
            .serve_connection(io, service);
        watcher.watch(conn).await?;
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            // our own deadlines (in Guarded) replace hyper's, which has no separate idle wait
            .header_read_timeout(None)
            .serve_connection(io, service);
        watcher.watch(conn).await?;
    }
    Ok(())
}

/// Answers a connection over the limit with `503` and closes it (the caller bounds the time).
async fn refuse(mut stream: impl AsyncWrite + Unpin) {
    let bytes = raw_response(&Error::TemporarilyUnavailable);
    if stream.write_all(&bytes).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// A whole HTTP/1.1 response for `e`, with the JSON body and headers of spec TSR-CONV-2,
/// closing the connection.
fn raw_response(e: &Error) -> Vec<u8> {
    let status = e.status();
    let body = e.body();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         x-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Where a connection is, as far as its deadlines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head that started at this instant.
    Head(Instant),
    /// A handler has the request; the body has its own deadline.
    Busy,
    /// The last response was produced at this instant; waiting for the next request.
    Idle(Instant),
}

/// A connection's phase and how many of its requests a handler has (HTTP/2 runs several at
/// once; the connection is idle only when none is left).
#[derive(Debug)]
struct Activity {
    phase: Phase,
    in_flight: usize,
}

fn request_started(activity: &Mutex<Activity>) {
    let mut a = activity.lock().unwrap_or_else(PoisonError::into_inner);
    a.in_flight += 1;
    a.phase = Phase::Busy;
}

fn request_answered(activity: &Mutex<Activity>) {
    let mut a = activity.lock().unwrap_or_else(PoisonError::into_inner);
    a.in_flight = a.in_flight.saturating_sub(1);
    if a.in_flight == 0 {
        a.phase = Phase::Idle(Instant::now());
    }
}

/// A socket with the connection's read deadlines, which also gives hyper's automatic
/// HTTP/1.1 refusals (written before any request reached a handler) the JSON body of spec 8.1.
struct Guarded<S> {
    io: S,
    limits: HttpLimits,
    /// HTTP/1.1: a first byte while idle starts a request head (under `header_timeout`), and
    /// hyper's own refusals are replaced. HTTP/2 frames carry no such heads (pings and window
    /// updates arrive while idle), so there the idle deadline runs until a request comes.
    http1: bool,
    /// Requests handed to the router on this connection.
    requests: Arc<AtomicU64>,
    /// Response heads written on this connection (interim 1xx excluded).
    heads: u64,
    activity: Arc<Mutex<Activity>>,
    sleep: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
    /// A replacement response still to be written.
    pending: Vec<u8>,
    /// After a replacement, hyper's own bytes are dropped.
    swallow: bool,
}

impl<S> Guarded<S> {
    fn new(
        io: S,
        limits: HttpLimits,
        http1: bool,
        requests: Arc<AtomicU64>,
        activity: Arc<Mutex<Activity>>,
    ) -> Self {
        Self {
            io,
            limits,
            http1,
            requests,
            heads: 0,
            activity,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed_for: None,
            pending: Vec::new(),
            swallow: false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self
            .activity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .phase
        {
            Phase::Head(t) => Some(t + self.limits.header_timeout),
            Phase::Idle(t) => Some(t + self.limits.idle_timeout),
            Phase::Busy => None,
        }
    }

    /// Whether the current deadline has passed (registering a wake-up for it if not).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.deadline() else {
            return false;
        };
        if self.armed_for != Some(deadline) {
            self.sleep.as_mut().reset(deadline);
            self.armed_for = Some(deadline);
        }
        self.sleep.as_mut().poll(cx).is_ready()
    }

    /// A first byte while idle starts a new request head (spec TSR-CONV-14).
    fn on_bytes_read(&self) {
        if !self.http1 {
            return;
        }
        let mut a = self.activity.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Idle(_) = a.phase {
            a.phase = Phase::Head(Instant::now());
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "client too slow or idle")
}

/// The replacement for hyper's automatic answer with this status line, if it is one.
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let status = buf.get(9..12)?;
    let e = match status {
        b"400" => Error::invalid_request("the request is not well-formed HTTP/1.1"),
        b"414" => Error::UriTooLong,
        b"431" => Error::HeadersTooLarge,
        _ => return None,
    };
    Some(raw_response(&e))
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.on_bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Writes what is left of a replacement response.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if self.expired(cx) => return Poll::Ready(Err(timed_out())),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.drain(cx))?;
        if this.swallow {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.http1 && buf.starts_with(b"HTTP/1.1 ") && buf.get(9) != Some(&b'1') {
            // a head written while no request is waiting for its response is hyper's own
            // refusal of a request it could not parse
            if this.heads == this.requests.load(Ordering::Relaxed) {
                if let Some(r) = replacement(buf) {
                    this.heads += 1;
                    this.pending = r;
                    this.swallow = true;
                    std::task::ready!(this.drain(cx))?;
                    return Poll::Ready(Ok(buf.len()));
                }
            }
            this.heads += 1;
        }
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        let flushed = std::task::ready!(Pin::new(&mut self.io).poll_flush(cx));
        // a response was just sent: arm the idle deadline now, since hyper may not read
        // again before something wakes the connection
        if flushed.is_ok() && self.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Poll::Ready(flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The request body under a deadline from the end of the head (spec TSR-CONV-14).
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Armed at the first wait only: most bodies (every GET's) are there at once, and a timer
    /// per request is a heap allocation and a timer-wheel entry the ticket path does not need.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Instant::now() + timeout,
            sleep: None,
        }
    }
}

/// The body did not arrive within `body_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimeout;

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(f) => Poll::Ready(f.map(|r| r.map_err(Into::into))),
            Poll::Pending => {
                let deadline = self.deadline;
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Some(Err(Box::new(BodyTimeout))))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What reading a body failed on, for the error table: over the limit (`413`), too slow
/// (`408`), or cut short / badly framed (`400`, spec TSR-CONV-5).
pub(crate) fn body_read_error(e: &axum::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return Error::PayloadTooLarge;
        }
        if s.is::<BodyTimeout>() {
            return Error::RequestTimeout;
        }
        source = s.source();
    }
    Error::invalid_request("the body is cut short or badly framed")
}
