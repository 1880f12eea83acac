//! The in-memory replay cache behind [`hawk::NonceCheck`](crate::hawk::NonceCheck) (spec
//! TSR-HAWK-9, TSR-HAWK-10, TSR-HAWK-11).
//!
//! Shape, and why:
//!
//! * **Short keyed fingerprints.** An entry is a 64-bit SipHash-1-3 of (credential id, nonce)
//!   under a random 128-bit key from ring, not the id and nonce themselves (a sealed ticket id
//!   is ~380 characters): about 20 bytes per nonce instead of ~600, whatever the lengths the
//!   client chose. The key is secret, so a client cannot aim two nonces at one fingerprint; an
//!   accidental collision (about 1 in 10^16 per request at full load) refuses a fresh request
//!   as a replay, which fails safe.
//! * **One-second time buckets.** Each shard keeps a ring of `2 × skew + 2` buckets indexed by
//!   the request's `ts`; a whole bucket is dropped once its second is older than `now − skew`,
//!   which is exactly when the timestamp check starts refusing it, so no nonce that could still
//!   be accepted is forgotten. Dropping a bucket frees one table; no request ever walks the
//!   whole cache (the old `BTreeSet` evicted everything at once: a 703 ms stall was seen).
//! * **Sharded.** 64 shards, each with its own lock, chosen by fingerprint bits.
//! * **Bounded in bytes and in entries, with per-owner quotas.** The table storage actually
//!   allocated is counted and capped, as is the number of entries; each credential owner (the
//!   Consumer, for Consumer keys and for tickets alike) may hold at most `owner_quota` live
//!   entries, so one Consumer filling its quota is refused (`503`, spec TSR-HAWK-11) while the
//!   others still work, and nothing is ever evicted early to make room.
//! * **Sized from rate × window**: [`ReplayLimits::for_rate`].

use crate::hawk::{NonceCheck, NonceError};
use siphasher::sip::SipHasher13;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 64;
const OWNER_SHARDS: usize = 16;

/// Limits of a [`ReplayCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayLimits {
    /// Allowed clock skew either way, seconds (the window is `now ± skew`).
    pub skew_secs: u64,
    /// Most live entries at once.
    pub max_entries: usize,
    /// Most bytes of table storage at once (fingerprint tables and owner records).
    pub max_bytes: usize,
    /// Most live entries one owner may hold.
    pub owner_quota: usize,
}

/// Worst-case bytes of table storage per entry (a `u64` fingerprint plus its control byte, in
/// a hash table between 7/16 and 7/8 full): what [`ReplayLimits::for_rate`] budgets.
pub const BYTES_PER_ENTRY: usize = 21;

impl ReplayLimits {
    /// Limits that absorb `rate` signed requests per second in total, and `owner_rate` from one
    /// owner, without refusing, with clients' clocks within the skew. An entry stays live for
    /// `skew + 1` seconds when the client's clock is right, up to `2 × skew + 1` when it runs
    /// ahead; the sizing takes the former, so capacity = rate × (skew + 1).
    #[must_use]
    pub fn for_rate(rate: u64, owner_rate: u64, skew_secs: u64) -> Self {
        let live = skew_secs.saturating_add(1);
        let max_entries = usize::try_from(rate.saturating_mul(live)).unwrap_or(usize::MAX);
        Self {
            skew_secs,
            max_entries,
            max_bytes: max_entries.saturating_mul(BYTES_PER_ENTRY).max(MIN_BYTES),
            owner_quota: usize::try_from(owner_rate.saturating_mul(live)).unwrap_or(usize::MAX),
        }
    }

    /// At most `max_entries` entries (and the bytes they need), with no separate owner quota.
    #[must_use]
    pub fn entries(max_entries: usize, skew_secs: u64) -> Self {
        Self {
            skew_secs,
            max_entries,
            max_bytes: max_entries.saturating_mul(BYTES_PER_ENTRY).max(MIN_BYTES),
            owner_quota: max_entries,
        }
    }

