//! Pending logins and where they are kept (spec TSR-CONSUMER-2, TSR-CONSUMER-6,
//! TSR-CONSUMER-13).

use std::collections::HashMap;
use std::sync::Mutex;

/// Most pending logins one browser session holds at once (spec TSR-CONSUMER-13); starting
/// another drops the oldest.
pub const MAX_PENDING_PER_SESSION: usize = 8;

/// A login between the handshake and the callback. It holds a secret (the `sid`): keep it on
/// the server side only, bound to the browser session that started the login, and never put
/// the `sid` in a URL or a page (spec TSR-CONSUMER-2).
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The issuer of the Authority the login was started with (spec TSR-CONSUMER-4).
    pub issuer: String,
    /// The Authority's session id from the handshake.
    pub sid: String,
    /// The `state` sent in the handshake, which the callback must carry back
    /// (spec TSR-CONSUMER-13).
    pub state: String,
    /// When the login started (unix seconds, the Consumer's clock).
    pub started: i64,
    /// When the Authority's pending session expires (the handshake's `exp`, in the Authority's
    /// time, translated to the Consumer's clock).
    pub exp: i64,
    /// Grants asked for (the result must answer exactly these, spec TSR-RESULT-8).
    pub grants: Vec<String>,
    /// Scopes asked for (idem).
    pub scopes: Vec<String>,
}

impl PendingLogin {
    /// Whether `state` is this login's `state` (constant time, spec TSR-CONV-10).
    #[must_use]
    pub fn has_state(&self, state: &str) -> bool {
        tessera_protocol::hawk::constant_time_eq(self.state.as_bytes(), state.as_bytes())
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("issuer", &self.issuer)
            .field("sid", &"<redacted>")
            .field("started", &self.started)
            .field("exp", &self.exp)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Server-side storage of pending logins, keyed by the Consumer's **own** browser-session id
/// (the value of its session cookie) and, within it, by `state`: a callback is accepted only in
/// the browser session that started the login, and only for a flow that session started
/// (spec TSR-CONSUMER-2, TSR-CONSUMER-3, TSR-CONSUMER-13).
///
/// A browser session holds up to [`MAX_PENDING_PER_SESSION`] pending logins (two tabs both log
/// in, spec TSR-CONSUMER-13).
///
/// Implement it over your session store (a database, Redis, …); [`MemoryPendingStore`] keeps
/// them in memory, for one process.
pub trait PendingStore: Send + Sync {
    /// Remembers `pending` for `browser_session`, beside its other pending logins; when that
    /// session already holds [`MAX_PENDING_PER_SESSION`], the oldest is dropped.
    fn put(&self, browser_session: &str, pending: PendingLogin);
    /// Removes and returns the pending login of `browser_session` whose `state` is `state`
    /// (compare with [`PendingLogin::has_state`]); the others stay. Must be atomic: of two
    /// concurrent calls, at most one gets it (spec TSR-CONSUMER-6).
    fn take(&self, browser_session: &str, state: &str) -> Option<PendingLogin>;
    /// Removes and returns every pending login of `browser_session` (the axum integration moves
    /// them to the new session id it gives the browser at login, TSR-CONSUMER-8, so a second
    /// tab's login still completes).
    fn take_all(&self, browser_session: &str) -> Vec<PendingLogin>;
}

/// An in-memory [`PendingStore`] (one process; lost on restart). At most `capacity` browser
/// sessions with pending logins are kept; when full, the one whose newest login is oldest is
/// dropped.
#[derive(Debug)]
pub struct MemoryPendingStore {
    inner: Mutex<HashMap<String, Vec<PendingLogin>>>,
    capacity: usize,
}

impl Default for MemoryPendingStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryPendingStore {
    /// A store for the pending logins of at most `capacity` browser sessions.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Number of pending logins held, over all browser sessions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<PendingLogin>>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl PendingStore for MemoryPendingStore {
    fn put(&self, browser_session: &str, pending: PendingLogin) {
        let mut m = self.lock();
        if m.len() >= self.capacity && !m.contains_key(browser_session) {
            let newest = |v: &Vec<PendingLogin>| v.iter().map(|p| p.started).max();
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, v)| newest(v))
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        let list = m.entry(browser_session.to_owned()).or_default();
        // spec TSR-CONSUMER-13: bounded; the oldest goes first
        while list.len() >= MAX_PENDING_PER_SESSION {
            if let Some(i) = list
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| p.started)
                .map(|(i, _)| i)
            {
                list.remove(i);
            }
        }
        list.push(pending);
    }

    fn take(&self, browser_session: &str, state: &str) -> Option<PendingLogin> {
        let mut m = self.lock();
        let list = m.get_mut(browser_session)?;
        let i = list.iter().position(|p| p.has_state(state))?;
        let found = list.remove(i);
        if list.is_empty() {
            m.remove(browser_session);
        }
        Some(found)
    }

    fn take_all(&self, browser_session: &str) -> Vec<PendingLogin> {
        self.lock().remove(browser_session).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(started: i64, state: &str) -> PendingLogin {
        PendingLogin {
            issuer: "https://a".into(),
            sid: "secret-sid".into(),
            state: state.into(),
            started,
            exp: started + 600,
            grants: vec![],
            scopes: vec![],
        }
    }

    #[test]
    fn take_is_single_use_per_state_and_capacity_drops_oldest_session() {
        let s = MemoryPendingStore::new(2);
        s.put("a", p(1, "s1"));
        s.put("b", p(2, "s2"));
        s.put("c", p(3, "s3"));
        assert!(s.take("a", "s1").is_none());
        assert!(s.take("b", "s3").is_none(), "another session's state");
        assert_eq!(s.take("b", "s2").unwrap().started, 2);
        assert!(
            s.take("b", "s2").is_none(),
            "spec TSR-CONSUMER-6: used once"
        );
        assert!(!format!("{:?}", p(1, "x")).contains("secret-sid"));
    }

    /// spec TSR-CONSUMER-13: two tabs, two pending logins; a foreign state takes neither.
    #[test]
    fn several_pending_logins_per_browser_session() {
        let s = MemoryPendingStore::default();
        s.put("tab", p(1, "first"));
        s.put("tab", p(2, "second"));
        assert!(s.take("tab", "foreign").is_none());
        assert_eq!(s.len(), 2, "a foreign state removes nothing");
        assert_eq!(s.take("tab", "second").unwrap().started, 2);
        assert_eq!(s.take("tab", "first").unwrap().started, 1);
        assert!(s.is_empty());
        for i in 0..10 {
            s.put("tab", p(i, &format!("s{i}")));
        }
        assert_eq!(s.len(), MAX_PENDING_PER_SESSION);
        assert!(s.take("tab", "s0").is_none(), "the oldest was dropped");
        assert!(s.take("tab", "s9").is_some());
    }
}
