//! Sealed ticket ids: AES-256-GCM with key ids, so sealing keys can rotate.
//!
//! A sealed value looks like `t1.{kid}.{payload}` where `payload` is unpadded base64url of
//! `nonce (12 bytes) || ciphertext || tag (16 bytes)` and the additional authenticated data is
//! `tessera-ticket-v1.{kid}`, so a sealed value cannot be relabelled with another key id.
//!
//! Rotation: add the new key, make it current (new tickets are sealed with it), keep the old
//! key for opening until every ticket sealed under it has expired, then retire it.
//!
//! Nonces are 96 random bits per seal. With random nonces AES-GCM should not seal more than
//! about 2^32 values under one key; rotate keys long before that.

use crate::rand::Random;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead;
use std::fmt;

/// Length of a sealing key in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// Longest key id.
pub const MAX_KID_LEN: usize = 16;
/// Largest plaintext [`Sealer::seal`] accepts.
pub const MAX_PLAINTEXT_LEN: usize = 2048;
/// Longest sealed string [`Sealer::open`] looks at; anything longer is refused unparsed.
/// Large enough for a sealed [`MAX_PLAINTEXT_LEN`] plaintext under the longest key id.
pub const MAX_SEALED_LEN: usize =
    PREFIX.len() + MAX_KID_LEN + 1 + (NONCE_LEN + MAX_PLAINTEXT_LEN + TAG_LEN).div_ceil(3) * 4;

const PREFIX: &str = "t1.";
const AAD_PREFIX: &str = "tessera-ticket-v1.";
const NONCE_LEN: usize = aead::NONCE_LEN;
const TAG_LEN: usize = 16;

