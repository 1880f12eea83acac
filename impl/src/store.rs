//! Storage behind a [`Store`] trait with atomic operations, and its SQLite implementation.
//!
//! Every operation that changes a session is a compare-and-set on the session's stored state
//! inside one transaction (spec TSR-SESSION-2): of concurrent requests that would each move a
//! session out of a state, the first to commit wins and the others see `false` and re-decide
//! on the new state. Transactions commit with `synchronous=FULL` in WAL mode before the
//! response is sent, so nothing acknowledged to a client is lost on a crash or power cut
//! (`NORMAL` would only guarantee that for process crashes, not for power loss).
//!
//! **Group commit.** [`SqliteStore`] has one writer thread that drains a queue of state
//! changes: each change runs, as it arrives, in its own savepoint inside the batch's one
//! `BEGIN IMMEDIATE` transaction; on a file the batch waits (at most [`LINGER`]) for as many
//! changes as there were callers waiting on the writer when the last batch committed, then
//! commits once (one WAL fsync), and only then does each caller get its answer. A change whose
//! own work fails is rolled back to its savepoint and gets its own error; if the commit fails,
//! every caller in the batch gets an error, so nothing is acknowledged that is not durable.
//! The writer checkpoints the WAL itself, between batches.
//!
//! Verifying a ticket-authenticated request only reads ([`Store::family_live`], the ticket's
//! Consumer, and for `/v1/subject` its Subject); the Hawk nonce cache lives in memory (spec
//! TSR-TICKET-7, TSR-HAWK-10). The SQLite store says its reads may run on the request thread
//! ([`Store::reads_inline`]) and answers those three from a [`RecordCache`], checked on every
//! call against the records generation that triggers move in the database itself, so a
//! change made by the operator's CLI from another process is seen at the next request too.

use crate::core::{Consumer, Family, Session, State, Subject};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError, RwLock};

