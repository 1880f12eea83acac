//! Throughput of the reference Authority over real HTTP on loopback, next to a bare axum
//! hello-world measured in the same run.
//!
//! ```text
//! cargo run --release -p tessera --example bench -- [SECONDS] [CONCURRENCY] [memory|file]
//! ```
//!
//! Measures, each for SECONDS with CONCURRENCY client tasks on one shared HTTP/1.1 client:
//! - `hello`: `GET /` on a bare axum router (the ceiling of this machine + client);
//! - `flows`: complete protocol flows: Hawk-signed handshake, `POST /conformance/authorize`
//!   (the Subject's login and consent in one call), Hawk-signed result, each response's
//!   `Server-Authorization` verified;
//! - `api`: ticket-authenticated `GET /v1/subject` calls (Hawk with the ticket's key, Oz `app`,
//!   sealed-id opening, revocation read), `Server-Authorization` verified.
//!
//! The Authority runs in conformance mode (for the one-call authorize), on a SQLite file
//! (`synchronous=FULL`, so every state change is fsynced) unless `memory` is given.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::config::{Config, Issuer};
use tessera::hawk::{self, Artifacts, Credentials, Payload};
use tessera::rand::{token, SystemRandom};
use tessera::server::{app, serve_with_limits, AppState, Authority};
use tessera::store::{SqliteStore, Store};

/// mimalloc, as `tessera serve` runs (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Client {
    http: reqwest::Client,
    base: String,
    host: String,
    port: u16,
    state: AppState,
    rng: SystemRandom,
}

