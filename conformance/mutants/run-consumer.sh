#!/usr/bin/env bash
# The Consumer library's mutation score with the Consumer profile, measured a shard at a time so
# that it can be resumed across sessions (286 mutants of impl/consumer/src/*.rs at 20-60 s each
# on 2 shared cores). See conformance/README.md, "Mutation score", "Consumer library".
#
#   conformance/mutants/run-consumer.sh shard K N    run shard K of N (0-based, round-robin) and
#                                                    record its outcomes in conformance/mutants/
#                                                    consumer-<commit>.shard-KK-of-NN.txt
#   conformance/mutants/run-consumer.sh rerun REGEX  re-run the mutants whose names match REGEX
#                                                    (a timeout, or a survivor after new
#                                                    scenarios) and append their outcomes to
#                                                    conformance/mutants/consumer-<commit>.rerun.txt
#   conformance/mutants/run-consumer.sh prepare      make the copy and build the test in it once
#   conformance/mutants/run-consumer.sh list         the mutants in scope at this commit
#   conformance/mutants/run-consumer.sh summary      totals over every record, per commit and file
#
# The test is only the Consumer profile: every scenario of consumer-vectors/ against the
# reference Consumer (the demo Consumer on the library, in test mode), over HTTP
# (tests/consumer_profile.rs, every_scenario_passes_against_the_reference_consumer).
#
# The mutated copy is the committed tree of HEAD, or of $MUTANTS_COMMIT (git archive), in
# $MUTANTS_COPY (default ${TMPDIR:-/tmp}/tessera-mutants-consumer, apart from run.sh's); its
# target/ is kept between runs. cargo-mutants runs under `nice -n 19`, one mutant at a time.
# Each mutant rebuilds the library, the reference server that links it and the suite; to make
# that cheaper without changing what is measured (same code, same optimisation level) the copy
# builds without debug info and links with mold when it is installed (Debian: apt-get install
# mold). Needs cargo-mutants 27.1 (`cargo install cargo-mutants --locked`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
copy=${MUTANTS_COPY:-${TMPDIR:-/tmp}/tessera-mutants-consumer}
# a test run takes ~2 s; a hang (a mutant that loops) is cut at this many seconds. The lead's
# benchmarks stop nice-19 jobs for minutes at a time: re-run a timeout before counting it.
timeout=${MUTANTS_TIMEOUT:-120}

files=(-f 'impl/consumer/src/*.rs')
test_args=(
    --test-package tessera-conformance
    --cargo-test-arg=--test --cargo-test-arg=consumer_profile
    -- every_scenario_passes_against_the_reference_consumer
)

# Build settings that change build and link time only.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
if command -v mold >/dev/null; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi

# The commit the figures are for: the last one that changed anything but docs and mutant records.
rev=${MUTANTS_COMMIT:-HEAD}
commit() { git -C "$root" log -1 --abbrev=7 --format=%h "$rev" -- . ':!conformance/mutants' ':!*.md'; }

prepare_copy() {
    local c
    c=$(commit)
    if [ "$rev" = HEAD ] && [ -n "$(git -C "$root" status --porcelain -- impl conformance Cargo.toml Cargo.lock ':!conformance/mutants' ':!*.md')" ] \
        && [ -z "${MUTANTS_ALLOW_DIRTY:-}" ]; then
        echo "run-consumer.sh: uncommitted changes under impl/ or conformance/; the figures would" >&2
        echo "        not be those of $c. Commit first (or MUTANTS_ALLOW_DIRTY=1 to measure HEAD anyway)." >&2
        exit 1
    fi
    mkdir -p "$copy"
    if [ "$(cat "$copy/.mutants-commit" 2>/dev/null)" != "$c" ]; then
        # fresh sources, keeping target/; `tar -m` so cargo does not keep artifacts of a
        # previous run's last mutant as up to date
        find "$copy" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
        git -C "$root" archive "$rev" | tar -x -m -C "$copy"
        echo "$c" >"$copy/.mutants-commit"
    fi
}

mutants() {
    nice -n 19 cargo mutants --dir "$copy" --in-place --baseline skip \
        --timeout "$timeout" --build-timeout 900 "${files[@]}" "$@" "${test_args[@]}"
}

