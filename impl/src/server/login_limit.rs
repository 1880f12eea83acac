//! Login throttling (spec TSR-AUTHZ-8) that an attacker cannot turn against the account's
//! owner, in bounded memory.
//!
//! - **Per (account, client)**, where a client is the browser cookie and the network address:
//!   `login_failures_per_minute` failures are free, then each further attempt must wait a
//!   back-off that doubles with every failure (60 s, 120 s, … at most an hour). Another client
//!   of the same account is not affected, so guessing from one browser never locks the owner
//!   out from theirs.
//! - **Per network address**, over every account and browser cookie: at most
//!   `login_failures_per_client_per_minute` failures a minute, which stops a client spraying
//!   many usernames or throwing its cookie away. A browser that has signed in to an account
//!   before is exempt for that account, so an attacker sharing the owner's address (NAT,
//!   loopback) does not lock a returning owner out.
//! - **Globally**: when failures over all clients pass `login_global_failures_per_minute`,
//!   every attempt is slowed down (answered a second later), never refused; and password
//!   verifications run a few at a time, so a flood costs queueing, not unbounded CPU.
//!
//! Memory: keys are 16-byte keyed hashes (a login name or cookie is never stored); each map
//! holds at most [`MAX_ENTRIES`]; entries with no failure in the last hour are pruned once a
//! minute, and a map still full after pruning stops adding entries (the per-address and
//! global limits still count every failure).

use crate::config::LoginLimits;
use crate::rand::Random;
use ring::hmac;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// Most entries in each of the limiter's maps (about 40 bytes each).
pub const MAX_ENTRIES: usize = 100_000;
/// How long a failure is remembered.
const MEMORY_SECS: i64 = 3_600;
/// The first back-off once the free failures are used, doubled after each further failure.
const FIRST_BACKOFF_SECS: i64 = 60;
/// The longest back-off.
const MAX_BACKOFF_SECS: i64 = 3_600;
/// How long a successful sign-in exempts a browser from the per-address limit for that account.
const KNOWN_BROWSER_SECS: i64 = 30 * 86_400;
/// Longest login name and password looked at; longer ones fail without a lookup.
pub const MAX_USERNAME_BYTES: usize = 256;
/// See [`MAX_USERNAME_BYTES`]; also the longest password that can be set.
pub const MAX_PASSWORD_BYTES: usize = crate::password::MAX_PASSWORD_BYTES;

/// The client's network address, put on each request by the listener. IPv6 addresses count
/// per /64, what one subscriber usually gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    fn key_bytes(self) -> Vec<u8> {
        match self.0 {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets()[..8].to_vec(),
        }
    }
}

type Key = [u8; 16];

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    minute: i64,
    count: u32,
}

impl Window {
    fn add(&mut self, now: i64) {
        let m = now.div_euclid(60);
        if self.minute != m {
            *self = Self {
                minute: m,
                count: 0,
            };
        }
        self.count = self.count.saturating_add(1);
    }

    fn count(&self, now: i64) -> u32 {
        if self.minute == now.div_euclid(60) {
            self.count
        } else {
            0
        }
    }
}

#[derive(Debug, Default)]
struct Maps {
    pairs: HashMap<Key, Failures>,
    clients: HashMap<Key, Window>,
    known: HashMap<Key, i64>,
    global: Window,
    pruned_at: i64,
}

/// Why an attempt is refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub i64);

/// The limiter; one per Authority.
pub struct LoginLimiter {
    limits: LoginLimits,
    key: hmac::Key,
    maps: Mutex<Maps>,
    /// Password verifications at once (the global CPU bound).
    pub(crate) verifications: tokio::sync::Semaphore,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Who is attempting: the login name as typed, the browser cookie, the address (if known).
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The login name as typed.
    pub username: &'a str,
    /// The browser cookie.
    pub browser: &'a str,
    /// The network address, when the request came through the listener.
    pub addr: Option<ClientAddr>,
}

