//! The handlers' shared state ([`AppState`]) and the store thread pool behind its store calls.

use super::{cookies, rate, LoginLimiter};
use crate::clock::{Clock, TestClock};
use crate::config::Config;
use crate::core::Env;
use crate::error::Error;
use crate::password;
use crate::rand::Random;
use crate::seal::Sealer;
use crate::store::{Store, StoreResult};
use crate::wire::Fixtures;
use std::sync::Arc;

/// Shared state of every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) config: Config,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) test_clock: Option<Arc<TestClock>>,
    pub(super) store: Arc<dyn Store>,
    pub(super) rng: Arc<dyn Random>,
    pub(super) sealer: Sealer,
    /// Tickets opened before, by id (issue 15: opening is most of a ticket's cost).
    pub(super) opened_tickets: crate::seal::OpenedCache<super::auth::OpenedTicket>,
    pub(super) pairwise_key: Vec<u8>,
    pub(super) cookie_key: ring::hmac::Key,
    pub(super) login_sealer: cookies::LoginSealer,
    pub(super) nonces: crate::replay_store::Replay,
    pub(super) fixtures: Option<Fixtures>,
    pub(super) login_limiter: LoginLimiter,
    pub(super) handshake_rate: rate::HandshakeRate,
    pub(super) dummy_hash: password::DummyHash,
    pub(super) db: DbThreads,
    pub(super) ops: crate::metrics::Ops,
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
pub(super) struct DbThreads {
    readers: Vec<std::sync::mpsc::Sender<Job>>,
    next: std::sync::atomic::AtomicUsize,
}

impl DbThreads {
    pub(super) fn start(store: &Arc<dyn Store>, readers: usize) -> std::io::Result<Self> {
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

impl AppState {
    /// spec TSR-CONV-16: counts a handshake of `consumer`; over its rate, the seconds until
    /// it may start one again.
    pub(crate) fn allow_handshake(&self, consumer: &str, now: i64) -> Result<(), u64> {
        self.0.handshake_rate.allow(consumer, now)
    }

    /// The login limiter (spec TSR-AUTHZ-8).
    pub(crate) fn login_limiter(&self) -> &LoginLimiter {
        &self.0.login_limiter
    }
}
