//! [`Authority`]: builds an [`AppState`] from a configuration, a store, a clock and randomness.

use super::fixtures::install_fixtures;
use super::seal_keys::{load_sealer, token_bytes};
use super::state::{DbThreads, Inner};
use super::{cookies, rate, AppState, LoginLimiter};
use crate::clock::{Clock, SystemClock, TestClock};
use crate::config::Config;
use crate::password::{self, Cost};
use crate::rand::{Random, SystemRandom};
use crate::seal::Sealer;
use crate::store::{SqliteStore, Store, StoreError};
use std::sync::Arc;

/// Opened tickets kept in memory (a few hundred bytes each; the cache starts over when full).
const OPENED_TICKETS: usize = 4096;

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
            opened_tickets: crate::seal::OpenedCache::new(OPENED_TICKETS),
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