    /// Signed requests per second the whole cache absorbs before refusing (clients on time).
    #[must_use]
    pub fn capacity_per_sec(&self) -> u64 {
        let by_bytes = self.max_bytes / BYTES_PER_ENTRY;
        (self.max_entries.min(by_bytes) as u64) / self.skew_secs.saturating_add(1)
    }
}

/// Small tables have a fixed overhead: never budget less than this.
const MIN_BYTES: usize = 1 << 20;

/// Fingerprints are already uniformly random: the table uses them as their own hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // only u64 keys are hashed
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FingerprintSet = HashSet<u64, BuildHasherDefault<Identity>>;
type OwnerMap = HashMap<u64, OwnerUsage, BuildHasherDefault<Identity>>;

/// Bytes std's `HashSet<u64>` (hashbrown) allocates for a table of `capacity`.
fn table_bytes(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 4 {
        4
    } else if capacity < 8 {
        8
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * 9 + 16
}

#[derive(Default)]
struct Bucket {
    second: u64,
    set: FingerprintSet,
}

struct Shard {
    buckets: Box<[Bucket]>,
}

/// Live entries of one owner, per second of `ts`.
struct OwnerUsage {
    total: usize,
    /// Counts for seconds before this have been subtracted.
    swept_to: u64,
    per_second: Box<[u32]>,
}

impl OwnerUsage {
    fn bytes(ring: usize) -> usize {
        ring * 4 + 64
    }

    fn advance(&mut self, oldest_live: u64) {
        let ring = self.per_second.len() as u64;
        if oldest_live <= self.swept_to {
            return;
        }
        let from = self.swept_to.max(oldest_live.saturating_sub(ring));
        for s in from..oldest_live {
            let slot = &mut self.per_second[(s % ring) as usize];
            self.total -= *slot as usize;
            *slot = 0;
        }
        self.swept_to = oldest_live;
    }
}

/// Bucketed, sharded, byte-bounded replay cache with per-owner quotas and a restart fence.
///
/// **Restart fence.** An in-memory cache forgets everything when the process restarts, so a
/// request captured shortly before a restart would be accepted again afterwards. The cache
/// therefore refuses (as stale) every timestamp the previous process could have accepted.
/// That process ran before `started_at`, and it accepted timestamps up to its own clock plus
/// the skew (a client whose clock runs ahead), so the fence is `started_at + skew_secs`: only
/// `ts > started_at + skew_secs` is accepted. The cost: for about `skew_secs` after a start,
/// every request gets a stale-timestamp reply, and clients retry. A persistent nonce store
/// does not need the fence. Tests that know no earlier process existed may pass an old
/// `started_at` (for example 0).
pub struct ReplayCache {
    hash_key: (u64, u64),
    limits: ReplayLimits,
    fence: u64,
    ring: u64,
    shards: Box<[Mutex<Shard>]>,
    owners: Box<[Mutex<OwnerMap>]>,
    entries: AtomicUsize,
    bytes: AtomicUsize,
    /// The largest `now` seen: time never runs backwards for the cache (fails closed).
    high_now: AtomicU64,
    /// Buckets for seconds before this have been dropped.
    swept_to: AtomicU64,
    /// The longest sweep so far, in nanoseconds (what one request paid to evict a second).
    longest_sweep_ns: AtomicU64,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("limits", &self.limits)
            .field("fence", &self.fence)
            .field("entries", &self.len())
            .field("bytes", &self.bytes())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // nothing panics while a lock is held, so a poisoned lock still guards consistent data
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ReplayCache {
    /// A cache holding at most `max_entries` live entries (no separate owner quota), for
    /// timestamps within ±`skew_secs`, created at `started_at` (unix seconds; see the restart
    /// fence), with a fingerprint key from the system RNG.
    #[must_use]
    pub fn new(max_entries: usize, skew_secs: u64, started_at: u64) -> Self {
        Self::with_random_key(
            ReplayLimits::entries(max_entries, skew_secs),
            started_at,
            &crate::rand::SystemRandom::new(),
        )
    }

    /// A cache with `limits`, created at `started_at` (unix seconds; see the restart fence),
    /// fingerprinting with `hash_key` (16 random bytes; [`ReplayCache::with_random_key`]).
    #[must_use]
    pub fn with_limits(limits: ReplayLimits, started_at: u64, hash_key: [u8; 16]) -> Self {
        let ring = limits.skew_secs.saturating_mul(2).saturating_add(2);
        let ring_len = usize::try_from(ring).unwrap_or(usize::MAX);
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    buckets: (0..ring_len).map(|_| Bucket::default()).collect(),
                })
            })
            .collect();
        let owners = (0..OWNER_SHARDS)
            .map(|_| Mutex::new(HashMap::default()))
            .collect();
        let (k0, k1) = hash_key.split_at(8);
        Self {
            hash_key: (
                u64::from_le_bytes(k0.try_into().unwrap_or_default()),
                u64::from_le_bytes(k1.try_into().unwrap_or_default()),
            ),
            limits,
            fence: started_at
                .saturating_add(limits.skew_secs)
                .saturating_add(1),
            ring,
            shards,
            owners,
            entries: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            high_now: AtomicU64::new(0),
            swept_to: AtomicU64::new(0),
            longest_sweep_ns: AtomicU64::new(0),
        }
    }

    /// [`ReplayCache::new`] with a fingerprint key from `rng` (production: the system RNG).
    #[must_use]
    pub fn with_random_key(
        limits: ReplayLimits,
        started_at: u64,
        rng: &dyn crate::rand::Random,
    ) -> Self {
        let mut key = [0u8; 16];
        rng.fill(&mut key);
        Self::with_limits(limits, started_at, key)
    }

    /// Its limits.
    #[must_use]
    pub fn limits(&self) -> &ReplayLimits {
        &self.limits
    }

    /// Remembered entries (those of seconds that expired since the last request may still be
    /// counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of table storage counted against [`ReplayLimits::max_bytes`].
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The longest time one request spent evicting expired seconds (the eviction pause).
    #[must_use]
    pub fn longest_sweep(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.longest_sweep_ns.load(Ordering::Relaxed))
    }

    fn fingerprint(&self, parts: &[&str]) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.hash_key.0, self.hash_key.1);
        for p in parts {
            // length-prefixed, so ("ab", "c") and ("a", "bc") differ
            h.write_u64(p.len() as u64);
            h.write(p.as_bytes());
        }
        h.finish()
    }

    /// Drops every bucket of a second before `oldest_live` in every shard, and the owners'
    /// counts for those seconds. Called by at most one request per second (the one that sees
    /// the window move first); each shard is locked only to drop its one or two buckets.
    fn sweep(&self, oldest_live: u64) {
        let mut from = self.swept_to.load(Ordering::Acquire);
        loop {
            if from >= oldest_live {
                return;
            }
            match self.swept_to.compare_exchange(
                from,
                oldest_live,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(seen) => from = seen,
            }
        }
        let started = std::time::Instant::now();
        let from = from.max(oldest_live.saturating_sub(self.ring));
        for shard in &*self.shards {
            let mut dropped = Vec::new();
            {
                let mut shard = lock(shard);
                for s in from..oldest_live {
                    let bucket = &mut shard.buckets[(s % self.ring) as usize];
                    if bucket.second < oldest_live && !bucket.set.is_empty() {
                        dropped.push(std::mem::take(&mut bucket.set));
                    }
                }
            }
            // freed outside the lock
            for set in dropped {
                self.release(&set);
            }
        }
        let owner_bytes = OwnerUsage::bytes(self.ring as usize);
        for owners in &*self.owners {
            let mut owners = lock(owners);
            let before = owners.len();
            owners.retain(|_, usage| {
                usage.advance(oldest_live);
                usage.total > 0
            });
            let removed = before - owners.len();
            self.bytes
                .fetch_sub(removed * owner_bytes, Ordering::Relaxed);
        }
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.longest_sweep_ns.fetch_max(took, Ordering::Relaxed);
    }

    fn release(&self, set: &FingerprintSet) {
        self.entries.fetch_sub(set.len(), Ordering::Relaxed);
        self.bytes
            .fetch_sub(table_bytes(set.capacity()), Ordering::Relaxed);
    }

    /// [`NonceCheck::check_and_remember_for`]: refuses a replay of `(id, ts, nonce)`, else
    /// remembers it and charges it to `owner`'s quota.
    ///
    /// # Errors
    ///
    /// [`NonceError::OutsideWindow`] for a timestamp this cache cannot vouch for,
    /// [`NonceError::Replayed`] for a replay, [`NonceError::Full`] when the owner's quota or
    /// the cache's bounds are reached (nothing live is ever forgotten to make room).
    pub fn check(
        &self,
        owner: &str,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        let now = self.high_now.fetch_max(now, Ordering::Relaxed).max(now);
        // The cache itself refuses what it cannot vouch for, so a verifier configured with a
        // larger skew than the cache fails closed instead of accepting replays.
        if ts < self.fence || ts.abs_diff(now) > self.limits.skew_secs {
            return Err(NonceError::OutsideWindow);
        }
        let oldest_live = now - self.limits.skew_secs;
        if oldest_live > self.swept_to.load(Ordering::Relaxed) {
            self.sweep(oldest_live);
        }

        let fp = self.fingerprint(&[id, nonce]);
        // shard by bits the table does not use (it uses the low bits and the top seven)
        let shard_index = ((fp >> 32) as usize) % SHARDS;
        let mut shard = lock(&self.shards[shard_index]);
        let bucket = &mut shard.buckets[(ts % self.ring) as usize];
        if bucket.second != ts {
            // The ring holds 2 × skew + 2 seconds, so another second in this slot is at least
            // that far from `ts`, which is live: the other is expired (now never decreases).
            if !bucket.set.is_empty() {
                let old = std::mem::take(&mut bucket.set);
                self.release(&old);
            }
            bucket.second = ts;
        }
        if bucket.set.contains(&fp) {
            return Err(NonceError::Replayed);
        }

        // Bounds: refuse rather than forget a live nonce. Forgetting one would make its
        // request replayable for the rest of its window (a silent security failure an attacker
        // could provoke by flooding); refusing is visible and temporary. Only holders of valid
        // credentials reach here (the MAC was checked first).
        if self.entries.load(Ordering::Relaxed) >= self.limits.max_entries {
            return Err(NonceError::Full);
        }
        let growth = if bucket.set.len() == bucket.set.capacity() {
            let cap = bucket.set.capacity();
            table_bytes((cap + 1).max(cap * 2)) - table_bytes(cap)
        } else {
            0
        };
        let owner_fp = self.fingerprint(&[owner]);
        let mut owners = lock(&self.owners[(owner_fp >> 32) as usize % OWNER_SHARDS]);
        let new_owner = !owners.contains_key(&owner_fp);
        let owner_bytes = if new_owner {
            OwnerUsage::bytes(self.ring as usize)
        } else {
            0
        };
        if self.bytes.load(Ordering::Relaxed) + growth + owner_bytes > self.limits.max_bytes {
            return Err(NonceError::Full);
        }
        let ring = self.ring;
        let usage = owners.entry(owner_fp).or_insert_with(|| OwnerUsage {
            total: 0,
            swept_to: oldest_live,
            per_second: vec![0; usize::try_from(ring).unwrap_or(0)].into_boxed_slice(),
        });
        usage.advance(oldest_live);
        if usage.total >= self.limits.owner_quota {
            if usage.total == 0 {
                owners.remove(&owner_fp);
            }
            return Err(NonceError::Full);
        }
        usage.total += 1;
        usage.per_second[(ts % ring) as usize] += 1;
        drop(owners);

        let cap_before = bucket.set.capacity();
        bucket.set.insert(fp);
        let cap_after = bucket.set.capacity();
        self.entries.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(
            table_bytes(cap_after) - table_bytes(cap_before) + owner_bytes,
            Ordering::Relaxed,
        );
        Ok(())
    }
}