/// A storage fault (I/O, corruption, a bug). Reported to clients as `500 internal_error`
/// without details (spec TSR-ERROR-2); logged by the caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column does not parse.
    #[error("stored record does not parse: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// A uniqueness constraint (duplicate consumer id, username, sid).
    #[error("already exists")]
    Conflict,
    /// The batch this change was part of did not commit (or the writer is gone): nothing of
    /// it was stored.
    #[error("not committed: {0}")]
    NotCommitted(String),
    /// PostgreSQL said no (see [`crate::store_pg`]).
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// No PostgreSQL connection could be had from the pool in time.
    #[error("postgres pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The database was migrated by a newer binary.
    #[error("{0}")]
    Migration(#[from] crate::migrate::TooNew),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// What [`Store::ticket_standing`] answers.
#[derive(Debug, Clone)]
pub struct TicketStanding {
    /// The ticket's family is neither revoked nor unknown (always, for an app ticket).
    pub family_live: bool,
    /// The ticket's Consumer, if it is still registered and enabled.
    pub consumer: Option<Arc<Consumer>>,
    /// The Subject asked for, if it exists.
    pub subject: Option<Arc<Subject>>,
}

/// The Authority's storage. Every method is atomic; the compare-and-set methods return
/// `false` (and change nothing) when the session is no longer in the state the caller
/// decided on.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// A registered Consumer.
    fn consumer(&self, id: &str) -> StoreResult<Option<Consumer>>;
    /// Every registered Consumer.
    fn consumers(&self) -> StoreResult<Vec<Consumer>>;
    /// Registers a Consumer, or replaces it (a new key invalidates the old one at once,
    /// spec TSR-REG-5). Whoever replaces a key also calls [`Store::revoke_consumer_families`]
    /// (spec TSR-REG-8; the CLI does); [`SqliteStore`] also revokes them in the same
    /// transaction. App tickets die by their sealed key fingerprint.
    fn put_consumer(&self, consumer: &Consumer) -> StoreResult<()>;
    /// A Subject by internal id.
    fn subject(&self, id: &str) -> StoreResult<Option<Subject>>;
    /// A Subject by login name.
    fn subject_by_username(&self, username: &str) -> StoreResult<Option<Subject>>;
    /// Adds a Subject, or replaces the one with the same login name (keeping its internal id).
    /// Whoever changes a password also calls [`Store::revoke_subject_families`] (spec
    /// TSR-REG-9); [`SqliteStore`] also revokes them in the same transaction when the password
    /// hash changes.
    fn put_subject(&self, subject: &Subject) -> StoreResult<()>;
    /// A named secret of the Authority (sealing key, pairwise key, …), created with `make` if
    /// absent. Atomic: concurrent callers all get the same value.
    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>>;
    /// Every secret whose name starts with `prefix`, by name.
    fn secrets(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>>;
    /// Sets (or, with `None`, deletes) a named secret.
    fn set_secret(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()>;
    /// Removes and returns a named secret. Atomic: of concurrent callers, at most one gets it
    /// (a delegation grant is single use, spec TSR-DELEGATE-4).
    fn take_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Stores a new session and its family (handshake).
    fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// A session by `sid` hash.
    fn session(&self, sid_hash: &str) -> StoreResult<Option<Session>>;
    /// A session by authorize request hash.
    fn session_by_request(&self, request_hash: &str) -> StoreResult<Option<Session>>;
    /// The session a code was issued for, by code hash. (v1 used it to burn a code presented
    /// for another session, TSR-RESULT-11, withdrawn in v1.1; kept for operators' tools.)
    fn session_by_code(&self, code_hash: &str) -> StoreResult<Option<Session>>;
    /// A family.
    fn family(&self, id: &str) -> StoreResult<Option<Family>>;
    /// The session a `sid` hash names and its family (spec 6.2): what refresh and revoke
    /// decide on.
    fn session_with_family(
        &self,
        sid_hash: &str,
    ) -> StoreResult<(Option<Session>, Option<Family>)> {
        let session = self.session(sid_hash)?;
        let family = match &session {
            Some(s) => self.family(&s.family)?,
            None => None,
        };
        Ok((session, family))
    }
    /// Decides an authorize request: `pending` → `authorized`/`denied`, once.
    fn decide(&self, sid_hash: &str, new_state: &State) -> StoreResult<bool>;
    /// Redeems a code: `authorized` → `active` with `exp`, starting the family with
    /// `family_end`, once (spec TSR-RESULT-7).
    fn redeem(&self, session: &Session, family_end: i64) -> StoreResult<bool>;
    /// Rotates a session: `active` → `rotated` and stores `new`, once (spec TSR-REFRESH-3).
    fn rotate(&self, old_sid_hash: &str, rotated: &State, new: &Session) -> StoreResult<bool>;
    /// Revokes a family: every session in it becomes `revoked` (spec TSR-SESSION-4).
    fn revoke_family(&self, family: &str) -> StoreResult<()>;
    /// Deletes sessions whose `exp` is before `cutoff`, families left without sessions, the
    /// first-browser bindings of their authorize requests (TSR-AUTHZ-9) and delegation grants
    /// expired before `cutoff` (TSR-DELEGATE-4) (spec TSR-SESSION-7: call with `now - family TTL`, so nothing that could still be
    /// presented, no redeemed code and no revocation of a live ticket, is forgotten).
    /// Returns the number of sessions deleted.
    fn purge(&self, cutoff: i64) -> StoreResult<usize>;
    /// Deletes sessions never redeemed (`pending`, `denied`, `authorized`) whose `exp` is
    /// before `cutoff` (spec TSR-CONV-16: soon after their expiry, so anonymous visits of a
    /// login button do not pile up). A code of such a session was never redeemed, so there is
    /// no reuse to detect. Returns the number of sessions deleted.
    fn purge_undecided(&self, cutoff: i64) -> StoreResult<usize>;

    /// Whether the family `id` is live, neither revoked nor unknown: what a ticket call
    /// checks (spec TSR-TICKET-6). A revocation is seen by the next call (TSR-REVOKE-3). A
    /// family removed by [`Store::purge`] may be reported either way: every ticket of it has
    /// expired (a ticket never outlives the session it came with, and purge removes only
    /// families whose sessions all ended before the cutoff). The default reads through
    /// [`Store::family`]; a store that sees every revocation (the only writer of its data)
    /// may answer from memory.
    fn family_live(&self, id: &str) -> StoreResult<bool> {
        Ok(self.family(id)?.is_some_and(|f| !f.revoked))
    }

    /// What a ticket call checks, read together: whether its family is live
    /// ([`Store::family_live`]; `None` for an app ticket, which has none: live), its
    /// Consumer's current record ([`Store::consumer`], spec TSR-REG-8) and, for the endpoints
    /// that answer with Subject data, the Subject `subject` ([`Store::subject`]).
    fn ticket_standing(
        &self,
        family: Option<&str>,
        app: &str,
        subject: Option<&str>,
    ) -> StoreResult<TicketStanding> {
        Ok(TicketStanding {
            family_live: family.map_or(Ok(true), |f| self.family_live(f))?,
            consumer: self.consumer(app)?.map(Arc::new),
            subject: subject
                .map_or(Ok(None), |id| self.subject(id))?
                .map(Arc::new),
        })
    }

    /// Whether reads are cheap and never wait for a network round trip or for a writer
    /// (memory, or a local SQLite file in WAL mode), so the server runs them on the request
    /// thread instead of handing them to a store thread. Default `false`: a store reached over
    /// the network keeps its reads off the async runtime.
    fn reads_inline(&self) -> bool {
        false
    }

    // ---- operations (issue 12): several instances, restarts, the operator's CLI ----

    /// The schema version the store is at (see [`crate::migrate`]).
    fn schema_version(&self) -> StoreResult<u32>;
    /// Whether several Authority instances may share this store. A shared store keeps the
    /// Hawk replay record itself ([`Store::remember_nonce`], spec TSR-HAWK-15).
    fn is_shared(&self) -> bool {
        false
    }
    /// Shared replay store: remembers `(id, ts, nonce)` if absent. `true` when it was new,
    /// `false` when it was there (a replay). Atomic across every instance on the store.
    fn remember_nonce(&self, id: &str, ts: i64, nonce: &str) -> StoreResult<bool>;
    /// Forgets remembered nonces with `ts < before`; returns how many.
    fn forget_nonces(&self, before: i64) -> StoreResult<u64>;
    /// How many nonces the shared replay store holds.
    fn nonce_count(&self) -> StoreResult<u64>;
    /// The replay high-water mark: no request with a later `ts` was accepted (spec
    /// TSR-HAWK-10). `None` for a store from before marks existed.
    fn replay_mark(&self) -> StoreResult<Option<i64>>;
    /// Raises the replay high-water mark to `mark` (never lowers it), durably, before a
    /// request with `ts` up to `mark` is accepted.
    fn raise_replay_mark(&self, mark: i64) -> StoreResult<()>;
    /// Disables (or enables) a Consumer: a disabled Consumer is not returned by
    /// [`Store::consumer`], so its requests fail as unknown credentials. `false` if no such
    /// Consumer.
    fn set_consumer_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool>;
    /// Whether a Consumer is disabled; `None` if no such Consumer.
    fn consumer_disabled(&self, id: &str) -> StoreResult<Option<bool>>;
    /// A registered Consumer, disabled or not (for the operator).
    fn consumer_any(&self, id: &str) -> StoreResult<Option<Consumer>>;
    /// Revokes every family of `consumer_id`'s sessions (key rotation, disabling, removal;
    /// COORD decision 4). Returns how many families were newly revoked.
    fn revoke_consumer_families(&self, consumer_id: &str) -> StoreResult<usize>;
    /// Removes a Consumer after revoking its families. `false` if no such Consumer.
    fn remove_consumer(&self, id: &str) -> StoreResult<bool>;
    /// Every Subject, by login name.
    fn subjects(&self) -> StoreResult<Vec<Subject>>;
    /// Revokes every family a Subject consented in (password change, removal; COORD decision
    /// 4). Returns how many families were newly revoked.
    fn revoke_subject_families(&self, subject_id: &str) -> StoreResult<usize>;
    /// Removes a Subject after revoking its families. `false` if no such Subject.
    fn remove_subject(&self, id: &str) -> StoreResult<bool>;
}

/// The embedded store: one SQLite file (WAL), one writer thread (group commit) and a few
/// reader connections.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// What ticket calls read, checked against the records generation on every call.
    cache: RecordCache,
    /// In memory only (one connection, which no other process can reach): the connection's
    /// total changes when the generation was last read, and that generation, so it is read
    /// again only after something was written.
    memory_generation: Mutex<Option<(u64, i64)>>,
}

/// The records a ticket call reads (Consumers, Subjects, live families), kept in memory and
/// valid while the database's records generation (migration 3: triggers move it on every
/// UPDATE or DELETE of those tables, in the changing transaction, whoever writes) stays where
/// it was when they were read. A lookup reads the generation (one point read of a one-row
/// table) instead of the record and its JSON; when the generation has moved, everything
/// cached is dropped at once. Only positive answers are cached, so an INSERT cannot make one
/// wrong. The generation is read *before* the record, so a record read after a change can
/// only be labelled with an older generation than the change's, never a newer one: a cached
/// answer is never staler than the generation it is checked against (spec TSR-REVOKE-3).
#[derive(Debug, Default)]
struct RecordCache {
    inner: RwLock<CachedRecords>,
}

#[derive(Debug, Default)]
struct CachedRecords {
    generation: i64,
    // shared, so a ticket call's read hands out a reference count, not a deep copy (issue 15)
    consumers: HashMap<String, Arc<Consumer>>,
    subjects: HashMap<String, Arc<Subject>>,
    live_families: HashSet<String>,
}

/// Entries, of all three kinds together, before the cache starts over (a bound, not a
/// working-set estimate: ticket calls are authenticated, and a miss costs only the read it
/// saves).
const RECORD_CACHE_ENTRIES: usize = 10_000;

impl CachedRecords {
    fn len(&self) -> usize {
        self.consumers.len() + self.subjects.len() + self.live_families.len()
    }
}

fn records_generation(conn: &Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT n FROM records_generation WHERE one = 1")?
        .query_row([], |r| r.get(0))?)
}

