//! `tessera`: the reference Authority and its operator commands.
//!
//! Settings come, highest first, from the command line, the environment (`TESSERA_DB`,
//! `TESSERA_ADDR`, `TESSERA_NAME`, `TESSERA_ISSUER`, `TESSERA_TLS_CERT`, `TESSERA_TLS_KEY`,
//! `TESSERA_AUDIT_LOG`, `TESSERA_DB_CONNECTIONS`, `TESSERA_KEY_RELOAD_SECS`), a TOML file
//! (`--config FILE` or `TESSERA_CONFIG`) and the defaults.

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tessera::audit::{Audit, Event};
use tessera::config::{Config, Issuer};
use tessera::core::{Consumer, Subject};
use tessera::password::{self, Cost};
use tessera::rand::{token, SystemRandom, TOKEN_BYTES};
use tessera::server::{self, AppState, Authority};
use tessera::store::{SqliteStore, Store};
use tessera::store_pg::PgStore;

/// mimalloc instead of glibc's malloc: a ticket call makes a few dozen small allocations
/// (header values, JSON, the response), and glibc's malloc/free were about 12% of its CPU
/// (issue 15, `perf`); the bare axum route of `impl/benches/wrk.sh` runs on it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera reference Authority",
    long_about = "Tessera reference Authority.\n\nSettings come, highest first, from the command \
                  line, the environment (TESSERA_DB, TESSERA_ADDR, TESSERA_NAME, TESSERA_ISSUER, \
                  TESSERA_TLS_CERT, TESSERA_TLS_KEY, TESSERA_AUDIT_LOG, TESSERA_DB_CONNECTIONS, \
                  TESSERA_KEY_RELOAD_SECS), the TOML file given by --config or TESSERA_CONFIG \
                  (keys db, addr, name, issuer, tls_cert, tls_key, audit_log, db_connections, \
                  key_reload_secs), and the defaults.",
    propagate_version = true
)]
struct Cli {
    /// A TOML configuration file (see above for its keys) [env: TESSERA_CONFIG].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Authority.
    Serve(ServeArgs),
    /// Apply pending schema migrations to the store and print its version (`serve` applies
    /// them too; run this first when several instances share a PostgreSQL database).
    Migrate {
        #[command(flatten)]
        db: DbArg,
    },
    /// Manage registered Consumers. Changes apply to running servers at their next request.
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Manage Subjects. Changes apply to running servers at their next request.
    #[command(subcommand)]
    Subject(SubjectCommand),
    /// Manage the ticket sealing keys (spec TSR-TICKET-2). Running servers take the change up
    /// within `key_reload_secs` (default 10 s), or at once on SIGHUP.
    #[command(subcommand)]
    SealKey(SealKeyCommand),
    /// Run the Authority and the demo Consumer together on loopback (in memory) and print the
    /// URL to open and the demo Subject's credentials.
    Demo {
        /// Address of the Authority.
        #[arg(long, default_value = "127.0.0.1:7700")]
        authority_addr: std::net::SocketAddr,
        /// Address of the demo Consumer.
        #[arg(long, default_value = "127.0.0.1:7701")]
        consumer_addr: std::net::SocketAddr,
    },
    /// Run the demo Consumer alone against an Authority of your own (e.g. `tessera serve`),
    /// with a Consumer registered there by `tessera consumer add`; print the URL to open.
    #[command(
        long_about = "Run the demo Consumer alone against an Authority of your own.\n\n\
        For example, with `tessera serve` running on its defaults:\n\n  \
        tessera consumer add --id shop --name \"My shop\" \\\n      \
        --redirect-uri http://localhost:7701/callback --scope email > shop.key\n  \
        tessera subject add --username ada --data email='\"ada@example.org\"'\n  \
        tessera demo-consumer --authority http://127.0.0.1:7700 --key-file shop.key \
        --scope email\n\n\
        then open http://localhost:7701/. At start it makes one test handshake, so a wrong \
        key, an unregistered redirect URI or a scope the registration lacks is reported at \
        once."
    )]
    DemoConsumer(DemoConsumerArgs),
}

