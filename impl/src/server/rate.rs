//! The per-Consumer handshake rate (spec TSR-CONV-16): every handshake stores a pending
//! session, and anyone can make a Consumer start one (its login button), so the rate at which
//! one Consumer creates them is bounded; with the purge of undecided sessions soon after their
//! expiry ([`spawn_purger`](super::spawn_purger)) this bounds what anonymous visitors can make
//! the Authority store. Memory: one small entry per registered Consumer that made a handshake
//! this minute.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Handshakes per Consumer per minute (fixed one-minute windows).
#[derive(Debug)]
pub(crate) struct HandshakeRate {
    per_minute: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl HandshakeRate {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a handshake of `consumer` at `now`; over the rate, the seconds until the next
    /// window lets it in.
    pub(crate) fn allow(&self, consumer: &str, now: i64) -> Result<(), u64> {
        let minute = now.div_euclid(60);
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if w.len() > 10_000 {
            // only registered Consumers get here; forget the windows of past minutes
            w.retain(|_, (m, _)| *m == minute);
        }
        let e = w.entry(consumer.to_owned()).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        if e.1 >= self.per_minute {
            return Err(u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60));
        }
        e.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_consumer_over_the_rate_does_not_affect_another() {
        let r = HandshakeRate::new(3);
        for _ in 0..3 {
            assert_eq!(r.allow("a", 120), Ok(()));
        }
        assert_eq!(r.allow("a", 150), Err(30), "30 s to the next window");
        assert_eq!(r.allow("a", 179), Err(1));
        assert_eq!(r.allow("b", 179), Ok(()));
        assert_eq!(r.allow("a", 180), Ok(()), "a new minute");
    }
}
