//! The HTTP layer (axum): parses, loads, calls the sans-IO core, persists, renders.
//!
//! Build a [`AppState`] with [`Authority::builder`], turn it into a [`Router`] with [`app`],
//! and serve it with [`serve`] (or [`spawn`] for an in-process server on an ephemeral port).

mod api;
mod auth;
mod conformance;
mod cookies;
mod listener;
mod login_limit;
mod openapi;
mod pages;
mod rate;

use crate::clock::{Clock, SystemClock, TestClock};
use crate::config::{Config, Issuer};
use crate::core::{Consumer, Env, Subject};
use crate::error::Error;
use crate::password::{self, Cost};
use crate::rand::{token, Random, SystemRandom, TOKEN_BYTES};
use crate::seal::Sealer;
use crate::store::{SqliteStore, Store, StoreError, StoreResult};
use crate::wire::{FixtureConsumer, FixtureSubject, Fixtures};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest request body (spec TSR-CONV-5).
pub const BODY_LIMIT: usize = 16 * 1024;

/// Shared state of every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    clock: Arc<dyn Clock>,
    test_clock: Option<Arc<TestClock>>,
    store: Arc<dyn Store>,
    rng: Arc<dyn Random>,
    sealer: Sealer,
    pairwise_key: Vec<u8>,
    cookie_key: ring::hmac::Key,
    login_sealer: cookies::LoginSealer,
    nonces: crate::replay_store::Replay,
    fixtures: Option<Fixtures>,
    login_limiter: LoginLimiter,
    handshake_rate: rate::HandshakeRate,
    dummy_hash: password::DummyHash,
    db: DbThreads,
    ops: crate::metrics::Ops,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("issuer", &self.0.config.issuer.as_str())
            .field("conformance", &self.0.config.conformance)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    /// The fixtures (conformance mode only), with their keys and passwords.
    #[must_use]
    pub fn fixtures(&self) -> Option<&Fixtures> {
        self.0.fixtures.as_ref()
    }

    /// Metrics and audit of this instance.
    #[must_use]
    pub fn ops(&self) -> &crate::metrics::Ops {
        &self.0.ops
    }

    /// How many nonces the replay store holds (a store read when it is shared).
    pub(crate) async fn replay_store_size(&self) -> u64 {
        match &self.0.nonces {
            crate::replay_store::Replay::Shared(_) => {
                self.db_read(|s| s.nonce_count()).await.unwrap_or(0)
            }
            other => other.len(),
        }
    }

    /// The current time from the configured clock.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    pub(crate) fn env(&self, now: i64) -> Env<'_> {
        Env {
            now,
            config: &self.0.config,
            rng: &*self.0.rng,
            sealer: &self.0.sealer,
            pairwise_key: &self.0.pairwise_key,
        }
    }

    /// Runs a store call that changes state on a blocking thread (off the async runtime), so
    /// that concurrent changes reach the store together and can share a commit (the SQLite
    /// store's group commit); a store fault becomes `500 internal_error`, logged without
    /// secrets.
    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let store = Arc::clone(&self.0.store);
        let out = tokio::task::spawn_blocking(move || f(&*store)).await;
        self.0.ops.metrics.store_call(true, started);
        match out {
            Ok(out) => store_outcome(Ok(out)),
            Err(_) => store_outcome(Err(())),
        }
    }

    /// Runs a read-only store call: on the request thread when the store says its reads never
    /// wait ([`Store::reads_inline`]: no thread hop on the ticket path), else on a reader
    /// thread (off the async runtime).
    pub(crate) async fn db_read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    {
        if self.0.store.reads_inline() {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&*self.0.store)));
            return store_outcome(out.map_err(|_| ()));
        }
        let readers = &self.0.db.readers;
        let i = self
            .0
            .db
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % readers.len();
        let started = std::time::Instant::now();
        let out = self.0.db.run(&readers[i], f).await;
        self.0.ops.metrics.store_call(false, started);
        out
    }
}

/// A store call's outcome as the handlers see it: a fault or a panic is logged and becomes
/// `500 internal_error`.
fn store_outcome<T>(out: Result<StoreResult<T>, ()>) -> Result<T, Error> {
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "store operation failed");
            Err(Error::Internal)
        }
        Err(()) => {
            tracing::error!("store call panicked");
            Err(Error::Internal)
        }
    }
}

type Job = Box<dyn FnOnce(&dyn Store) + Send>;

