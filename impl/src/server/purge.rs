//! Forgetting what can no longer be presented (spec TSR-SESSION-7, TSR-CONV-16).

use super::AppState;
use crate::error::Error;

/// How often [`spawn_purger`] deletes undecided sessions past their grace.
pub const PURGE_UNDECIDED_EVERY: std::time::Duration = std::time::Duration::from_secs(300);
/// How often [`spawn_purger`] deletes everything past the family TTL.
pub const PURGE_ALL_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes what can no longer be presented, once (spec TSR-SESSION-7, TSR-CONV-16): sessions
/// never redeemed `undecided_grace` after their expiry and, when `all`, every session past
/// the family TTL. Returns the number of sessions deleted.
pub async fn purge_expired(state: &AppState, all: bool) -> Result<usize, Error> {
    let now = state.now();
    let undecided_cutoff = now - state.config().undecided_grace;
    let mut n = state
        .db(move |s| s.purge_undecided(undecided_cutoff))
        .await?;
    if all {
        let cutoff = now - state.config().ttl.family;
        n += state.db(move |s| s.purge(cutoff)).await?;
    }
    Ok(n)
}

/// Runs [`purge_expired`] every [`PURGE_UNDECIDED_EVERY`] (and the whole purge every
/// [`PURGE_ALL_EVERY`]) until the task is aborted.
pub fn spawn_purger(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_UNDECIDED_EVERY);
        let ratio = (PURGE_ALL_EVERY.as_secs() / PURGE_UNDECIDED_EVERY.as_secs()).max(1);
        let mut tick = 0u64;
        loop {
            every.tick().await;
            let all = tick.is_multiple_of(ratio);
            tick += 1;
            match purge_expired(&state, all).await {
                Ok(n) => tracing::info!(sessions = n, all, "purged expired records"),
                Err(_) => tracing::error!("purge failed"),
            }
        }
    })
}
