//! `tessera`: the reference Authority and its operator commands.

use clap::{Args, Parser, Subcommand};
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tessera::config::{Config, Issuer};
use tessera::core::{Consumer, Subject};
use tessera::password::{self, Cost};
use tessera::rand::{token, SystemRandom, TOKEN_BYTES};
use tessera::server::{self, Authority};
use tessera::store::{SqliteStore, Store};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera reference Authority",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Authority.
    Serve(ServeArgs),
    /// Manage registered Consumers.
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Manage Subjects.
    #[command(subcommand)]
    Subject(SubjectCommand),
    /// Manage the ticket sealing keys (spec TSR-TICKET-2). Restart `serve` to apply.
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
}

#[derive(Debug, Args)]
struct DbArg {
    /// The SQLite file holding the Authority's state.
    #[arg(long, default_value = "tessera.db")]
    db: PathBuf,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700")]
    addr: String,
    /// The SQLite file holding the Authority's state [default: tessera.db; not allowed with
    /// --conformance, which always starts from a fresh in-memory store].
    #[arg(long)]
    db: Option<PathBuf>,
    /// The issuer identifier (base URL clients use) [default: http://{addr}].
    #[arg(long)]
    issuer: Option<String>,
    /// Conformance mode: test clock and fixtures under /conformance/ (spec appendix A).
    /// Never in production.
    #[arg(long)]
    conformance: bool,
}

#[derive(Debug, Subcommand)]
enum ConsumerCommand {
    /// Register a Consumer; prints its id and key (shown once).
    Add(ConsumerAdd),
    /// Replace a Consumer's key; the old key stops working at once. Prints the new key once.
    RotateKey {
        #[command(flatten)]
        db: DbArg,
        /// The consumer_id.
        #[arg(long)]
        id: String,
    },
    /// List registered Consumers (without keys).
    List {
        #[command(flatten)]
        db: DbArg,
    },
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

fn open(db: &DbArg) -> Result<SqliteStore, AnyError> {
    Ok(SqliteStore::open(&db.db)?)
}

fn run(cli: Cli) -> Result<(), AnyError> {
    match cli.command {
        Command::Serve(args) => serve(args),
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
        Command::Consumer(ConsumerCommand::Add(a)) => {
            let store = open(&a.db)?;
            if store.consumer(&a.id)?.is_some() {
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
            store.put_consumer(&c)?;
            println!("consumer_id: {}", c.id);
            println!("key:         {}", c.key);
            println!("algorithm:   sha256");
            eprintln!("The key is shown only this once; store it in the Consumer's secrets.");
            Ok(())
        }
        Command::Consumer(ConsumerCommand::RotateKey { db, id }) => {
            let store = open(&db)?;
            let mut c = store.consumer(&id)?.ok_or("no such consumer")?;
            c.key = token(&SystemRandom::new(), TOKEN_BYTES);
            store.put_consumer(&c)?;
            println!("consumer_id: {}", c.id);
            println!("key:         {}", c.key);
            eprintln!("The old key no longer works. The new key is shown only this once.");
            Ok(())
        }
        Command::Consumer(ConsumerCommand::List { db }) => {
            for c in open(&db)?.consumers()? {
                println!(
                    "{}\t{}\tredirect_uris={:?} grants={:?} scopes={:?} may_delegate={}",
                    c.id, c.name, c.redirect_uris, c.grants, c.scopes, c.may_delegate
                );
            }
            Ok(())
        }
        Command::SealKey(SealKeyCommand::Rotate { db }) => {
            let kid = server::rotate_sealing_key(&open(&db)?, &SystemRandom::new())?;
            println!("current sealing key: {kid} (restart `tessera serve` to use it)");
            Ok(())
        }
        Command::SealKey(SealKeyCommand::Retire { db, kid }) => {
            server::retire_sealing_key(&open(&db)?, &kid)?;
            println!("retired {kid}: tickets sealed with it stop verifying at the next start");
            Ok(())
        }
        Command::SealKey(SealKeyCommand::List { db }) => {
            let (kids, current) = server::sealing_keys(&open(&db)?)?;
            for k in kids {
                let mark = if current.as_deref() == Some(k.as_str()) {
                    " (current)"
                } else {
                    ""
                };
                println!("{k}{mark}");
            }
            Ok(())
        }
        Command::Subject(SubjectCommand::Add(a)) => {
            let store = open(&a.db)?;
            if tessera::wire::check_names(&a.roles).is_err() {
                return Err("roles must be names matching [a-z][a-z0-9_.:-]{0,63}".into());
            }
            eprintln!("Password for {} (one line on standard input):", a.username);
            let mut pw = String::new();
            std::io::stdin().lock().read_line(&mut pw)?;
            let pw = pw.trim_end_matches(['\n', '\r']);
            if pw.is_empty() {
                return Err("empty password".into());
            }
            let rng = SystemRandom::new();
            let existing = store.subject_by_username(&a.username)?;
            let s = Subject {
                id: existing.map_or_else(|| format!("sub_{}", token(&rng, 16)), |s| s.id),
                username: a.username,
                password_hash: password::hash(pw, Cost::PRODUCTION, &rng)?,
                roles: a.roles,
                data: a.data.into_iter().collect(),
            };
            store.put_subject(&s)?;
            println!("subject {} saved", s.username);
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), AnyError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        let local = listener.local_addr()?;
        let issuer = Issuer::parse(&args.issuer.unwrap_or_else(|| format!("http://{local}")))?;
        // spec TSR-CONV-1: plain http only on loopback (behind a TLS proxy, pass an https issuer)
        let loopback = local.ip().is_loopback() && is_loopback_host(issuer.host());
        if !issuer.is_https() && !loopback {
            return Err("an http issuer is only allowed on a loopback address (spec TSR-CONV-1); \
                        serve behind a TLS proxy and pass --issuer https://…"
                .into());
        }
        let mut config = Config::new(issuer);
        config.conformance = args.conformance;
        let store: Arc<dyn Store> = match (&args.db, args.conformance) {
            // spec TSR-CONF-2: conformance mode starts from the fixtures, never real accounts
            (Some(_), true) => {
                return Err("--conformance always uses a fresh in-memory store; drop --db".into())
            }
            (Some(p), false) => Arc::new(SqliteStore::open(p)?),
            (None, true) => Arc::new(SqliteStore::in_memory()?),
            (None, false) => Arc::new(SqliteStore::open("tessera.db")?),
        };
        let state = tokio::task::spawn_blocking(move || Authority::builder(config).store(store).build()).await??;
        tracing::info!(addr = %local, issuer = state.config().issuer.as_str(), conformance = args.conformance, "tessera Authority listening");
        // Ctrl-C or SIGTERM: stop accepting, finish in-flight requests (every acknowledged
        // change is already committed), exit.
        let shutdown = async {
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        // spec TSR-SESSION-7: forget what can no longer be presented, hourly
        let purge_state = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                let cutoff = purge_state.now() - purge_state.config().ttl.family;
                let store = Arc::clone(purge_state.store());
                match tokio::task::spawn_blocking(move || store.purge(cutoff)).await {
                    Ok(Ok(n)) => tracing::info!(sessions = n, "purged expired records"),
                    Ok(Err(e)) => tracing::error!(error = %e, "purge failed"),
                    Err(e) => tracing::error!(error = %e, "purge task failed"),
                }
            }
        });
        server::serve(listener, server::app(state), shutdown).await?;
        Ok(())
    })
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