impl RecordCache {
    /// `get` from the cache at `generation`, or `None` if absent or from another generation.
    fn lookup<T>(
        &self,
        generation: i64,
        get: impl FnOnce(&CachedRecords) -> Option<T>,
    ) -> Option<T> {
        let c = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if c.generation == generation {
            get(&c)
        } else {
            None
        }
    }

    /// Stores what was read at `generation` (read before the record): a newer generation
    /// drops everything older; an answer from an older one than the cache's is not kept.
    fn keep(&self, generation: i64, put: impl FnOnce(&mut CachedRecords)) {
        let mut c = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if generation > c.generation || c.len() >= RECORD_CACHE_ENTRIES {
            *c = CachedRecords {
                generation: generation.max(c.generation),
                ..CachedRecords::default()
            };
        }
        if generation == c.generation {
            put(&mut c);
        }
    }
}

/// A state change queued for the writer: runs inside the batch's transaction and returns
/// what to tell its caller once the batch's fate is known (`None`: committed).
type WriteJob = Box<dyn FnOnce(&Connection) -> Reply + Send>;
type Reply = Box<dyn FnOnce(Option<&str>) + Send>;

/// The writer thread's end of the queue, and its counters.
#[derive(Debug)]
struct Writer {
    queue: Mutex<Option<mpsc::Sender<WriteJob>>>,
    /// The connection, shared with readers only for an in-memory store.
    conn: Arc<Mutex<Connection>>,
    stats: Arc<CommitStats>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Counters of the writer: how many batches committed, and how many changes they held.
#[derive(Debug, Default)]
pub struct CommitStats {
    commits: AtomicU64,
    changes: AtomicU64,
    /// Callers of [`Writer::run`] waiting for their change to commit (queued or in a batch).
    waiting: AtomicUsize,
    #[cfg(test)]
    fail_next_commit: std::sync::atomic::AtomicBool,
}

impl CommitStats {
    /// Batches committed (each one WAL fsync with `synchronous=FULL`).
    #[must_use]
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
    /// State changes committed.
    #[must_use]
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }
}

/// Most changes in one batch: bounds a batch's transaction, and so the wait of its last caller.
const MAX_BATCH: usize = 256;

/// How long a batch on a durable file may wait for the changes it expects (see [`gather`]):
/// about one round of every concurrent caller's work on a busy 2-core machine, so that they
/// all share one fsync; a wait this long happens only when a caller the writer counted on does
/// not come back (it finished, or is doing something else), and then the writer stops
/// expecting it.
const LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// One batch: an open `BEGIN IMMEDIATE` transaction, each change run in its own savepoint as
/// it arrives (so a batch's SQL work overlaps the wait for its last change, and what is left
/// after that is the last change and the commit's fsync), and what to tell each caller.
struct Batch<'c> {
    conn: &'c Connection,
    replies: Vec<Reply>,
    /// Why the batch cannot commit, once something failed: every caller in it gets an error.
    failure: Option<String>,
}

impl<'c> Batch<'c> {
    fn begin(conn: &'c Connection) -> Self {
        let failure = conn
            .execute_batch("BEGIN IMMEDIATE")
            .err()
            .map(|e| e.to_string());
        Self {
            conn,
            replies: Vec::new(),
            failure,
        }
    }

    fn len(&self) -> usize {
        self.replies.len()
    }

    fn run(&mut self, job: WriteJob) {
        if self.failure.is_none() {
            if let Err(e) = self.conn.execute_batch("SAVEPOINT change") {
                self.failure = Some(e.to_string());
            }
        }
        if self.failure.is_some() {
            // not run: its reply only reports the failure
            drop(job);
            self.replies.push(Box::new(|_: Option<&str>| {}));
            return;
        }
        let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(self.conn)));
        self.replies.push(reply.unwrap_or_else(|_| {
            tracing::error!("a store change panicked");
            Box::new(|_: Option<&str>| {})
        }));
    }

    /// Commits (or, after a failure, rolls back); returns the replies and why the batch did
    /// not commit, if it did not.
    fn finish(mut self, stats: &CommitStats) -> (Vec<Reply>, Option<String>) {
        #[cfg(test)]
        if self.failure.is_none() && stats.fail_next_commit.swap(false, Ordering::Relaxed) {
            self.failure = Some("injected commit failure".into());
        }
        let _ = stats;
        if self.failure.is_none() {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                self.failure = Some(e.to_string());
            }
        }
        if self.failure.is_some() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        (self.replies, self.failure)
    }
}

/// Runs the next batch, starting with `first`: everything already queued and, when `linger`
/// is set (a durable file, where each commit is an fsync), more changes arriving within
/// `linger` of the first until the batch holds `expected`: how many callers were waiting on
/// the writer at once when the last batch committed (its own and those queued behind it).
/// Under `n` concurrent writers that is `n` (each caller is either waiting or on its way back
/// with its next change), so the batches grow to `n` and `n` callers share each fsync; a lone
/// caller commits at once.
fn gather_and_run(
    batch: &mut Batch<'_>,
    first: WriteJob,
    queue: &mpsc::Receiver<WriteJob>,
    linger: Option<std::time::Duration>,
    expected: usize,
) {
    batch.run(first);
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.run(job),
            Err(_) => break,
        }
    }
    if let Some(linger) = linger {
        let deadline = std::time::Instant::now() + linger;
        while batch.len() < expected.min(MAX_BATCH) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match queue.recv_timeout(left) {
                Ok(job) => batch.run(job),
                Err(_) => break,
            }
        }
    }
}

/// Commits between two WAL checkpoints (see [`writer_loop`]).
const CHECKPOINT_EVERY: u64 = 16;

