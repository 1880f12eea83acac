//! Replay protection that survives restarts and spans instances (spec TSR-HAWK-10,
//! TSR-HAWK-15): the [`NonceCheck`] the Authority uses, chosen by [`Replay::choose`].
//!
//! - [`Replay::Shared`]: several instances on one shared store (PostgreSQL). Every accepted
//!   `(id, ts, nonce)` is inserted-if-absent in the store, so a request accepted by one
//!   instance is refused by every other, and nothing is lost on a restart: no fence at all.
//! - [`Replay::Marked`]: one instance on its own store (SQLite). Nonces stay in memory, and a
//!   high-water mark of accepted timestamps is written ahead to the store in coarse steps
//!   ([`MARK_STEP`]): before a request with `ts` above the stored mark is accepted, the mark
//!   is raised to `ts + MARK_STEP` and committed. After a restart (or a crash) the Authority
//!   refuses, as stale, only `ts ≤ mark`, which every earlier acceptance satisfies; honest
//!   clients are past the mark about [`MARK_STEP`] seconds after the last request before the
//!   restart. A store from before marks existed falls back once to the skew-long fence.
//! - [`Replay::Memory`]: memory only, no fence (tests, conformance mode: no earlier process
//!   can have accepted a request that verifies now).

use crate::hawk::{NonceCache, NonceCheck, NonceError};
use crate::store::Store;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Seconds the replay high-water mark is written ahead of the accepted timestamps: one
/// durable write per this many seconds, and at most about this long refused after a restart.
pub const MARK_STEP: i64 = 1;

/// Runs a blocking store call from a request. On a multi-threaded runtime, tells tokio so it
/// moves other tasks off this worker meanwhile; on a current-thread runtime (tests), runs it
/// on a thread of its own, since the PostgreSQL client may not block a runtime's thread.
fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}

/// The replay protection of one Authority instance.
#[derive(Debug)]
pub enum Replay {
    /// In memory only, without a fence.
    Memory(NonceCache),
    /// In memory, with a persisted high-water mark (one instance).
    Marked(MarkedNonces),
    /// In the shared store (several instances).
    Shared(SharedNonces),
}

/// What [`Replay::choose`] decided, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPlan {
    /// `memory`, `high-water mark` or `shared store`.
    pub kind: &'static str,
    /// Signed requests with `ts` up to this are refused as stale (0: none).
    pub refuse_up_to: u64,
    /// For how many seconds from now, for a client whose clock is right.
    pub refused_for_secs: u64,
}

impl Replay {
    /// Picks the protection for `store`: shared when the store is shared; else the
    /// high-water mark, or memory only when `protect_restarts` is off.
    pub fn choose(
        store: &Arc<dyn Store>,
        capacity: usize,
        skew: u64,
        now: u64,
        protect_restarts: bool,
    ) -> Result<(Self, ReplayPlan), crate::store::StoreError> {
        let cache = || NonceCache::new(capacity, skew, 0);
        // a shared store means several instances may be serving: their nonces must be shared
        // whether or not restarts are protected (spec TSR-HAWK-15)
        if store.is_shared() {
            let plan = ReplayPlan {
                kind: "shared store",
                refuse_up_to: 0,
                refused_for_secs: 0,
            };
            return Ok((
                Self::Shared(SharedNonces {
                    store: Arc::clone(store),
                    skew,
                    last_sweep: AtomicU64::new(0),
                }),
                plan,
            ));
        }
        if !protect_restarts {
            let plan = ReplayPlan {
                kind: "memory",
                refuse_up_to: 0,
                refused_for_secs: 0,
            };
            return Ok((Self::Memory(cache()), plan));
        }
        // spec TSR-HAWK-10: refuse every ts an earlier process may have accepted
        let mark = match store.replay_mark()? {
            Some(m) => u64::try_from(m).unwrap_or(0),
            // a store from before marks: the earlier process accepted up to its clock + skew
            None => now.saturating_add(skew),
        };
        let plan = ReplayPlan {
            kind: "high-water mark",
            refuse_up_to: mark,
            refused_for_secs: (mark + 1).saturating_sub(now),
        };
        let marked = MarkedNonces {
            cache: cache(),
            store: Arc::clone(store),
            fence: mark.saturating_add(1),
            mark: AtomicI64::new(i64::try_from(mark).unwrap_or(i64::MAX)),
            raising: Mutex::new(()),
        };
        Ok((Self::Marked(marked), plan))
    }

