//! Randomness, injected.
//!
//! The sans-IO core never reaches for an RNG itself: every function that needs random bytes
//! takes a [`Random`]. Production code passes [`SystemRandom`] (the operating system's CSPRNG,
//! through ring); tests and the conformance suite pass [`SeededRandom`], which is predictable
//! on purpose and therefore must never be used to generate real secrets.
//!
//! ring's own `SecureRandom` trait is sealed (it cannot be implemented outside ring), which is
//! why this module defines its own small trait.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of random bytes.
///
/// `fill` takes `&self` so that one instance can be shared (`Arc<dyn Random>` or a plain
/// reference) by every task of a multi-threaded server; implementations use interior
/// mutability where they keep state.
pub trait Random: Send + Sync {
    /// Fills `dest` entirely with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

impl<R: Random + ?Sized> Random for &R {
    fn fill(&self, dest: &mut [u8]) {
        (**self).fill(dest);
    }
}

impl<R: Random + ?Sized> Random for Arc<R> {
    fn fill(&self, dest: &mut [u8]) {
        (**self).fill(dest);
    }
}

impl<R: Random + ?Sized> Random for Box<R> {
    fn fill(&self, dest: &mut [u8]) {
        (**self).fill(dest);
    }
}

/// The operating system's CSPRNG (via `ring::rand::SystemRandom`). Use this in production.
#[derive(Debug)]
pub struct SystemRandom(ring::rand::SystemRandom);

impl SystemRandom {
    /// Creates a handle to the OS random number generator (cheap; holds no state).
    #[must_use]
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl Random for SystemRandom {
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails. This is the one
    /// deliberate panic in the crate: without randomness no key, nonce or identifier can be
    /// produced safely, and there is no sensible way to carry on (a fallback would be worse).
    fn fill(&self, dest: &mut [u8]) {
        use ring::rand::SecureRandom as _;
        if self.0.fill(dest).is_err() {
            panic!("the operating system's random number generator failed");
        }
    }
}

/// **TEST ONLY — predictable.** A deterministic generator: the output is a pure function of
/// the seed and of how many bytes were drawn before.
///
/// It is compiled into the library (not behind `cfg(test)`) so that integration tests and
/// the conformance suite can produce reproducible identifiers, nonces and keys. Anyone who
/// knows the seed knows every byte it will ever produce: never use it for real secrets.
///
/// Output block `i` (32 bytes) is `SHA-256("tessera-seeded-random\0" || seed_be || i_be)`.
/// A single `fill` call draws whole blocks, so concurrent callers each get distinct bytes,
/// though which caller gets which block then depends on scheduling.
pub struct SeededRandom {
    seed: u64,
    counter: AtomicU64,
}

impl SeededRandom {
    /// A generator whose output is determined by `seed`. **Test only.**
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededRandom (TEST ONLY)")
            .field("seed", &self.seed)
            .field("blocks_drawn", &self.counter.load(Ordering::Relaxed))
            .finish()
    }
}

impl Random for SeededRandom {
    fn fill(&self, dest: &mut [u8]) {
        const BLOCK: usize = 32;
        let blocks = dest.len().div_ceil(BLOCK);
        let blocks_u64 = u64::try_from(blocks).unwrap_or(u64::MAX);
        let first = self.counter.fetch_add(blocks_u64, Ordering::Relaxed);
        for (i, chunk) in dest.chunks_mut(BLOCK).enumerate() {
            let index = first.wrapping_add(u64::try_from(i).unwrap_or(u64::MAX));
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(b"tessera-seeded-random\0");
            ctx.update(&self.seed.to_be_bytes());
            ctx.update(&index.to_be_bytes());
            let block = ctx.finish();
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
    }
}

/// `n_bytes` random bytes as unpadded base64url (RFC 4648 §5).
///
/// Identifiers such as `sid`, `code` and ticket keys use 32 bytes, which gives 43 characters.
pub fn token<R: Random + ?Sized>(rng: &R, n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    rng.fill(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

/// Number of random bytes in a standard identifier (`sid`, `code`, ticket keys): 256 bits.
pub const TOKEN_BYTES: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn token_of_32_bytes_is_43_base64url_chars() {
        let t = token(&SystemRandom::new(), TOKEN_BYTES);
        assert_eq!(t.len(), 43, "{t}");
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap().len(), 32);
    }

    #[test]
    fn system_random_does_not_repeat() {
        let rng = SystemRandom::new();
        let set: HashSet<String> = (0..64).map(|_| token(&rng, 16)).collect();
        assert_eq!(set.len(), 64);
    }

    #[test]
    fn seeded_random_is_reproducible_and_seed_dependent() {
        let a = SeededRandom::new(7);
        let b = SeededRandom::new(7);
        let c = SeededRandom::new(8);
        let ta: Vec<String> = (0..3).map(|_| token(&a, 40)).collect();
        let tb: Vec<String> = (0..3).map(|_| token(&b, 40)).collect();
        let tc: Vec<String> = (0..3).map(|_| token(&c, 40)).collect();
        assert_eq!(ta, tb);
        assert_ne!(ta, tc);
        // successive draws differ
        assert_ne!(ta[0], ta[1]);
        assert_ne!(ta[1], ta[2]);
    }

    #[test]
    fn seeded_random_fills_every_byte_and_odd_lengths() {
        let rng = SeededRandom::new(1);
        for len in [0usize, 1, 31, 32, 33, 64, 100] {
            let mut buf = vec![0u8; len];
            rng.fill(&mut buf);
            if len >= 32 {
                // A 32-byte all-zero run from SHA-256 output is practically impossible.
                assert!(buf.chunks(32).all(|c| c.iter().any(|&b| b != 0)), "{len}");
            }
        }
    }

    #[test]
    fn random_is_usable_as_shared_trait_object() {
        let shared: Arc<dyn Random> = Arc::new(SeededRandom::new(3));
        let handle = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || token(&shared, 8))
        };
        let other = token(&shared, 8);
        let from_thread = handle.join().unwrap();
        assert_ne!(other, from_thread);
    }
}