fn writer_loop(
    conn: &Mutex<Connection>,
    stats: &CommitStats,
    queue: &mpsc::Receiver<WriteJob>,
    linger: Option<std::time::Duration>,
) {
    let mut expected = 1;
    while let Ok(first) = queue.recv() {
        let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = Batch::begin(&conn);
        gather_and_run(&mut batch, first, queue, linger, expected);
        let n = batch.len() as u64;
        let (replies, failure) = batch.finish(stats);
        // the callers of this batch (not answered yet) and those queued behind it: the
        // population of writers the next batch waits for. It follows a change in either
        // direction within one batch (a caller that left costs one linger, once)
        expected = stats.waiting.load(Ordering::Relaxed).clamp(1, MAX_BATCH);
        let committed = failure.is_none();
        if committed {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.changes.fetch_add(n, Ordering::Relaxed);
        } else {
            tracing::error!(
                changes = n,
                "store batch did not commit; every change in it failed"
            );
        }
        for reply in replies {
            reply(failure.as_deref());
        }
        // The WAL is copied back into the database file here, after the batch's callers have
        // their answers: SQLite's automatic checkpoint (off on this connection) would run
        // inside a COMMIT, with every caller of that batch waiting on it (a p99 of 7 ms per
        // batch under 32 writers). Changes arriving meanwhile wait in the queue, which under
        // load a batch lingers for anyway. Run on the writer, the checkpoint catches up with
        // the WAL, so the next transaction rewinds it instead of growing it.
        if linger.is_some() && committed && stats.commits().is_multiple_of(CHECKPOINT_EVERY) {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries");
            }
        }
        drop(conn);
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Writer {
    /// Starts the writer thread; `linger` (a file) lets batches wait for more changes and
    /// turns on the writer's own WAL checkpoints.
    fn start(conn: Connection, linger: Option<std::time::Duration>) -> StoreResult<Self> {
        let conn = Arc::new(Mutex::new(conn));
        let stats = Arc::new(CommitStats::default());
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let thread = {
            let conn = Arc::clone(&conn);
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("tessera-sqlite-writer".into())
                .spawn(move || writer_loop(&conn, &stats, &rx, linger))
                .map_err(|e| StoreError::NotCommitted(format!("cannot start the writer: {e}")))?
        };
        Ok(Self {
            queue: Mutex::new(Some(tx)),
            conn,
            stats,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `f` for the next batch and waits until that batch committed (or failed).
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = mpsc::sync_channel::<StoreResult<T>>(1);
        let job: WriteJob = Box::new(move |conn| {
            let out = f(conn);
            let undo = if out.is_ok() {
                "RELEASE change"
            } else {
                "ROLLBACK TO change; RELEASE change"
            };
            let out = match conn.execute_batch(undo) {
                Ok(()) => out,
                Err(e) => Err(StoreError::Sqlite(e)),
            };
            Box::new(move |failure: Option<&str>| {
                let out = match (out, failure) {
                    (Ok(_), Some(why)) => Err(StoreError::NotCommitted(why.to_owned())),
                    (out, _) => out,
                };
                let _ = tx.send(out);
            })
        });
        {
            let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(queue) = queue.as_ref() else {
                return Err(StoreError::NotCommitted("the store is closed".into()));
            };
            self.stats.waiting.fetch_add(1, Ordering::Relaxed);
            if queue.send(job).is_err() {
                self.stats.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(StoreError::NotCommitted("the writer is gone".into()));
            }
        }
        let out = rx.recv();
        self.stats.waiting.fetch_sub(1, Ordering::Relaxed);
        out.map_err(|_| StoreError::NotCommitted("the change was dropped".into()))?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // close the queue, then let the writer finish what was queued
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = t.join();
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref();
        let mut writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        crate::migrate::sqlite(&mut writer)?;
        // the writer checkpoints between batches, not inside a commit (see [`writer_loop`])
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let mut readers = Vec::new();
        for _ in 0..4 {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            r.busy_timeout(std::time::Duration::from_secs(10))?;
            readers.push(Mutex::new(r));
        }
        Ok(Self {
            writer: Writer::start(writer, Some(LINGER))?,
            readers,
            next_reader: AtomicUsize::new(0),
            cache: RecordCache::default(),
            memory_generation: Mutex::new(None),
        })
    }

    /// A store in memory (one connection): for tests and conformance mode. Nothing survives
    /// the process.
    pub fn in_memory() -> StoreResult<Self> {
        let mut writer = Connection::open_in_memory()?;
        configure(&writer)?;
        crate::migrate::sqlite(&mut writer)?;
        Ok(Self {
            // nothing to share: a commit in memory costs no fsync
            writer: Writer::start(writer, None)?,
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            cache: RecordCache::default(),
            memory_generation: Mutex::new(None),
        })
    }

    /// The writer's counters (batches committed, changes in them).
    #[must_use]
    pub fn commit_stats(&self) -> &CommitStats {
        &self.writer.stats
    }

    /// The records generation as `c` sees it. In memory the store's one connection makes every
    /// change, so an unchanged count of its changes (SQLite's `total_changes`, triggers
    /// included) means an unchanged generation, and the query is skipped.
    fn generation(&self, c: &Connection) -> StoreResult<i64> {
        if !self.readers.is_empty() {
            return records_generation(c);
        }
        // the caller holds the connection's lock: no change runs meanwhile
        let changes = c.total_changes();
        let mut last = self
            .memory_generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, generation)) = *last {
            if seen == changes {
                return Ok(generation);
            }
        }
        let generation = records_generation(c)?;
        *last = Some((changes, generation));
        Ok(generation)
    }

    /// [`Store::consumer`] through the record cache, at `generation` (read first).
    fn cached_consumer(
        &self,
        c: &Connection,
        generation: i64,
        id: &str,
    ) -> StoreResult<Option<Arc<Consumer>>> {
        self.cached_record(
            c,
            generation,
            "SELECT record FROM consumers WHERE id = ?1 AND disabled = 0",
            id,
            |r| r.consumers.get(id).cloned(),
            |r, found| {
                r.consumers.insert(id.to_owned(), found);
            },
        )
    }

    /// [`Store::subject`] through the record cache, at `generation` (read first).
    fn cached_subject(
        &self,
        c: &Connection,
        generation: i64,
        id: &str,
    ) -> StoreResult<Option<Arc<Subject>>> {
        self.cached_record(
            c,
            generation,
            "SELECT record FROM subjects WHERE id = ?1",
            id,
            |r| r.subjects.get(id).cloned(),
            |r, found| {
                r.subjects.insert(id.to_owned(), found);
            },
        )
    }

    /// A JSON record by `id` (`sql` selects its `record` column): from the cache through `get`
    /// when it holds it at `generation`, else read, and kept through `put` when found.
    fn cached_record<T: serde::de::DeserializeOwned>(
        &self,
        c: &Connection,
        generation: i64,
        sql: &str,
        id: &str,
        get: impl FnOnce(&CachedRecords) -> Option<Arc<T>>,
        put: impl FnOnce(&mut CachedRecords, Arc<T>),
    ) -> StoreResult<Option<Arc<T>>> {
        if let Some(hit) = self.cache.lookup(generation, get) {
            return Ok(Some(hit));
        }
        let rec: Option<String> = c
            .prepare_cached(sql)?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let record: Option<Arc<T>> = rec
            .map(|r| serde_json::from_str(&r).map(Arc::new))
            .transpose()?;
        if let Some(found) = &record {
            self.cache.keep(generation, |r| put(r, Arc::clone(found)));
        }
        Ok(record)
    }

    /// [`Store::family_live`] through the record cache, at `generation` (read first).
    fn cached_family_live(&self, c: &Connection, generation: i64, id: &str) -> StoreResult<bool> {
        if self
            .cache
            .lookup(generation, |r| r.live_families.contains(id).then_some(()))
            .is_some()
        {
            return Ok(true);
        }
        let revoked: Option<bool> = c
            .prepare_cached("SELECT revoked FROM families WHERE id = ?1")?
            .query_row([id], |r| Ok(r.get::<_, i64>(0)? != 0))
            .optional()?;
        let live = revoked == Some(false);
        if live {
            self.cache.keep(generation, |r| {
                r.live_families.insert(id.to_owned());
            });
        }
        Ok(live)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        if self.readers.is_empty() {
            // in memory: the one connection, between the writer's batches
            let conn = self
                .writer
                .conn
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            return f(&conn);
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    /// Runs `f` on the writer's connection between batches, outside the queue (autocommit):
    /// for rare operations whose closures borrow their arguments.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self
            .writer
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    /// Runs `f` in an immediate transaction on the writer's connection between batches,
    /// outside the queue (the operator's rare revocations).
    fn tx_direct<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let out = {
            let mut conn = self
                .writer
                .conn
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            out
        };
        Ok(out)
    }

    /// Runs `f` as one change of the writer's next batch (see the module docs): it commits,
    /// durably, before this returns `Ok`.
    fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.run(f)
    }
}

fn session_from_row(record: &str) -> StoreResult<Session> {
    Ok(serde_json::from_str(record)?)
}

fn map_unique(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict
        }
        other => StoreError::Sqlite(other),
    }
}

