//! Observability: Prometheus metrics (`GET /metrics`), health (`/healthz`, `/readyz`) and the
//! per-request instrumentation that also emits the audit events ([`crate::audit`]).
//!
//! Security events are derived from each request's endpoint and outcome (a `303` from the
//! login form is a sign-in, `400 code_reused` a reuse detection, …), in one middleware, so
//! the handlers stay as they are. Labels are bounded: the endpoint is the route template
//! (`unmatched` otherwise), the error is the wire code of the error table (spec 8.2).

use crate::audit::{Audit, Event};
use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    method: String,
    status: u16,
    error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~1.6 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The Authority's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    store_latency: Family<KindLabels, Histogram, fn() -> Histogram>,
    replay_store_size: Gauge,
    logins: Family<ResultLabels, Counter>,
    consents: Family<ResultLabels, Counter>,
    redemptions: Counter,
    reuse_detected: Family<KindLabels, Counter>,
    revocations: Family<KindLabels, Counter>,
    replays_refused: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, prefixed `tessera_`.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let m = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            store_latency: Family::new_with_constructor(latency_histogram),
            replay_store_size: Gauge::default(),
            logins: Family::default(),
            consents: Family::default(),
            redemptions: Counter::default(),
            reuse_detected: Family::default(),
            revocations: Family::default(),
            replays_refused: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "Requests by endpoint, method, status and wire error code",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency by endpoint",
            m.latency.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Store call latency (queue wait included) by kind (read, write)",
            m.store_latency.clone(),
        );
        registry.register(
            "replay_store_nonces",
            "Nonces the replay store remembers (read at scrape time)",
            m.replay_store_size.clone(),
        );
        registry.register(
            "logins",
            "Sign-ins at the login form by result (success, failure, blocked)",
            m.logins.clone(),
        );
        registry.register(
            "consents",
            "Consent decisions by result (allow, deny)",
            m.consents.clone(),
        );
        registry.register("redemptions", "Codes redeemed", m.redemptions.clone());
        registry.register(
            "reuse_detected",
            "Reuse detections by kind (code, refresh)",
            m.reuse_detected.clone(),
        );
        registry.register(
            "revocations",
            "Family revocations by reason (consumer_request, code_reuse, refresh_reuse)",
            m.revocations.clone(),
        );
        registry.register(
            "replays_refused",
            "Signed requests refused as replays",
            m.replays_refused.clone(),
        );
        Self { registry, ..m }
    }

    /// Records one store call's latency.
    pub fn store_call(&self, write: bool, started: Instant) {
        let kind = if write { "write" } else { "read" };
        self.store_latency
            .get_or_create(&KindLabels { kind })
            .observe(started.elapsed().as_secs_f64());
    }

    /// The text exposition, with the replay store's size as given.
    #[must_use]
    pub fn render(&self, replay_store_size: u64) -> String {
        self.replay_store_size
            .set(i64::try_from(replay_store_size).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    fn security_events(&self, audit: &Audit, seen: &Seen<'_>) {
        // parsed only for the events that name the Consumer: most requests emit none
        let consumer_id = || seen.authorization.and_then(consumer_id);
        match (seen.endpoint, seen.status.as_u16(), seen.error.as_str()) {
            ("/authorize/login", 303, _) => {
                self.logins
                    .get_or_create(&ResultLabels { result: "success" })
                    .inc();
                audit.emit(&Event::new("login_success").username(seen.username.as_deref()));
            }
            ("/authorize/login", 200, _) => {
                self.logins
                    .get_or_create(&ResultLabels { result: "failure" })
                    .inc();
                audit.emit(&Event::new("login_failure").username(seen.username.as_deref()));
            }
            ("/authorize/login", 429, _) => {
                self.logins
                    .get_or_create(&ResultLabels { result: "blocked" })
                    .inc();
                audit.emit(&Event::new("login_blocked").username(seen.username.as_deref()));
            }
            ("/authorize/consent", 303, _) => {
                let result = if seen.location_denied {
                    "deny"
                } else {
                    "allow"
                };
                self.consents.get_or_create(&ResultLabels { result }).inc();
                audit.emit(&Event::new("consent").detail("decision", result));
            }
            ("/v1/result", 200, _) => {
                self.redemptions.inc();
                audit.emit(&Event::new("code_redeemed").consumer(consumer_id().as_deref()));
            }
            ("/v1/result", _, "code_reused") => {
                self.reuse_detected
                    .get_or_create(&KindLabels { kind: "code" })
                    .inc();
                self.revocations
                    .get_or_create(&KindLabels { kind: "code_reuse" })
                    .inc();
                audit.emit(&Event::new("code_reuse_detected").consumer(consumer_id().as_deref()));
                audit.emit(
                    &Event::new("revocation")
                        .consumer(consumer_id().as_deref())
                        .detail("reason", "code_reuse"),
                );
            }
            ("/v1/refresh", 200, _) => {
                audit.emit(&Event::new("refresh").consumer(consumer_id().as_deref()));
            }
            ("/v1/refresh", _, "session_reused") => {
                self.reuse_detected
                    .get_or_create(&KindLabels { kind: "refresh" })
                    .inc();
                self.revocations
                    .get_or_create(&KindLabels {
                        kind: "refresh_reuse",
                    })
                    .inc();
                audit
                    .emit(&Event::new("refresh_reuse_detected").consumer(consumer_id().as_deref()));
                audit.emit(
                    &Event::new("revocation")
                        .consumer(consumer_id().as_deref())
                        .detail("reason", "refresh_reuse"),
                );
            }
            ("/v1/revoke", 200, _) => {
                self.revocations
                    .get_or_create(&KindLabels {
                        kind: "consumer_request",
                    })
                    .inc();
                audit.emit(
                    &Event::new("revocation")
                        .consumer(consumer_id().as_deref())
                        .detail("reason", "consumer_request"),
                );
            }
            (_, _, "replayed_request") => {
                self.replays_refused.inc();
                audit.emit(
                    &Event::new("replay_refused")
                        .consumer(consumer_id().as_deref())
                        .detail("endpoint", seen.endpoint),
                );
            }
            (_, _, "invalid_credentials") => {
                audit.emit(
                    &Event::new("authentication_failure")
                        .consumer(consumer_id().as_deref())
                        .detail("endpoint", seen.endpoint),
                );
            }
            _ => {}
        }
    }
}

/// What the middleware saw of one request and its answer.
struct Seen<'a> {
    endpoint: &'a str,
    status: StatusCode,
    error: String,
    /// The request's `Authorization` header, for the Consumer id of an event.
    authorization: Option<&'a HeaderValue>,
    username: Option<String>,
    location_denied: bool,
}

