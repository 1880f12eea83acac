//! The PostgreSQL store: the same [`Store`] as [`crate::store::SqliteStore`], for several
//! Authority instances sharing one database (spec chapter 4, TSR-REVOKE-3).
//!
//! The `Store` trait is synchronous and runs on the server's store threads, so this uses the
//! synchronous `postgres` client with an `r2d2` pool. Every single-use operation is one
//! conditional `UPDATE … WHERE state = … RETURNING` (spec TSR-SESSION-2): under PostgreSQL's
//! row locks, of concurrent updates of one row the first to commit wins and the others
//! re-check the condition against the committed row and match nothing, whichever instance
//! they come from. The record written next, in the same transaction, is the one the winner
//! computed. Transactions commit before the response is sent; durability is the server's
//! (`synchronous_commit`, on by default).

use crate::core::{Consumer, Family, Revoked, Session, State, Subject};
use crate::migrate::{self, Report, TooNew};
use crate::store::{Store, StoreError, StoreResult};
use postgres::error::SqlState;
use postgres::{GenericClient, NoTls};
use r2d2_postgres::PostgresConnectionManager;
use std::str::FromStr as _;
use std::time::Duration;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// A store in a PostgreSQL database, shared by every instance that opens it.
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the URL may carry a password: never printed
        f.debug_struct("PgStore")
            .field("connections", &self.pool.state().connections)
            .finish_non_exhaustive()
    }
}

/// Key of the advisory lock that serialises migrations of one database across instances.
const MIGRATION_LOCK: i64 = 0x7465_7373_6572_6131; // "tessera1"

