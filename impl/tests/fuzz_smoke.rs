//! A fuzz smoke run for CI (issue 13): every cargo-fuzz target's body (`fuzz/src/lib.rs`,
//! included here so stable `cargo test` runs it without libFuzzer) over its committed seeds
//! (`fuzz/seeds/<target>/`) and a fixed number of inputs derived from them by a deterministic
//! mutator (bit flips, interesting bytes and tokens, insertions, deletions, repeats, splices
//! between seeds, and some random bytes). A finding (a panic in the target, a 5xx) fails the
//! test with the input. The real fuzzers (`fuzz/run.sh`) search far longer; this keeps the
//! targets compiling and catches regressions on inputs near the seeds.
//!
//! `cargo test -p tessera --test fuzz_smoke -- --nocapture` prints executions per target.
//! `FUZZ_SMOKE_SEED=n` changes the mutator's seed (default fixed, so CI is reproducible).

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz_targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

/// Mutated inputs per target: the parsers are cheap, the router targets go through the whole
/// Authority (an unoptimised debug build in CI).
const PARSER_INPUTS: usize = 30_000;
const ROUTER_INPUTS: usize = 8_000;
/// Largest input the mutator makes (the server's body limit is 16 KiB; a bit beyond it).
const MAX_LEN: usize = 20_000;

/// xorshift64*: deterministic and dependency-free; quality is not the point.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff\xc3\xe2\"\\{}[],:=&%+;\n\r\t -0.eE";
const INTERESTING_TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"\"\"",
    b"{}",
    b"[]",
    b"1e999",
    b"-0",
    b"18446744073709551616",
    b"\\u0000",
    b"\\ud800",
    b"\"sid\":\"x\",\"sid\":\"y\"",
    b"%00",
    b"%zz",
    b"==",
    b"Hawk id=\"a\", ts=\"1\", nonce=\"n\", mac=\"m\"",
    b", ext=\"",
    b"__Host-",
    b"\xf0\x9f\x92\xa9",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(16) == 0 {
        let len = rng.below(512);
        return (0..len).map(|_| rng.next().to_le_bytes()[0]).collect();
    }
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 => {
                let b = rng.next().to_le_bytes()[0];
                v.insert(at, b);
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            4 => {
                // repeat a stretch: long names, deep nesting, many members
                let end = (at + 1 + rng.below(32)).min(v.len());
                let piece = v[at.min(end)..end].to_vec();
                for _ in 0..rng.below(64) {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                let t = INTERESTING_TOKENS[rng.below(INTERESTING_TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
        }
        v.truncate(MAX_LEN);
    }
    v
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<_> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Runs `target` over its seeds and `inputs` mutations.
fn smoke(target: &str, inputs: usize) {
    let run = fuzz_targets::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"))
        .1;
    smoke_with(target, run, &seeds(target), inputs);
}

/// Runs `run` over `seeds` and `inputs` mutations of them; panics with the input on a finding.
fn smoke_with(target: &str, run: fn(&[u8]), seeds: &[Vec<u8>], inputs: usize) {
    let seed = std::env::var("FUZZ_SMOKE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e55_e7a0_u64);
    let mut rng = Rng(seed
        ^ target.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }));
    let t = Instant::now();
    let mut executions = 0;
    let mut one = |input: &[u8]| {
        executions += 1;
        if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
            panic!(
                "{target}: finding on input b\"{}\" (FUZZ_SMOKE_SEED={seed})",
                input.escape_ascii()
            );
        }
    };
    for s in seeds {
        one(s);
    }
    for _ in 0..inputs {
        let input = mutate(&mut rng, seeds);
        one(&input);
    }
    println!(
        "{target}: {executions} executions ({} seeds) in {:.2?}",
        seeds.len(),
        t.elapsed()
    );
}

#[test]
#[should_panic(expected = "finding on input b\"{\\\"sid\\\":null}\"")]
fn a_finding_fails_the_run_with_its_input() {
    fn refuses_null(data: &[u8]) {
        assert!(!data.windows(4).any(|w| w == b"null"));
    }
    smoke_with("demo", refuses_null, &[b"{\"sid\":null}".to_vec()], 0);
}

#[test]
fn every_target_is_smoke_tested() {
    let here: Vec<_> = fuzz_targets::TARGETS.iter().map(|(n, _)| *n).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    let mut bins: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    bins.sort();
    let mut listed = here.clone();
    listed.sort_unstable();
    assert_eq!(
        bins, listed,
        "fuzz/fuzz_targets/ and fuzz_targets::TARGETS differ"
    );
}

#[test]
fn hawk_header() {
    smoke("hawk_header", PARSER_INPUTS);
}

#[test]
fn json_bodies() {
    smoke("json_bodies", PARSER_INPUTS);
}

#[test]
fn sealed_ticket() {
    smoke("sealed_ticket", PARSER_INPUTS);
}

#[test]
fn metadata() {
    smoke("metadata", PARSER_INPUTS);
}

#[test]
fn pages() {
    smoke("pages", ROUTER_INPUTS);
}

#[test]
fn api() {
    smoke("api", ROUTER_INPUTS);
}