impl LoginLimiter {
    /// A limiter with a fresh hashing key from `rng`.
    #[must_use]
    pub fn new(limits: LoginLimits, rng: &dyn Random) -> Self {
        let mut k = [0u8; 32];
        rng.fill(&mut k);
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            limits,
            key: hmac::Key::new(hmac::HMAC_SHA256, &k),
            maps: Mutex::new(Maps::default()),
            verifications: tokio::sync::Semaphore::new(cpus.max(2)),
        }
    }

    fn hash(&self, parts: &[&[u8]]) -> Key {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&ctx.sign().as_ref()[..16]);
        out
    }

    fn keys(&self, a: &Attempt<'_>) -> (Key, Key, Key) {
        let addr = a.addr.map(ClientAddr::key_bytes).unwrap_or_default();
        (
            self.hash(&[b"pair", a.username.as_bytes(), a.browser.as_bytes(), &addr]),
            self.hash(&[b"client", &addr]),
            self.hash(&[b"known", a.username.as_bytes(), a.browser.as_bytes()]),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// spec TSR-AUTHZ-8: whether `a` may try a password now.
    pub fn check(&self, a: &Attempt<'_>, now: i64) -> Result<(), RetryAfter> {
        let (pair, client, known) = self.keys(a);
        let maps = self.lock();
        if let Some(f) = maps.pairs.get(&pair) {
            if let Some(extra) = f.count.checked_sub(self.limits.failures_per_account_client) {
                let backoff = FIRST_BACKOFF_SECS
                    .saturating_mul(1_i64 << extra.min(16))
                    .min(MAX_BACKOFF_SECS);
                let until = f.last + backoff;
                if now < until {
                    return Err(RetryAfter(until - now));
                }
            }
        }
        let exempt = maps.known.get(&known).is_some_and(|&exp| now < exp);
        if !exempt {
            let n = maps.clients.get(&client).map_or(0, |w| w.count(now));
            if n >= self.limits.failures_per_client_per_minute {
                return Err(RetryAfter(60 - now.rem_euclid(60)));
            }
        }
        Ok(())
    }

    /// Whether failures over all clients are high enough that every attempt is slowed down.
    pub fn slow_down(&self, now: i64) -> bool {
        self.lock().global.count(now) >= self.limits.global_failures_per_minute
    }

    /// A wrong password (or unknown name) for `a`.
    pub fn record_failure(&self, a: &Attempt<'_>, now: i64) {
        let (pair, client, _) = self.keys(a);
        let mut maps = self.lock();
        maps.prune(now);
        maps.global.add(now);
        if let Some(w) = entry(&mut maps.clients, client) {
            w.add(now);
        }
        if let Some(f) = entry(&mut maps.pairs, pair) {
            // failures older than the memory start over
            if now - f.last >= MEMORY_SECS {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
        }
    }

    /// A successful sign-in: the pair starts over and the browser is known for the account.
    pub fn record_success(&self, a: &Attempt<'_>, now: i64) {
        let (pair, _, known) = self.keys(a);
        let mut maps = self.lock();
        maps.prune(now);
        maps.pairs.remove(&pair);
        if let Some(exp) = entry(&mut maps.known, known) {
            *exp = now + KNOWN_BROWSER_SECS;
        }
    }

    /// Entries held now (pairs, clients, known browsers), for the memory benchmark.
    #[must_use]
    pub fn entries(&self) -> (usize, usize, usize) {
        let m = self.lock();
        (m.pairs.len(), m.clients.len(), m.known.len())
    }
}

/// The entry for `key`, created if the map has room.
fn entry<V: Default>(map: &mut HashMap<Key, V>, key: Key) -> Option<&mut V> {
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        return None;
    }
    Some(map.entry(key).or_default())
}

impl Maps {
    /// Forgets what no limit looks at any more, at most once a minute (or when a map is full).
    fn prune(&mut self, now: i64) {
        let full = self.pairs.len() >= MAX_ENTRIES
            || self.clients.len() >= MAX_ENTRIES
            || self.known.len() >= MAX_ENTRIES;
        if now - self.pruned_at < 60 && !full {
            return;
        }
        if now - self.pruned_at < 1 {
            return;
        }
        self.pruned_at = now;
        self.pairs.retain(|_, f| now - f.last < MEMORY_SECS);
        let minute = now.div_euclid(60);
        self.clients.retain(|_, w| w.minute == minute);
        self.known.retain(|_, &mut exp| now < exp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRandom;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits::default(), &SeededRandom::new(7))
    }

    fn at<'a>(username: &'a str, browser: &'a str, ip: [u8; 4]) -> Attempt<'a> {
        Attempt {
            username,
            browser,
            addr: Some(ClientAddr(IpAddr::from(ip))),
        }
    }

    #[test]
    fn the_pair_backs_off_and_doubles() {
        let l = limiter();
        let a = at("alice", "b1", [10, 0, 0, 1]);
        for _ in 0..10 {
            assert_eq!(l.check(&a, 1000), Ok(()));
            l.record_failure(&a, 1000);
        }
        assert_eq!(l.check(&a, 1000), Err(RetryAfter(60)));
        assert_eq!(l.check(&a, 1060), Ok(()));
        l.record_failure(&a, 1060);
        assert_eq!(l.check(&a, 1061), Err(RetryAfter(119)));
        // the owner, from another browser at another address, is not affected
        assert_eq!(l.check(&at("alice", "b2", [10, 0, 0, 2]), 1061), Ok(()));
        // nor from another browser at the same address (11 failures < 30 a minute)
        assert_eq!(l.check(&at("alice", "b2", [10, 0, 0, 1]), 1061), Ok(()));
    }

    #[test]
    fn spraying_from_one_address_is_throttled_even_with_fresh_cookies() {
        let l = limiter();
        let names: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
        let mut refused = 0;
        for (i, n) in names.iter().enumerate() {
            let b = format!("cookie{i}");
            let a = at(n, &b, [10, 0, 0, 9]);
            if l.check(&a, 600).is_err() {
                refused += 1;
            } else {
                l.record_failure(&a, 600);
            }
        }
        assert_eq!(refused, 10, "30 allowed a minute, then refused");
        // a returning owner's browser is exempt for its own account
        let owner = at("alice", "owner-cookie", [10, 0, 0, 9]);
        l.record_success(&owner, 500);
        assert_eq!(l.check(&owner, 600), Ok(()));
        assert!(l
            .check(&at("bob", "owner-cookie", [10, 0, 0, 9]), 600)
            .is_err());
        // the next minute, the address may try again
        assert_eq!(l.check(&at("user0", "x", [10, 0, 0, 9]), 660), Ok(()));
    }

    #[test]
    fn success_resets_the_pair() {
        let l = limiter();
        let a = at("alice", "b1", [10, 0, 0, 1]);
        for _ in 0..9 {
            l.record_failure(&a, 10);
        }
        l.record_success(&a, 10);
        for _ in 0..9 {
            l.record_failure(&a, 11);
        }
        assert_eq!(l.check(&a, 11), Ok(()));
    }

    #[test]
    fn the_global_slow_down_starts_at_the_threshold() {
        let l = limiter();
        for i in 0..300u32 {
            assert!(!l.slow_down(120));
            let ip = [10, 1, (i / 256) as u8, (i % 256) as u8];
            l.record_failure(&at("x", "y", ip), 120);
        }
        assert!(l.slow_down(120));
        assert!(!l.slow_down(180), "a new minute");
    }

    #[test]
    fn memory_is_bounded_and_pruned_by_time() {
        let l = limiter();
        for i in 0..(MAX_ENTRIES + 500) {
            let name = format!("u{i}");
            l.record_failure(&at(&name, "b", [10, 2, 0, 1]), 5);
        }
        let (pairs, clients, _) = l.entries();
        assert_eq!(pairs, MAX_ENTRIES);
        assert_eq!(clients, 1);
        // an hour later everything is forgotten at the next failure
        l.record_failure(&at("late", "b", [10, 2, 0, 1]), 5 + MEMORY_SECS + 61);
        assert_eq!(l.entries().0, 1);
    }
}