    /// How many nonces are remembered (for the metrics); a store query for [`Replay::Shared`].
    #[must_use]
    pub fn len(&self) -> u64 {
        match self {
            Self::Memory(c) => c.len() as u64,
            Self::Marked(m) => m.cache.len() as u64,
            Self::Shared(s) => s.store.nonce_count().unwrap_or(0),
        }
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NonceCheck for Replay {
    fn min_timestamp(&self) -> u64 {
        match self {
            Self::Memory(_) | Self::Shared(_) => 0,
            Self::Marked(m) => m.fence,
        }
    }

    fn check_and_remember(
        &self,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        match self {
            Self::Memory(c) => c.check_and_remember(id, ts, nonce, now),
            Self::Marked(m) => m.check_and_remember(id, ts, nonce, now),
            Self::Shared(s) => s.check_and_remember(id, ts, nonce, now),
        }
    }
}

/// In-memory nonces plus a persisted high-water mark (see the module docs).
#[derive(Debug)]
pub struct MarkedNonces {
    cache: NonceCache,
    store: Arc<dyn Store>,
    /// Smallest `ts` accepted: the stored mark at start, plus one.
    fence: u64,
    /// The mark known to be durable.
    mark: AtomicI64,
    /// One writer raises the mark at a time; the others wait and re-read it.
    raising: Mutex<()>,
}

impl MarkedNonces {
    fn check_and_remember(
        &self,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        if ts < self.fence {
            return Err(NonceError::OutsideWindow);
        }
        let ts_i = i64::try_from(ts).map_err(|_| NonceError::OutsideWindow)?;
        if ts_i > self.mark.load(Ordering::Acquire) {
            // write ahead: durable before anything above the old mark is accepted
            let _one = self.raising.lock().unwrap_or_else(PoisonError::into_inner);
            if ts_i > self.mark.load(Ordering::Acquire) {
                let new = ts_i.saturating_add(MARK_STEP);
                if let Err(e) = blocking(|| self.store.raise_replay_mark(new)) {
                    tracing::error!(error = %e, "cannot persist the replay high-water mark; refusing");
                    return Err(NonceError::Full);
                }
                self.mark.store(new, Ordering::Release);
            }
        }
        self.cache.check_and_remember(id, ts, nonce, now)
    }
}

/// Nonces in the shared store (see the module docs).
#[derive(Debug)]
pub struct SharedNonces {
    store: Arc<dyn Store>,
    skew: u64,
    last_sweep: AtomicU64,
}

impl SharedNonces {
    fn check_and_remember(
        &self,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        if ts.abs_diff(now) > self.skew {
            return Err(NonceError::OutsideWindow);
        }
        let ts_i = i64::try_from(ts).map_err(|_| NonceError::OutsideWindow)?;
        match blocking(|| self.store.remember_nonce(id, ts_i, nonce)) {
            Ok(true) => {}
            Ok(false) => return Err(NonceError::Replayed),
            Err(e) => {
                // fail closed: refused as temporarily unavailable, never accepted unrecorded
                tracing::error!(error = %e, "shared replay store failed; refusing");
                return Err(NonceError::Full);
            }
        }
        // Forget what no instance can accept any more, once per skew, on one request. The
        // margin of a second skew covers instances whose clocks differ by up to the skew
        // (spec TSR-HAWK-15).
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now >= last.saturating_add(self.skew)
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let before = i64::try_from(now.saturating_sub(2 * self.skew)).unwrap_or(0);
            match blocking(|| self.store.forget_nonces(before)) {
                Ok(n) => tracing::debug!(forgotten = n, "expired nonces forgotten"),
                Err(e) => tracing::warn!(error = %e, "cannot forget expired nonces"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn the_mark_is_written_ahead_and_fences_the_next_start() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let now = 1_000_000;
        let (r, plan) = Replay::choose(&store, 100, 60, now, true).unwrap();
        // a fresh store: nothing was ever accepted, nothing is refused
        assert_eq!((plan.kind, plan.refused_for_secs), ("high-water mark", 0));
        r.check_and_remember("a", now, "n1", now).unwrap();
        assert_eq!(store.replay_mark().unwrap(), Some(1_000_001));
        assert_eq!(
            r.check_and_remember("a", now, "n1", now),
            Err(NonceError::Replayed)
        );
        // a fast client raises it further
        r.check_and_remember("a", now + 30, "n2", now).unwrap();
        assert_eq!(store.replay_mark().unwrap(), Some(1_000_031));
        // restart: everything accepted before is refused, the next second is not
        let (r2, plan) = Replay::choose(&store, 100, 60, now + 2, true).unwrap();
        assert_eq!(plan.refuse_up_to, 1_000_031);
        assert_eq!(r2.min_timestamp(), 1_000_032);
        assert_eq!(
            r2.check_and_remember("a", now + 30, "n2", now + 2),
            Err(NonceError::OutsideWindow)
        );
        r2.check_and_remember("a", now + 32, "n3", now + 2).unwrap();
    }
}
