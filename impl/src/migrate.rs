//! Versioned schema migrations for both stores.
//!
//! Each store keeps the versions it has applied in `schema_migrations`. A migration is applied
//! once, in order, inside one transaction with its bookkeeping row, so a crash leaves the schema
//! at a version boundary. A database written by a newer binary (a version this binary does not
//! know) is refused rather than used. Both stores number their migrations alike, so
//! `tessera migrate` reports the same versions whichever store is configured.
//!
//! Version 1 is the schema of v1 (its `CREATE … IF NOT EXISTS` statements also adopt a SQLite
//! file made before migrations existed); version 2 adds what several instances and restarts
//! need (the shared replay store, the replay high-water mark) and disabled Consumers; version
//! 3 adds the SQLite store's records generation (what its read cache is checked against).

/// One migration: its version, a short name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, …
    pub version: u32,
    /// What it does, for `tessera migrate`.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// The SQLite migrations.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "v1 schema: consumers, subjects, secrets, families, sessions, codes",
        sql: r"
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
",
    },
    Migration {
        version: 2,
        name: "operations: replay store, replay high-water mark, disabled consumers",
        sql: r"
CREATE TABLE hawk_nonces (
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    PRIMARY KEY (id, ts, nonce)
) WITHOUT ROWID;
CREATE INDEX hawk_nonces_ts ON hawk_nonces(ts);
CREATE TABLE replay_mark (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    mark INTEGER NOT NULL
);
-- A store no Consumer was ever registered in cannot have accepted a signed request, so its
-- mark starts at 0; an older store gets no mark, and its first start falls back to the
-- skew-long fence (spec TSR-HAWK-10).
INSERT INTO replay_mark (one, mark)
    SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM consumers);
ALTER TABLE consumers ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
",
    },
    Migration {
        version: 3,
        name: "records generation: moves on every change of a Consumer, Subject or family",
        // The SQLite store caches the records a ticket call reads and checks them against this
        // counter on every call (`store::RecordCache`). Triggers move it inside the changing
        // transaction, whichever process writes (the server, or the operator's CLI), so a
        // revocation is seen at the next request (spec TSR-REVOKE-3). Only positive lookups
        // are cached, so an INSERT cannot make a cached answer wrong and does not move it
        // (a login inserts a family; it need not empty the cache), nor does a family's `end_at`
        // (set at each redemption; liveness does not read it).
        sql: r"
CREATE TABLE records_generation (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    n INTEGER NOT NULL
);
INSERT INTO records_generation (one, n) VALUES (1, 0);
CREATE TRIGGER consumers_updated AFTER UPDATE ON consumers
    BEGIN UPDATE records_generation SET n = n + 1; END;
CREATE TRIGGER consumers_deleted AFTER DELETE ON consumers
    BEGIN UPDATE records_generation SET n = n + 1; END;
CREATE TRIGGER subjects_updated AFTER UPDATE ON subjects
    BEGIN UPDATE records_generation SET n = n + 1; END;
CREATE TRIGGER subjects_deleted AFTER DELETE ON subjects
    BEGIN UPDATE records_generation SET n = n + 1; END;
CREATE TRIGGER families_revoked AFTER UPDATE OF revoked ON families
    BEGIN UPDATE records_generation SET n = n + 1; END;
CREATE TRIGGER families_deleted AFTER DELETE ON families
    BEGIN UPDATE records_generation SET n = n + 1; END;
",
    },
];

/// The PostgreSQL migrations (same versions as [`SQLITE`]).
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "v1 schema: consumers, subjects, secrets, families, sessions, codes",
        sql: r"
CREATE TABLE consumers (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE subjects (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE families (
    id TEXT PRIMARY KEY,
    end_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE sessions (
    sid_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES families(id),
    request_hash TEXT UNIQUE,
    state TEXT NOT NULL,
    exp BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX sessions_family ON sessions(family_id);
CREATE INDEX sessions_exp ON sessions(exp);
CREATE TABLE codes (
    code_hash TEXT PRIMARY KEY,
    sid_hash TEXT NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "operations: replay store, replay high-water mark, disabled consumers",
        sql: r"
CREATE TABLE hawk_nonces (
    id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    PRIMARY KEY (id, ts, nonce)
);
CREATE INDEX hawk_nonces_ts ON hawk_nonces(ts);
CREATE TABLE replay_mark (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    mark BIGINT NOT NULL
);
INSERT INTO replay_mark (one, mark)
    SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM consumers);
ALTER TABLE consumers ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
",
    },
    Migration {
        version: 3,
        name: "records generation (SQLite only: the PostgreSQL store caches no records)",
        // kept so both stores number their migrations alike; instances sharing a PostgreSQL
        // database read records through, so nothing here needs a generation
        sql: "SELECT 1;",
    },
];

/// The newest version this binary knows.
#[must_use]
pub fn latest(migrations: &[Migration]) -> u32 {
    migrations.last().map_or(0, |m| m.version)
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Version before.
    pub from: u32,
    /// Version after.
    pub to: u32,
    /// The migrations applied, in order.
    pub applied: Vec<(u32, &'static str)>,
}

/// Why migrating refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database is at schema version {found}, newer than this binary knows ({known}); \
     run a newer tessera"
)]
pub struct TooNew {
    /// Version in the database.
    pub found: u32,
    /// Newest version this binary knows.
    pub known: u32,
}

/// Applies the pending SQLite migrations on `conn`.
pub fn sqlite(conn: &mut rusqlite::Connection) -> crate::store::StoreResult<Report> {
    use rusqlite::OptionalExtension as _;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         );",
    )?;
    let from: u32 = tx
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<u32>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    let known = latest(SQLITE);
    if from > known {
        return Err(crate::store::StoreError::Migration(TooNew {
            found: from,
            known,
        }));
    }
    let mut applied = Vec::new();
    for m in SQLITE.iter().filter(|m| m.version > from) {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, crate::clock::system_now()],
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

/// The SQLite schema version (0 before any migration).
pub fn sqlite_version(conn: &rusqlite::Connection) -> crate::store::StoreResult<u32> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<u32>>(0)
        })?
        .unwrap_or(0))
}