impl NonceCheck for ReplayCache {
    fn min_timestamp(&self) -> u64 {
        self.fence
    }

    fn check_and_remember(
        &self,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        self.check(id, id, ts, nonce, now)
    }

    fn check_and_remember_for(
        &self,
        owner: &str,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        self.check(owner, id, ts, nonce, now)
    }

    fn usage(&self) -> Option<(usize, usize)> {
        Some((self.len(), self.bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKEW: u64 = 60;

    fn cache(limits: ReplayLimits) -> ReplayCache {
        ReplayCache::with_limits(limits, 0, [7; 16])
    }

    #[test]
    fn one_owner_at_its_quota_is_refused_while_another_still_works() {
        let limits = ReplayLimits {
            skew_secs: SKEW,
            max_entries: 1_000,
            max_bytes: 1 << 20,
            owner_quota: 100,
        };
        let c = cache(limits);
        let now = 10_000;
        for i in 0..100 {
            assert_eq!(
                c.check("greedy", "greedy", now, &format!("n{i}"), now),
                Ok(())
            );
        }
        // its own key, even with a fresh ticket id, is over its quota
        assert_eq!(
            c.check("greedy", "greedy", now, "n100", now),
            Err(NonceError::Full)
        );
        assert_eq!(
            c.check("greedy", "t1.other-ticket", now, "n101", now),
            Err(NonceError::Full)
        );
        // replays are still refused as replays: nothing was forgotten
        for i in 0..100 {
            assert_eq!(
                c.check("greedy", "greedy", now, &format!("n{i}"), now),
                Err(NonceError::Replayed)
            );
        }
        // another Consumer still works, and its replays are refused
        assert_eq!(c.check("polite", "polite", now, "n0", now), Ok(()));
        assert_eq!(
            c.check("polite", "polite", now, "n0", now),
            Err(NonceError::Replayed)
        );
        // the greedy owner's entries expire with their second, and its quota frees up
        let later = now + SKEW + 1;
        assert_eq!(c.check("greedy", "greedy", later, "n100", later), Ok(()));
    }

    #[test]
    fn bucket_eviction_forgets_no_live_nonce() {
        let c = cache(ReplayLimits::entries(1_000_000, SKEW));
        let start = 50_000;
        // one nonce per second over three windows, each presented at its own time
        for t in start..start + 3 * SKEW {
            assert_eq!(c.check("o", "id", t, &format!("n{t}"), t), Ok(()));
            // every nonce still inside the window is refused as a replay, every older one as
            // stale: a dropped bucket held only seconds the timestamp check already refuses
            for old in start..=t {
                let verdict = c.check("o", "id", old, &format!("n{old}"), t);
                if old + SKEW >= t {
                    assert_eq!(verdict, Err(NonceError::Replayed), "ts {old} at {t}");
                } else {
                    assert_eq!(verdict, Err(NonceError::OutsideWindow), "ts {old} at {t}");
                }
            }
        }
        // a client 60 s fast: its entry outlives a full window of "now"
        let t = start + 3 * SKEW;
        assert_eq!(c.check("o", "id", t + SKEW, "fast", t), Ok(()));
        for now in t..=t + 2 * SKEW {
            assert_eq!(
                c.check("o", "id", t + SKEW, "fast", now),
                Err(NonceError::Replayed)
            );
        }
        // only the live seconds are still counted
        assert!(c.len() <= usize::try_from(SKEW + 2).unwrap(), "{}", c.len());
    }

    #[test]
    fn bounded_in_bytes() {
        let limits = ReplayLimits {
            skew_secs: SKEW,
            max_entries: usize::MAX,
            max_bytes: 64 * 1024,
            owner_quota: usize::MAX,
        };
        let c = cache(limits);
        let now = 1_000;
        let mut accepted = 0;
        for i in 0..100_000 {
            match c.check("o", "id", now, &format!("{i}"), now) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    assert_eq!(e, NonceError::Full);
                    break;
                }
            }
        }
        assert!(c.bytes() <= 64 * 1024, "{}", c.bytes());
        assert!(accepted > 1_000, "{accepted}");
        // and the accepted ones are remembered
        assert_eq!(c.check("o", "id", now, "0", now), Err(NonceError::Replayed));
    }

    #[test]
    fn clock_going_back_fails_closed() {
        let c = cache(ReplayLimits::entries(100, SKEW));
        assert_eq!(c.check("o", "id", 1_000, "a", 1_000), Ok(()));
        assert_eq!(c.check("o", "id", 1_100, "b", 1_100), Ok(()));
        // the clock steps back: ts 1_000 is stale for the cache, not forgotten and accepted
        assert_eq!(
            c.check("o", "id", 1_000, "a", 1_000),
            Err(NonceError::OutsideWindow)
        );
    }

    #[test]
    fn fingerprints_are_keyed_and_length_prefixed() {
        let a = ReplayCache::with_limits(ReplayLimits::entries(10, SKEW), 0, [1; 16]);
        let b = ReplayCache::with_limits(ReplayLimits::entries(10, SKEW), 0, [2; 16]);
        assert_ne!(a.fingerprint(&["id", "n"]), b.fingerprint(&["id", "n"]));
        assert_ne!(a.fingerprint(&["ab", "c"]), a.fingerprint(&["a", "bc"]));
    }

    #[test]
    fn sizing_from_rate() {
        let l = ReplayLimits::for_rate(200_000, 100_000, 60);
        assert_eq!(l.max_entries, 200_000 * 61);
        assert_eq!(l.owner_quota, 100_000 * 61);
        assert!(l.capacity_per_sec() >= 200_000);
    }
}

/// The Hawk-facing behaviour of the cache, through [`crate::hawk::NonceCheck`] as the request
/// verifier sees it (moved here from `hawk` with the crate split: the cache is the Authority's).
#[cfg(test)]
mod nonce_check_tests {
    use crate::hawk::{NonceCache, NonceCheck, NonceError};