#[derive(Debug, Args)]
struct DemoConsumerArgs {
    /// The Authority's issuer URL (what `tessera serve` logs as `issuer`), or its metadata URL.
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    authority: String,
    /// The registered consumer_id [default: the `consumer_id:` line of --key-file].
    #[arg(long)]
    consumer_id: Option<String>,
    /// A file holding the Consumer's key: the key alone, or what `tessera consumer add`
    /// printed (its `consumer_id:` and `key:` lines).
    #[arg(long)]
    key_file: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7701")]
    listen: std::net::SocketAddr,
    /// The registered redirect URI to use; its origin is the URL to open [default:
    /// http://localhost:{listen port}/callback, or http://127.0.0.1:… when the Authority is on
    /// localhost: the two must differ in host name, as cookies are per host name].
    #[arg(long)]
    redirect_uri: Option<String>,
    /// A grant (role) to ask about (repeatable; the registration must allow it).
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// A scope (Subject data) to ask for (repeatable; the registration must allow it).
    #[arg(long = "scope")]
    scopes: Vec<String>,
}

#[derive(Debug, Args)]
struct DbArg {
    /// Where the Authority's state lives: a SQLite file, or a PostgreSQL URL
    /// (`postgres://user:password@host:port/db`) shared by several instances [env:
    /// TESSERA_DB; default: tessera.db].
    #[arg(long)]
    db: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [env: TESSERA_ADDR; default: 127.0.0.1:7700].
    #[arg(long)]
    addr: Option<String>,
    /// The Authority's name, shown to people at the top of its sign-in and consent pages [env:
    /// TESSERA_NAME; default: Tessera Authority].
    #[arg(long)]
    name: Option<String>,
    /// Where the Authority's state lives: a SQLite file, or a PostgreSQL URL
    /// (`postgres://user:password@host:port/db`) that several instances share [env:
    /// TESSERA_DB; default: tessera.db; not allowed with --conformance, which always starts
    /// from a fresh in-memory store].
    #[arg(long)]
    db: Option<String>,
    /// Most PostgreSQL connections this instance opens [env: TESSERA_DB_CONNECTIONS;
    /// default: 16].
    #[arg(long)]
    db_connections: Option<u32>,
    /// The issuer identifier (the public base URL clients use, which Hawk MACs bind to;
    /// behind a TLS proxy, the proxy's https URL) [env: TESSERA_ISSUER; default:
    /// https://{addr} with --tls-cert, else http://{addr}].
    #[arg(long)]
    issuer: Option<String>,
    /// PEM certificate chain: terminate TLS here (HTTP/1.1 and HTTP/2 by ALPN) [env:
    /// TESSERA_TLS_CERT].
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert [env: TESSERA_TLS_KEY].
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Write audit events (JSON lines) to this file, or `-` for standard output [env:
    /// TESSERA_AUDIT_LOG; default: none].
    #[arg(long)]
    audit_log: Option<String>,
    /// How often to re-read the sealing keys from the store, in seconds [env:
    /// TESSERA_KEY_RELOAD_SECS; default: 10]. SIGHUP re-reads them at once.
    #[arg(long)]
    key_reload_secs: Option<u64>,
    /// Conformance mode: test clock and fixtures under /conformance/ (spec appendix A).
    /// Never in production.
    #[arg(long)]
    conformance: bool,
    /// Seconds a client has to send a request head, from connecting (its TLS handshake
    /// included; or from the first byte of a later request on a kept-alive connection); then
    /// the connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a client has to send a request body after its head; then `408`.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    body_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request (and a response for a
    /// client that does not read it); then the connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    idle_timeout: u64,
    /// Most open connections; one more is answered `503` and closed. Raise `ulimit -n` with it.
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_connections: usize,
}

#[derive(Debug, Subcommand)]
enum ConsumerCommand {
    /// Register a Consumer; prints its id and key (shown once).
    Add(ConsumerAdd),
    /// List registered Consumers (without keys).
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Show one Consumer's registration (without its key).
    Show(ConsumerId),
    /// Disable a Consumer: its requests are refused as unknown credentials, and every family
    /// of its sessions is revoked (their tickets stop working).
    Disable(ConsumerId),
    /// Enable a disabled Consumer again (revoked families stay revoked).
    Enable(ConsumerId),
    /// Remove a Consumer, after revoking every family of its sessions.
    Remove(ConsumerId),
    /// Replace a Consumer's key; the old key stops working at once and every family minted
    /// under it is revoked. Prints the new key once.
    RotateKey(ConsumerId),
}

#[derive(Debug, Args)]
struct ConsumerId {
    #[command(flatten)]
    db: DbArg,
    /// The consumer_id.
    #[arg(long)]
    id: String,
}

#[derive(Debug, Args)]
struct ConsumerAdd {
    #[command(flatten)]
    db: DbArg,
    /// consumer_id: 1-64 characters of [A-Za-z0-9_-].
    #[arg(long)]
    id: String,
    /// Name shown to Subjects on the consent page.
    #[arg(long)]
    name: String,
    /// A registered redirect URI (repeatable): https, or http on a loopback host.
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// A role this Consumer may ask about (repeatable).
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// A data scope this Consumer may ask for (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Allow this Consumer to delegate its tickets to other Consumers.
    #[arg(long)]
    may_delegate: bool,
}

#[derive(Debug, Subcommand)]
enum SealKeyCommand {
    /// Add a new sealing key and make it current; tickets sealed before keep verifying.
    Rotate {
        #[command(flatten)]
        db: DbArg,
    },
    /// Withdraw an old sealing key: tickets sealed with it stop verifying.
    Retire {
        #[command(flatten)]
        db: DbArg,
        /// The key id (see `seal-key list`).
        #[arg(long)]
        kid: String,
    },
    /// List the sealing key ids and the current one.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
enum SubjectCommand {
    /// Add a Subject (or replace the one with this username). The password is read from the
    /// first line of standard input.
    Add(SubjectAdd),
    /// List Subjects (login names, ids and roles).
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Show one Subject (id, roles, the scopes it holds data for; never the password hash).
    Show(SubjectName),
    /// Remove a Subject, after revoking every family it consented in.
    Remove(SubjectName),
    /// Set a Subject's password (read from the first line of standard input) and revoke
    /// every family it consented in.
    SetPassword(SubjectName),
}

#[derive(Debug, Args)]
struct SubjectName {
    #[command(flatten)]
    db: DbArg,
    /// Login name.
    #[arg(long)]
    username: String,
}

#[derive(Debug, Args)]
struct SubjectAdd {
    #[command(flatten)]
    db: DbArg,
    /// Login name.
    #[arg(long)]
    username: String,
    /// A role the Subject holds (repeatable).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Data for a scope, as scope=JSON (repeatable), e.g. email='"ada@example.org"'.
    #[arg(long = "data", value_parser = parse_data)]
    data: Vec<(String, serde_json::Value)>,
}

fn parse_data(s: &str) -> Result<(String, serde_json::Value), String> {
    let (k, v) = s.split_once('=').ok_or("expected scope=JSON")?;
    if !tessera::wire::is_name(k) {
        return Err(format!("{k:?} is not a scope name"));
    }
    let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
    Ok((k.to_owned(), v))
}

/// The TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    db: Option<String>,
    addr: Option<String>,
    name: Option<String>,
    issuer: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    audit_log: Option<String>,
    db_connections: Option<u32>,
    key_reload_secs: Option<u64>,
}

/// The file and the environment, for what the command line leaves open.
#[derive(Debug)]
struct Settings {
    file: FileConfig,
}

impl Settings {
    fn load(path: Option<&PathBuf>) -> Result<Self, AnyError> {
        let path = path
            .cloned()
            .or_else(|| std::env::var_os("TESSERA_CONFIG").map(PathBuf::from));
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        Ok(Self { file })
    }

