//! Time, injected.
//!
//! The sans-IO core never reads a clock: every decision takes `now` (seconds since the Unix
//! epoch, spec 2.4). The HTTP layer reads it from a [`Clock`]: the [`SystemClock`] in
//! production, a [`TestClock`] in conformance mode (spec TSR-CONF-3) and in tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in whole seconds since 1970-01-01T00:00:00Z.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> i64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// The wall clock, read once.
#[must_use]
pub fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        system_now()
    }
}

/// The conformance test clock (spec A.2): starts at a given time and moves only when
/// advanced, and only forward (spec TSR-CONF-3, TSR-CONF-4).
#[derive(Debug)]
pub struct TestClock {
    now: AtomicI64,
}

/// The largest single advance of the test clock: one year (spec TSR-CONF-4).
pub const MAX_ADVANCE: i64 = 31_536_000;

impl TestClock {
    /// A test clock that reads `start` until advanced.
    #[must_use]
    pub fn new(start: i64) -> Self {
        Self {
            now: AtomicI64::new(start),
        }
    }

    /// A test clock starting at the real time (spec TSR-CONF-3).
    #[must_use]
    pub fn starting_now() -> Self {
        Self::new(system_now())
    }

    /// Moves the clock forward by `seconds` (0 to [`MAX_ADVANCE`]) and returns the new time;
    /// `None` (and no change) for anything else.
    pub fn advance(&self, seconds: i64) -> Option<i64> {
        if !(0..=MAX_ADVANCE).contains(&seconds) {
            return None;
        }
        Some(self.now.fetch_add(seconds, Ordering::SeqCst) + seconds)
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_forward_and_at_most_a_year() {
        let c = TestClock::new(1000);
        assert_eq!(c.advance(5), Some(1005));
        assert_eq!(c.advance(-1), None);
        assert_eq!(c.advance(MAX_ADVANCE + 1), None);
        assert_eq!(c.advance(0), Some(1005));
        assert_eq!(c.now(), 1005);
    }
}
