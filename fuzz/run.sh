#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a set time each and prints executions per target.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler for libFuzzer. Only stable
# Rust is assumed: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz passes. Sanitizer
# off by default (the crates forbid unsafe code; set FUZZ_SANITIZER=address to turn it on).
# Seeds are committed in fuzz/seeds/<target>/; the working corpus (fuzz/corpus/, gitignored)
# grows from them; crashes land in fuzz/artifacts/<target>/ and fail the script.
# The targets' bodies live in fuzz/src/lib.rs; without libFuzzer, CI runs them over the seeds
# and mutations of them: cargo test -p tessera --test fuzz_smoke -- --nocapture.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s "$sanitizer"
failed=0
summary=""
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log="$(mktemp)"
    if cargo fuzz run -s "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed=1
        tail -40 "$log"
    fi
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    peak="$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    summary+="$(printf '%-14s %-6s %12s executions in %ss, peak RSS %s MB' "$t" "$status" "${execs:-?}" "$secs" "${peak:-?}")"$'\n'
    rm -f "$log"
done
printf '%s' "$summary"
exit "$failed"
