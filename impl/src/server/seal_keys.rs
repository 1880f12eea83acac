//! The ticket sealing keys in the store (spec TSR-TICKET-2): loaded at start, rotated, retired
//! and re-read by a running server.

use super::{AppState, BuildError};
use crate::rand::Random;
use crate::seal::Sealer;
use crate::store::Store;
use std::sync::Arc;

const SEAL_PREFIX: &str = "seal:";
const SEAL_CURRENT: &str = "seal-current";

/// The ticket sealing keys from the store (spec TSR-TICKET-2): every `seal:{kid}` secret, the
/// current one named by `seal-current` (default `k1`, created on first start).
pub(super) fn load_sealer(
    store: &dyn Store,
    gen32: &dyn Fn() -> Vec<u8>,
) -> Result<Sealer, BuildError> {
    let current = String::from_utf8(store.secret(SEAL_CURRENT, &|| b"k1".to_vec())?)
        .map_err(|_| crate::seal::SealError::BadKid)?;
    let current_key = store.secret(&format!("{SEAL_PREFIX}{current}"), gen32)?;
    let mut sealer = Sealer::new(&current, &current_key)?;
    for (name, key) in store.secrets(SEAL_PREFIX)? {
        let kid = &name[SEAL_PREFIX.len()..];
        if kid != current {
            sealer.add_key(kid, &key)?;
        }
    }
    Ok(sealer)
}

/// Re-reads the ticket sealing keys from the store and uses them from now on, so `seal-key
/// rotate` and `seal-key retire` apply to a running server (spec TSR-TICKET-2). Returns the
/// current key id and how many keys are held. Not in conformance mode (its key is fresh per
/// start).
pub fn reload_sealing_keys(state: &AppState) -> Result<(String, usize), BuildError> {
    if state.config().conformance {
        let s = &state.0.sealer;
        return Ok((s.current_kid(), s.kids().len()));
    }
    let rng = Arc::clone(&state.0.rng);
    let gen32 = move || token_bytes(&*rng);
    let fresh = load_sealer(&*state.0.store, &gen32)?;
    let out = (fresh.current_kid(), fresh.kids().len());
    state.0.sealer.replace_with(fresh);
    Ok(out)
}

/// Adds a new ticket sealing key and makes it current (spec TSR-TICKET-2); returns its key id.
/// Tickets sealed with older keys keep verifying until those keys are retired. A running
/// server picks the change up at its next [`reload_sealing_keys`].
pub fn rotate_sealing_key(store: &dyn Store, rng: &dyn Random) -> Result<String, BuildError> {
    let stored = store.secrets(SEAL_PREFIX)?;
    let kid = crate::seal::next_kid(
        'k',
        stored.iter().map(|(name, _)| &name[SEAL_PREFIX.len()..]),
    );
    store.set_secret(&format!("{SEAL_PREFIX}{kid}"), Some(&token_bytes(rng)))?;
    store.set_secret(SEAL_CURRENT, Some(kid.as_bytes()))?;
    Ok(kid)
}

/// Withdraws a sealing key: tickets sealed with it fail with `invalid_credentials` from the
/// next [`reload_sealing_keys`] on (spec TSR-TICKET-2). The current key cannot be retired.
pub fn retire_sealing_key(store: &dyn Store, kid: &str) -> Result<(), BuildError> {
    let current = store
        .secrets(SEAL_CURRENT)?
        .into_iter()
        .next()
        .map(|(_, v)| v);
    if current.as_deref() == Some(kid.as_bytes()) || (current.is_none() && kid == "k1") {
        return Err(crate::seal::SealError::CannotRemoveCurrent.into());
    }
    if store
        .secrets(&format!("{SEAL_PREFIX}{kid}"))?
        .iter()
        .all(|(n, _)| n != &format!("{SEAL_PREFIX}{kid}"))
    {
        return Err(crate::seal::SealError::UnknownKid.into());
    }
    store.set_secret(&format!("{SEAL_PREFIX}{kid}"), None)?;
    Ok(())
}

/// The key ids of the stored sealing keys and the current one.
pub fn sealing_keys(store: &dyn Store) -> Result<(Vec<String>, Option<String>), BuildError> {
    let kids: Vec<String> = store
        .secrets(SEAL_PREFIX)?
        .into_iter()
        .map(|(n, _)| n[SEAL_PREFIX.len()..].to_owned())
        .collect();
    let current = store
        .secrets(SEAL_CURRENT)?
        .into_iter()
        .next()
        .and_then(|(_, v)| String::from_utf8(v).ok())
        // stores from before rotation existed: k1 is current
        .or_else(|| kids.iter().any(|k| k == "k1").then(|| "k1".to_owned()));
    Ok((kids, current))
}

pub(super) fn token_bytes(rng: &dyn Random) -> Vec<u8> {
    let mut k = vec![0u8; 32];
    rng.fill(&mut k);
    k
}
