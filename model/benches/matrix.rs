//! `cargo bench -p tessera-model`: the whole attack matrix (`check --all`) in release mode.
//! Prints states, states/s, wall time and peak memory (VmHWM), then `hardened` alone at larger
//! bounds (3 logins, 4 sessions, clock 0-3, 3 attacker requests). Not a timed test: it reports.

use std::time::Instant;
use tessera_model::check::check_all;
use tessera_model::switches::{Capabilities, Variant};
use tessera_model::world::Bounds;

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is taken as a thread count.
    let threads = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(2);
    let start = Instant::now();
    let reports = check_all(
        &Variant::all(),
        Capabilities::default(),
        Bounds::default(),
        threads,
        None,
    );
    let wall = start.elapsed().as_secs_f64();
    let mut states = 0usize;
    println!(
        "{:<28} {:>10} {:>12} {:>9} {:>12}",
        "variant", "states", "transitions", "seconds", "states/s"
    );
    for r in &reports {
        let s = r.elapsed.as_secs_f64();
        states += r.states;
        println!(
            "{:<28} {:>10} {:>12} {:>9.2} {:>12.0}",
            r.name,
            r.states,
            r.transitions,
            s,
            r.states as f64 / s.max(1e-9)
        );
    }
    let matrix_peak = peak_memory_kib();
    let big = Bounds {
        logins: 3,
        sessions: 4,
        max_time: 3,
        attacker_requests: 3,
        ..Bounds::default()
    };
    let hard = tessera_model::check::model_for(&Variant::hardened(), Capabilities::default(), big);
    let r = tessera_model::check::check("hardened (bounds 3/4/3/3)", &hard, None);
    let s = r.elapsed.as_secs_f64();
    println!(
        "{:<28} {:>10} {:>12} {:>9.2} {:>12.0}   every property: {}",
        r.name,
        r.states,
        r.transitions,
        s,
        r.states as f64 / s.max(1e-9),
        if r.properties.iter().all(|p| p.holds) {
            "as expected"
        } else {
            "UNEXPECTED"
        }
    );
    println!(
        "check --all: {states} states in {wall:.2} s wall ({:.0} states/s, {threads} threads), peak memory {} MiB",
        states as f64 / wall.max(1e-9),
        matrix_peak.map(|k| k / 1024).map_or("?".to_string(), |m| m.to_string())
    );
    println!(
        "peak memory including the larger-bounds run: {} MiB",
        peak_memory_kib()
            .map(|k| k / 1024)
            .map_or("?".to_string(), |m| m.to_string())
    );
}
