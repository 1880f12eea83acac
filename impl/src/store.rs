//! Storage behind a [`Store`] trait with atomic operations, and its SQLite implementation.
//!
//! Every operation that changes a session is a compare-and-set on the session's stored state
//! inside one transaction (spec TSR-SESSION-2): of concurrent requests that would each move a
//! session out of a state, the first to commit wins and the others see `false` and re-decide
//! on the new state. Transactions commit with `synchronous=FULL` in WAL mode before the
//! response is sent, so nothing acknowledged to a client is lost on a crash or power cut
//! (`NORMAL` would only guarantee that for process crashes, not for power loss).
//!
//! Verifying a ticket-authenticated request only reads ([`Store::family`]); the Hawk nonce
//! cache lives in memory (spec TSR-TICKET-7, TSR-HAWK-10).

use crate::core::{Consumer, Family, Session, State, Subject};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

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
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The Authority's storage. Every method is atomic; the compare-and-set methods return
/// `false` (and change nothing) when the session is no longer in the state the caller
/// decided on.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// A registered Consumer.
    fn consumer(&self, id: &str) -> StoreResult<Option<Consumer>>;
    /// Every registered Consumer.
    fn consumers(&self) -> StoreResult<Vec<Consumer>>;
    /// Registers a Consumer, or replaces it (a new key invalidates the old one at once,
    /// spec TSR-REG-5). Replacing the key MUST, in the same transaction, revoke every family
    /// of the Consumer's sessions (spec TSR-REG-8; its tickets then die with their families,
    /// and app tickets by their sealed key fingerprint).
    fn put_consumer(&self, consumer: &Consumer) -> StoreResult<()>;
    /// A Subject by internal id.
    fn subject(&self, id: &str) -> StoreResult<Option<Subject>>;
    /// A Subject by login name.
    fn subject_by_username(&self, username: &str) -> StoreResult<Option<Subject>>;
    /// Adds a Subject, or replaces the one with the same login name (keeping its internal id).
    /// A changed password hash MUST, in the same transaction, revoke every family whose
    /// sessions carry this Subject's decision (spec TSR-REG-9).
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
}

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS consumers (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subjects (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS families (
    id TEXT PRIMARY KEY,
    end_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES families(id),
    request_hash TEXT UNIQUE,
    state TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_family ON sessions(family_id);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY,
    sid_hash TEXT NOT NULL
);
";

/// The embedded store: one SQLite file (WAL), one writer connection and a few readers.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref();
        let writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        writer.execute_batch(SCHEMA)?;
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
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A store in memory (one connection): for tests and conformance mode. Nothing survives
    /// the process.
    pub fn in_memory() -> StoreResult<Self> {
        let writer = Connection::open_in_memory()?;
        configure(&writer)?;
        writer.execute_batch(SCHEMA)?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        if self.readers.is_empty() {
            return self.write(f);
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    /// Runs `f` in an immediate transaction on the writer, committing on `Ok`.
    fn tx<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
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
        self.read(|c| {
            let rec: Option<String> = c
                .prepare_cached("SELECT record FROM consumers WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            Ok(rec.map(|r| serde_json::from_str(&r)).transpose()?)
        })
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
        self.tx(|tx| {
            let old: Option<String> = tx
                .query_row(
                    "SELECT record FROM consumers WHERE id = ?1",
                    [&consumer.id],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT INTO consumers (id, record) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                params![consumer.id, rec],
            )?;
            let old: Option<Consumer> = old.map(|r| serde_json::from_str(&r)).transpose()?;
            // spec TSR-REG-8: a replaced key ends what was minted under the old one
            if old.is_some_and(|o| o.key != consumer.key) {
                revoke_families_where(
                    tx,
                    "json_extract(record, '$.consumer_id') = ?1",
                    &consumer.id,
                )?;
            }
            Ok(())
        })
    }

    fn subject(&self, id: &str) -> StoreResult<Option<Subject>> {
        self.read(|c| {
            let rec: Option<String> = c
                .prepare_cached("SELECT record FROM subjects WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            Ok(rec.map(|r| serde_json::from_str(&r)).transpose()?)
        })
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
        self.tx(|tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM subjects WHERE username = ?1",
                    [&subject.username],
                    |r| r.get(0),
                )
                .optional()?;
            let mut s = subject.clone();
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
                revoke_families_where(
                    tx,
                    "json_extract(record, '$.state.grant.subject_id') = ?1",
                    &s.id,
                )?;
            }
            Ok(())
        })
    }

    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>> {
        self.tx(|tx| {
            let existing: Option<Vec<u8>> = tx
                .query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(v) = existing {
                return Ok(v);
            }
            let v = make();
            tx.execute(
                "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
                params![name, v],
            )?;
            Ok(v)
        })
    }

    fn secrets(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.write(|c| {
            let mut stmt =
                c.prepare("SELECT name, value FROM secrets WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name")?;
            let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
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
        self.write(|c| {
            match value {
                Some(v) => c.execute(
                    "INSERT INTO secrets (name, value) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    params![name, v],
                )?,
                None => c.execute("DELETE FROM secrets WHERE name = ?1", [name])?,
            };
            Ok(())
        })
    }

    fn create_session(&self, session: &Session) -> StoreResult<()> {
        let rec = serde_json::to_string(session)?;
        self.tx(|tx| {
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
        self.tx(|tx| {
            let rec: Option<String> = tx
                .query_row(
                    "SELECT record FROM sessions WHERE sid_hash = ?1 AND state = 'pending'",
                    [sid_hash],
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
        self.tx(|tx| {
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
        self.tx(|tx| {
            let rec: Option<String> = tx
                .query_row(
                    "SELECT record FROM sessions WHERE sid_hash = ?1 AND state = 'active'",
                    [old_sid_hash],
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

    fn purge(&self, cutoff: i64) -> StoreResult<usize> {
        self.tx(|tx| {
            let n = tx.execute(
                "DELETE FROM sessions WHERE json_extract(record, '$.exp') < ?1",
                [cutoff],
            )?;
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
        self.tx(|tx| revoke_family_tx(tx, family))
    }
}

/// Revokes every family with a session matching `condition` (SQL over `sessions`, one
/// parameter `?1` = `value`).
fn revoke_families_where(tx: &Connection, condition: &str, value: &str) -> StoreResult<()> {
    let mut stmt = tx.prepare(&format!(
        "SELECT DISTINCT family_id FROM sessions WHERE {condition}"
    ))?;
    let families: Vec<String> = stmt
        .query_map([value], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    for f in families {
        revoke_family_tx(tx, &f)?;
    }
    Ok(())
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
