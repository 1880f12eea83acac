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

/// Fewest characters a Subject's new password may have (NIST SP 800-63B's floor).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password in bytes: the sign-in page looks at no longer one, so none may be set.
pub const MAX_PASSWORD_BYTES: usize = 1_024;

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password is too short: {0} characters, at least {MIN_PASSWORD_CHARS} needed")]
    TooShort(usize),
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password is too long: at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

/// Whether `password` may be set as a Subject's password (every command that sets one checks).
pub fn check_new(password: &str) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PolicyError::TooShort(chars));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PolicyError::TooLong);
    }
    Ok(())
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

/// The Argon2 algorithm, version and parameters a PHC string was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashParams {
    algorithm: Algorithm,
    version: Version,
    params: Params,
}

impl HashParams {
    /// The parameters of `phc`, if it is an Argon2 PHC string.
    #[must_use]
    pub fn of(phc: &str) -> Option<Self> {
        let h = PasswordHash::new(phc).ok()?;
        Some(Self {
            algorithm: Algorithm::try_from(h.algorithm).ok()?,
            version: h.version.and_then(|v| Version::try_from(v).ok())?,
            params: Params::try_from(&h).ok()?,
        })
    }

    /// The parameters of [`hash`] under `cost`.
    pub fn of_cost(cost: Cost) -> Result<Self, HashError> {
        Ok(Self {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: Params::new(
                cost.memory_kib,
                cost.iterations,
                1,
                Some(Params::DEFAULT_OUTPUT_LEN),
            )
            .map_err(|_| HashError)?,
        })
    }

    /// A hash of a fixed throwaway password under exactly these parameters.
    fn dummy(&self) -> Result<String, HashError> {
        let salt = SaltString::encode_b64(&[0x5a; 16]).map_err(|_| HashError)?;
        Argon2::new(self.algorithm, self.version, self.params.clone())
            .hash_password(b"tessera-dummy-password", &salt)
            .map(|h| h.to_string())
            .map_err(|_| HashError)
    }
}

/// The hash to verify against when the login name does not exist, so that the answer costs
/// what a wrong password for a real account costs (spec TSR-AUTHZ-8: do not reveal whether the
/// name exists). It starts with the parameters new hashes get and then follows those of the
/// stored hashes it is shown ([`DummyHash::follow`]), so an account hashed with other
/// parameters (older, or made by another tool) does not make unknown names stand out.
#[derive(Debug)]
pub struct DummyHash {
    current: std::sync::Mutex<(HashParams, Option<std::sync::Arc<str>>)>,
}

impl DummyHash {
    /// A dummy with the parameters of [`hash`] under `cost`; computed on first use.
    pub fn new(cost: Cost) -> Result<Self, HashError> {
        Ok(Self {
            current: std::sync::Mutex::new((HashParams::of_cost(cost)?, None)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashParams, Option<std::sync::Arc<str>>)> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A stored hash was verified: from now on the dummy has its parameters.
    pub fn follow(&self, stored: &str) {
        let Some(p) = HashParams::of(stored) else {
            return;
        };
        let mut cur = self.lock();
        if cur.0 != p {
            *cur = (p, None);
        }
    }

    /// The dummy PHC string (hashing it first if the parameters changed: blocking).
    #[must_use]
    pub fn get(&self) -> std::sync::Arc<str> {
        let params = {
            let cur = self.lock();
            if let Some(h) = &cur.1 {
                return h.clone();
            }
            cur.0.clone()
        };
        let h: std::sync::Arc<str> = params.dummy().unwrap_or_default().into();
        let mut cur = self.lock();
        if cur.0 == params {
            cur.1 = Some(h.clone());
        }
        h
    }
}

/// Verifies `password` against the stored hash, or against `dummy` when there is no account;
/// returns the verdict (always `false` without an account) and the parameters the work ran
/// with, which are the same on both paths (spec TSR-AUTHZ-8). Blocking.
#[must_use]
pub fn verify_or_dummy(
    password: &str,
    stored: Option<&str>,
    dummy: &DummyHash,
) -> (bool, Option<HashParams>) {
    match stored {
        Some(phc) => {
            dummy.follow(phc);
            (verify(password, phc), HashParams::of(phc))
        }
        None => {
            let phc = dummy.get();
            let _ = verify(password, &phc);
            (false, HashParams::of(&phc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_have_a_minimum_and_a_maximum_length() {
        assert_eq!(check_new(""), Err(PolicyError::TooShort(0)));
        assert_eq!(check_new("seven77"), Err(PolicyError::TooShort(7)));
        // characters, not bytes
        assert_eq!(check_new("ééééééé"), Err(PolicyError::TooShort(7)));
        assert!(check_new("eight888").is_ok());
        assert!(check_new(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert_eq!(
            check_new(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PolicyError::TooLong)
        );
        assert!(check_new("seven77")
            .unwrap_err()
            .to_string()
            .contains("at least 8"));
    }
    use crate::rand::SeededRandom;

    #[test]
    fn unknown_names_and_wrong_passwords_run_the_same_argon2_work() {
        let rng = SeededRandom::new(2);
        for (start, stored_cost) in [
            (Cost::FIXTURE, Cost::FIXTURE),
            (Cost::PRODUCTION, Cost::PRODUCTION),
            // an account hashed with other parameters: the dummy follows it
            (Cost::FIXTURE, Cost::PRODUCTION),
        ] {
            let dummy = DummyHash::new(start).unwrap();
            let stored = hash("owner's password", stored_cost, &rng).unwrap();
            let (ok, wrong) = verify_or_dummy("guess", Some(&stored), &dummy);
            assert!(!ok);
            let (ok, unknown) = verify_or_dummy("guess", None, &dummy);
            assert!(!ok);
            assert!(wrong.is_some());
            assert_eq!(wrong, unknown, "{start:?} then {stored_cost:?}");
            assert_eq!(unknown, Some(HashParams::of_cost(stored_cost).unwrap()));
        }
        // before any account was seen, the dummy has the parameters new hashes get
        let dummy = DummyHash::new(Cost::PRODUCTION).unwrap();
        assert_eq!(
            HashParams::of(&dummy.get()),
            HashParams::of(&hash("x", Cost::PRODUCTION, &rng).unwrap())
        );
        // a verified right password still verifies
        let stored = hash("right", Cost::FIXTURE, &rng).unwrap();
        assert!(verify_or_dummy("right", Some(&stored), &dummy).0);
    }

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