    /// The command line's value, else the environment's, else the file's.
    fn pick<T: std::str::FromStr>(
        cli: Option<T>,
        env: &str,
        file: Option<T>,
    ) -> Result<Option<T>, AnyError> {
        if cli.is_some() {
            return Ok(cli);
        }
        match std::env::var(env) {
            Ok(v) if !v.is_empty() => {
                Ok(Some(v.parse().map_err(|_| {
                    format!("{env}={v:?} is not a valid value")
                })?))
            }
            _ => Ok(file),
        }
    }

    fn db(&self, cli: Option<String>) -> Result<String, AnyError> {
        Ok(Self::pick(cli, "TESSERA_DB", self.file.db.clone())?
            .unwrap_or_else(|| "tessera.db".to_owned()))
    }

    fn audit(&self, cli: Option<String>) -> Result<Audit, AnyError> {
        match Self::pick(cli, "TESSERA_AUDIT_LOG", self.file.audit_log.clone())? {
            Some(target) => {
                Ok(Audit::open(&target).map_err(|e| format!("audit log {target}: {e}"))?)
            }
            None => Ok(Audit::default()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Structured logs on stderr: JSON lines when TESSERA_LOG_FORMAT=json; level from RUST_LOG.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("TESSERA_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

fn open_store(db: &str, connections: u32) -> Result<Arc<dyn Store>, AnyError> {
    Ok(if is_postgres_url(db) {
        Arc::new(PgStore::open(db, connections)?)
    } else {
        Arc::new(SqliteStore::open(PathBuf::from(db))?)
    })
}

/// An operator command's store and audit log.
struct Op {
    store: Arc<dyn Store>,
    audit: Audit,
}

impl Op {
    fn open(settings: &Settings, db: &DbArg) -> Result<Self, AnyError> {
        Ok(Self {
            store: open_store(&settings.db(db.db.clone())?, 2)?,
            audit: settings.audit(None)?,
        })
    }

    fn audit(&self, event: &str, consumer: Option<&str>, username: Option<&str>) {
        self.audit.emit(
            &Event::new(event)
                .consumer(consumer)
                .username(username)
                .detail("actor", "operator"),
        );
    }
}

fn migrate(settings: &Settings, db: &DbArg) -> Result<(), AnyError> {
    let db = settings.db(db.db.clone())?;
    let report = if is_postgres_url(&db) {
        PgStore::connect(&db, 1)?.migrate()?
    } else {
        let mut conn = rusqlite::Connection::open(&db)?;
        tessera::migrate::sqlite(&mut conn)?
    };
    for (v, name) in &report.applied {
        println!("applied {v}: {name}");
    }
    if report.applied.is_empty() {
        println!("schema version {} (up to date)", report.to);
    } else {
        println!("schema version {} (was {})", report.to, report.from);
    }
    Ok(())
}

fn read_password(username: &str) -> Result<String, AnyError> {
    eprintln!(
        "Password for {username} (one line on standard input, at least {} characters):",
        password::MIN_PASSWORD_CHARS
    );
    let mut pw = String::new();
    std::io::stdin().lock().read_line(&mut pw)?;
    let pw = pw.trim_end_matches(['\n', '\r']).to_owned();
    password::check_new(&pw).map_err(|e| format!("{e}; nothing was changed"))?;
    Ok(pw)
}

fn run(cli: Cli) -> Result<(), AnyError> {
    let settings = Settings::load(cli.config.as_ref())?;
    match cli.command {
        Command::Serve(args) => serve(&settings, args),
        Command::Migrate { db } => migrate(&settings, &db),
        Command::Demo {
            authority_addr,
            consumer_addr,
        } => {
            let opts = tessera::demo::DemoOptions {
                authority_addr,
                consumer_addr,
                ..Default::default()
            };
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(tessera::demo::run(opts))
        }
        Command::DemoConsumer(args) => demo_consumer(args),
        Command::Consumer(c) => consumer(&settings, c),
        Command::Subject(s) => subject(&settings, s),
        Command::SealKey(k) => seal_key(&settings, k),
    }
}

fn demo_consumer(args: DemoConsumerArgs) -> Result<(), AnyError> {
    use tessera::demo::standalone;
    let text = std::fs::read_to_string(&args.key_file)
        .map_err(|e| format!("cannot read --key-file {}: {e}", args.key_file.display()))?;
    let (file_id, key) = standalone::parse_key_file(&text)
        .map_err(|e| format!("--key-file {}: {e}", args.key_file.display()))?;
    let consumer_id = args.consumer_id.or(file_id).ok_or(
        "no consumer_id: pass --consumer-id, or a --key-file with the `consumer_id:` line \
         `tessera consumer add` prints",
    )?;
    let redirect_uri = args
        .redirect_uri
        .unwrap_or_else(|| standalone::default_redirect_uri(&args.authority, args.listen));
    let opts = standalone::StandaloneOptions {
        authority: args.authority,
        consumer_id,
        key,
        listen: args.listen,
        redirect_uri,
        grants: args.grants,
        scopes: args.scopes,
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(standalone::run(opts))
}

fn consumer(settings: &Settings, command: ConsumerCommand) -> Result<(), AnyError> {
    match command {
        ConsumerCommand::Add(a) => {
            let op = Op::open(settings, &a.db)?;
            if op.store.consumer_any(&a.id)?.is_some() {
                return Err(format!(
                    "consumer {:?} exists; use `consumer rotate-key` to replace its key",
                    a.id
                )
                .into());
            }
            // spec TSR-REG-1: the Authority generates the key
            let c = Consumer {
                id: a.id,
                key: token(&SystemRandom::new(), TOKEN_BYTES),
                name: a.name,
                redirect_uris: a.redirect_uris,
                grants: a.grants,
                scopes: a.scopes,
                may_delegate: a.may_delegate,
                delegates: vec![],
            };
            c.validate()?;
            op.store.put_consumer(&c)?;
            op.audit("consumer_added", Some(&c.id), None);
            println!("consumer_id: {}", c.id);
            println!("key:         {}", c.key);
            println!("algorithm:   sha256");
            eprintln!("The key is shown only this once; store it in the Consumer's secrets.");
        }
        ConsumerCommand::List { db } => {
            let op = Op::open(settings, &db)?;
            for c in op.store.consumers()? {
                let disabled = op.store.consumer_disabled(&c.id)?.unwrap_or(false);
                println!(
                    "{}\t{}\t{}redirect_uris={:?} grants={:?} scopes={:?} may_delegate={}",
                    c.id,
                    c.name,
                    if disabled { "DISABLED " } else { "" },
                    c.redirect_uris,
                    c.grants,
                    c.scopes,
                    c.may_delegate
                );
            }
        }
        ConsumerCommand::Show(ConsumerId { db, id }) => {
            let op = Op::open(settings, &db)?;
            let c = op.store.consumer_any(&id)?.ok_or("no such consumer")?;
            let disabled = op.store.consumer_disabled(&id)?.unwrap_or(false);
            println!("consumer_id:   {}", c.id);
            println!("name:          {}", c.name);
            println!("disabled:      {disabled}");
            println!("redirect_uris: {}", c.redirect_uris.join(" "));
            println!("grants:        {}", c.grants.join(" "));
            println!("scopes:        {}", c.scopes.join(" "));
            println!("may_delegate:  {}", c.may_delegate);
        }
        ConsumerCommand::Disable(ConsumerId { db, id }) => {
            let op = Op::open(settings, &db)?;
            if !op.store.set_consumer_disabled(&id, true)? {
                return Err("no such consumer".into());
            }
            // COORD decision 4: disabling ends what was minted for it
            let n = op.store.revoke_consumer_families(&id)?;
            op.audit("consumer_disabled", Some(&id), None);
            println!("disabled {id}; {n} families revoked");
        }
        ConsumerCommand::Enable(ConsumerId { db, id }) => {
            let op = Op::open(settings, &db)?;
            if !op.store.set_consumer_disabled(&id, false)? {
                return Err("no such consumer".into());
            }
            op.audit("consumer_enabled", Some(&id), None);
            println!("enabled {id}");
        }
        ConsumerCommand::Remove(ConsumerId { db, id }) => {
            let op = Op::open(settings, &db)?;
            if !op.store.remove_consumer(&id)? {
                return Err("no such consumer".into());
            }
            op.audit("consumer_removed", Some(&id), None);
            println!("removed {id}");
        }
        ConsumerCommand::RotateKey(ConsumerId { db, id }) => {
            let op = Op::open(settings, &db)?;
            let mut c = op.store.consumer_any(&id)?.ok_or("no such consumer")?;
            c.key = token(&SystemRandom::new(), TOKEN_BYTES);
            op.store.put_consumer(&c)?;
            // COORD decision 4: rotating the key ends what was minted under the old one
            let n = op.store.revoke_consumer_families(&id)?;
            op.audit("key_rotation", Some(&id), None);
            println!("consumer_id: {}", c.id);
            println!("key:         {}", c.key);
            eprintln!(
                "The old key no longer works; {n} families minted under it are revoked. \
                 The new key is shown only this once."
            );
        }
    }
    Ok(())
}

fn subject(settings: &Settings, command: SubjectCommand) -> Result<(), AnyError> {
    match command {
        SubjectCommand::Add(a) => {
            let op = Op::open(settings, &a.db)?;
            if tessera::wire::check_names(&a.roles).is_err() {
                return Err("roles must be names matching [a-z][a-z0-9_.:-]{0,63}".into());
            }
            let pw = read_password(&a.username)?;
            let rng = SystemRandom::new();
            let existing = op.store.subject_by_username(&a.username)?;
            let s = Subject {
                id: existing.map_or_else(|| format!("sub_{}", token(&rng, 16)), |s| s.id),
                username: a.username,
                password_hash: password::hash(&pw, Cost::PRODUCTION, &rng)?,
                roles: a.roles,
                data: a.data.into_iter().collect(),
            };
            op.store.put_subject(&s)?;
            op.audit("subject_saved", None, Some(&s.username));
            println!("subject {} saved", s.username);
        }
        SubjectCommand::List { db } => {
            let op = Op::open(settings, &db)?;
            for s in op.store.subjects()? {
                println!("{}\t{}\troles={:?}", s.username, s.id, s.roles);
            }
        }
        SubjectCommand::Show(SubjectName { db, username }) => {
            let op = Op::open(settings, &db)?;
            let s = op
                .store
                .subject_by_username(&username)?
                .ok_or("no such subject")?;
            println!("username: {}", s.username);
            println!("id:       {}", s.id);
            println!("roles:    {}", s.roles.join(" "));
            let scopes: Vec<&str> = s.data.keys().map(String::as_str).collect();
            println!("data for: {}", scopes.join(" "));
        }
        SubjectCommand::Remove(SubjectName { db, username }) => {
            let op = Op::open(settings, &db)?;
            let s = op
                .store
                .subject_by_username(&username)?
                .ok_or("no such subject")?;
            op.store.remove_subject(&s.id)?;
            op.audit("subject_removed", None, Some(&username));
            println!("removed {username}");
        }
        SubjectCommand::SetPassword(SubjectName { db, username }) => {
            let op = Op::open(settings, &db)?;
            let mut s = op
                .store
                .subject_by_username(&username)?
                .ok_or("no such subject")?;
            let pw = read_password(&username)?;
            s.password_hash = password::hash(&pw, Cost::PRODUCTION, &SystemRandom::new())?;
            op.store.put_subject(&s)?;
            // COORD decision 4: a password change ends the Subject's families
            let n = op.store.revoke_subject_families(&s.id)?;
            op.audit("password_set", None, Some(&username));
            println!("password of {username} set; {n} families revoked");
        }
    }
    Ok(())
}

fn seal_key(settings: &Settings, command: SealKeyCommand) -> Result<(), AnyError> {
    match command {
        SealKeyCommand::Rotate { db } => {
            let op = Op::open(settings, &db)?;
            let kid = server::rotate_sealing_key(&*op.store, &SystemRandom::new())?;
            op.audit("seal_key_rotated", None, None);
            println!(
                "current sealing key: {kid} (running servers use it within their key reload \
                 interval, or at once on SIGHUP)"
            );
        }
        SealKeyCommand::Retire { db, kid } => {
            let op = Op::open(settings, &db)?;
            server::retire_sealing_key(&*op.store, &kid)?;
            op.audit("seal_key_retired", None, None);
            println!(
                "retired {kid}: tickets sealed with it stop verifying within the key reload \
                 interval of each running server"
            );
        }
        SealKeyCommand::List { db } => {
            let op = Op::open(settings, &db)?;
            let (kids, current) = server::sealing_keys(&*op.store)?;
            for k in kids {
                let mark = if current.as_deref() == Some(k.as_str()) {
                    " (current)"
                } else {
                    ""
                };
                println!("{k}{mark}");
            }
        }
    }
    Ok(())
}

fn serve(settings: &Settings, args: ServeArgs) -> Result<(), AnyError> {
    let f = &settings.file;
    let addr = Settings::pick(args.addr, "TESSERA_ADDR", f.addr.clone())?
        .unwrap_or_else(|| "127.0.0.1:7700".to_owned());
    let issuer_arg = Settings::pick(args.issuer, "TESSERA_ISSUER", f.issuer.clone())?;
    let name = Settings::pick(args.name, "TESSERA_NAME", f.name.clone())?;
    let tls_cert = Settings::pick(args.tls_cert, "TESSERA_TLS_CERT", f.tls_cert.clone())?;
    let tls_key = Settings::pick(args.tls_key, "TESSERA_TLS_KEY", f.tls_key.clone())?;
    let connections = Settings::pick(
        args.db_connections,
        "TESSERA_DB_CONNECTIONS",
        f.db_connections,
    )?
    .unwrap_or(16);
    let reload_secs = Settings::pick(
        args.key_reload_secs,
        "TESSERA_KEY_RELOAD_SECS",
        f.key_reload_secs,
    )?
    .unwrap_or(10)
    .max(1);
    let audit = settings.audit(args.audit_log)?;
    let db = match (args.db, args.conformance) {
        (Some(_), true) => {
            return Err("--conformance always uses a fresh in-memory store; drop --db".into())
        }
        (db, false) => Some(settings.db(db)?),
        (None, true) => None,
    };
    let tls = match (tls_cert, tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tessera::listen::bind(&addr, "--addr").await?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let issuer = Issuer::parse(&issuer_arg.unwrap_or_else(|| format!("{scheme}://{local}")))?;
        // spec TSR-CONV-1: plain http only on loopback (behind a TLS proxy, pass an https issuer)
        let loopback = local.ip().is_loopback() && is_loopback_host(issuer.host());
        if !issuer.is_https() && !loopback {
            return Err("an http issuer is only allowed on a loopback address (spec TSR-CONV-1); \
                        pass --tls-cert/--tls-key, or serve behind a TLS proxy and pass --issuer https://…"
                .into());
        }
        let mut config = Config::new(issuer);
        config.conformance = args.conformance;
        if let Some(name) = name {
            config.name = name;
        }
        // spec TSR-CONV-14, on the plain and the TLS listener alike
        config.http = tessera::config::HttpLimits {
            header_timeout: std::time::Duration::from_secs(args.header_timeout),
            body_timeout: std::time::Duration::from_secs(args.body_timeout),
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
            max_connections: args.max_connections,
        };
        let store: Arc<dyn Store> = match db {
            Some(db) => tokio::task::spawn_blocking(move || open_store(&db, connections)).await??,
            // spec TSR-CONF-2: conformance mode starts from the fixtures, never real accounts
            None => Arc::new(SqliteStore::in_memory()?),
        };
        let state = tokio::task::spawn_blocking(move || {
            Authority::builder(config).store(store).audit(audit).build()
        })
        .await??;
        tracing::info!(addr = %local, issuer = state.config().issuer.as_str(), tls = tls.is_some(), conformance = args.conformance, "tessera Authority listening");
        let shutdown = shutdown_signal();
        spawn_purge(&state);
        spawn_key_reload(&state, reload_secs);
        let limits = state.config().http;
        let router = server::app(state);
        match tls {
            None => server::serve_with_limits(listener, router, limits, shutdown).await?,
            Some((cert, key)) => serve_tls(listener, router, limits, &cert, &key, shutdown).await?,
        }
        Ok(())
    })
}

/// Ctrl-C or SIGTERM: stop accepting, finish in-flight requests (every acknowledged change is
/// already committed), exit.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

/// spec TSR-SESSION-7, TSR-CONV-16: forget what can no longer be presented (undecided
/// sessions every 5 minutes, everything past the family TTL hourly).
fn spawn_purge(state: &AppState) {
    drop(server::spawn_purger(state.clone()));
}

/// Re-reads the sealing keys every `secs` seconds and on SIGHUP (`seal-key rotate|retire`
/// apply without a restart).
fn spawn_key_reload(state: &AppState, secs: u64) {
    let state = state.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut every = tokio::time::interval(std::time::Duration::from_secs(secs));
        every.tick().await;
        let mut last: Option<(String, usize)> = None;
        loop {
            #[cfg(unix)]
            tokio::select! {
                _ = every.tick() => {}
                () = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => {
                    tracing::info!("SIGHUP: re-reading the sealing keys");
                }
            }
            #[cfg(not(unix))]
            every.tick().await;
            let s = state.clone();
            match tokio::task::spawn_blocking(move || server::reload_sealing_keys(&s)).await {
                Ok(Ok(now)) => {
                    if last.as_ref().is_some_and(|l| l != &now) {
                        tracing::info!(current = now.0, keys = now.1, "sealing keys changed");
                    }
                    last = Some(now);
                }
                Ok(Err(e)) => tracing::error!(error = %e, "cannot re-read the sealing keys"),
                Err(e) => tracing::error!(error = %e, "sealing key reload task failed"),
            }
        }
    });
}

/// TLS on `listener` with rustls (ring), HTTP/1.1 and HTTP/2 chosen by ALPN, under the same
/// limits as plain HTTP (spec TSR-CONV-14).
async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: tessera::config::HttpLimits,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AnyError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("TLS certificate or key {}: {e}", p.display()))
    };
    let tls = server::tls_config_from_pem(&read(cert)?, &read(key)?)
        .map_err(|e| format!("TLS certificate or key: {e}"))?;
    server::serve_tls_with_limits(listener, router, limits, tls, shutdown).await?;
    Ok(())
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
