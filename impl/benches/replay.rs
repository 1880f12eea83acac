//! The replay cache under load (issue 15): RSS after one million distinct nonces, the longest
//! single call while whole buckets are evicted, and the signed requests/s it absorbs before
//! refusing. A bench binary, not a timed test:
//!
//! ```text
//! cargo bench -p tessera --bench replay
//! ```
//!
//! Nonces are 22 characters and ids 378 (a sealed ticket id), as the server sees them; time is
//! simulated (the cache is sans-IO), so a "second" here is as many calls as the rate says.

use std::time::{Duration, Instant};
use tessera::hawk::NonceError;
use tessera::replay::{ReplayCache, ReplayLimits};

const SKEW: u64 = 60;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn ticket_id(i: u64) -> String {
    let mut id = format!("t1.k1.{i:020}");
    while id.len() < 378 {
        id.push('x');
    }
    id
}

fn nonce(i: u64) -> String {
    format!("{i:022}")
}

fn main() {
    let key = [0x5a; 16];
    let start = 1_800_000_000;

    // 1. RSS after one million distinct nonces, all live (one second), 100 tickets of 4 owners
    let limits = ReplayLimits::for_rate(200_000, 100_000, SKEW);
    let ids: Vec<String> = (0..100).map(ticket_id).collect();
    let owners = ["c0", "c1", "c2", "c3"];
    let before = rss_kib();
    let cache = ReplayCache::with_limits(limits, 0, key);
    let t = Instant::now();
    for i in 0..1_000_000u64 {
        let r = cache.check(
            owners[(i % 4) as usize],
            &ids[(i % 100) as usize],
            start,
            &nonce(i),
            start,
        );
        assert_eq!(r, Ok(()));
    }
    let insert = t.elapsed();
    let after = rss_kib();
    println!(
        "one million distinct nonces: RSS +{:.1} MiB (counted table bytes {:.1} MiB), {:.0} ns per call",
        (after - before) as f64 / 1024.0,
        cache.bytes() as f64 / (1024.0 * 1024.0),
        insert.as_nanos() as f64 / 1e6
    );
    drop(cache);

    // 2. and 3. A steady rate for three windows with the clock moving one second per `rate`
    // calls: the longest call (it includes the sweep of each expired second) and refusals.
    for (rate, owners) in [(100_000u64, 1usize), (200_000, 2)] {
        let cache = ReplayCache::with_limits(limits, 0, key);
        let mut max_call = Duration::ZERO;
        let mut full = 0u64;
        let mut over_5ms = 0u64;
        // the first call of each second evicts the second that just expired
        let mut first_calls = Vec::new();
        let mut calls = 0u64;
        let names: Vec<String> = (0..owners).map(owners_name).collect();
        let seconds = 3 * SKEW;
        let t = Instant::now();
        for s in 0..seconds {
            let now = start + s;
            for i in 0..rate {
                let n = s * rate + i;
                let owner = &names[n as usize % owners];
                let c = Instant::now();
                let r = cache.check(owner, &ids[(n % 100) as usize], now, &nonce(n), now);
                let took = c.elapsed();
                if i == 0 && s > SKEW {
                    first_calls.push(took);
                }
                max_call = max_call.max(took);
                if took > Duration::from_millis(5) {
                    over_5ms += 1;
                }
                calls += 1;
                match r {
                    Ok(()) => {}
                    Err(NonceError::Full) => full += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        let elapsed = t.elapsed();
        first_calls.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  calls that evicted a second ({}): median {:.3} ms, 90% {:.3} ms, max {:.3} ms",
            first_calls.len(),
            ms(first_calls[first_calls.len() / 2]),
            ms(first_calls[first_calls.len() * 9 / 10]),
            ms(first_calls[first_calls.len() - 1]),
        );
        println!(
            "{rate} signed requests/s from {owners} Consumer(s) for {seconds} simulated s: \
             {full} refused (503); longest eviction (sweep of an expired second) {:.3} ms; \
             longest call {:.3} ms wall clock, {over_5ms} calls over 5 ms (the machine is \
             shared: a call can be descheduled); {:.0} ns per call, {:.0} calls/s on one \
             thread, {} live entries, {:.1} MiB counted",
            cache.longest_sweep().as_secs_f64() * 1e3,
            max_call.as_secs_f64() * 1e3,
            elapsed.as_nanos() as f64 / calls as f64,
            calls as f64 / elapsed.as_secs_f64(),
            cache.len(),
            cache.bytes() as f64 / (1024.0 * 1024.0),
        );
    }
    println!(
        "capacity from the default sizing (200k/s in total, 100k/s per Consumer): {} signed requests/s before refusing",
        limits.capacity_per_sec()
    );
}

fn owners_name(i: usize) -> String {
    format!("consumer-{i}")
}