impl Store for SqliteStore {
    fn consumer(&self, id: &str) -> StoreResult<Option<Consumer>> {
        self.read(|c| self.cached_consumer(c, self.generation(c)?, id))
            .map(|found| found.map(Arc::unwrap_or_clone))
    }

    fn consumers(&self) -> StoreResult<Vec<Consumer>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT record FROM consumers ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(serde_json::from_str(&r?)?);
            }
            Ok(out)
        })
    }

    fn put_consumer(&self, consumer: &Consumer) -> StoreResult<()> {
        let rec = serde_json::to_string(consumer)?;
        let id = consumer.id.clone();
        let key = consumer.key.clone();
        self.tx(move |tx| {
            let old: Option<String> = tx
                .query_row("SELECT record FROM consumers WHERE id = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute(
                "INSERT INTO consumers (id, record) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                params![id, rec],
            )?;
            let old: Option<Consumer> = old.map(|r| serde_json::from_str(&r)).transpose()?;
            // spec TSR-REG-8: a replaced key ends what was minted under the old one
            if old.is_some_and(|o| o.key != key) {
                revoke_families_where(tx, "json_extract(s.record, '$.consumer_id') = ?1", &id)?;
            }
            Ok(())
        })
    }

    fn subject(&self, id: &str) -> StoreResult<Option<Subject>> {
        self.read(|c| self.cached_subject(c, self.generation(c)?, id))
            .map(|found| found.map(Arc::unwrap_or_clone))
    }

    fn subject_by_username(&self, username: &str) -> StoreResult<Option<Subject>> {
        self.read(|c| {
            let rec: Option<String> = c
                .prepare_cached("SELECT record FROM subjects WHERE username = ?1")?
                .query_row([username], |r| r.get(0))
                .optional()?;
            Ok(rec.map(|r| serde_json::from_str(&r)).transpose()?)
        })
    }

    fn put_subject(&self, subject: &Subject) -> StoreResult<()> {
        let subject = subject.clone();
        self.tx(move |tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM subjects WHERE username = ?1",
                    [&subject.username],
                    |r| r.get(0),
                )
                .optional()?;
            let mut s = subject;
            let mut password_changed = false;
            if let Some(id) = existing {
                // spec TSR-REG-7: the internal id never changes
                s.id = id;
                let old: String =
                    tx.query_row("SELECT record FROM subjects WHERE id = ?1", [&s.id], |r| {
                        r.get(0)
                    })?;
                let old: Subject = serde_json::from_str(&old)?;
                password_changed = old.password_hash != s.password_hash;
            }
            let rec = serde_json::to_string(&s)?;
            tx.execute(
                "INSERT INTO subjects (id, username, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                params![s.id, s.username, rec],
            )
            .map_err(map_unique)?;
            // spec TSR-REG-9: a new password ends the Subject's families
            if password_changed {
                revoke_families_where(tx, SUBJECT_OF_SESSION, &s.id)?;
            }
            Ok(())
        })
    }

    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>> {
        // made before the change is queued (`make` stays on the caller's thread); unused if
        // the secret exists
        let fresh = make();
        let name = name.to_owned();
        self.tx(move |tx| {
            let existing: Option<Vec<u8>> = tx
                .query_row("SELECT value FROM secrets WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(v) = existing {
                return Ok(v);
            }
            let v = fresh;
            tx.execute(
                "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
                params![name, v],
            )?;
            Ok(v)
        })
    }

    fn secrets(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        // through the writer: read after the latest change, even in a fresh process
        let prefix = prefix.to_owned();
        self.tx(move |c| {
            let mut stmt =
                c.prepare("SELECT name, value FROM secrets WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name")?;
            let rows = stmt.query_map([&prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn take_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.write(|c| {
            Ok(c.query_row(
                "DELETE FROM secrets WHERE name = ?1 RETURNING value",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn set_secret(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()> {
        let name = name.to_owned();
        let value = value.map(<[u8]>::to_vec);
        self.tx(move |c| {
            match value {
                Some(v) => c.execute(
                    "INSERT INTO secrets (name, value) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    params![name, v],
                )?,
                None => c.execute("DELETE FROM secrets WHERE name = ?1", [&name])?,
            };
            Ok(())
        })
    }

    fn create_session(&self, session: &Session) -> StoreResult<()> {
        let rec = serde_json::to_string(session)?;
        let session = session.clone();
        self.tx(move |tx| {
            tx.execute(
                "INSERT INTO families (id, end_at, revoked) VALUES (?1, NULL, 0)",
                [&session.family],
            )
            .map_err(map_unique)?;
            tx.execute(
                "INSERT INTO sessions (sid_hash, family_id, request_hash, state, record)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    session.sid_hash,
                    session.family,
                    session.request_hash,
                    session.state.name(),
                    rec
                ],
            )
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn session(&self, sid_hash: &str) -> StoreResult<Option<Session>> {
        self.read(|c| {
            let rec: Option<String> = c
                .prepare_cached("SELECT record FROM sessions WHERE sid_hash = ?1")?
                .query_row([sid_hash], |r| r.get(0))
                .optional()?;
            rec.as_deref().map(session_from_row).transpose()
        })
    }

    fn session_by_request(&self, request_hash: &str) -> StoreResult<Option<Session>> {
        self.read(|c| {
            let rec: Option<String> = c
                .prepare_cached("SELECT record FROM sessions WHERE request_hash = ?1")?
                .query_row([request_hash], |r| r.get(0))
                .optional()?;
            rec.as_deref().map(session_from_row).transpose()
        })
    }

    fn session_by_code(&self, code_hash: &str) -> StoreResult<Option<Session>> {
        self.read(|c| {
            let rec: Option<String> = c
                .prepare_cached(
                    "SELECT s.record FROM codes c JOIN sessions s ON s.sid_hash = c.sid_hash
                     WHERE c.code_hash = ?1",
                )?
                .query_row([code_hash], |r| r.get(0))
                .optional()?;
            rec.as_deref().map(session_from_row).transpose()
        })
    }

    fn family(&self, id: &str) -> StoreResult<Option<Family>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT end_at, revoked FROM families WHERE id = ?1")?
                    .query_row([id], |r| {
                        Ok(Family {
                            id: id.to_owned(),
                            end: r.get(0)?,
                            revoked: r.get::<_, i64>(1)? != 0,
                        })
                    })
                    .optional()?,
            )
        })
    }

    fn decide(&self, sid_hash: &str, new_state: &State) -> StoreResult<bool> {
        let sid_hash = sid_hash.to_owned();
        let new_state = new_state.clone();
        self.tx(move |tx| {
            let rec: Option<String> = tx
                .query_row(
                    "SELECT record FROM sessions WHERE sid_hash = ?1 AND state = 'pending'",
                    [&sid_hash],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(rec) = rec else { return Ok(false) };
            let mut s = session_from_row(&rec)?;
            s.state = new_state.clone();
            let n = tx.execute(
                "UPDATE sessions SET state = ?2, record = ?3 WHERE sid_hash = ?1 AND state = 'pending'",
                params![sid_hash, s.state.name(), serde_json::to_string(&s)?],
            )?;
            if let State::Authorized(a) = &s.state {
                tx.execute(
                    "INSERT INTO codes (code_hash, sid_hash) VALUES (?1, ?2)",
                    params![a.code_hash, sid_hash],
                )
                .map_err(map_unique)?;
            }
            Ok(n == 1)
        })
    }

    fn redeem(&self, session: &Session, family_end: i64) -> StoreResult<bool> {
        let rec = serde_json::to_string(session)?;
        let session = session.clone();
        self.tx(move |tx| {
            let n = tx.execute(
                "UPDATE sessions SET state = ?2, record = ?3 WHERE sid_hash = ?1 AND state = 'authorized'",
                params![session.sid_hash, session.state.name(), rec],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE families SET end_at = ?2 WHERE id = ?1 AND end_at IS NULL",
                params![session.family, family_end],
            )?;
            Ok(true)
        })
    }

    fn rotate(&self, old_sid_hash: &str, rotated: &State, new: &Session) -> StoreResult<bool> {
        let new_rec = serde_json::to_string(new)?;
        let old_sid_hash = old_sid_hash.to_owned();
        let rotated = rotated.clone();
        let new = new.clone();
        self.tx(move |tx| {
            let rec: Option<String> = tx
                .query_row(
                    "SELECT record FROM sessions WHERE sid_hash = ?1 AND state = 'active'",
                    [&old_sid_hash],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(rec) = rec else { return Ok(false) };
            let mut old = session_from_row(&rec)?;
            old.state = rotated.clone();
            tx.execute(
                "UPDATE sessions SET state = ?2, record = ?3 WHERE sid_hash = ?1",
                params![old_sid_hash, old.state.name(), serde_json::to_string(&old)?],
            )?;
            tx.execute(
                "INSERT INTO sessions (sid_hash, family_id, request_hash, state, record)
                 VALUES (?1, ?2, NULL, ?3, ?4)",
                params![new.sid_hash, new.family, new.state.name(), new_rec],
            )
            .map_err(map_unique)?;
            Ok(true)
        })
    }

    fn purge_undecided(&self, cutoff: i64) -> StoreResult<usize> {
        self.tx(move |tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE state IN ('pending', 'denied', 'authorized')
                 AND json_extract(record, '$.exp') < ?1",
                [cutoff],
            )?;
            if n > 0 {
                tx.execute(
                    "DELETE FROM codes WHERE NOT EXISTS
                     (SELECT 1 FROM sessions WHERE sessions.sid_hash = codes.sid_hash)",
                    [],
                )?;
                tx.execute(
                    "DELETE FROM families WHERE NOT EXISTS
                     (SELECT 1 FROM sessions WHERE sessions.family_id = families.id)",
                    [],
                )?;
            }
            Ok(n)
        })
    }

    fn purge(&self, cutoff: i64) -> StoreResult<usize> {
        self.tx(move |tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE json_extract(record, '$.exp') < ?1",
                [cutoff],
            )?;
            tx.execute(
                "DELETE FROM codes WHERE NOT EXISTS
                 (SELECT 1 FROM sessions WHERE sessions.sid_hash = codes.sid_hash)",
                [],
            )?;
            // their tickets have all expired (see `Store::family_live`)
            tx.execute(
                "DELETE FROM families WHERE NOT EXISTS
                 (SELECT 1 FROM sessions WHERE sessions.family_id = families.id)",
                [],
            )?;
            // the first-browser bindings of authorize requests whose session is gone (spec
            // TSR-AUTHZ-9; named by the request hash), and delegation grants past their exp
            // (spec TSR-DELEGATE-4)
            tx.execute(
                "DELETE FROM secrets WHERE substr(name, 1, 18) = 'authorize-browser:'
                 AND substr(name, 19) NOT IN
                 (SELECT request_hash FROM sessions WHERE request_hash IS NOT NULL)",
                [],
            )?;
            tx.execute(
                "DELETE FROM secrets WHERE substr(name, 1, 11) = 'delegation:'
                 AND json_extract(CAST(value AS TEXT), '$.exp') < ?1",
                [cutoff],
            )?;
            Ok(n)
        })
    }

    fn revoke_family(&self, family: &str) -> StoreResult<()> {
        let family = family.to_owned();
        // spec TSR-REVOKE-3: the commit moves the records generation, so the next ticket call
        // after the answer reads the family again and is refused
        self.tx(move |tx| revoke_family_tx(tx, &family))
    }

    fn family_live(&self, id: &str) -> StoreResult<bool> {
        self.read(|c| self.cached_family_live(c, self.generation(c)?, id))
    }

    fn ticket_standing(
        &self,
        family: Option<&str>,
        app: &str,
        subject: Option<&str>,
    ) -> StoreResult<TicketStanding> {
        // one read of the generation (on a file, one read transaction) for all three
        self.read(|c| {
            let generation = self.generation(c)?;
            Ok(TicketStanding {
                family_live: match family {
                    Some(f) => self.cached_family_live(c, generation, f)?,
                    None => true,
                },
                consumer: self.cached_consumer(c, generation, app)?,
                subject: match subject {
                    Some(id) => self.cached_subject(c, generation, id)?,
                    None => None,
                },
            })
        })
    }

    fn reads_inline(&self) -> bool {
        true
    }

    fn schema_version(&self) -> StoreResult<u32> {
        self.write(crate::migrate::sqlite_version)
    }

    fn remember_nonce(&self, id: &str, ts: i64, nonce: &str) -> StoreResult<bool> {
        self.write(|c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO hawk_nonces (id, ts, nonce) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![id, ts, nonce])?;
            Ok(n == 1)
        })
    }

    fn forget_nonces(&self, before: i64) -> StoreResult<u64> {
        self.write(|c| {
            let n = c.execute("DELETE FROM hawk_nonces WHERE ts < ?1", [before])?;
            Ok(n as u64)
        })
    }

    fn nonce_count(&self) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT count(*) FROM hawk_nonces", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn replay_mark(&self) -> StoreResult<Option<i64>> {
        self.write(|c| {
            Ok(
                c.query_row("SELECT mark FROM replay_mark WHERE one = 1", [], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    fn raise_replay_mark(&self, mark: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO replay_mark (one, mark) VALUES (1, ?1)
                 ON CONFLICT(one) DO UPDATE SET mark = max(mark, excluded.mark)",
                [mark],
            )?;
            Ok(())
        })
    }

    fn set_consumer_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE consumers SET disabled = ?2 WHERE id = ?1",
                params![id, i64::from(disabled)],
            )?;
            Ok(n == 1)
        })
    }

    fn consumer_disabled(&self, id: &str) -> StoreResult<Option<bool>> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT disabled FROM consumers WHERE id = ?1", [id], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
                .map(|d| d != 0),
            )
        })
    }

    fn consumer_any(&self, id: &str) -> StoreResult<Option<Consumer>> {
        self.read(|c| {
            let rec: Option<String> = c
                .query_row("SELECT record FROM consumers WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(rec.map(|r| serde_json::from_str(&r)).transpose()?)
        })
    }

    fn revoke_consumer_families(&self, consumer_id: &str) -> StoreResult<usize> {
        self.tx_direct(|tx| {
            revoke_families_where(
                tx,
                "json_extract(s.record, '$.consumer_id') = ?1",
                consumer_id,
            )
        })
    }

    fn remove_consumer(&self, id: &str) -> StoreResult<bool> {
        self.tx_direct(|tx| {
            revoke_families_where(tx, "json_extract(s.record, '$.consumer_id') = ?1", id)?;
            Ok(tx.execute("DELETE FROM consumers WHERE id = ?1", [id])? == 1)
        })
    }

    fn subjects(&self) -> StoreResult<Vec<Subject>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT record FROM subjects ORDER BY username")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(serde_json::from_str(&r?)?);
            }
            Ok(out)
        })
    }

    fn revoke_subject_families(&self, subject_id: &str) -> StoreResult<usize> {
        self.tx_direct(|tx| revoke_families_where(tx, SUBJECT_OF_SESSION, subject_id))
    }

    fn remove_subject(&self, id: &str) -> StoreResult<bool> {
        self.tx_direct(|tx| {
            revoke_families_where(tx, SUBJECT_OF_SESSION, id)?;
            Ok(tx.execute("DELETE FROM subjects WHERE id = ?1", [id])? == 1)
        })
    }
}