/// Everything that can go wrong when building a [`Sealer`] or sealing/opening a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A key id is not 1–16 characters of `[a-z0-9-]`.
    #[error("key id must be 1-16 characters of [a-z0-9-]")]
    BadKid,
    /// A key is not exactly 32 bytes.
    #[error("sealing key must be exactly 32 bytes")]
    BadKeyLength,
    /// The key id is already present.
    #[error("duplicate key id")]
    DuplicateKid,
    /// The current key cannot be retired; make another key current first.
    #[error("the current key cannot be removed")]
    CannotRemoveCurrent,
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`].
    #[error("plaintext too long")]
    PlaintextTooLong,
    /// The sealed string is longer than [`MAX_SEALED_LEN`].
    #[error("sealed value too long")]
    TooLong,
    /// The sealed string does not have the `t1.{kid}.{base64url}` form.
    #[error("malformed sealed value")]
    Malformed,
    /// The key id is well-formed but no key with that id is known (retired, or never ours).
    #[error("unknown key id")]
    UnknownKid,
    /// Decryption failed: wrong key, tampered value, or a value not sealed by us.
    #[error("sealed value failed authentication")]
    AuthFailed,
}

fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The key id after `kids` in the series `{prefix}1`, `{prefix}2`, …: one past the highest
/// held. The highest is the current key (a rotation makes the newest current, and the current
/// key cannot be withdrawn), so no id is ever used twice.
pub fn next_kid<'a>(prefix: char, kids: impl IntoIterator<Item = &'a str>) -> String {
    let n = kids
        .into_iter()
        .filter_map(|k| k.strip_prefix(prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("{prefix}{}", n + 1)
}

/// Draws a fresh 32-byte sealing key. Persist it (it is the only copy) and pass it to
/// [`Sealer::new`] or [`Sealer::add_key`].
pub fn generate_key<R: Random + ?Sized>(rng: &R) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rng.fill(&mut key);
    key
}

struct Entry {
    kid: String,
    key: aead::LessSafeKey,
}

/// Holds the sealing keys by key id, one of them current.
pub struct Sealer {
    // behind a lock so a running server can take up rotated keys (`Sealer::replace_with`)
    held: std::sync::RwLock<Held>,
}

struct Held {
    keys: Vec<Entry>,
    current: usize,
    /// Moves whenever the keys held change, so what [`OpenedCache`] keeps is dropped when a
    /// key is withdrawn or replaced.
    generation: u64,
}

impl Held {
    fn position(&self, kid: &str) -> Option<usize> {
        self.keys.iter().position(|e| e.kid == kid)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("kids", &self.kids())
            .field("current", &self.current_kid())
            .finish_non_exhaustive()
    }
}

fn make_entry(kid: &str, key: &[u8]) -> Result<Entry, SealError> {
    if !is_valid_kid(kid) {
        return Err(SealError::BadKid);
    }
    if key.len() != KEY_LEN {
        return Err(SealError::BadKeyLength);
    }
    let unbound =
        aead::UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| SealError::BadKeyLength)?;
    Ok(Entry {
        kid: kid.to_owned(),
        key: aead::LessSafeKey::new(unbound),
    })
}

fn aad(kid: &str) -> String {
    format!("{AAD_PREFIX}{kid}")
}

impl Sealer {
    /// A sealer with one key, which is current.
    pub fn new(kid: &str, key: &[u8]) -> Result<Self, SealError> {
        Ok(Self {
            held: std::sync::RwLock::new(Held {
                keys: vec![make_entry(kid, key)?],
                current: 0,
                generation: 0,
            }),
        })
    }

    /// A sealer with one freshly generated key. The key cannot be read back, so values it
    /// seals die with the process: fine for tests, not for a server that restarts (use
    /// [`generate_key`], persist the key, then [`Sealer::new`]).
    pub fn generate<R: Random + ?Sized>(kid: &str, rng: &R) -> Result<Self, SealError> {
        Self::new(kid, &generate_key(rng))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        // nothing panics while the lock is held
        self.held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&mut self) -> &mut Held {
        let held = self
            .held
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.generation += 1;
        held
    }

    /// Takes `other`'s keys and current key, at once for every later seal and open (a
    /// running server re-reading rotated or retired keys from its store).
    pub fn replace_with(&self, other: Sealer) {
        let mut new = other
            .held
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        new.generation = held.generation + 1;
        *held = new;
    }

    /// Adds a key for opening (and for sealing once made current with [`Sealer::set_current`]).
    pub fn add_key(&mut self, kid: &str, key: &[u8]) -> Result<(), SealError> {
        let entry = make_entry(kid, key)?;
        let held = self.write();
        if held.position(kid).is_some() {
            return Err(SealError::DuplicateKid);
        }
        held.keys.push(entry);
        Ok(())
    }

    /// Makes `kid` the key new values are sealed with.
    pub fn set_current(&mut self, kid: &str) -> Result<(), SealError> {
        let held = self.write();
        held.current = held.position(kid).ok_or(SealError::UnknownKid)?;
        Ok(())
    }

    /// Forgets `kid`: values sealed under it no longer open.
    pub fn remove_key(&mut self, kid: &str) -> Result<(), SealError> {
        self.withdraw(kid)
    }

    /// Adds `key` as `kid` and makes it current on a running server (spec TSR-TICKET-2):
    /// values sealed under the keys held before keep opening until withdrawn. Returns the id
    /// of the key that was current.
    pub fn rotate_to(&self, kid: &str, key: &[u8]) -> Result<String, SealError> {
        let entry = make_entry(kid, key)?;
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.position(kid).is_some() {
            return Err(SealError::DuplicateKid);
        }
        let previous = held
            .keys
            .get(held.current)
            .map_or_else(String::new, |e| e.kid.clone());
        held.keys.push(entry);
        held.current = held.keys.len() - 1;
        held.generation += 1;
        Ok(previous)
    }

    /// Withdraws `kid` on a running server: values sealed under it no longer open (spec
    /// TSR-TICKET-2). The current key cannot be withdrawn.
    pub fn withdraw(&self, kid: &str) -> Result<(), SealError> {
        let mut held = self
            .held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pos = held.position(kid).ok_or(SealError::UnknownKid)?;
        if pos == held.current {
            return Err(SealError::CannotRemoveCurrent);
        }
        held.keys.remove(pos);
        if pos < held.current {
            held.current -= 1;
        }
        held.generation += 1;
        Ok(())
    }

    /// The id of the key new values are sealed with.
    #[must_use]
    pub fn current_kid(&self) -> String {
        let held = self.read();
        held.keys
            .get(held.current)
            .map_or_else(String::new, |e| e.kid.clone())
    }

    /// Every key id held, in the order added.
    #[must_use]
    pub fn kids(&self) -> Vec<String> {
        self.read().keys.iter().map(|e| e.kid.clone()).collect()
    }

    /// Seals `plaintext` under the current key with a fresh random nonce:
    /// `t1.{kid}.{base64url(nonce || ciphertext || tag)}`.
    pub fn seal<R: Random + ?Sized>(&self, plaintext: &[u8], rng: &R) -> Result<String, SealError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(SealError::PlaintextTooLong);
        }
        let held = self.read();
        let entry = held.keys.get(held.current).ok_or(SealError::UnknownKid)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let mut buf = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let mut body = buf.split_off(NONCE_LEN);
        entry
            .key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad(&entry.kid).as_bytes()),
                &mut body,
            )
            // Only fails for plaintexts far beyond MAX_PLAINTEXT_LEN.
            .map_err(|_| SealError::PlaintextTooLong)?;
        buf.append(&mut body);
        Ok(format!(
            "{PREFIX}{}.{}",
            entry.kid,
            URL_SAFE_NO_PAD.encode(&buf)
        ))
    }

    /// Opens a value produced by [`Sealer::seal`] with whichever held key its id names.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        self.open_at(sealed).1
    }

    /// [`Sealer::open`], with the generation of the keys it was opened under.
    fn open_at(&self, sealed: &str) -> (u64, Result<Vec<u8>, SealError>) {
        let held = self.read();
        (held.generation, Self::open_with(&held, sealed))
    }

    fn open_with(held: &Held, sealed: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(SealError::TooLong);
        }
        let rest = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let (kid, payload) = rest.split_once('.').ok_or(SealError::Malformed)?;
        if !is_valid_kid(kid) {
            return Err(SealError::Malformed);
        }
        let mut bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let entry = held
            .position(kid)
            .and_then(|i| held.keys.get(i))
            .ok_or(SealError::UnknownKid)?;
        let mut body = bytes.split_off(NONCE_LEN);
        let nonce =
            aead::Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Malformed)?;
        let len = entry
            .key
            .open_in_place(nonce, aead::Aad::from(aad(kid).as_bytes()), &mut body)
            .map_err(|_| SealError::AuthFailed)?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

/// Values already opened (and parsed) by their exact sealed id: a ticket is presented on every
/// call it authenticates, and opening it (base64, AES-GCM, JSON) was about a fifteenth of a
/// ticket call's CPU (issue 15). An entry is valid while the sealer holds the keys it was
/// opened under (a withdrawn key empties the cache at the next lookup); only ids that opened
/// are kept, so no one without a genuine sealed value can add an entry, and the cache starts
/// over when full. What a value grants (expiry, revocation) is checked on every call anyway.
#[derive(Debug)]
pub struct OpenedCache<T> {
    inner: std::sync::RwLock<Opened<T>>,
    capacity: usize,
}

#[derive(Debug)]
struct Opened<T> {
    generation: u64,
    values: std::collections::HashMap<String, T>,
}

impl<T: Clone> OpenedCache<T> {
    /// An empty cache of at most `capacity` values.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: std::sync::RwLock::new(Opened {
                generation: 0,
                values: std::collections::HashMap::new(),
            }),
            capacity,
        }
    }

    /// The value `sealed` opens to under `sealer`, parsed by `parse` (`None`: unusable), from
    /// the cache when it was opened under the keys `sealer` holds now.
    pub fn open(
        &self,
        sealer: &Sealer,
        sealed: &str,
        parse: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let now = sealer.read().generation;
        {
            let c = self
                .inner
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if c.generation == now {
                if let Some(v) = c.values.get(sealed) {
                    return Some(v.clone());
                }
            }
        }
        let (generation, plain) = sealer.open_at(sealed);
        let value = parse(&plain.ok()?)?;
        let mut c = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if generation != c.generation || c.values.len() >= self.capacity {
            c.values.clear();
            c.generation = generation;
        }
        c.values.insert(sealed.to_owned(), value.clone());
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRandom;

    fn sealer() -> Sealer {
        Sealer::new("k1", &[7u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_format() {
        let rng = SeededRandom::new(1);
        let s = sealer();
        let sealed = s.seal(b"ticket payload", &rng).unwrap();
        assert!(sealed.starts_with("t1.k1."), "{sealed}");
        let payload = sealed.rsplit('.').next().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(payload).unwrap().len(), 12 + 14 + 16);
        assert_eq!(s.open(&sealed).unwrap(), b"ticket payload");
        // empty plaintext works too
        assert_eq!(s.open(&s.seal(b"", &rng).unwrap()).unwrap(), b"");
    }

    #[test]
    fn fresh_nonce_each_time() {
        let rng = SeededRandom::new(1);
        let s = sealer();
        assert_ne!(s.seal(b"x", &rng).unwrap(), s.seal(b"x", &rng).unwrap());
    }

    #[test]
    fn rotation_keeps_old_values_openable_until_retired() {
        let rng = SeededRandom::new(2);
        let mut s = sealer();
        let old = s.seal(b"old", &rng).unwrap();
        s.add_key("k2", &generate_key(&rng)).unwrap();
        s.set_current("k2").unwrap();
        let new = s.seal(b"new", &rng).unwrap();
        assert!(new.starts_with("t1.k2."));
        assert_eq!(s.open(&old).unwrap(), b"old");
        assert_eq!(s.open(&new).unwrap(), b"new");
        assert_eq!(s.remove_key("k2"), Err(SealError::CannotRemoveCurrent));
        s.remove_key("k1").unwrap();
        assert_eq!(s.current_kid(), "k2");
        assert_eq!(s.open(&old), Err(SealError::UnknownKid));
        assert_eq!(s.open(&new).unwrap(), b"new");
        assert_eq!(s.add_key("k2", &[0; 32]), Err(SealError::DuplicateKid));
        assert_eq!(s.set_current("nope"), Err(SealError::UnknownKid));
    }

    #[test]
    fn opened_values_are_served_until_their_key_is_withdrawn() {
        let rng = SeededRandom::new(7);
        let s = Sealer::generate("k1", &rng).unwrap();
        let id = s.seal(b"old", &rng).unwrap();
        let cache = OpenedCache::new(8);
        let parses = std::cell::Cell::new(0);
        let parse = |b: &[u8]| {
            parses.set(parses.get() + 1);
            Some(b.to_vec())
        };
        assert_eq!(cache.open(&s, &id, parse), Some(b"old".to_vec()));
        assert_eq!(cache.open(&s, &id, parse), Some(b"old".to_vec()));
        assert_eq!(parses.get(), 1, "the second open is served from the cache");
        // a rotation keeps old values openable (opened again under the new key set)
        s.rotate_to("k2", &generate_key(&rng)).unwrap();
        assert_eq!(cache.open(&s, &id, parse), Some(b"old".to_vec()));
        assert_eq!(parses.get(), 2);
        // withdrawn: the cached value is not served any more
        s.withdraw("k1").unwrap();
        assert_eq!(cache.open(&s, &id, parse), None);
        // what does not open, or does not parse, is never kept
        assert_eq!(cache.open(&s, "t1.k2.AAAA", parse), None);
        let fresh = s.seal(b"new", &rng).unwrap();
        assert_eq!(cache.open(&s, &fresh, |_| None::<Vec<u8>>), None);
        assert_eq!(cache.open(&s, &fresh, parse), Some(b"new".to_vec()));
        // replaced wholesale (a server re-reading its keys): dropped too
        s.replace_with(Sealer::generate("k3", &rng).unwrap());
        assert_eq!(cache.open(&s, &fresh, parse), None);
    }

    #[test]
    fn the_opened_cache_starts_over_when_full() {
        let rng = SeededRandom::new(7);
        let s = Sealer::generate("k1", &rng).unwrap();
        let cache = OpenedCache::new(2);
        let ids: Vec<String> = (0..3).map(|i| s.seal(&[i], &rng).unwrap()).collect();
        for id in &ids {
            assert!(cache.open(&s, id, |b| Some(b.to_vec())).is_some());
        }
        let held = cache.inner.read().unwrap().values.len();
        assert_eq!(held, 1, "full at 2: cleared, then the third kept");
    }

    #[test]
    fn kid_is_authenticated() {
        // Two keys with identical bytes: relabelling the kid must still fail, because the
        // kid is in the AAD.
        let rng = SeededRandom::new(3);
        let mut s = sealer();
        s.add_key("k2", &[7u8; 32]).unwrap();
        let sealed = s.seal(b"data", &rng).unwrap();
        let relabelled = sealed.replacen("t1.k1.", "t1.k2.", 1);
        assert_eq!(s.open(&relabelled), Err(SealError::AuthFailed));
    }

    #[test]
    fn wrong_key_and_tampering_fail_authentication() {
        let rng = SeededRandom::new(4);
        let sealed = sealer().seal(b"data", &rng).unwrap();
        let other = Sealer::new("k1", &[8u8; 32]).unwrap();
        assert_eq!(other.open(&sealed), Err(SealError::AuthFailed));

        let s = sealer();
        let (head, payload) = sealed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(s.open(&tampered), Err(SealError::AuthFailed), "byte {i}");
            bytes[i] ^= 1;
        }
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let s = sealer();
        let min_payload = URL_SAFE_NO_PAD.encode([0u8; 28]);
        let short_payload = URL_SAFE_NO_PAD.encode([0u8; 27]);
        let cases: Vec<(String, SealError)> = vec![
            (String::new(), SealError::Malformed),
            ("t1".into(), SealError::Malformed),
            ("t1.".into(), SealError::Malformed),
            ("t1.k1".into(), SealError::Malformed),
            ("t1.k1.".into(), SealError::Malformed),
            (format!("t2.k1.{min_payload}"), SealError::Malformed),
            (format!("t1.K1.{min_payload}"), SealError::Malformed),
            (format!("t1..{min_payload}"), SealError::Malformed),
            (
                format!("t1.{}.{min_payload}", "a".repeat(17)),
                SealError::Malformed,
            ),
            (format!("t1.k1.{short_payload}"), SealError::Malformed),
            (format!("t1.k1.{min_payload}="), SealError::Malformed),
            (format!("t1.k1.{min_payload}.x"), SealError::Malformed),
            ("t1.k1.!!!!".into(), SealError::Malformed),
            ("t1.k1.é".into(), SealError::Malformed),
            (format!("t1.zz.{min_payload}"), SealError::UnknownKid),
            (format!("t1.k1.{min_payload}"), SealError::AuthFailed),
            ("t".repeat(MAX_SEALED_LEN + 1), SealError::TooLong),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(input, want)| {
                let got = s.open(input);
                (got.as_ref() != Err(want))
                    .then(|| format!("{input:?}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn limits() {
        let rng = SeededRandom::new(5);
        let s = Sealer::new("abcdefghijklmnop", &[1u8; 32]).unwrap();
        let biggest = s.seal(&[0xAB; MAX_PLAINTEXT_LEN], &rng).unwrap();
        assert!(biggest.len() <= MAX_SEALED_LEN);
        assert_eq!(s.open(&biggest).unwrap().len(), MAX_PLAINTEXT_LEN);
        assert_eq!(
            s.seal(&[0; MAX_PLAINTEXT_LEN + 1], &rng),
            Err(SealError::PlaintextTooLong)
        );
    }

    #[test]
    fn construction_checks() {
        assert_eq!(Sealer::new("", &[0; 32]).unwrap_err(), SealError::BadKid);
        assert_eq!(Sealer::new("A", &[0; 32]).unwrap_err(), SealError::BadKid);
        assert_eq!(Sealer::new("a_b", &[0; 32]).unwrap_err(), SealError::BadKid);
        assert_eq!(
            Sealer::new(&"a".repeat(17), &[0; 32]).unwrap_err(),
            SealError::BadKid
        );
        assert_eq!(
            Sealer::new("k", &[0; 31]).unwrap_err(),
            SealError::BadKeyLength
        );
        assert_eq!(
            Sealer::new("k", &[0; 33]).unwrap_err(),
            SealError::BadKeyLength
        );
        assert!(Sealer::new("2025-01-k9", &[0; 32]).is_ok());
        let g = Sealer::generate("g", &SeededRandom::new(9)).unwrap();
        assert_eq!(g.current_kid(), "g");
        assert!(!format!("{g:?}").contains("key:"));
    }
}