/// Dedicated threads for the reads of a store whose reads may wait (see
/// [`Store::reads_inline`]). Under load a thread drains its queue without sleeping between
/// jobs, which costs far fewer context switches than a `spawn_blocking` per call.
struct DbThreads {
    readers: Vec<std::sync::mpsc::Sender<Job>>,
    next: std::sync::atomic::AtomicUsize,
}

impl DbThreads {
    fn start(store: &Arc<dyn Store>, readers: usize) -> std::io::Result<Self> {
        let spawn = |name: String| -> std::io::Result<std::sync::mpsc::Sender<Job>> {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let store = Arc::clone(store);
            std::thread::Builder::new().name(name).spawn(move || {
                // ends when every sender is gone (the AppState was dropped)
                while let Ok(job) = rx.recv() {
                    job(&*store);
                }
            })?;
            Ok(tx)
        };
        Ok(Self {
            readers: (0..readers.max(1))
                .map(|i| spawn(format!("tessera-db-reader-{i}")))
                .collect::<std::io::Result<_>>()?,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    async fn run<T, F>(&self, queue: &std::sync::mpsc::Sender<Job>, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            // a panic in a store call must not kill the thread
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(store)));
            let _ = tx.send(out);
        });
        if queue.send(job).is_err() {
            tracing::error!("store thread is gone");
            return Err(Error::Internal);
        }
        match rx.await {
            Ok(Ok(out)) => store_outcome(Ok(out)),
            Ok(Err(_)) | Err(_) => store_outcome(Err(())),
        }
    }
}

