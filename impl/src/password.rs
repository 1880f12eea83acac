//! Subject passwords: Argon2id with a per-password random salt (spec TSR-REG-6).

use crate::rand::Random;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
}

impl Cost {
    /// OWASP's recommended minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
    pub const PRODUCTION: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
    };
    /// For throwaway fixtures (conformance mode, tests): still Argon2id, much cheaper.
    pub const FIXTURE: Self = Self {
        memory_kib: 1024,
        iterations: 1,
    };
}

/// Why hashing failed (never for valid parameters).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// The PHC string of `password` under a fresh 16-byte salt.
pub fn hash(password: &str, cost: Cost, rng: &dyn Random) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError)?;
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(|_| HashError)?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Whether `password` matches the PHC string `phc` (constant-time comparison inside argon2).
#[must_use]
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the login name does not exist, so that the answer takes as
/// long as for a real account (spec TSR-AUTHZ-8: do not reveal whether the name exists).
pub fn dummy_hash(cost: Cost) -> String {
    hash(
        "tessera-dummy-password",
        cost,
        &crate::rand::SeededRandom::new(0),
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRandom;

    #[test]
    fn hash_and_verify() {
        let rng = SeededRandom::new(1);
        let h = hash("correct horse", Cost::FIXTURE, &rng).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a phc string"));
        assert_ne!(
            h,
            hash("correct horse", Cost::FIXTURE, &rng).unwrap(),
            "salted"
        );
    }
}
