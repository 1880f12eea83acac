//! Measures the abuse bounds of issue 13, side by side in one run (not a test: the machine is
//! shared and noisy, so only ratios and sizes are meaningful):
//!
//! - login timing: an unknown login name vs a wrong password, at production Argon2 cost,
//!   interleaved; medians and their ratio;
//! - peak memory (VmRSS / VmHWM of this process) with the login limiter's maps full, with the
//!   connection limit reached by idle sockets, and with slow clients trickling heads.
//!
//! `cargo run --release -p tessera --example abuse_bounds`

use std::net::IpAddr;
use std::time::{Duration, Instant};
use tessera::config::{Config, HttpLimits, Issuer, LoginLimits};
use tessera::password::{self, Cost, DummyHash};
use tessera::rand::SystemRandom;
use tessera::server::{app, serve_with_limits, Authority, ClientAddr, LoginLimiter};
use tokio::io::AsyncWriteExt;

/// (VmRSS, VmHWM) in KiB, from /proc/self/status.
fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn login_timing() {
    let rng = SystemRandom::new();
    let stored = password::hash("the owner's password", Cost::PRODUCTION, &rng).unwrap();
    let dummy = DummyHash::new(Cost::PRODUCTION).unwrap();
    let _ = dummy.get(); // computed once, outside the measurement
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..25 {
        let t = Instant::now();
        let _ = password::verify_or_dummy("guess", Some(&stored), &dummy);
        wrong.push(t.elapsed());
        let t = Instant::now();
        let _ = password::verify_or_dummy("guess", None, &dummy);
        unknown.push(t.elapsed());
    }
    let (w, u) = (median(&mut wrong), median(&mut unknown));
    println!(
        "login timing (production Argon2id, 25 each, interleaved): wrong password median {:.1} ms, unknown name median {:.1} ms, ratio unknown/wrong {:.3}",
        w.as_secs_f64() * 1e3,
        u.as_secs_f64() * 1e3,
        u.as_secs_f64() / w.as_secs_f64()
    );
}

fn limiter_memory() {
    let before = rss().1;
    let limiter = LoginLimiter::new(LoginLimits::default(), &SystemRandom::new());
    // every failure a new (16 KiB name, cookie, address): the worst case for the maps
    let long_name = "x".repeat(16 * 1024);
    for i in 0..250_000u32 {
        let name = format!("{long_name}{i}");
        let browser = format!("cookie{i}");
        let addr = ClientAddr(IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]));
        let a = tessera::server::LoginAttempt {
            username: &name,
            browser: &browser,
            addr: Some(addr),
        };
        limiter.record_failure(&a, 1_000);
        if i % 3 == 0 {
            limiter.record_success(&a, 1_000);
        }
    }
    let (pairs, clients, known) = limiter.entries();
    let after = rss().1;
    println!(
        "login limiter after 250 000 failures with 16 KiB names: entries pairs={pairs} clients={clients} known={known}; peak RSS +{} KiB (the map this replaces kept each name: 250 000 x 16 KiB = 4 GiB)",
        after.saturating_sub(before)
    );
}

async fn start(limits: HttpLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::new(Issuer::parse(&format!("http://{addr}")).unwrap());
    config.http = limits;
    let state = tokio::task::spawn_blocking(move || Authority::builder(config).build())
        .await
        .unwrap()
        .unwrap();
    tokio::spawn(serve_with_limits(
        listener,
        app(state),
        limits,
        std::future::pending(),
    ));
    addr
}

async fn connection_memory() {
    let limits = HttpLimits::default();
    let addr = start(limits).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss().0;
    // every slot held by a client trickling a head, plus as many again refused
    let mut held = Vec::new();
    for _ in 0..limits.max_connections {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s
            .write_all(b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: x\r\nX-A: ")
            .await;
        held.push(s);
    }
    let mut refused = 0;
    for _ in 0..limits.max_connections {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        if tokio::time::timeout(
            Duration::from_secs(2),
            tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf),
        )
        .await
        .is_ok()
            && buf.starts_with(b"HTTP/1.1 503")
        {
            refused += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let full = rss();
    println!(
        "connections: {} slow heads held (the limit) + {} of {} more refused with 503; RSS +{} KiB for client and server sockets together in this process",
        held.len(),
        refused,
        limits.max_connections,
        full.0.saturating_sub(before)
    );
    // all closed by the header timeout
    let t = Instant::now();
    let mut open = held.len();
    while open > 0 && t.elapsed() < limits.header_timeout + Duration::from_secs(5) {
        open = 0;
        for s in &mut held {
            let mut b = [0u8; 1];
            let r = tokio::time::timeout(
                Duration::from_millis(1),
                tokio::io::AsyncReadExt::read(s, &mut b),
            )
            .await;
            if r.is_err() {
                open += 1; // nothing to read yet: still open
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "connections: {open} of {} slow heads still open {:.1} s after they started (header timeout {} s)",
        held.len(),
        t.elapsed().as_secs_f64(),
        limits.header_timeout.as_secs()
    );
}

/// Each part measures best in a process of its own (freed memory is reused, not returned):
/// `abuse_bounds [timing|limiter|connections]`, all three by default.
fn main() {
    let part = std::env::args().nth(1).unwrap_or_default();
    if part.is_empty() || part == "timing" {
        login_timing();
    }
    if part.is_empty() || part == "limiter" {
        limiter_memory();
    }
    if part.is_empty() || part == "connections" {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(connection_memory());
    }
    println!("peak RSS of the run: {} KiB", rss().1);
}