impl Client {
    async fn signed(
        &self,
        id: &str,
        key: &str,
        app: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Res<Value> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let ts = u64::try_from(self.state.now())?;
        let mut a = Artifacts::new(
            method,
            path,
            self.host.clone(),
            self.port,
            ts,
            token(&self.rng, 12),
        );
        if let Some(b) = &bytes {
            a = a.with_payload(Some("application/json"), b);
        }
        if let Some(app) = app {
            a = a.with_app(app, None);
        }
        let creds = Credentials::new(id, key.as_bytes(), "sha256")?;
        let auth = hawk::client_authorization_header(&creds, &a)?;
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .header("authorization", auth);
        if let Some(b) = bytes {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let sa = resp
            .headers()
            .get("server-authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or("no Server-Authorization")?;
        let body = resp.bytes().await?;
        hawk::authenticate_response(
            &sa,
            &creds,
            &a,
            Some(Payload {
                content_type: Some("application/json"),
                body: &body,
            }),
        )?;
        if !status.is_success() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn flow(&self, id: &str, key: &str) -> Res<Value> {
        let state = tessera::rand::token(&self.rng, 16);
        let hs = self
            .signed(
                id,
                key,
                None,
                "POST",
                "/v1/handshake",
                Some(&json!({
                "redirect_uri": "https://consumer.example/callback", "grants": ["staff"],
                "scopes": ["email"], "state": state})),
            )
            .await?;
        let a = self
            .http
            .post(format!("{}/conformance/authorize", self.base))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({"authorize_url": hs["authorize_url"], "username": "alice", "decision": "allow"}))?)
            .send()
            .await?
            .bytes()
            .await?;
        let a: Value = serde_json::from_slice(&a)?;
        let redirect = url::Url::parse(a["redirect"].as_str().ok_or("no redirect")?)?;
        let code = redirect
            .query_pairs()
            .find(|(k, _)| k == "code")
            .ok_or("no code")?
            .1
            .into_owned();
        self.signed(
            id,
            key,
            None,
            "POST",
            "/v1/result",
            Some(&json!({"sid": hs["sid"], "code": code})),
        )
        .await
    }
}

async fn run<F, Fut>(seconds: u64, concurrency: usize, make: F) -> (f64, u64)
where
    F: Fn() -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (done, errors, stop, make) =
                (done.clone(), errors.clone(), stop.clone(), make.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if make().await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = done.load(Ordering::Relaxed) as f64 / elapsed;
    (rate, errors.load(Ordering::Relaxed))
}

/// The Authority under test: conformance mode on `store`, as `server::spawn` starts it, but
/// without the per-Consumer handshake rate (spec TSR-CONV-16), which one benchmark Consumer
/// doing thousands of logins a second would hit at once (the test clock stands still, so its
/// window never turns).
struct Running {
    addr: std::net::SocketAddr,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    fn issuer(&self) -> &str {
        self.state.config().issuer.as_str()
    }
}

async fn spawn_unthrottled(store: Arc<dyn Store>) -> Res<Running> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = Config::new(Issuer::parse(&format!("http://127.0.0.1:{}", addr.port()))?);
    config.conformance = true;
    config.handshakes_per_consumer_per_minute = u32::MAX;
    let state =
        tokio::task::spawn_blocking(move || Authority::builder(config).store(store).build())
            .await??;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = state.config().http;
    tokio::spawn(serve_with_limits(
        listener,
        app(state.clone()),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Running { addr, state, stop })
}

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).map_or(Ok(5), |s| s.parse())?;
    let concurrency: usize = args.get(2).map_or(Ok(32), |s| s.parse())?;
    let memory = args.get(3).is_some_and(|s| s == "memory");

    // bare axum hello-world
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello_addr = hello.local_addr()?;
    tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let _ = axum::serve(hello, app).await;
    });

    let dir = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let sqlite = Arc::new(if memory {
        SqliteStore::in_memory()?
    } else {
        SqliteStore::open(&db)?
    });
    let store: Arc<dyn Store> = sqlite.clone();
    let running = spawn_unthrottled(store).await?;
    let fixtures = running.state.fixtures().ok_or("no fixtures")?.clone();
    let consumer = fixtures
        .consumers
        .iter()
        .find(|c| c.consumer_id == "conformance-consumer")
        .ok_or("no consumer")?
        .clone();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency * 2)
            .build()?,
        base: running.issuer().to_owned(),
        host: "127.0.0.1".into(),
        port: running.addr.port(),
        state: running.state.clone(),
        rng: SystemRandom::new(),
    });
    println!(
        "tessera bench: {seconds} s per measurement, {concurrency} concurrent clients, store = {}, {} CPUs",
        if memory { "SQLite in memory" } else { "SQLite file (WAL, synchronous=FULL)" },
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );

    let http = client.http.clone();
    let url = format!("http://{hello_addr}/");
    let (hello_rate, hello_err) = run(seconds, concurrency, move || {
        let (http, url) = (http.clone(), url.clone());
        async move { matches!(http.get(&url).send().await, Ok(r) if r.status().is_success()) }
    })
    .await;
    println!("hello-world (bare axum)         {hello_rate:>10.0} req/s   errors {hello_err}");

    let (c, id, key) = (
        client.clone(),
        consumer.consumer_id.clone(),
        consumer.key.clone(),
    );
    let (commits, changes) = (
        sqlite.commit_stats().commits(),
        sqlite.commit_stats().changes(),
    );
    let (flow_rate, flow_err) = run(seconds, concurrency, move || {
        let (c, id, key) = (c.clone(), id.clone(), key.clone());
        async move { c.flow(&id, &key).await.is_ok() }
    })
    .await;
    println!("protocol flows (3 requests each) {flow_rate:>10.0} flows/s  errors {flow_err}");
    #[allow(clippy::cast_precision_loss)]
    let flows = flow_rate * seconds as f64;
    #[allow(clippy::cast_precision_loss)]
    {
        let commits = sqlite.commit_stats().commits() - commits;
        let changes = sqlite.commit_stats().changes() - changes;
        println!(
            "store commits during the flows: {commits} ({:.3} per flow; on the file store each \
             is a WAL fsync), {changes} changes ({:.1} per commit)",
            commits as f64 / flows,
            changes as f64 / commits.max(1) as f64
        );
    }

    // one ticket per client task
    let mut tickets = Vec::new();
    for _ in 0..concurrency {
        tickets.push(client.flow(&consumer.consumer_id, &consumer.key).await?["ticket"].clone());
    }
    let tickets = Arc::new(tickets);
    let next = Arc::new(AtomicU64::new(0));
    let c = client.clone();
    let (api_rate, api_err) = run(seconds, concurrency, move || {
        let (c, tickets, next) = (c.clone(), tickets.clone(), next.clone());
        async move {
            let i =
                usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(0) % tickets.len();
            let t = &tickets[i];
            let (Some(id), Some(key), Some(app)) =
                (t["id"].as_str(), t["key"].as_str(), t["app"].as_str())
            else {
                return false;
            };
            c.signed(id, key, Some(app), "GET", "/v1/subject", None)
                .await
                .is_ok()
        }
    })
    .await;
    println!("ticket-authenticated API calls  {api_rate:>10.0} req/s   errors {api_err}");
    println!(
        "ratios to hello-world: flows {:.3}, API calls {:.3}",
        flow_rate / hello_rate,
        api_rate / hello_rate
    );
    let _ = running.stop.send(());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