/// The Hawk `id` when it names a Consumer (a short id), never a sealed ticket id.
fn consumer_id(authorization: &HeaderValue) -> Option<String> {
    let h = authorization.to_str().ok()?;
    let parsed = crate::hawk::parse_authorization_header(h).ok()?;
    let short = !parsed.id.is_empty()
        && parsed.id.len() <= 64
        && parsed
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    short.then_some(parsed.id)
}

/// The instrumentation middleware, as a tower layer on every route (`Router::layer`, so the
/// route's `MatchedPath` is known): counts, times and emits the security events, and gives
/// each request its span and access log (at DEBUG; 5xx answers at ERROR).
///
/// Hand-written rather than `axum::middleware::from_fn`, which clones and boxes the inner
/// route service on every request, and in place of tower-http's `TraceLayer`, which wraps
/// every response body and reads the clock for it even when nothing is logged: together they
/// were ~15% of a ticket call's CPU (issue 15, `impl/README.md`). This layer calls the route
/// it wraps and boxes one future.
#[derive(Debug, Clone)]
pub struct InstrumentLayer {
    state: crate::server::AppState,
}

impl InstrumentLayer {
    /// Instruments with the metrics and audit of `state`.
    #[must_use]
    pub fn new(state: crate::server::AppState) -> Self {
        Self { state }
    }
}

impl<S> tower::Layer<S> for InstrumentLayer {
    type Service = Instrumented<S>;

    fn layer(&self, inner: S) -> Instrumented<S> {
        Instrumented {
            inner,
            state: self.state.clone(),
        }
    }
}

/// A route wrapped by [`InstrumentLayer`].
#[derive(Debug, Clone)]
pub struct Instrumented<S> {
    inner: S,
    state: crate::server::AppState,
}

impl<S> tower::Service<Request<Body>> for Instrumented<S>
where
    S: tower::Service<Request<Body>, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The request's span is at DEBUG, with the path only: queries may carry codes or
        // authorize handles, and headers carry MACs and cookies (TSR-CONV-11). At the default
        // INFO level it costs a disabled-callsite check, not a span (issue 15).
        let span =
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path());
        let answer = self.answer(req);
        if span.is_disabled() {
            answer
        } else {
            Box::pin(tracing::Instrument::instrument(answer, span))
        }
    }
}

