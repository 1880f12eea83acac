//! `tessera demo`: the Authority and the demo Consumer together, on loopback, in one process;
//! and `tessera demo-consumer` ([`standalone`]): the demo Consumer alone, against any Authority.
//!
//! [`start`] runs an Authority (in-memory embedded SQLite store) with one registered Consumer
//! (the demo app of [`app`]) and one demo Subject, and the demo Consumer itself. Tests use it
//! too: it is the whole system a newcomer sees.

pub mod app;
pub mod standalone;

use crate::clock::TestClock;
use crate::config::{Config, Issuer};
use crate::consumer::web::{WebConsumer, WebOptions};
use crate::consumer::{AuthorityConfig, Consumer, Registration};
use crate::core;
use crate::password::{self, Cost};
use crate::rand::{token, Random, SystemRandom, TOKEN_BYTES};
use crate::server::{self, AppState, Authority};
use std::net::SocketAddr;
use std::sync::Arc;

/// The demo's delegation partner (a second registered Consumer, spec 7.7).
pub const PARTNER_ID: &str = "demo-partner";
/// The demo Consumer's `consumer_id`.
pub const CONSUMER_ID: &str = "demo-consumer";
/// The demo Subject's login name.
pub const USERNAME: &str = "demo";

/// How to start the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the Authority listens (`127.0.0.1:0` picks a free port).
    pub authority_addr: SocketAddr,
    /// Where the demo Consumer listens (`127.0.0.1:0` picks a free port).
    pub consumer_addr: SocketAddr,
    /// The demo Subject's password (random when `None`).
    pub password: Option<String>,
    /// Start the Authority in conformance mode (test clock and fixtures; tests only).
    pub conformance: bool,
    /// The Authority's clock (tests: a [`TestClock`] to let time pass); the system clock when
    /// `None`.
    pub authority_clock: Option<Arc<TestClock>>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            authority_addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            consumer_addr: SocketAddr::from(([127, 0, 0, 1], 7701)),
            password: None,
            conformance: false,
            authority_clock: None,
        }
    }
}