# one line per mutant: "<outcome>\t<mutant>"
record() {
    local out=$1
    for o in caught missed unviable timeout; do
        [ -f "$out/mutants.out/$o.txt" ] || continue
        sed "s/^/$o\t/" "$out/mutants.out/$o.txt"
    done
}

case "${1:-}" in
shard)
    k=${2:?shard K N}
    n=${3:?shard K N}
    prepare_copy
    c=$(commit)
    dest=$(printf '%s/consumer-%s.shard-%02d-of-%02d.txt' "$here" "$c" "$k" "$n")
    out=$(mktemp -d)
    start=$(date -u +%FT%TZ)
    # stopping cargo-mutants (kill its pid, not this script's) still records what it finished
    mutants --shard "$k/$n" --sharding round-robin -o "$out" | tee "$out/console.txt" || true
    found=$(sed -n 's/^Found \([0-9]*\) mutants\{0,1\} to test.*/\1/p' "$out/console.txt")
    done_=$(record "$out" | wc -l)
    {
        echo "# tessera-consumer, commit $c, shard $k/$n round-robin, cargo-mutants $(cargo mutants --version | cut -d' ' -f2), $start .. $(date -u +%FT%TZ)"
        [ "$done_" = "$found" ] || echo "# INCOMPLETE: $done_ of ${found:-?} mutants of this shard tested; run it again to finish"
        record "$out"
    } >"$dest"
    rm -rf "$out"
    echo "recorded $(grep -vc '^#' "$dest") mutants in $dest"
    ;;
rerun)
    re=${2:?rerun REGEX}
    prepare_copy
    c=$(commit)
    out=$(mktemp -d)
    mutants -F "$re" -o "$out" || true
    {
        echo "# tessera-consumer, commit $c, rerun -F '$re', $(date -u +%FT%TZ)"
        record "$out"
    } >>"$here/consumer-$c.rerun.txt"
    rm -rf "$out"
    tail -20 "$here/consumer-$c.rerun.txt"
    ;;
prepare)
    prepare_copy
    (cd "$copy" && nice -n 19 cargo test -p tessera-conformance --test consumer_profile --no-run)
    ;;
list)
    (cd "$root" && cargo mutants --list "${files[@]}")
    ;;
summary)
    # Per commit: a mutant's last recorded outcome counts (a rerun overrides its shard's).
    # score = caught / (caught + missed + timeout), unviable mutants left out.
    commits=$(ls "$here" | sed -n 's/^consumer-\([0-9a-f]\{7\}\)\.\(shard\|rerun\|sample\).*/\1/p' | sort -u)
    [ -n "$commits" ] || { echo "nothing recorded yet"; exit 0; }
    for c in $commits; do
        files_c=$(ls "$here"/consumer-"$c".*.txt | grep -v '\.rerun\.txt$' || true)
        echo "== tessera-consumer, commit $c: $(echo "$files_c" | sed 's|.*/||' | paste -sd' ' -)"
        grep -l '^# INCOMPLETE' $files_c 2>/dev/null | sed 's|.*/|   incomplete: |' || true
        last=$(cat $files_c $(ls "$here"/consumer-"$c".rerun.txt 2>/dev/null) \
            | grep -v '^#' | awk -F'\t' '{ if (!($2 in o)) n[++k] = $2; o[$2] = $1 }
                END { for (i = 1; i <= k; i++) print o[n[i]] "\t" n[i] }')
        row='{ split($2, p, ":"); f = p[1]; t[f, $1]++; fs[f] = 1; t["TOTAL", $1]++ }
            END { fs["TOTAL"] = 1; for (f in fs) {
                v = t[f, "caught"] + t[f, "missed"] + t[f, "timeout"]
                printf "%-34s %7d %7d %9d %8d %7s\n", f, t[f, "caught"], t[f, "missed"],
                    t[f, "unviable"], t[f, "timeout"], v ? sprintf("%.1f%%", 100 * t[f, "caught"] / v) : "-" } }'
        printf "%-34s %7s %7s %9s %8s %7s\n" file caught missed unviable timeout score
        echo "$last" | awk -F'\t' "$row" | sort | grep -v '^TOTAL '
        echo "$last" | awk -F'\t' "$row" | grep '^TOTAL '
        echo "survivors:"
        echo "$last" | grep -E '^(missed|timeout)' | sed 's/^/  /' || echo "  none"
    done
    ;;
*)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
