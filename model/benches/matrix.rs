//! `cargo bench -p tessera-model`: what the model costs, in release mode. Not a timed test: it
//! reports. Prints, each with states, states/s and wall time:
//! 1. the attack matrix (`check --all`, every variant under the default capabilities);
//! 2. `hardened` under every capability of the login flow;
//! 3. the necessity analysis (`tessera-model necessity`);
//! 4. scaling: `hardened` as the bounds grow one at a time (logins, sessions, clock, requests);
//!
//! and the peak memory (VmHWM) after each part. An argument that parses as a number is the
//! thread count (default 2); `--quick` skips the necessity analysis.

use std::time::Instant;
use tessera_model::check::{check, check_all, model_for};
use tessera_model::switches::{Capabilities, Variant, World};
use tessera_model::world::Bounds;

fn peak_memory_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or("?".to_string(), |k| (k / 1024).to_string())
}

fn row(name: &str, states: usize, seconds: f64, note: &str) {
    println!(
        "{name:<44} {states:>10} {seconds:>9.2} {:>12.0}  {note}",
        states as f64 / seconds.max(1e-9)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(2);
    let quick = args.iter().any(|a| a == "--quick");
    println!(
        "{:<44} {:>10} {:>9} {:>12}",
        "run", "states", "seconds", "states/s"
    );

    let start = Instant::now();
    let reports = check_all(
        &Variant::all(),
        Capabilities::default(),
        Bounds::default(),
        threads,
        None,
    );
    let wall = start.elapsed().as_secs_f64();
    for r in &reports {
        row(
            &format!("matrix: {}", r.name),
            r.states,
            r.elapsed.as_secs_f64(),
            "",
        );
    }
    let total: usize = reports.iter().map(|r| r.states).sum();
    row(
        "matrix (wall, all variants)",
        total,
        wall,
        &format!("peak {} MiB", peak_memory_mib()),
    );

    let all = Capabilities::all_of(World::Flow);
    let r = check(
        "hardened, every capability",
        &model_for(&Variant::hardened(), all, Bounds::default()),
        None,
    );
    let ok = if r.violated() {
        "UNEXPECTED violation"
    } else {
        "holds"
    };
    row(
        &r.name,
        r.states,
        r.elapsed.as_secs_f64(),
        &format!("{ok}; peak {} MiB", peak_memory_mib()),
    );

    if !quick {
        let start = Instant::now();
        let a = tessera_model::necessity::analyse(threads, None);
        row(
            "necessity analysis",
            a.states,
            start.elapsed().as_secs_f64(),
            &format!(
                "{} mitigations; peak {} MiB",
                a.mitigations.len(),
                peak_memory_mib()
            ),
        );
    }

    let d = Bounds::default();
    for (name, b) in [
        ("hardened, bounds as default", d),
        ("hardened, logins 3", Bounds { logins: 3, ..d }),
        ("hardened, sessions 3", Bounds { sessions: 3, ..d }),
        ("hardened, clock 0-3", Bounds { max_time: 3, ..d }),
        ("hardened, requests 8", Bounds { requests: 8, ..d }),
        (
            "hardened, attacker requests 3",
            Bounds {
                attacker_requests: 3,
                ..d
            },
        ),
    ] {
        let r = check(
            name,
            &model_for(&Variant::hardened(), Capabilities::default(), b),
            None,
        );
        let ok = if r.violated() {
            "UNEXPECTED violation"
        } else {
            "holds"
        };
        row(
            name,
            r.states,
            r.elapsed.as_secs_f64(),
            &format!("{ok}; peak {} MiB", peak_memory_mib()),
        );
    }
}