impl DemoOptions {
    /// Both on free ephemeral loopback ports (for tests).
    #[must_use]
    pub fn ephemeral() -> Self {
        Self {
            authority_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            consumer_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

/// A running demo.
#[derive(Debug)]
pub struct Demo {
    /// The Authority's issuer, `http://localhost:{port}` (another host name than the Consumer's).
    pub issuer: String,
    /// The demo Consumer's base URL, `http://127.0.0.1:{port}` (open this).
    pub consumer_url: String,
    /// The demo Subject's login name.
    pub username: String,
    /// The demo Subject's password.
    pub password: String,
    /// The demo Consumer's registration at the Authority (with its key).
    pub registration: Registration,
    /// The Authority's state (store, fixtures in conformance mode).
    pub authority: AppState,
    /// The demo Consumer's integration (its sessions and its [`Consumer`]).
    pub web: WebConsumer,
    shutdown: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Starts the Authority and the demo Consumer.
pub async fn start(opts: DemoOptions) -> Result<Demo, AnyError> {
    let a_listener =
        crate::listen::bind(&opts.authority_addr.to_string(), "--authority-addr").await?;
    let c_listener =
        crate::listen::bind(&opts.consumer_addr.to_string(), "--consumer-addr").await?;
    let a_addr = a_listener.local_addr()?;
    let c_addr = c_listener.local_addr()?;
    // Cookies are scoped by host name, not port: on one host name the Consumer would receive
    // the Authority's login cookies and the Authority the Consumer's session cookie (spec
    // TSR-AUTHZ-6). On loopback the Authority is `localhost` and the Consumer `127.0.0.1`.
    let issuer = if a_addr.ip().is_loopback() {
        format!("http://localhost:{}", a_addr.port())
    } else {
        format!("http://{a_addr}")
    };
    let consumer_url = format!("http://{c_addr}");
    let consumer_host = url::Url::parse(&consumer_url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    let authority_host = url::Url::parse(&issuer)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    if consumer_host == authority_host {
        tracing::warn!(
            host = %consumer_host,
            "the demo Authority and Consumer share a host name: their cookies will mix; \
             give them different host names"
        );
    }
    let mut config = Config::new(Issuer::parse(&issuer)?);
    config.conformance = opts.conformance;
    config.name = "Tessera demo Authority".into();
    // the demo's throwaway accounts use the cheap cost; the dummy hash must match them
    config.password_cost = Cost::FIXTURE;

    let rng = SystemRandom::new();
    let password = opts.password.clone().unwrap_or_else(|| token(&rng, 9));
    let registration = Registration {
        consumer_id: CONSUMER_ID.into(),
        // spec TSR-REG-1: the Authority's side generates the key.
        key: token(&rng, TOKEN_BYTES),
        redirect_uri: format!("{consumer_url}/callback"),
        grants: vec!["admin".into(), "staff".into()],
        scopes: vec!["email".into(), "profile".into()],
    };
    let reg = registration.clone();
    let pw = password.clone();
    let authority_clock = opts.authority_clock.clone();
    let state = tokio::task::spawn_blocking(move || -> Result<AppState, AnyError> {
        // The store is in memory and every key is fresh, so no request signed for an earlier
        // process can verify: the restart fence (spec TSR-HAWK-10) has nothing to guard.
        let mut builder = Authority::builder(config).restart_fence(false);
        if let Some(clock) = authority_clock {
            builder = builder.test_clock(clock);
        }
        let state = builder.build()?;
        let store = state.store();
        store.put_consumer(&core::Consumer {
            id: reg.consumer_id.clone(),
            key: reg.key.clone(),
            name: "Tessera demo Consumer".into(),
            redirect_uris: vec![reg.redirect_uri.clone()],
            grants: reg.grants.clone(),
            scopes: reg.scopes.clone(),
            // the consent page shows delegation (spec TSR-DELEGATE-5): a partner the demo
            // may pass access on to, if the Subject ticks it
            may_delegate: true,
            delegates: vec![PARTNER_ID.into()],
        })?;
        store.put_consumer(&core::Consumer {
            id: PARTNER_ID.into(),
            key: token(&SystemRandom::new(), TOKEN_BYTES),
            name: "Tessera demo partner".into(),
            redirect_uris: vec![format!(
                "{}/partner/callback",
                reg.redirect_uri.trim_end_matches("/callback")
            )],
            grants: vec![],
            scopes: vec!["email".into()],
            may_delegate: false,
            delegates: vec![],
        })?;
        let rng = SystemRandom::new();
        let mut data = serde_json::Map::new();
        data.insert("email".into(), "demo@example.org".into());
        data.insert(
            "profile".into(),
            serde_json::json!({ "name": "Demo Subject" }),
        );
        store.put_subject(&core::Subject {
            id: format!("sub_{}", token(&rng, 16)),
            username: USERNAME.into(),
            password_hash: password::hash(&pw, Cost::FIXTURE, &rng)?,
            roles: vec!["staff".into()],
            data,
        })?;
        Ok(state)
    })
    .await??;

    let consumer = Consumer::new(vec![AuthorityConfig::new(&issuer, registration.clone())?])?;
    let options = WebOptions {
        app_name: app::APP_NAME.into(),
        ..WebOptions::default()
    };
    let web = WebConsumer::new(consumer, options);

    let mut shutdown = Vec::new();
    let mut tasks = Vec::new();
    for (listener, router) in [
        (a_listener, server::app(state.clone())),
        (
            c_listener,
            app::host_guard(app::router(&web), &consumer_url, &authority_host),
        ),
    ] {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        shutdown.push(tx);
        tasks.push(tokio::spawn(server::serve(listener, router, async move {
            let _ = rx.await;
        })));
    }
    Ok(Demo {
        issuer,
        consumer_url,
        username: USERNAME.into(),
        password,
        registration,
        authority: state,
        web,
        shutdown,
        tasks,
    })
}

impl Demo {
    /// Stops both servers.
    pub async fn stop(mut self) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    /// Adds another Subject at the Authority (tests: an attacker's account).
    pub fn add_subject(&self, username: &str, password: &str) -> Result<(), AnyError> {
        let rng = SystemRandom::new();
        self.authority.store().put_subject(&core::Subject {
            id: format!("sub_{}", token(&rng, 16)),
            username: username.into(),
            password_hash: password::hash(password, Cost::FIXTURE, &rng)?,
            roles: vec![],
            data: serde_json::Map::new(),
        })?;
        Ok(())
    }

    /// A second [`Consumer`] for the same registration, with its own clock, randomness or
    /// HTTP client (tests).
    pub fn consumer_with(
        &self,
        clock: Option<Arc<dyn crate::clock::Clock>>,
        rng: Option<Arc<dyn Random>>,
        http: Option<reqwest::Client>,
    ) -> Result<Consumer, AnyError> {
        let mut c = Consumer::new(vec![AuthorityConfig::new(
            &self.issuer,
            self.registration.clone(),
        )?])?;
        if let Some(clock) = clock {
            c = c.with_clock(clock);
        }
        if let Some(rng) = rng {
            c = c.with_random(rng);
        }
        if let Some(http) = http {
            c = c.with_http_client(http);
        }
        Ok(c)
    }
}

/// `tessera demo`: starts everything, prints what to open and the credentials, runs until
/// Ctrl-C.
pub async fn run(opts: DemoOptions) -> Result<(), AnyError> {
    let demo = start(opts).await?;
    println!();
    println!("Tessera demo is running (Ctrl-C to stop).");
    println!();
    println!("  Open the demo Consumer:  {}/", demo.consumer_url);
    println!("  Authority (issuer):      {}", demo.issuer);
    println!(
        "  Log in as:               username {}  password {}",
        demo.username, demo.password
    );
    println!();
    let host = |u: &str| {
        url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    };
    println!(
        "  Use these host names exactly: the Consumer on {}, the Authority on {}. Cookies are per \
         host name, so the two must differ, and a login started on one name cannot finish on \
         another.",
        host(&demo.consumer_url),
        host(&demo.issuer)
    );
    println!();
    tokio::signal::ctrl_c().await?;
    demo.stop().await;
    Ok(())
}