impl<S> Instrumented<S>
where
    S: tower::Service<Request<Body>, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    fn answer(&mut self, req: Request<Body>) -> <Self as tower::Service<Request<Body>>>::Future {
        let started = Instant::now();
        if !self.state.ops().instrument {
            let answer = self.inner.call(req);
            return Box::pin(async move {
                let resp = answer.await?;
                log_answer(resp.status(), started);
                Ok(resp)
            });
        }
        let seen = Pending {
            state: self.state.clone(),
            started,
            endpoint: req
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned()),
            method: req.method().clone(),
            // a reference-counted copy; parsed only if an event needs the Consumer id
            authorization: req.headers().get(header::AUTHORIZATION).cloned(),
        };
        if seen.endpoint == "/authorize/login" && seen.method == Method::POST {
            // the login form's username, for the audit trail (the form is small and bounded):
            // read before the handler runs, so the ready service goes with the future
            let ready = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, ready);
            return Box::pin(async move {
                let (parts, body) = req.into_parts();
                let (req, username) =
                    match axum::body::to_bytes(body, crate::server::BODY_LIMIT).await {
                        Ok(bytes) => {
                            let username = url::form_urlencoded::parse(&bytes)
                                .find(|(k, _)| k == "username")
                                .map(|(_, v)| v.chars().take(64).collect::<String>());
                            (Request::from_parts(parts, Body::from(bytes)), username)
                        }
                        Err(_) => (Request::from_parts(parts, Body::empty()), None),
                    };
                let resp = inner.call(req).await?;
                Ok(seen.finish(resp, username).await)
            });
        }
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            Ok(seen.finish(resp, None).await)
        })
    }
}

/// The access log of an answered request, at DEBUG (5xx answers at ERROR), inside the
/// request's span.
fn log_answer(status: StatusCode, started: Instant) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), latency_ms, "response failed");
    } else {
        tracing::debug!(
            status = status.as_u16(),
            latency_ms,
            "finished processing request"
        );
    }
}

/// What [`Instrumented`] noted of a request before its route ran.
struct Pending {
    state: crate::server::AppState,
    started: Instant,
    endpoint: String,
    method: Method,
    authorization: Option<HeaderValue>,
}

impl Pending {
    /// Counts and times the answered request and emits its security events.
    async fn finish(self, resp: Response, username: Option<String>) -> Response {
        let Self {
            state,
            started,
            endpoint,
            method,
            authorization,
        } = self;
        let status = resp.status();
        // the wire error code: error bodies are small JSON objects; successes are not read
        let (resp, error) = if status.is_client_error() || status.is_server_error() {
            let is_json = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if is_json {
                let (parts, body) = resp.into_parts();
                match axum::body::to_bytes(body, 64 * 1024).await {
                    Ok(bytes) => {
                        let code = serde_json::from_slice::<serde_json::Value>(&bytes)
                            .ok()
                            .and_then(|v| v["error"].as_str().map(str::to_owned))
                            .unwrap_or_default();
                        (Response::from_parts(parts, Body::from(bytes)), code)
                    }
                    Err(_) => (
                        crate::error::Error::Internal.into_response(),
                        "internal_error".to_owned(),
                    ),
                }
            } else {
                (resp, String::new())
            }
        } else {
            (resp, String::new())
        };
        log_answer(status, started);
        let ops = state.ops();
        let m = &ops.metrics;
        m.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.clone(),
                method: method.as_str().to_owned(),
                status: status.as_u16(),
                error: error.clone(),
            })
            .inc();
        m.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        let location_denied = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.contains("error=access_denied"));
        m.security_events(
            &ops.audit,
            &Seen {
                endpoint: &endpoint,
                status,
                error,
                authorization: authorization.as_ref(),
                username,
                location_denied,
            },
        );
        resp
    }
}

/// Metrics and audit of one Authority instance.
#[derive(Debug)]
pub struct Ops {
    /// The metrics.
    pub metrics: Metrics,
    /// Where audit events go.
    pub audit: Audit,
    /// Whether requests are instrumented at all.
    pub instrument: bool,
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics(State(state): State<crate::server::AppState>) -> Response {
    let replay = state.replay_store_size().await;
    let body = state.ops().metrics.render(replay);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /healthz`: the process serves requests.
pub async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// `GET /readyz`: the store answers (on a store thread, as requests use it).
pub async fn readyz(State(state): State<crate::server::AppState>) -> Response {
    match state.db_read(|s| s.schema_version()).await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response(),
    }
}
