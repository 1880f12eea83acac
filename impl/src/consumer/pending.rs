//! Pending logins and where they are kept (spec TSR-CONSUMER-2, TSR-CONSUMER-6).

use std::collections::HashMap;
use std::sync::Mutex;

/// A login between the handshake and the callback. It holds secrets (the `sid` and the PKCE
/// verifier): keep it on the server side only, bound to the browser session that started the
/// login, and never put it (or any part of it) in a URL or a page (spec TSR-CONSUMER-2).
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The issuer of the Authority the login was started with (spec TSR-CONSUMER-4).
    pub issuer: String,
    /// The Authority's session id from the handshake.
    pub sid: String,
    /// The PKCE verifier (spec TSR-CONSUMER-1).
    pub verifier: String,
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

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("issuer", &self.issuer)
            .field("sid", &"<redacted>")
            .field("verifier", &"<redacted>")
            .field("started", &self.started)
            .field("exp", &self.exp)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Server-side storage of pending logins, keyed by the Consumer's **own** browser-session id
/// (the value of its session cookie), so a callback is accepted only in the browser session
/// that started the login (spec TSR-CONSUMER-2, TSR-CONSUMER-3).
///
/// One pending login per browser session: starting another replaces the first.
///
/// Implement it over your session store (a database, Redis, …); [`MemoryPendingStore`] keeps
/// them in memory, for one process.
pub trait PendingStore: Send + Sync {
    /// Remembers `pending` for `browser_session`, replacing any earlier one.
    fn put(&self, browser_session: &str, pending: PendingLogin);
    /// Removes and returns the pending login of `browser_session`. Must be atomic: of two
    /// concurrent calls, at most one gets it (spec TSR-CONSUMER-6).
    fn take(&self, browser_session: &str) -> Option<PendingLogin>;
}

/// An in-memory [`PendingStore`] (one process; lost on restart). At most `capacity` pending
/// logins are kept; when full, the oldest is dropped.
#[derive(Debug)]
pub struct MemoryPendingStore {
    inner: Mutex<HashMap<String, PendingLogin>>,
    capacity: usize,
}

impl Default for MemoryPendingStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryPendingStore {
    /// A store for at most `capacity` pending logins.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Number of pending logins held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingLogin>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl PendingStore for MemoryPendingStore {
    fn put(&self, browser_session: &str, pending: PendingLogin) {
        let mut m = self.lock();
        if m.len() >= self.capacity && !m.contains_key(browser_session) {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(browser_session.to_owned(), pending);
    }

    fn take(&self, browser_session: &str) -> Option<PendingLogin> {
        self.lock().remove(browser_session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(started: i64) -> PendingLogin {
        PendingLogin {
            issuer: "https://a".into(),
            sid: "s".into(),
            verifier: "v".into(),
            started,
            exp: started + 600,
            grants: vec![],
            scopes: vec![],
        }
    }

    #[test]
    fn take_is_single_use_and_capacity_drops_oldest() {
        let s = MemoryPendingStore::new(2);
        s.put("a", p(1));
        s.put("b", p(2));
        s.put("c", p(3));
        assert!(s.take("a").is_none());
        assert_eq!(s.take("b").unwrap().started, 2);
        assert!(s.take("b").is_none(), "spec TSR-CONSUMER-6: used once");
        assert!(!format!("{:?}", p(1)).contains("\"s\""));
    }
}