/// The Subject a session's stored state names (every state after consent carries a grant).
const SUBJECT_OF_SESSION: &str = "json_extract(s.record, '$.state.grant.subject_id') = ?1";

/// Revokes (spec TSR-SESSION-4) every unrevoked family having a session matching `filter`
/// (SQL over `sessions`, one parameter); returns how many.
fn revoke_families_where(tx: &Connection, filter: &str, arg: &str) -> StoreResult<usize> {
    let families: Vec<String> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT DISTINCT s.family_id FROM sessions s JOIN families f ON f.id = s.family_id
             WHERE f.revoked = 0 AND {filter}"
        ))?;
        let rows = stmt.query_map([arg], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for family in &families {
        tx.execute("UPDATE families SET revoked = 1 WHERE id = ?1", [family])?;
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT sid_hash, record FROM sessions WHERE family_id = ?1 AND state != 'revoked'",
            )?;
            let rows = stmt.query_map([family], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (sid_hash, rec) in rows {
            let mut s = session_from_row(&rec)?;
            s.state = State::Revoked(crate::core::Revoked);
            tx.execute(
                "UPDATE sessions SET state = 'revoked', record = ?2 WHERE sid_hash = ?1",
                params![sid_hash, serde_json::to_string(&s)?],
            )?;
        }
    }
    Ok(families.len())
}