    #[test]
    fn nonce_cache_replay_expiry_and_capacity() {
        let cache = NonceCache::new(2, 60, 0);
        let now = 1_000;
        assert_eq!(cache.check_and_remember("a", now, "n1", now), Ok(()));
        assert_eq!(
            cache.check_and_remember("a", now, "n1", now),
            Err(NonceError::Replayed)
        );
        // same nonce, other id or other ts: distinct entries
        assert_eq!(cache.check_and_remember("b", now, "n1", now), Ok(()));
        // full of live entries: refused, and the live ones are still remembered
        assert_eq!(
            cache.check_and_remember("a", now, "n2", now),
            Err(NonceError::Full)
        );
        assert_eq!(
            cache.check_and_remember("a", now, "n1", now + 60),
            Err(NonceError::Replayed)
        );
        // once the first entries are past the window they are evicted and room frees up
        let later = now + 61;
        assert_eq!(cache.check_and_remember("a", later, "n2", later), Ok(()));
        assert_eq!(cache.len(), 1);
        // outside the window
        assert_eq!(
            cache.check_and_remember("a", later - 61, "x", later),
            Err(NonceError::OutsideWindow)
        );
        assert_eq!(
            cache.check_and_remember("a", later + 61, "x", later),
            Err(NonceError::OutsideWindow)
        );
    }

    #[test]
    fn nonce_cache_restart_fence() {
        let started_at = 10_000;
        let cache = NonceCache::new(10, 60, started_at);
        assert_eq!(cache.min_timestamp(), started_at + 61);
        // a request from a client 59 s fast, captured just before the restart, is refused
        let captured_ts = started_at + 59;
        assert_eq!(
            cache.check_and_remember("a", captured_ts, "n", started_at + 1),
            Err(NonceError::OutsideWindow)
        );
        assert_eq!(
            cache.check_and_remember("a", started_at + 61, "n", started_at + 61),
            Ok(())
        );
    }

    #[test]
    fn nonce_cache_is_shareable_across_threads() {
        let cache = std::sync::Arc::new(NonceCache::new(1000, 60, 0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let cache = std::sync::Arc::clone(&cache);
                std::thread::spawn(move || cache.check_and_remember("a", 500, "same", 500).is_ok())
            })
            .collect();
        let accepted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(
            accepted, 1,
            "exactly one of the concurrent uses of a nonce wins"
        );
    }
}