/// Builds an [`AppState`].
#[must_use]
pub struct Authority {
    config: Config,
    store: Option<Arc<dyn Store>>,
    clock: Option<Arc<dyn Clock>>,
    test_clock: Option<Arc<TestClock>>,
    rng: Option<Arc<dyn Random>>,
    restart_fence: Option<bool>,
    real_clock: bool,
    audit: Option<crate::audit::Audit>,
    instrument: bool,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why the Authority could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A stored key is unusable.
    #[error("sealing key: {0}")]
    Seal(#[from] crate::seal::SealError),
    /// Password hashing failed.
    #[error("{0}")]
    Hash(#[from] password::HashError),
    /// The store threads could not start.
    #[error("cannot start the store threads: {0}")]
    Io(#[from] std::io::Error),
}

impl Authority {
    /// Starts a builder for `config`. Defaults: an in-memory store, the system clock (a
    /// [`TestClock`] in conformance mode), the system RNG.
    pub fn builder(config: Config) -> Self {
        Self {
            config,
            store: None,
            clock: None,
            test_clock: None,
            rng: None,
            restart_fence: None,
            real_clock: false,
            audit: None,
            instrument: true,
        }
    }

    /// Conformance mode on the real clock, as deployed (the conformance suite's
    /// `--profile production`, spec A.5.5): the fixtures and `POST /conformance/authorize`
    /// stay, `GET /conformance/clock` reads the clock (the system clock unless one is given),
    /// `POST /conformance/clock` is `404 not_found`, and the restart fence is on unless
    /// turned off.
    pub fn real_clock(mut self) -> Self {
        self.real_clock = true;
        self
    }

    /// Whether requests are counted, timed and audited (on by default; off only to measure
    /// what that costs, `examples/instrumentation_cost.rs`).
    pub fn instrumentation(mut self, on: bool) -> Self {
        self.instrument = on;
        self
    }

    /// Sends audit events to `audit` (default: nowhere).
    pub fn audit(mut self, audit: crate::audit::Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Uses `store`.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses `clock` (outside conformance mode).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `clock` as the clock, and as the conformance test clock in conformance mode.
    pub fn test_clock(mut self, clock: Arc<TestClock>) -> Self {
        self.clock = Some(clock.clone());
        self.test_clock = Some(clock);
        self
    }

    /// Uses `rng`.
    pub fn rng(mut self, rng: Arc<dyn Random>) -> Self {
        self.rng = Some(rng);
        self
    }

    /// Whether replay protection holds across restarts (spec TSR-HAWK-10, TSR-HAWK-15): on a
    /// shared store the nonces live in the store; otherwise a persisted high-water mark of
    /// accepted timestamps fences off what an earlier process may have accepted (see
    /// [`crate::replay_store`]). On by default; off by default in conformance mode, where
    /// every key (Consumer keys and the ticket sealing key) is fresh at each start, so no
    /// request made to an earlier process can verify. Tests may turn it off when no earlier
    /// process existed.
    pub fn restart_fence(mut self, on: bool) -> Self {
        self.restart_fence = Some(on);
        self
    }

    /// Builds the state: loads or creates the Authority's secrets, installs the fixtures in
    /// conformance mode.
    pub fn build(self) -> Result<AppState, BuildError> {
        let conformance = self.config.conformance;
        let rng: Arc<dyn Random> = self.rng.unwrap_or_else(|| Arc::new(SystemRandom::new()));
        let store: Arc<dyn Store> = match self.store {
            Some(s) => s,
            None => Arc::new(SqliteStore::in_memory()?),
        };
        let (clock, test_clock): (Arc<dyn Clock>, Option<Arc<TestClock>>) =
            match (self.clock, self.test_clock) {
                (Some(c), t) => (c, t),
                (None, _) if conformance && !self.real_clock => {
                    let t = Arc::new(TestClock::starting_now());
                    (t.clone(), Some(t))
                }
                (None, _) => (Arc::new(SystemClock), None),
            };
        // spec TSR-CONF-3: in conformance mode every use of time reads the test clock
        // (except on the real clock, where there is none)
        let test_clock = if conformance && !self.real_clock {
            Some(test_clock.unwrap_or_else(|| Arc::new(TestClock::new(clock.now()))))
        } else {
            None
        };
        let clock: Arc<dyn Clock> = match &test_clock {
            Some(t) => t.clone(),
            None => clock,
        };

        let gen32 = {
            let rng = Arc::clone(&rng);
            move || token_bytes(&*rng)
        };
        let sealer = if conformance {
            // fresh at each start (see `restart_fence`)
            Sealer::new("c1", &gen32())?
        } else {
            load_sealer(&*store, &gen32)?
        };
        let pairwise_key = store.secret("pairwise", &gen32)?;
        let cookie_key =
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &store.secret("cookie", &gen32)?);
        let login_sealer = cookies::LoginSealer::new(&store.secret("login-cookie", &gen32)?)
            .ok_or(crate::seal::SealError::BadKeyLength)?;

        let fixtures = if conformance {
            Some(install_fixtures(&self.config.issuer, &*store, &*rng)?)
        } else {
            None
        };
        let protect_restarts = self
            .restart_fence
            .unwrap_or(!conformance || self.real_clock);
        let skew = u64::try_from(self.config.skew).unwrap_or(60);
        let now = u64::try_from(clock.now()).unwrap_or(0);
        let (nonces, plan) = crate::replay_store::Replay::choose(
            &store,
            self.config.nonce_capacity,
            self.config.nonce_owner_quota,
            skew,
            now,
            protect_restarts,
        )?;
        // spec TSR-HAWK-10: say what is refused after this start, and for how long
        if plan.refused_for_secs > 0 {
            tracing::warn!(
                replay_protection = plan.kind,
                refuse_ts_up_to = plan.refuse_up_to,
                refused_for_secs = plan.refused_for_secs,
                "signed requests with a timestamp up to the replay high-water mark are refused as stale"
            );
        } else {
            tracing::info!(
                replay_protection = plan.kind,
                "no signed request is refused because of this start"
            );
        }
        if conformance {
            // spec TSR-CONF-2
            tracing::warn!(
                issuer = self.config.issuer.as_str(),
                "CONFORMANCE MODE: test clock and fixtures are on; never use this in production"
            );
        }
        let login_limiter = LoginLimiter::new(self.config.login, &*rng);
        let handshake_rate =
            rate::HandshakeRate::new(self.config.handshakes_per_consumer_per_minute);
        let dummy_hash = password::DummyHash::new(if conformance {
            Cost::FIXTURE
        } else {
            self.config.password_cost
        })?;
        Ok(AppState(Arc::new(Inner {
            db: DbThreads::start(&store, 2)?,
            dummy_hash,
            config: self.config,
            clock,
            test_clock,
            store,
            rng,
            sealer,
            pairwise_key,
            cookie_key,
            login_sealer,
            nonces,
            fixtures,
            login_limiter,
            handshake_rate,
            ops: crate::metrics::Ops {
                metrics: crate::metrics::Metrics::new(),
                audit: self.audit.unwrap_or_default(),
                instrument: self.instrument,
            },
        })))
    }
}

const SEAL_PREFIX: &str = "seal:";
const SEAL_CURRENT: &str = "seal-current";

/// The ticket sealing keys from the store (spec TSR-TICKET-2): every `seal:{kid}` secret, the
/// current one named by `seal-current` (default `k1`, created on first start).
fn load_sealer(store: &dyn Store, gen32: &dyn Fn() -> Vec<u8>) -> Result<Sealer, BuildError> {
    let current = String::from_utf8(store.secret(SEAL_CURRENT, &|| b"k1".to_vec())?)
        .map_err(|_| crate::seal::SealError::BadKid)?;
    let current_key = store.secret(&format!("{SEAL_PREFIX}{current}"), gen32)?;
    let mut sealer = Sealer::new(&current, &current_key)?;
    for (name, key) in store.secrets(SEAL_PREFIX)? {
        let kid = &name[SEAL_PREFIX.len()..];
        if kid != current {
            sealer.add_key(kid, &key)?;
        }
    }
    Ok(sealer)
}

/// Re-reads the ticket sealing keys from the store and uses them from now on, so `seal-key
/// rotate` and `seal-key retire` apply to a running server (spec TSR-TICKET-2). Returns the
/// current key id and how many keys are held. Not in conformance mode (its key is fresh per
/// start).
pub fn reload_sealing_keys(state: &AppState) -> Result<(String, usize), BuildError> {
    if state.config().conformance {
        let s = &state.0.sealer;
        return Ok((s.current_kid(), s.kids().len()));
    }
    let rng = Arc::clone(&state.0.rng);
    let gen32 = move || token_bytes(&*rng);
    let fresh = load_sealer(&*state.0.store, &gen32)?;
    let out = (fresh.current_kid(), fresh.kids().len());
    state.0.sealer.replace_with(fresh);
    Ok(out)
}

/// Adds a new ticket sealing key and makes it current (spec TSR-TICKET-2); returns its key id.
/// Tickets sealed with older keys keep verifying until those keys are retired. A running
/// server picks the change up at its next [`reload_sealing_keys`].
pub fn rotate_sealing_key(store: &dyn Store, rng: &dyn Random) -> Result<String, BuildError> {
    let n = store
        .secrets(SEAL_PREFIX)?
        .iter()
        .filter_map(|(name, _)| {
            name[SEAL_PREFIX.len()..]
                .strip_prefix('k')?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    let kid = format!("k{}", n + 1);
    store.set_secret(&format!("{SEAL_PREFIX}{kid}"), Some(&token_bytes(rng)))?;
    store.set_secret(SEAL_CURRENT, Some(kid.as_bytes()))?;
    Ok(kid)
}

/// Withdraws a sealing key: tickets sealed with it fail with `invalid_credentials` from the
/// next [`reload_sealing_keys`] on (spec TSR-TICKET-2). The current key cannot be retired.
pub fn retire_sealing_key(store: &dyn Store, kid: &str) -> Result<(), BuildError> {
    let current = store
        .secrets(SEAL_CURRENT)?
        .into_iter()
        .next()
        .map(|(_, v)| v);
    if current.as_deref() == Some(kid.as_bytes()) || (current.is_none() && kid == "k1") {
        return Err(crate::seal::SealError::CannotRemoveCurrent.into());
    }
    if store
        .secrets(&format!("{SEAL_PREFIX}{kid}"))?
        .iter()
        .all(|(n, _)| n != &format!("{SEAL_PREFIX}{kid}"))
    {
        return Err(crate::seal::SealError::UnknownKid.into());
    }
    store.set_secret(&format!("{SEAL_PREFIX}{kid}"), None)?;
    Ok(())
}

/// The key ids of the stored sealing keys and the current one.
pub fn sealing_keys(store: &dyn Store) -> Result<(Vec<String>, Option<String>), BuildError> {
    let kids: Vec<String> = store
        .secrets(SEAL_PREFIX)?
        .into_iter()
        .map(|(n, _)| n[SEAL_PREFIX.len()..].to_owned())
        .collect();
    let current = store
        .secrets(SEAL_CURRENT)?
        .into_iter()
        .next()
        .and_then(|(_, v)| String::from_utf8(v).ok())
        // stores from before rotation existed: k1 is current
        .or_else(|| kids.iter().any(|k| k == "k1").then(|| "k1".to_owned()));
    Ok((kids, current))
}

fn token_bytes(rng: &dyn Random) -> Vec<u8> {
    let mut k = vec![0u8; 32];
    rng.fill(&mut k);
    k
}

/// The fixtures of spec A.3 (TSR-CONF-5), with fresh keys and passwords.
fn install_fixtures(
    issuer: &Issuer,
    store: &dyn Store,
    rng: &dyn Random,
) -> Result<Fixtures, BuildError> {
    let consumers = vec![
        Consumer {
            id: "conformance-consumer".into(),
            key: token(rng, TOKEN_BYTES),
            name: "Conformance Consumer".into(),
            redirect_uris: vec!["https://consumer.example/callback".into()],
            grants: vec!["admin".into(), "staff".into()],
            scopes: vec!["email".into(), "profile".into()],
            may_delegate: true,
            delegates: vec!["conformance-delegate".into()],
        },
        Consumer {
            id: "conformance-delegate".into(),
            key: token(rng, TOKEN_BYTES),
            name: "Conformance Delegate".into(),
            redirect_uris: vec!["https://delegate.example/callback".into()],
            grants: vec!["staff".into()],
            scopes: vec!["email".into()],
            may_delegate: false,
            delegates: vec![],
        },
    ];
    let mut fixture_consumers = Vec::new();
    for c in consumers {
        store.put_consumer(&c)?;
        fixture_consumers.push(FixtureConsumer {
            consumer_id: c.id,
            key: c.key,
            algorithm: "sha256".into(),
            name: c.name,
            redirect_uris: c.redirect_uris,
            grants: c.grants,
            scopes: c.scopes,
            may_delegate: c.may_delegate,
            delegates: c.delegates,
        });
    }
    let mut subjects = Vec::new();
    for (username, roles, email, name) in [
        (
            "alice",
            vec!["staff".to_owned()],
            "alice@example.org",
            "Alice",
        ),
        ("mallory", vec![], "mallory@example.org", "Mallory"),
    ] {
        let pw = token(rng, 16);
        let mut data = serde_json::Map::new();
        data.insert("email".into(), email.into());
        data.insert("profile".into(), serde_json::json!({ "name": name }));
        store.put_subject(&Subject {
            id: format!("sub_{}", token(rng, 16)),
            username: username.into(),
            password_hash: password::hash(&pw, Cost::FIXTURE, rng)?,
            roles: roles.clone(),
            data: data.clone(),
        })?;
        subjects.push(FixtureSubject {
            username: username.into(),
            password: pw,
            roles,
            data,
        });
    }
    Ok(Fixtures {
        issuer: issuer.as_str().to_owned(),
        consumers: fixture_consumers,
        subjects,
    })
}

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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::instrument,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked");
                axum::response::IntoResponse::into_response(Error::Internal)
            },
        ))
        .layer(
            // The per-request access log is at DEBUG: at the default INFO level it costs a
            // disabled-callsite check per request, not a span, formatting and a write (issue
            // 15 measured 5% of a ticket call's CPU). Security events (sign-ins, redemptions,
            // reuse, revocations, refusals of the replay cache) stay at INFO and WARN, and 5xx
            // responses at ERROR (tower-http's default on_failure).
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    // the path only: queries may carry codes or authorize handles, and headers
                    // carry MACs and cookies (TSR-CONV-11)
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                ),
        )
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

/// How often [`spawn_purger`] deletes undecided sessions past their grace.
pub const PURGE_UNDECIDED_EVERY: std::time::Duration = std::time::Duration::from_secs(300);
/// How often [`spawn_purger`] deletes everything past the family TTL.
pub const PURGE_ALL_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes what can no longer be presented, once (spec TSR-SESSION-7, TSR-CONV-16): sessions
/// never redeemed `undecided_grace` after their expiry and, when `all`, every session past
/// the family TTL. Returns the number of sessions deleted.
pub async fn purge_expired(state: &AppState, all: bool) -> Result<usize, Error> {
    let now = state.now();
    let undecided_cutoff = now - state.config().undecided_grace;
    let mut n = state
        .db(move |s| s.purge_undecided(undecided_cutoff))
        .await?;
    if all {
        let cutoff = now - state.config().ttl.family;
        n += state.db(move |s| s.purge(cutoff)).await?;
    }
    Ok(n)
}

/// Runs [`purge_expired`] every [`PURGE_UNDECIDED_EVERY`] (and the whole purge every
/// [`PURGE_ALL_EVERY`]) until the task is aborted.
pub fn spawn_purger(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_UNDECIDED_EVERY);
        let ratio = (PURGE_ALL_EVERY.as_secs() / PURGE_UNDECIDED_EVERY.as_secs()).max(1);
        let mut tick = 0u64;
        loop {
            every.tick().await;
            let all = tick % ratio == 0;
            tick += 1;
            match purge_expired(&state, all).await {
                Ok(n) => tracing::info!(sessions = n, all, "purged expired records"),
                Err(_) => tracing::error!("purge failed"),
            }
        }
    })
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

impl AppState {
    /// spec TSR-CONV-16: counts a handshake of `consumer`; `false` when over its rate.
    pub(crate) fn allow_handshake(&self, consumer: &str, now: i64) -> bool {
        self.0.handshake_rate.allow(consumer, now)
    }

    /// The login limiter (spec TSR-AUTHZ-8).
    pub(crate) fn login_limiter(&self) -> &LoginLimiter {
        &self.0.login_limiter
    }
}