fn revoke_family_tx(tx: &Connection, family: &str) -> StoreResult<()> {
    tx.execute("UPDATE families SET revoked = 1 WHERE id = ?1", [family])?;
    let mut stmt = tx.prepare(
        "SELECT sid_hash, record FROM sessions WHERE family_id = ?1 AND state != 'revoked'",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([family], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    for (sid_hash, rec) in rows {
        let mut s = session_from_row(&rec)?;
        s.state = State::Revoked(crate::core::Revoked);
        tx.execute(
            "UPDATE sessions SET state = 'revoked', record = ?2 WHERE sid_hash = ?1",
            params![sid_hash, serde_json::to_string(&s)?],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{ExpectConsent, Session, State};

    fn session(sid: &str, family: &str, exp: i64) -> Session {
        Session {
            sid_hash: sid.into(),
            family: family.into(),
            consumer_id: "c".into(),
            request_hash: Some(format!("r-{sid}")),
            redirect_uri: "https://c.example/cb".into(),
            grants: vec![],
            scopes: vec![],
            callback_state: "x".into(),
            exp,
            state: State::Pending(ExpectConsent),
        }
    }

    #[test]
    fn compare_and_set_and_purge() {
        let s = SqliteStore::in_memory().unwrap();
        s.create_session(&session("a", "f1", 100)).unwrap();
        s.create_session(&session("b", "f2", 500)).unwrap();
        assert!(matches!(
            s.create_session(&session("a", "f3", 1)),
            Err(StoreError::Conflict)
        ));
        // decide once
        let denied = State::Denied(crate::core::Denied);
        assert!(s.decide("a", &denied).unwrap());
        assert!(!s.decide("a", &denied).unwrap());
        // revoke
        s.revoke_family("f2").unwrap();
        assert!(s.family("f2").unwrap().unwrap().revoked);
        assert_eq!(s.session("b").unwrap().unwrap().state.name(), "revoked");
        // first-browser bindings (named by request hash) and delegation grants
        for (name, value) in [
            ("authorize-browser:r-a", &b"browser"[..]),
            ("authorize-browser:r-b", b"browser"),
            ("delegation:old", br#"{"exp": 100}"#),
            ("delegation:new", br#"{"exp": 300}"#),
        ] {
            s.set_secret(name, Some(value)).unwrap();
        }
        // purge only what expired before the cutoff
        assert_eq!(s.purge(200).unwrap(), 1);
        assert!(s.session("a").unwrap().is_none());
        assert!(s.family("f1").unwrap().is_none());
        assert!(s.session("b").unwrap().is_some());
        assert!(s.family("f2").unwrap().is_some());
        let left: Vec<String> = s
            .secrets("")
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n.starts_with("authorize-browser:") || n.starts_with("delegation:"))
            .collect();
        assert_eq!(left, ["authorize-browser:r-b", "delegation:new"]);
        // a delegation grant is taken once
        assert!(s.take_secret("delegation:new").unwrap().is_some());
        assert!(s.take_secret("delegation:new").unwrap().is_none());
    }

    #[test]
    fn concurrent_changes_share_commits_and_a_failed_batch_fails_every_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let run = |round: usize, store: &Arc<SqliteStore>| {
            let handles: Vec<_> = (0..32)
                .map(|i| {
                    let store = Arc::clone(store);
                    std::thread::spawn(move || {
                        let sid = format!("r{round}-s{i}");
                        let ok = store
                            .create_session(&session(&sid, &format!("f-{sid}"), 100))
                            .is_ok();
                        (sid, ok)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        };
        let before = store.commit_stats().commits();
        let first = run(0, &store);
        assert!(first.iter().all(|(_, ok)| *ok));
        let commits = store.commit_stats().commits() - before;
        assert!(commits <= 32, "{commits} commits for 32 changes");

        // the next batch fails at its commit: every change in it reports an error
        store
            .commit_stats()
            .fail_next_commit
            .store(true, Ordering::Relaxed);
        let second = run(1, &store);
        let failed: Vec<_> = second.iter().filter(|(_, ok)| !ok).collect();
        assert!(!failed.is_empty(), "the injected failure hit a batch");
        drop(store);

        // after a reopen: everything acknowledged is there, nothing reported failed is
        let store = SqliteStore::open(&path).unwrap();
        for (sid, ok) in first.iter().chain(&second) {
            assert_eq!(store.session(sid).unwrap().is_some(), *ok, "{sid}");
        }
    }

    #[test]
    fn writers_that_keep_coming_back_share_one_commit_per_round() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("r.db")).unwrap());
        let (writers, rounds) = (16, 12);
        let before = store.commit_stats().commits();
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for r in 0..rounds {
                        let sid = format!("w{w}-r{r}");
                        store
                            .create_session(&session(&sid, &format!("f-{sid}"), 100))
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let commits = store.commit_stats().commits() - before;
        // once the writer has seen the 16 waiting together, each round is about one batch:
        // ~12 commits; one per change (192) if batches did not wait for the callers it knows
        assert!(
            commits * 4 <= writers * rounds,
            "{commits} commits for {} changes",
            writers * rounds
        );
    }

    #[test]
    fn checkpoints_keep_the_wal_from_growing_with_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let store = SqliteStore::open(&path).unwrap();
        let wal = || std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len());
        for i in 0..40 {
            store
                .create_session(&session(&format!("s{i}"), &format!("f{i}"), 100))
                .unwrap();
        }
        let per_commit = wal() / 40;
        for i in 40..400 {
            store
                .create_session(&session(&format!("s{i}"), &format!("f{i}"), 100))
                .unwrap();
        }
        // without checkpoints (SQLite's own are off on the writer) the WAL would hold all 400
        // commits; with one every 16 commits it is rewound and stays about 16 commits long
        assert!(
            wal() < per_commit * 200,
            "WAL {} bytes after 400 commits of about {per_commit} bytes each",
            wal()
        );
    }

    #[test]
    fn a_failing_change_does_not_take_its_batch_down() {
        let s = SqliteStore::in_memory().unwrap();
        s.create_session(&session("a", "f1", 100)).unwrap();
        // a duplicate sid fails alone; a later change still commits
        assert!(matches!(
            s.create_session(&session("a", "f2", 100)),
            Err(StoreError::Conflict)
        ));
        assert!(
            s.family("f2").unwrap().is_none(),
            "rolled back to its savepoint"
        );
        s.create_session(&session("b", "f3", 100)).unwrap();
        assert!(s.session("b").unwrap().is_some());
    }

    #[test]
    fn the_revocation_view_follows_revocations_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        let s = SqliteStore::open(&path).unwrap();
        s.create_session(&session("a", "f1", 100)).unwrap();
        s.create_session(&session("b", "f2", 100)).unwrap();
        assert!(s.family_live("f1").unwrap());
        s.revoke_family("f1").unwrap();
        assert!(!s.family_live("f1").unwrap());
        assert!(s.family_live("f2").unwrap());
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert!(!s.family_live("f1").unwrap(), "loaded at open");
        assert!(s.family_live("f2").unwrap());
    }

    #[test]
    fn secrets_are_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let first = SqliteStore::open(&path)
            .unwrap()
            .secret("k", &|| vec![1, 2, 3])
            .unwrap();
        let again = SqliteStore::open(&path)
            .unwrap()
            .secret("k", &|| vec![9])
            .unwrap();
        assert_eq!(first, again);
    }
}
