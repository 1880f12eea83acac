//! The servers `impl/benches/wrk.sh` measures with `wrk` (issue 15): a bare axum hello-world
//! and the Tessera Authority, each on the same multi-threaded tokio runtime as `tessera
//! serve` (pin the process with `taskset` and the runtime gets one worker per allowed core).
//!
//! ```text
//! wrk_target hello
//! wrk_target tessera memory|file HEADERS_FILE COUNT
//! ```
//!
//! `tessera` starts the Authority in conformance mode (its test clock stands still, so
//! pre-generated timestamps stay fresh; fixtures and the one-call authorize give a ticket),
//! logs in once, writes COUNT unique Hawk `Authorization` headers for `GET /v1/subject` with
//! that ticket to HEADERS_FILE (one per line), and only then prints `port N` and serves. Logs go
//! to stderr at `RUST_LOG` (default `info`), as `tessera serve` does.

use serde_json::{json, Value};
use std::io::Write;
use std::sync::Arc;
use tessera::hawk::{self, Artifacts, Credentials};
use tessera::rand::{token, SystemRandom};
use tessera::store::{SqliteStore, Store};

/// mimalloc instead of glibc's malloc: a ticket call makes a few dozen small allocations
/// (header values, JSON, the response), and glibc's malloc/free were about 12% of its CPU
/// (issue 15, `perf`); this target runs on it as `tessera serve` does, the bare axum route too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Res<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("hello") => hello().await,
        Some("tessera") if args.len() == 4 => {
            tessera(args[1] == "file", &args[2], args[3].parse()?).await
        }
        _ => Err(
            "usage: wrk_target hello | wrk_target tessera memory|file HEADERS_FILE COUNT".into(),
        ),
    }
}

async fn hello() -> Res<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("port {}", listener.local_addr()?.port());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    axum::serve(listener, app).await?;
    Ok(())
}

async fn tessera(file: bool, headers: &str, count: usize) -> Res<()> {
    let dir = std::env::temp_dir().join(format!("tessera-wrk-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store: Arc<dyn Store> = if file {
        Arc::new(SqliteStore::open(dir.join("wrk.db"))?)
    } else {
        Arc::new(SqliteStore::in_memory()?)
    };
    let running = tessera::server::spawn(true, move |b| b.store(store)).await?;
    let port = running.addr.port();
    let fixtures = running.state.fixtures().ok_or("no fixtures")?.clone();
    let consumer = fixtures
        .consumers
        .iter()
        .find(|c| c.consumer_id == "conformance-consumer")
        .ok_or("no consumer")?;
    let rng = SystemRandom::new();
    let http = reqwest::Client::new();
    let base = running.issuer().to_owned();
    let ts = u64::try_from(running.state.now())?;
    let sign = |id: &str,
                key: &str,
                app: Option<&str>,
                method: &str,
                path: &str,
                body: Option<&[u8]>|
     -> Res<String> {
        let mut a = Artifacts::new(method, path, "127.0.0.1", port, ts, token(&rng, 12));
        if let Some(b) = body {
            a = a.with_payload(Some("application/json"), b);
        }
        if let Some(app) = app {
            a = a.with_app(app, None);
        }
        Ok(hawk::client_authorization_header(
            &Credentials::new(id, key.as_bytes(), "sha256")?,
            &a,
        )?)
    };
    let post = |path: &str, body: &Value| -> Res<reqwest::RequestBuilder> {
        let bytes = serde_json::to_vec(body)?;
        let auth = sign(
            &consumer.consumer_id,
            &consumer.key,
            None,
            "POST",
            path,
            Some(&bytes),
        )?;
        Ok(http
            .post(format!("{base}{path}"))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(bytes))
    };

    // one login, as examples/bench.rs does it
    let hs: Value = post(
        "/v1/handshake",
        &json!({"redirect_uri": "https://consumer.example/callback", "grants": ["staff"],
                "scopes": ["email"], "state": "wrk-benchmark-login-state-0001"}),
    )?
    .send()
    .await?
    .bytes()
    .await
    .map(|b| serde_json::from_slice(&b))??;
    let a: Value = http
        .post(format!("{base}/conformance/authorize"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(
            &json!({"authorize_url": hs["authorize_url"], "username": "alice", "decision": "allow"}),
        )?)
        .send()
        .await?
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b))??;
    let redirect = url::Url::parse(a["redirect"].as_str().ok_or("no redirect")?)?;
    let code = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .ok_or("no code")?
        .1
        .into_owned();
    let result: Value = post("/v1/result", &json!({"sid": hs["sid"], "code": code}))?
        .send()
        .await?
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b))??;
    let t = &result["ticket"];
    let (Some(id), Some(key), Some(app)) = (t["id"].as_str(), t["key"].as_str(), t["app"].as_str())
    else {
        return Err(format!("no ticket: {result}").into());
    };

    // check one call, then write the headers
    let check = http
        .get(format!("{base}/v1/subject"))
        .header(
            "authorization",
            sign(id, key, Some(app), "GET", "/v1/subject", None)?,
        )
        .send()
        .await?;
    if !check.status().is_success() {
        return Err(format!("GET /v1/subject: {}", check.status()).into());
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(headers)?);
    for _ in 0..count {
        writeln!(
            out,
            "{}",
            sign(id, key, Some(app), "GET", "/v1/subject", None)?
        )?;
    }
    out.flush()?;
    println!("port {port}");
    std::future::pending::<()>().await;
    Ok(())
}