fn map_unique(e: postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict
    } else {
        StoreError::Postgres(e)
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db` or a key=value string),
    /// with a pool of `max_connections`, and applies pending migrations.
    pub fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let store = Self::connect(url, max_connections)?;
        store.migrate()?;
        Ok(store)
    }

    /// Connects without migrating (see [`PgStore::migrate`]).
    pub fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let config = postgres::Config::from_str(url)?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        Ok(Self { pool })
    }

    /// Applies pending migrations, one transaction each, under an advisory lock so instances
    /// starting together migrate once.
    pub fn migrate(&self) -> StoreResult<Report> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )?;
        let from = version(&mut tx)?;
        let known = migrate::latest(migrate::POSTGRES);
        if from > known {
            return Err(TooNew { found: from, known }.into());
        }
        let mut applied = Vec::new();
        for m in migrate::POSTGRES.iter().filter(|m| m.version > from) {
            tx.batch_execute(m.sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[
                    &i32::try_from(m.version).unwrap_or(i32::MAX),
                    &m.name,
                    &crate::clock::system_now(),
                ],
            )?;
            applied.push((m.version, m.name));
        }
        tx.commit()?;
        Ok(Report {
            from,
            to: from.max(known),
            applied,
        })
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a transaction, committing on `Ok`.
    fn tx<T>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Deletes every table of this store (tests only: a clean database per test).
    #[doc(hidden)]
    pub fn drop_everything(&self) -> StoreResult<()> {
        self.conn()?.batch_execute(
            "DROP TABLE IF EXISTS codes, sessions, families, secrets, subjects, consumers,
             hawk_nonces, replay_mark, schema_migrations CASCADE",
        )?;
        Ok(())
    }
}

fn version(c: &mut impl GenericClient) -> StoreResult<u32> {
    let exists: bool = c
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: Option<i32> = c
        .query_one("SELECT max(version) FROM schema_migrations", &[])?
        .get(0);
    Ok(v.map_or(0, |v| u32::try_from(v).unwrap_or(0)))
}

fn parse<T: serde::de::DeserializeOwned>(rec: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(rec)?)
}

/// Revokes (spec TSR-SESSION-4) every unrevoked family having a session matching `filter`
/// (SQL over `sessions s`, parameter `$1`); returns how many.
fn revoke_families_where(
    tx: &mut postgres::Transaction<'_>,
    filter: &str,
    arg: &str,
) -> StoreResult<usize> {
    let rows = tx.query(
        &format!(
            "UPDATE families SET revoked = TRUE WHERE revoked = FALSE AND id IN
             (SELECT s.family_id FROM sessions s WHERE {filter}) RETURNING id"
        ),
        &[&arg],
    )?;
    for row in &rows {
        let family: String = row.get(0);
        revoke_sessions(tx, &family)?;
    }
    Ok(rows.len())
}

fn revoke_sessions(tx: &mut postgres::Transaction<'_>, family: &str) -> StoreResult<()> {
    let rows = tx.query(
        "SELECT sid_hash, record FROM sessions WHERE family_id = $1 AND state <> 'revoked'
         FOR UPDATE",
        &[&family],
    )?;
    for row in rows {
        let sid_hash: String = row.get(0);
        let mut s: Session = parse(row.get(1))?;
        s.state = State::Revoked(Revoked);
        tx.execute(
            "UPDATE sessions SET state = 'revoked', record = $2 WHERE sid_hash = $1",
            &[&sid_hash, &serde_json::to_string(&s)?],
        )?;
    }
    Ok(())
}

const SUBJECT_OF_SESSION: &str = "(s.record::jsonb #>> '{state,grant,subject_id}') = $1";
const CONSUMER_OF_SESSION: &str = "(s.record::jsonb ->> 'consumer_id') = $1";

impl Store for PgStore {
    fn consumer(&self, id: &str) -> StoreResult<Option<Consumer>> {
        let row = self.conn()?.query_opt(
            "SELECT record FROM consumers WHERE id = $1 AND NOT disabled",
            &[&id],
        )?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn consumers(&self) -> StoreResult<Vec<Consumer>> {
        self.conn()?
            .query("SELECT record FROM consumers ORDER BY id", &[])?
            .iter()
            .map(|r| parse(r.get(0)))
            .collect()
    }

    fn put_consumer(&self, consumer: &Consumer) -> StoreResult<()> {
        let rec = serde_json::to_string(consumer)?;
        self.conn()?.execute(
            "INSERT INTO consumers (id, record) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            &[&consumer.id, &rec],
        )?;
        Ok(())
    }

    fn subject(&self, id: &str) -> StoreResult<Option<Subject>> {
        let row = self
            .conn()?
            .query_opt("SELECT record FROM subjects WHERE id = $1", &[&id])?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn subject_by_username(&self, username: &str) -> StoreResult<Option<Subject>> {
        let row = self.conn()?.query_opt(
            "SELECT record FROM subjects WHERE username = $1",
            &[&username],
        )?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn put_subject(&self, subject: &Subject) -> StoreResult<()> {
        self.tx(|tx| {
            let mut s = subject.clone();
            if let Some(row) = tx.query_opt(
                "SELECT id FROM subjects WHERE username = $1 FOR UPDATE",
                &[&subject.username],
            )? {
                // spec TSR-REG-7: the internal id never changes
                s.id = row.get(0);
            }
            let rec = serde_json::to_string(&s)?;
            tx.execute(
                "INSERT INTO subjects (id, username, record) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                &[&s.id, &s.username, &rec],
            )
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>> {
        let mut conn = self.conn()?;
        if let Some(row) = conn.query_opt("SELECT value FROM secrets WHERE name = $1", &[&name])? {
            return Ok(row.get(0));
        }
        // concurrent instances: the first insert wins, everyone reads the winner's value
        conn.execute(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &make()],
        )?;
        Ok(conn
            .query_one("SELECT value FROM secrets WHERE name = $1", &[&name])?
            .get(0))
    }

    fn secrets(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .conn()?
            .query(
                "SELECT name, value FROM secrets WHERE left(name, length($1)) = $1 ORDER BY name",
                &[&prefix],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn set_secret(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()> {
        let mut conn = self.conn()?;
        match value {
            Some(v) => conn.execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&name, &v],
            )?,
            None => conn.execute("DELETE FROM secrets WHERE name = $1", &[&name])?,
        };
        Ok(())
    }

    fn create_session(&self, session: &Session) -> StoreResult<()> {
        let rec = serde_json::to_string(session)?;
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO families (id, end_at, revoked) VALUES ($1, NULL, FALSE)",
                &[&session.family],
            )
            .map_err(map_unique)?;
            tx.execute(
                "INSERT INTO sessions (sid_hash, family_id, request_hash, state, exp, record)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &session.sid_hash,
                    &session.family,
                    &session.request_hash,
                    &session.state.name(),
                    &session.exp,
                    &rec,
                ],
            )
            .map_err(map_unique)?;
            Ok(())
        })
    }

    fn session(&self, sid_hash: &str) -> StoreResult<Option<Session>> {
        let row = self.conn()?.query_opt(
            "SELECT record FROM sessions WHERE sid_hash = $1",
            &[&sid_hash],
        )?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn session_by_request(&self, request_hash: &str) -> StoreResult<Option<Session>> {
        let row = self.conn()?.query_opt(
            "SELECT record FROM sessions WHERE request_hash = $1",
            &[&request_hash],
        )?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn session_by_code(&self, code_hash: &str) -> StoreResult<Option<Session>> {
        let row = self.conn()?.query_opt(
            "SELECT s.record FROM codes c JOIN sessions s ON s.sid_hash = c.sid_hash
             WHERE c.code_hash = $1",
            &[&code_hash],
        )?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn family(&self, id: &str) -> StoreResult<Option<Family>> {
        let row = self
            .conn()?
            .query_opt("SELECT end_at, revoked FROM families WHERE id = $1", &[&id])?;
        Ok(row.map(|r| Family {
            id: id.to_owned(),
            end: r.get(0),
            revoked: r.get(1),
        }))
    }

    fn session_with_family(
        &self,
        sid_hash: &str,
    ) -> StoreResult<(Option<Session>, Option<Family>)> {
        // one round trip instead of two
        let row = self.conn()?.query_opt(
            "SELECT s.record, f.id, f.end_at, f.revoked FROM sessions s
             LEFT JOIN families f ON f.id = s.family_id WHERE s.sid_hash = $1",
            &[&sid_hash],
        )?;
        let Some(row) = row else {
            return Ok((None, None));
        };
        let session = parse(row.get(0))?;
        let family = row.get::<_, Option<String>>(1).map(|id| Family {
            id,
            end: row.get(2),
            revoked: row.get::<_, Option<bool>>(3).unwrap_or(false),
        });
        Ok((Some(session), family))
    }

    fn decide(&self, sid_hash: &str, new_state: &State) -> StoreResult<bool> {
        self.tx(|tx| {
            // the compare-and-set: one conditional UPDATE
            let Some(row) = tx.query_opt(
                "UPDATE sessions SET state = $2 WHERE sid_hash = $1 AND state = 'pending'
                 RETURNING record",
                &[&sid_hash, &new_state.name()],
            )?
            else {
                return Ok(false);
            };
            let mut s: Session = parse(row.get(0))?;
            s.state = new_state.clone();
            tx.execute(
                "UPDATE sessions SET record = $2 WHERE sid_hash = $1",
                &[&sid_hash, &serde_json::to_string(&s)?],
            )?;
            if let State::Authorized(a) = &s.state {
                tx.execute(
                    "INSERT INTO codes (code_hash, sid_hash) VALUES ($1, $2)",
                    &[&a.code_hash, &sid_hash],
                )
                .map_err(map_unique)?;
            }
            Ok(true)
        })
    }

    fn redeem(&self, session: &Session, family_end: i64) -> StoreResult<bool> {
        let rec = serde_json::to_string(session)?;
        self.tx(|tx| {
            // spec TSR-RESULT-7: one conditional UPDATE; across instances exactly one wins
            let won = tx
                .query_opt(
                    "UPDATE sessions SET state = $2, exp = $3, record = $4
                     WHERE sid_hash = $1 AND state = 'authorized' RETURNING sid_hash",
                    &[&session.sid_hash, &session.state.name(), &session.exp, &rec],
                )?
                .is_some();
            if won {
                tx.execute(
                    "UPDATE families SET end_at = $2 WHERE id = $1 AND end_at IS NULL",
                    &[&session.family, &family_end],
                )?;
            }
            Ok(won)
        })
    }

    fn rotate(&self, old_sid_hash: &str, rotated: &State, new: &Session) -> StoreResult<bool> {
        let new_rec = serde_json::to_string(new)?;
        self.tx(|tx| {
            // spec TSR-REFRESH-3: one conditional UPDATE
            let Some(row) = tx.query_opt(
                "UPDATE sessions SET state = $2 WHERE sid_hash = $1 AND state = 'active'
                 RETURNING record",
                &[&old_sid_hash, &rotated.name()],
            )?
            else {
                return Ok(false);
            };
            let mut old: Session = parse(row.get(0))?;
            old.state = rotated.clone();
            tx.execute(
                "UPDATE sessions SET record = $2 WHERE sid_hash = $1",
                &[&old_sid_hash, &serde_json::to_string(&old)?],
            )?;
            tx.execute(
                "INSERT INTO sessions (sid_hash, family_id, request_hash, state, exp, record)
                 VALUES ($1, $2, NULL, $3, $4, $5)",
                &[
                    &new.sid_hash,
                    &new.family,
                    &new.state.name(),
                    &new.exp,
                    &new_rec,
                ],
            )
            .map_err(map_unique)?;
            Ok(true)
        })
    }

    fn revoke_family(&self, family: &str) -> StoreResult<()> {
        self.tx(|tx| {
            tx.execute(
                "UPDATE families SET revoked = TRUE WHERE id = $1",
                &[&family],
            )?;
            revoke_sessions(tx, family)
        })
    }

    fn purge(&self, cutoff: i64) -> StoreResult<usize> {
        self.tx(|tx| {
            let n = tx.execute("DELETE FROM sessions WHERE exp < $1", &[&cutoff])?;
            tx.execute(
                "DELETE FROM codes c WHERE NOT EXISTS
                 (SELECT 1 FROM sessions s WHERE s.sid_hash = c.sid_hash)",
                &[],
            )?;
            tx.execute(
                "DELETE FROM families f WHERE NOT EXISTS
                 (SELECT 1 FROM sessions s WHERE s.family_id = f.id)",
                &[],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn schema_version(&self) -> StoreResult<u32> {
        version(&mut *self.conn()?)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn remember_nonce(&self, id: &str, ts: i64, nonce: &str) -> StoreResult<bool> {
        // insert-if-absent: of concurrent inserts of one triple on any instance, one wins
        let n = self.conn()?.execute(
            "INSERT INTO hawk_nonces (id, ts, nonce) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&id, &ts, &nonce],
        )?;
        Ok(n == 1)
    }

    fn forget_nonces(&self, before: i64) -> StoreResult<u64> {
        Ok(self
            .conn()?
            .execute("DELETE FROM hawk_nonces WHERE ts < $1", &[&before])?)
    }

    fn nonce_count(&self) -> StoreResult<u64> {
        let n: i64 = self
            .conn()?
            .query_one("SELECT count(*) FROM hawk_nonces", &[])?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn replay_mark(&self) -> StoreResult<Option<i64>> {
        Ok(self
            .conn()?
            .query_opt("SELECT mark FROM replay_mark WHERE one = 1", &[])?
            .map(|r| r.get(0)))
    }

    fn raise_replay_mark(&self, mark: i64) -> StoreResult<()> {
        self.conn()?.execute(
            "INSERT INTO replay_mark (one, mark) VALUES (1, $1)
             ON CONFLICT (one) DO UPDATE SET mark = greatest(replay_mark.mark, excluded.mark)",
            &[&mark],
        )?;
        Ok(())
    }

    fn set_consumer_disabled(&self, id: &str, disabled: bool) -> StoreResult<bool> {
        Ok(self.conn()?.execute(
            "UPDATE consumers SET disabled = $2 WHERE id = $1",
            &[&id, &disabled],
        )? == 1)
    }

    fn consumer_disabled(&self, id: &str) -> StoreResult<Option<bool>> {
        Ok(self
            .conn()?
            .query_opt("SELECT disabled FROM consumers WHERE id = $1", &[&id])?
            .map(|r| r.get(0)))
    }

    fn consumer_any(&self, id: &str) -> StoreResult<Option<Consumer>> {
        let row = self
            .conn()?
            .query_opt("SELECT record FROM consumers WHERE id = $1", &[&id])?;
        row.map(|r| parse(r.get(0))).transpose()
    }

    fn revoke_consumer_families(&self, consumer_id: &str) -> StoreResult<usize> {
        self.tx(|tx| revoke_families_where(tx, CONSUMER_OF_SESSION, consumer_id))
    }

    fn remove_consumer(&self, id: &str) -> StoreResult<bool> {
        self.tx(|tx| {
            revoke_families_where(tx, CONSUMER_OF_SESSION, id)?;
            Ok(tx.execute("DELETE FROM consumers WHERE id = $1", &[&id])? == 1)
        })
    }

    fn subjects(&self) -> StoreResult<Vec<Subject>> {
        self.conn()?
            .query("SELECT record FROM subjects ORDER BY username", &[])?
            .iter()
            .map(|r| parse(r.get(0)))
            .collect()
    }

    fn revoke_subject_families(&self, subject_id: &str) -> StoreResult<usize> {
        self.tx(|tx| revoke_families_where(tx, SUBJECT_OF_SESSION, subject_id))
    }

    fn remove_subject(&self, id: &str) -> StoreResult<bool> {
        self.tx(|tx| {
            revoke_families_where(tx, SUBJECT_OF_SESSION, id)?;
            Ok(tx.execute("DELETE FROM subjects WHERE id = $1", &[&id])? == 1)
        })
    }
}
